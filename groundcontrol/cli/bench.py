"""``groundcontrol bench``: measure hub throughput and feed-to-tick latency.

* ``bench``: run a hub under test (``--config``, ``--no-store``) fed by the demo stream
  for ``--seconds`` per run, in batches of ``--batch`` with ``--window`` in flight,
  against a baseline run unless ``--no-baseline``; a table, or one JSON object with
  ``--json``. Both give the CPU each mention cost, in all and by stage. ``--rate``
  feeds at a fixed rate instead of as fast as acks allow. The measuring is
  :mod:`groundcontrol.lab.bench`.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from groundcontrol.cli.common import load_site, positive_float

if TYPE_CHECKING:
    from feeds.demo import DemoStream
    from groundcontrol.lab.bench import Rate

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
    bench.add_argument(
        "--rate",
        type=rate_spec,
        metavar="N|P%",
        help="feed the hub at a fixed rate: N mentions/s (one run, no baseline), or P%% of "
        "the full-speed rate measured first in the same invocation (a second, paced run: "
        "its latency is the one to quote at that load)",
    )


def rate_spec(value: str) -> Rate:
    """``--rate``: "20000" (mentions a second) or "80%" (of full speed)."""
    from groundcontrol.lab.bench import Rate

    text = value.strip()
    try:
        if text.endswith("%"):
            fraction = float(text[:-1]) / 100
            if not 0 < fraction <= 1:
                raise ValueError
            return Rate(fraction=fraction)
        per_second = float(text)
        if not 0 < per_second < float("inf"):
            raise ValueError
        return Rate(per_second=per_second)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--rate {value!r}: give mentions a second (e.g. 20000) or a share of full "
            "speed above 0% and up to 100% (e.g. 80%)"
        ) from None


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
        rate=args.rate,
    )
