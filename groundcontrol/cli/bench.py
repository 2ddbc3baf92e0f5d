"""``groundcontrol bench``: measure hub throughput and feed-to-tick latency.

* ``bench``: run a hub under test (``--config``, ``--no-store``) fed by the demo stream
  for ``--seconds`` per run, in batches of ``--batch`` with ``--window`` in flight,
  against a baseline run unless ``--no-baseline``; a table, or one JSON object with
  ``--json``. The measuring is :mod:`groundcontrol.lab.bench`.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from groundcontrol.cli.common import load_site, positive_float

if TYPE_CHECKING:
    from feeds.demo import DemoStream

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench`` to ``sub``."""
    bench = sub.add_parser(
        "bench", help="measure hub throughput and feed-to-tick latency against a baseline"
    )
    bench.add_argument("--seconds", type=positive_float, default=10.0, help="per run (default 10)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--batch", type=int, default=500, help="mentions per batch (default 500)")
    bench.add_argument("--window", type=int, default=8, help="batches in flight (default 8)")
    bench.add_argument("--no-baseline", action="store_true", help="skip the baseline run")
    bench.add_argument("--config", metavar="FILE", help="TOML config for the hub under test")
    bench.add_argument(
        "--no-store", action="store_true", help="run the hub without its durable store"
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; its exit status (ConfigError for a bad ``--config``)."""
    if args.config:
        load_site(args.config)  # fail now, with the file and key, not inside the subprocess

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
