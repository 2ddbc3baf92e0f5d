"""``groundcontrol worker`` and ``groundcontrol store-writer``: the roles a site runs on
other machines when the hub's config has ``[bus] url`` (NATS JetStream).

* ``worker``: enrich batches from the bus's work queue (run any number, anywhere);
* ``store-writer``: write the enriched stream into the store, and answer the hubs'
  triage, briefing, search and history requests (run one).

Both take the bus from ``--bus`` or the config's ``[bus] url``, with credentials from
the environment (GROUNDCONTROL_BUS_CREDS, _TOKEN, or _USER and _PASSWORD), and run until
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from groundcontrol.cli.common import fail, positive_float
from groundcontrol.config import Config, ConfigError, check_bus, load_config

if TYPE_CHECKING:
    from groundcontrol.bus.storage import BusStoreWriter
    from groundcontrol.bus.worker import EnrichWorker

__all__ = ["add_parsers", "run"]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``worker`` and ``store-writer`` to ``sub``."""
    epilog = (
        "Credentials for the bus come from GROUNDCONTROL_BUS_CREDS (a .creds file), "
        "GROUNDCONTROL_BUS_TOKEN, or GROUNDCONTROL_BUS_USER and GROUNDCONTROL_BUS_PASSWORD."
    )
    worker = sub.add_parser(
        "worker",
        help="enrich batches from the bus (NATS JetStream work queue); run any number",
        description="Enrich the raw batches hubs put on the bus (language, sentiment, "
        "brands, queries, triage, copies) and publish them enriched. Any number, on any "
        "machine; a batch is acked only once its enriched copy is on the bus, so a worker "
        "that dies mid-batch loses nothing (the batch is redelivered).",
        epilog=epilog,
    )
    store = sub.add_parser(
        "store-writer",
        help="write the bus's enriched stream into the store and answer the hubs' "
        "triage, briefing, search and history requests; run one",
        description="Write the enriched stream into the store (SQLite) as its one durable "
        "consumer (a restart resumes where it stopped; a redelivered batch is stored once), "
        "and answer the hubs' store requests (triage, briefings, search, history).",
        epilog=epilog,
    )
    for p in (worker, store):
        p.add_argument("--config", metavar="FILE", help="TOML config file (brands, queries, [bus])")
        p.add_argument(
            "--bus",
            metavar="URL",
            help="NATS server(s), nats://host:4222, comma-separated (default: [bus] url)",
        )
        p.add_argument("--name", help="what the bus calls this process (default: host and pid)")
        p.add_argument(
            "--wait",
            type=positive_float,
            default=60.0,
            metavar="SECONDS",
            help="how long to keep trying the bus at start (default 60)",
        )
        p.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    store.add_argument(
        "--db",
        metavar="PATH",
        type=Path,
        help="SQLite store file (default: [store] path, else "
        "$XDG_DATA_HOME/groundcontrol/groundcontrol.db); created if missing",
    )


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if args.bus:
        bus = dataclasses.replace(config.bus, url=args.bus)
        config = dataclasses.replace(config, bus=bus)
        try:  # the same checks as the file's, naming the flag
            check_bus(dataclasses.replace(config, source="--bus"))
        except ConfigError as exc:
            raise SystemExit(fail(str(exc))) from None
    if not config.bus.url:
        raise SystemExit(
            fail(f"no bus: give --bus nats://HOST:4222 or [bus] url in {config.source}")
        )
    return config


def run(args: argparse.Namespace) -> int:
    """Run ``worker`` or ``store-writer`` until SIGINT or SIGTERM; 2 for a bad bus or store."""
    from groundcontrol.bus.connection import BusError

    config = _config(args)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    name = args.name or f"{args.command} {socket.gethostname()}-{os.getpid()}"

    def store_path() -> Path:
        from groundcontrol.config import default_store_path

        if args.db is not None:
            return Path(args.db)
        return Path(config.store.path).expanduser() if config.store.path else default_store_path()

    async def serve() -> None:
        if args.command == "worker":
            from groundcontrol.bus.worker import EnrichWorker

            role: EnrichWorker | BusStoreWriter = EnrichWorker(config, name=name)
        else:
            from groundcontrol.bus.storage import BusStoreWriter
            from groundcontrol.store.database import StoreError

            path = store_path()
            role = BusStoreWriter(config, path, name=name)
            try:
                await asyncio.to_thread(role.open)
            except (StoreError, OSError) as exc:
                raise SystemExit(fail(f"cannot use the store {path}: {exc}")) from None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, role.stop)
        print(f"{name} starting on {config.bus.url}", flush=True)
        try:
            await role.run(wait=args.wait)
        except BusError as exc:
            raise SystemExit(fail(str(exc))) from None

    asyncio.run(serve())
    return 0
