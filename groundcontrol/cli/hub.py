"""``groundcontrol hub``: run the hub (ingest, enrich, store, aggregate, publish).

* ``hub``: serve ``/ingest``, ``/stream`` and the HTTP API on ``--host``/``--port``,
  with the feeds its config names running inside it (:mod:`groundcontrol.cli.hosting`),
  the store at ``--db`` (or the config's, or the default; none with ``--no-store``),
  https and wss with ``--tls-cert`` and ``--tls-key``, and the tokens from the
  environment or ``[auth] tokens_file``. Runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
from pathlib import Path

from groundcontrol.cli.common import fail, load_site
from groundcontrol.config import Config, ConfigError

__all__ = ["add_parser", "run"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``hub`` to ``sub``."""
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


def _store_path(args: argparse.Namespace, config: Config) -> Path | None:
    from groundcontrol.config import default_store_path

    if args.no_store or config.bus.url:
        # With a bus the store is written by ``groundcontrol store-writer``.
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
            raise SystemExit(fail(f"TLS: {path}: no such file"))
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise SystemExit(
            fail(f"TLS: cannot load certificate {cert} with key {key}: {exc}")
        ) from None
    return context


def run(args: argparse.Namespace) -> int:
    """Run ``hub`` until SIGINT or SIGTERM; 0 then, 2 for bad tokens, TLS, store or address."""
    from groundcontrol.bus.connection import BusError
    from groundcontrol.cli.hosting import start_hub_with_feeds
    from groundcontrol.hub.auth import TokenConfigError, Tokens
    from groundcontrol.hub.server import tune_gc
    from groundcontrol.store.database import StoreError

    config, specs = load_site(args.config)
    store_path = _store_path(args, config)
    try:
        tokens = Tokens.load(environ=os.environ, file=config.auth.tokens_file or None)
    except TokenConfigError as exc:
        return fail(f"bad tokens: {exc}")
    names = tokens.names()
    for i, relay in enumerate(config.auth.relays):
        if relay not in names:
            # A typo here would quietly refuse every person the relay acts for.
            raise ConfigError(
                config.source,
                f"auth.relays[{i}]",
                f"no token is named {relay!r} (a name is the third field of a line of "
                "the tokens file)",
            )
    cert = args.tls_cert or config.hub.tls_cert
    key = args.tls_key or config.hub.tls_key
    if bool(cert) != bool(key):
        return fail("TLS needs both --tls-cert and --tls-key (or hub.tls_cert and hub.tls_key)")
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
            raise SystemExit(fail(f"cannot use the store: {exc}")) from None
        except BusError as exc:
            raise SystemExit(fail(str(exc))) from None
        except OSError as exc:
            raise SystemExit(
                fail(
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
        if hub.bus is not None:
            log.info(
                "bus %s: %d mentions replayed from the enriched stream; the store is "
                "written by groundcontrol store-writer",
                config.bus.url,
                hub.bus.replayed,
            )
        elif store_path is None:
            log.warning("no store (--no-store): nothing is kept on disk")
        else:
            log.info("store %s (%d mentions rebuilt into the windows)", store_path, hub.rebuilt)
        if hosted is not None:
            for feed in hosted.supervisor.runs.values():
                where = (
                    f" at {http}://{host}:{port}/webhooks/{feed.spec.name}"
                    if feed.spec.type == "webhook"
                    else ""
                )
                log.info("feed %s (%s): %s%s", feed.spec.name, feed.spec.type, feed.state, where)
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
