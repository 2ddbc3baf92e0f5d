"""``groundcontrol feed NAME``: run a feed adapter that pushes mentions to a hub.

* ``feed demo``: the built-in synthetic stream, marked DEMO, sent to ``--hub`` in real
  time (unacked batches kept in ``--spool DIR`` if given).
* ``feed demo --record FILE --minutes N``: the same stream in virtual time, written to
  FILE as NDJSON with its scripted incidents in ``FILE.script.json``, with no hub, for
  ``groundcontrol backtest --mentions FILE``.
* ``feed TYPE`` (one per adapter in :mod:`feeds.registry`: bluesky, mastodon, rss...):
  the adapter's ``--options`` as its Settings, its cursor in ``--state DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from groundcontrol.cli.common import DEFAULT_HUB, HUBS_HELP, fail, positive_float

__all__ = ["DEMO_RECORD_START", "add_parser", "record_demo", "run"]

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


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``feed`` to ``sub``, with ``demo`` and one sub-command per adapter."""
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
    demo.add_argument("--hub", default=DEFAULT_HUB, help=HUBS_HELP)
    demo.add_argument(
        "--rate",
        type=positive_float,
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
        "--minutes", type=positive_float, metavar="N", help="with --record: minutes of stream"
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
        adapter.add_argument("--hub", default=DEFAULT_HUB, help=HUBS_HELP)
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


def run(args: argparse.Namespace) -> int:
    """Run ``feed NAME`` until interrupted (``--record``: until written); 2 on bad options."""
    if args.feed != "demo":
        return _run_adapter(args)
    if args.record is not None:
        return record_demo(args)
    if args.minutes is not None or args.start is not None:
        return fail("--minutes and --start go with --record FILE")
    return _run_demo(args)


def _say(feed: str) -> Callable[[str], None]:
    def say(message: str) -> None:
        print(f"feed {feed}: {message}", file=sys.stderr, flush=True)

    return say


def _run_adapter(args: argparse.Namespace) -> int:
    from feeds import registry
    from feeds.base import CursorError, FeedConfigError, FeedContext, default_state_dir
    from groundcontrol.client.stream import Access

    try:
        module = registry.load(args.feed)
        settings = registry.settings_from_args(module, args)
        ctx = FeedContext(
            args.hub,
            args.name or args.feed,
            state_dir=args.state or default_state_dir(),
            access=Access.from_env(),
            on_event=_say(args.feed),
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(module.run(settings, ctx))  # type: ignore[arg-type]
    except (CursorError, FeedConfigError) as exc:
        return fail(str(exc), 2)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from feeds.demo import run_demo_feed
    from groundcontrol.client.spool import SpoolInUse
    from groundcontrol.client.stream import Access

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_demo_feed(
                    args.hub,
                    rate=args.rate,
                    seed=args.seed,
                    on_event=_say(args.feed),
                    spool_dir=args.spool,
                    access=Access.from_env(),
                )
            )
    except SpoolInUse as exc:
        return fail(f"{exc} (is another feed running with --spool {args.spool}?)")
    except OSError as exc:
        return fail(f"cannot use spool {args.spool}: {exc.strerror or exc}")
    return 0


def record_demo(args: argparse.Namespace) -> int:
    """``feed demo --record FILE --minutes N``: the stream in virtual time, to a file."""
    from feeds.demo import DemoStream, record, script_json

    if args.minutes is None:
        return fail("--record needs --minutes N (how much of the stream to write)")
    if args.spool is not None:
        return fail("--spool is for sending to a hub, not for --record")
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
        return fail(f"cannot write {where}: {exc.strerror or exc}")
    scripted = len(stream.occurrences(start, end))
    print(
        f"feed demo: wrote {count:,} mentions ({args.minutes:g} min from "
        f"{datetime.fromtimestamp(start, UTC).isoformat().replace('+00:00', 'Z')}, "
        f"rate {args.rate:g}, seed {args.seed}) to {path}; {scripted} scripted "
        f"incident(s) in {script}",
        file=sys.stderr,
    )
    return 0
