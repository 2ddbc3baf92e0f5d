"""The ``groundcontrol`` command.

``groundcontrol`` with no arguments runs hub, demo feed and wall in one process on
a free loopback port. Sub-commands run each piece alone: ``hub``, ``feed demo``,
``wall``, ``tail``, ``bench``, ``export``, ``incidents`` and ``ack``...

The core never imports textual: the wall is loaded by module name only when a
command that shows it runs, so ``hub``, ``feed``, ``tail`` and ``bench`` work on a
machine without a terminal UI stack and the import contract stays checkable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import math
import os
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from groundcontrol import __version__
from groundcontrol.config import Config, ConfigError, load_config

WALL_MODULE = "panels.app"
DEFAULT_HUB = "ws://127.0.0.1:8765"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    """Seconds for ``wall --rotate``: 0 or more, finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value}")
    return value


#: Where ``feed demo --record`` starts by default: a fixed time, so that a recording is
#: reproducible; midnight UTC, so that a recorded day is a calendar day.
DEMO_RECORD_START = "2026-06-01T00:00:00Z"


def _iso_time(text: str) -> float:
    """An ISO 8601 time (UTC unless it says otherwise) as unix seconds."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time such as {DEMO_RECORD_START}, got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _demo_epilog() -> str:
    from feeds.demo import CYCLE_SECONDS, TIMELINE

    lines = [
        f"The scripted day (h:mm after the start; it repeats every {CYCLE_SECONDS / 3600:g} h):"
    ]
    for incident in TIMELINE:
        start = f"{int(incident.starts_at // 3600)}:{int(incident.starts_at % 3600 // 60):02d}"
        lines.append(f"  {start:>5}  {incident.kind:<8}  {incident.title}")
    lines += [
        "",
        "Example: groundcontrol feed demo --record day.ndjson --minutes 1440 --rate 10",
        "         groundcontrol backtest --mentions day.ndjson",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groundcontrol",
        description=(
            "Ground Control: a social-listening command center in the terminal. "
            "With no command, runs a hub, the demo feed and a wall in one process."
        ),
    )
    parser.add_argument("--version", action="version", version=f"groundcontrol {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config (default: config/default.toml)"
    )
    parser.add_argument("--rate", type=_positive_float, help="demo mentions per second")
    parser.add_argument("--seed", type=int, help="demo random seed")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    hub = sub.add_parser(
        "hub",
        help="run the hub (ingest, enrich, store, aggregate, publish)",
        epilog="Tokens come from GROUNDCONTROL_TOKEN_FEED, _DISPLAY, _ANALYST and _ADMIN "
        "(several per variable, comma-separated) or the file named by [auth] tokens_file; "
        "with none, the hub refuses every client. Clients send theirs from "
        "GROUNDCONTROL_TOKEN.",
    )
    hub.add_argument("--host", help="address to bind (default 127.0.0.1)")
    hub.add_argument("--port", type=_port, help="port to bind (default 8765)")
    hub.add_argument("--config", metavar="FILE", help="TOML config file")
    hub.add_argument("--demo", action="store_true", help="mark everything published as DEMO")
    store = hub.add_mutually_exclusive_group()
    store.add_argument(
        "--db",
        metavar="PATH",
        type=Path,
        help="SQLite store file (default: [store] path in the config, else "
        "$XDG_DATA_HOME/groundcontrol/groundcontrol.db); created if missing",
    )
    store.add_argument(
        "--no-store",
        action="store_true",
        help="keep nothing on disk: acks mean 'taken', not 'stored' (for tests and demos)",
    )
    hub.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    hub.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="PEM certificate (chain): with --tls-key, serve https and wss",
    )
    hub.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")

    feed = sub.add_parser("feed", help="run a feed adapter that pushes mentions to a hub")
    feed_sub = feed.add_subparsers(dest="feed", metavar="NAME", required=True)
    demo = feed_sub.add_parser(
        "demo",
        help="the built-in synthetic stream, marked DEMO (or --record it to a file)",
        description="The built-in synthetic stream of mentions of Northwind, Contoso and\n"
        "Fabrikam, with a scripted day of incidents that repeats every 24 hours from\n"
        "its start. Pushed to a hub in real time, or with --record written to a file\n"
        "in virtual time, with no hub, for `groundcontrol backtest --mentions FILE`.",
        epilog=_demo_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    demo.add_argument(
        "--rate",
        type=_positive_float,
        default=40.0,
        help="mentions per second, the daily mean of the quiet baseline (default 40)",
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed, same stream)")
    demo.add_argument(
        "--spool",
        type=Path,
        metavar="DIR",
        help="keep unacked batches on disk in DIR (bounded, 256 MiB), so a restarted feed "
        "resends what the hub never acked (default: in memory only)",
    )
    demo.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write the stream to FILE as NDJSON (one mention per line) instead of sending "
        "it, as fast as it can be made; the incidents scripted in that span go to "
        "FILE.script.json. Needs --minutes",
    )
    demo.add_argument(
        "--minutes", type=_positive_float, metavar="N", help="with --record: minutes of stream"
    )
    demo.add_argument(
        "--start",
        type=_iso_time,
        metavar="ISO",
        help=f"with --record: when the stream starts (default {DEMO_RECORD_START}: the same "
        "options give the same file)",
    )

    from feeds import registry

    for type_name in registry.available():
        module = registry.load(type_name)
        adapter = feed_sub.add_parser(
            type_name,
            help=module.SUMMARY,
            description=module.SUMMARY,
            epilog="The same settings go in a [feeds.NAME] table of the hub's config, "
            "which runs the feed inside the hub. Credentials come from the environment "
            "variables that the *-env options name.",
        )
        adapter.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
        adapter.add_argument(
            "--name",
            help=f"the feed's name on the hub and its cursor file's name (default {type_name})",
        )
        adapter.add_argument(
            "--state",
            type=Path,
            metavar="DIR",
            help="where the feed keeps its cursor (default $XDG_STATE_HOME/groundcontrol/feeds)",
        )
        registry.add_options(adapter, module)

    wall = sub.add_parser(
        "wall",
        help="show the wall for a hub",
        description="Show the wall for a hub. It rotates between two scenes, the overview "
        "and listening (stories, influencers, triage, compliance, the newest alert "
        "explained). Keys: 1 overview, 2 listening, tab next; a key holds its scene for "
        "five minutes.",
    )
    wall.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    wall.add_argument(
        "--rotate",
        type=_non_negative_float,
        default=30.0,
        metavar="SECONDS",
        help="seconds each scene stays up before the next (default 30; 0 stays on the overview)",
    )

    tail = sub.add_parser(
        "tail", help="print enriched mentions as NDJSON, one JSON object per line"
    )
    tail.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    tail.add_argument("query", nargs="?", help="only mentions matching this query")

    triage = sub.add_parser(
        "triage", help="record what you did with a mention (analyst token in GROUNDCONTROL_TOKEN)"
    )
    triage.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    triage.add_argument("mention_id", help='the mention\'s id, "<source>:<source id>"')
    triage.add_argument(
        "action", choices=["label", "assign", "escalate", "resolve", "ignore", "note"]
    )
    triage.add_argument("--label", default="", help="a label (e.g. support, sales, product)")
    triage.add_argument("--note", default="", help="free text")

    bench = sub.add_parser(
        "bench", help="measure hub throughput and feed-to-tick latency against a baseline"
    )
    bench.add_argument("--seconds", type=_positive_float, default=10.0, help="per run (default 10)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--batch", type=int, default=500, help="mentions per batch (default 500)")
    bench.add_argument("--window", type=int, default=8, help="batches in flight (default 8)")
    bench.add_argument("--no-baseline", action="store_true", help="skip the baseline run")
    bench.add_argument("--config", metavar="FILE", help="TOML config for the hub under test")
    bench.add_argument(
        "--no-store", action="store_true", help="run the hub without its durable store"
    )

    from groundcontrol.store.export import add_arguments as add_export_arguments

    export = sub.add_parser(
        "export", help="write stored mentions as NDJSON, CSV or Parquet (streamed in chunks)"
    )
    add_export_arguments(export)

    from groundcontrol.cli import incidents as incidents_cli
    from groundcontrol.cli import review as review_cli
    from groundcontrol.cli import sentiment as sentiment_cli
    from groundcontrol.lab import backtest

    backtest.add_parser(sub)
    sentiment_cli.add_parser(sub)
    review_cli.add_parser(sub)
    incidents_cli.add_parsers(sub)
    return parser


def load_site(path: str | None) -> tuple[Config, tuple[Any, ...]]:
    """The config and its feeds, each ``[feeds.NAME]`` table read by its adapter:
    ConfigError names the file and key of whatever is wrong, before anything starts."""
    from feeds.registry import specs_from_config

    config = load_config(path)
    return config, specs_from_config(config)


def _fail(message: str, code: int = 2) -> int:
    print(f"groundcontrol: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench" and args.config:
            load_site(args.config)  # fail now, with the file and key, not inside the subprocess
        if args.command is None:
            return run_embedded(load_site(args.config)[0], rate=args.rate, seed=args.seed)
        if args.command == "hub":
            return run_hub(args)
        if args.command == "feed":
            return run_feed(args)
        if args.command == "wall":
            return run_wall(args.hub, rotate=args.rotate)
        if args.command == "tail":
            return run_tail(args.hub, args.query)
        if args.command == "triage":
            return run_triage(args)
        if args.command == "export":
            from groundcontrol.store.export import run_export

            return run_export(args)
        if args.command == "review":
            from groundcontrol.cli import review as review_cli

            return review_cli.run(args)
        if args.command in ("incidents", "ack", "snooze", "resolve"):
            from groundcontrol.cli import incidents as incidents_cli

            return incidents_cli.run(args)
        if args.command == "backtest":
            from groundcontrol.lab import backtest

            return backtest.run(args)
        if args.command == "sentiment":
            from groundcontrol.cli import sentiment as sentiment_cli

            return sentiment_cli.run(args)
        if args.command == "bench":
            from feeds.demo import DemoStream
            from groundcontrol.lab.bench import run_bench

            def demo(size: int) -> DemoStream:
                # Fast enough that the pool is a minute of a busy hour, not a day.
                return DemoStream(seed=1, rate=max(200.0, size / 300), start=time.time() - 3600)

            return run_bench(
                demo,
                seconds=args.seconds,
                as_json=args.json,
                batch=args.batch,
                window=args.window,
                baseline=not args.no_baseline,
                config=args.config,
                store=not args.no_store,
            )
    except ConfigError as exc:
        return _fail(f"bad config: {exc}")
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")


# ---------------------------------------------------------------------- hub


def _store_path(args: argparse.Namespace, config: Config) -> Path | None:
    from groundcontrol.config import default_store_path

    if args.no_store:
        return None
    if args.db is not None:
        return Path(args.db)
    return Path(config.store.path).expanduser() if config.store.path else default_store_path()


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context for the hub; SystemExit with the reason if the files are bad."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key):
        if not Path(path).is_file():
            raise SystemExit(_fail(f"TLS: {path}: no such file"))
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise SystemExit(
            _fail(f"TLS: cannot load certificate {cert} with key {key}: {exc}")
        ) from None
    return context


def run_hub(args: argparse.Namespace) -> int:
    from groundcontrol.cli.hosting import start_hub_with_feeds
    from groundcontrol.hub.auth import TokenConfigError, Tokens
    from groundcontrol.hub.server import tune_gc
    from groundcontrol.store.database import StoreError

    config, specs = load_site(args.config)
    store_path = _store_path(args, config)
    try:
        tokens = Tokens.load(environ=os.environ, file=config.auth.tokens_file or None)
    except TokenConfigError as exc:
        return _fail(f"bad tokens: {exc}")
    cert = args.tls_cert or config.hub.tls_cert
    key = args.tls_key or config.hub.tls_key
    if bool(cert) != bool(key):
        return _fail("TLS needs both --tls-cert and --tls-key (or hub.tls_cert and hub.tls_key)")
    tls = _tls_context(cert, key) if cert else None
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("groundcontrol")

    async def serve() -> None:
        try:
            hub, runner, port, hosted = await start_hub_with_feeds(
                config,
                specs,
                host=args.host,
                port=args.port,
                demo=args.demo,
                store_path=store_path,
                tokens=tokens,
                ssl_context=tls,
            )
        except StoreError as exc:
            raise SystemExit(_fail(f"cannot use the store: {exc}")) from None
        except OSError as exc:
            raise SystemExit(
                _fail(
                    f"cannot listen on {args.host or config.hub.host}:"
                    f"{config.hub.port if args.port is None else args.port}: {exc.strerror}"
                )
            ) from None
        tune_gc()
        host = args.host or config.hub.host
        http, ws = ("https", "wss") if tls else ("http", "ws")
        log.info("hub listening on %s://%s:%d (config %s)", http, host, port, config.source)
        if tokens:
            log.info("access: %s", tokens.summary())
        else:
            log.warning(
                "no tokens configured: /ingest, /stream and /metrics refuse everyone. Set "
                "GROUNDCONTROL_TOKEN_FEED, _DISPLAY, _ANALYST or _ADMIN, or [auth] tokens_file"
            )
        if store_path is None:
            log.warning("no store (--no-store): nothing is kept on disk")
        else:
            log.info("store %s (%d mentions rebuilt into the windows)", store_path, hub.rebuilt)
        if hosted is not None:
            for run in hosted.supervisor.runs.values():
                where = (
                    f" at {http}://{host}:{port}/webhooks/{run.spec.name}"
                    if run.spec.type == "webhook"
                    else ""
                )
                log.info("feed %s (%s): %s%s", run.spec.name, run.spec.type, run.state, where)
        print(f"hub ready on {ws}://{host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down (ingested %d mentions)", hub.counters.ingested)
        await runner.cleanup()

    asyncio.run(serve())
    return 0


# ---------------------------------------------------------------------- feeds


def run_feed(args: argparse.Namespace) -> int:
    from feeds.demo import run_demo_feed
    from groundcontrol.client.stream import Access

    def say(message: str) -> None:
        print(f"feed {args.feed}: {message}", file=sys.stderr, flush=True)

    if args.feed != "demo":
        from feeds import registry
        from feeds.base import CursorError, FeedConfigError, FeedContext, default_state_dir

        try:
            module = registry.load(args.feed)
            settings = registry.settings_from_args(module, args)
            ctx = FeedContext(
                args.hub,
                args.name or args.feed,
                state_dir=args.state or default_state_dir(),
                access=Access.from_env(),
                on_event=say,
            )
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(module.run(settings, ctx))  # type: ignore[arg-type]
        except (CursorError, FeedConfigError) as exc:
            return _fail(str(exc), 2)
        return 0

    if args.record is not None:
        return record_demo(args)
    if args.minutes is not None or args.start is not None:
        return _fail("--minutes and --start go with --record FILE")

    from groundcontrol.client.spool import SpoolInUse

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_demo_feed(
                    args.hub,
                    rate=args.rate,
                    seed=args.seed,
                    on_event=say,
                    spool_dir=args.spool,
                    access=Access.from_env(),
                )
            )
    except SpoolInUse as exc:
        return _fail(f"{exc} (is another feed running with --spool {args.spool}?)")
    except OSError as exc:
        return _fail(f"cannot use spool {args.spool}: {exc.strerror or exc}")
    return 0


def record_demo(args: argparse.Namespace) -> int:
    """``feed demo --record FILE --minutes N``: the stream in virtual time, to a file."""
    from feeds.demo import DemoStream, record, script_json

    if args.minutes is None:
        return _fail("--record needs --minutes N (how much of the stream to write)")
    if args.spool is not None:
        return _fail("--spool is for sending to a hub, not for --record")
    path: Path = args.record
    script = path.with_name(path.name + ".script.json")
    start = _iso_time(DEMO_RECORD_START) if args.start is None else args.start
    end = start + args.minutes * 60.0
    stream = DemoStream(seed=args.seed, rate=args.rate, start=start)
    # A progress line per simulated hour, for recordings long enough to wait for.
    every = 3600.0 if args.minutes > 60 else math.inf
    shown = [start]

    def progress(t: float, count: int) -> None:
        if t - shown[0] >= every or (t >= end and shown[0] > start):
            shown[0] = t
            done = (t - start) / 3600.0
            total = (end - start) / 3600.0
            print(
                f"feed demo: recorded {done:g} h of {total:g} ({count:,} mentions)",
                file=sys.stderr,
                flush=True,
            )

    try:
        with path.open("wb") as out:
            count = record(out, stream, start, end, progress=progress)
        script.write_text(script_json(stream, start, end), encoding="utf-8")
    except OSError as exc:
        where = exc.filename or path
        return _fail(f"cannot write {where}: {exc.strerror or exc}")
    scripted = len(stream.occurrences(start, end))
    print(
        f"feed demo: wrote {count:,} mentions ({args.minutes:g} min from "
        f"{datetime.fromtimestamp(start, UTC).isoformat().replace('+00:00', 'Z')}, "
        f"rate {args.rate:g}, seed {args.seed}) to {path}; {scripted} scripted "
        f"incident(s) in {script}",
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------------- wall


def _wall_module() -> Any:
    return importlib.import_module(WALL_MODULE)


def run_wall(hub: str, *, rotate: float = 30.0) -> int:
    from groundcontrol.client.stream import Access

    app = _wall_module().make_wall(hub, access=Access.from_env(), rotate_seconds=rotate)
    app.run()
    return 0


def run_embedded(config: Config, *, rate: float | None, seed: int | None) -> int:
    """Hub, demo feed and wall in one process, over loopback websockets."""
    from feeds.demo import run_demo_feed
    from groundcontrol.client.stream import Access
    from groundcontrol.hub.auth import Tokens
    from groundcontrol.hub.server import start_hub

    # The screen belongs to the wall: logs go to a file, not the terminal.
    log_path = Path(tempfile.gettempdir()) / f"groundcontrol-{os.getuid()}.log"
    logging.basicConfig(
        filename=log_path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("groundcontrol")
    wall = _wall_module()

    async def go() -> None:
        # Loopback only, with a token made for this run: other local users cannot
        # write to (or read) this wall even though the port is open on 127.0.0.1.
        tokens, token = Tokens.ephemeral()
        access = Access(token=token)
        _hub, runner, port = await start_hub(
            config, host="127.0.0.1", port=0, demo=True, tokens=tokens
        )
        url = f"ws://127.0.0.1:{port}"
        log.info("embedded hub on %s", url)
        feed = asyncio.create_task(
            run_demo_feed(
                url,
                rate=rate or config.demo.rate,
                seed=config.demo.seed if seed is None else seed,
                on_event=lambda m: log.info("feed demo: %s", m),
                access=access,
            )
        )
        try:
            await wall.make_wall(url, access=access).run_async()
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            await runner.cleanup()

    asyncio.run(go())
    return 0


# ---------------------------------------------------------------------- triage


def run_triage(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.request

    from groundcontrol.client.stream import Access, http_url

    access = Access.from_env()
    url = http_url(args.hub, "/triage")
    body = json.dumps(
        {
            "mention_id": args.mention_id,
            "action": args.action,
            "label": args.label,
            "note": args.note,
        }
    ).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(access.headers() or {})},
    )
    context = access.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode("utf-8", "replace").strip()
        return _fail(f"hub refused the triage action: HTTP {exc.code}: {reason}")
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        return _fail(f"cannot reach {url}: {why}")
    print(f"recorded {args.action} on {args.mention_id} as #{answer['id']} by {answer['actor']}")
    return 0


# ---------------------------------------------------------------------- tail


def run_tail(hub: str, query: str | None) -> int:
    import msgspec

    from groundcontrol.client.stream import (
        Access,
        BadMessage,
        Connected,
        Disconnected,
        StreamClient,
        stream_url,
    )
    from groundcontrol.protocol import MentionsEvent
    from groundcontrol.query import QuerySyntaxError, parse_query

    if query:
        try:
            parse_query(query)
        except QuerySyntaxError as exc:
            return _fail(f"bad query {query!r}: {exc}")
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer

    async def go() -> None:
        client = StreamClient(stream_url(hub, mentions=True, query=query), access=Access.from_env())
        async for event in client.events():
            if isinstance(event, MentionsEvent):
                for m in event.mentions:
                    out.write(encoder.encode(m) + b"\n")
                out.flush()
            elif isinstance(event, Disconnected):
                print(
                    f"groundcontrol tail: hub {hub} unreachable ({event.reason}); "
                    f"retrying in {event.retry_in:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
            elif isinstance(event, Connected):
                print(f"groundcontrol tail: connected to {hub}", file=sys.stderr, flush=True)
            elif isinstance(event, BadMessage):
                print(f"groundcontrol tail: skipped a bad message: {event.error}", file=sys.stderr)

    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        asyncio.run(go())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
