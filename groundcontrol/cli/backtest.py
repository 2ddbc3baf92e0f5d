"""``groundcontrol backtest``: score recorded data as the hub would have, live.

* ``backtest FILE.csv``: run the online anomaly detector over a series (parsing, scoring
  and alerts in :mod:`groundcontrol.lab.backtest`). With ``--out`` the scored CSV goes
  to that file and the alert summary to stdout; without it the CSV goes to stdout (so
  it pipes) and the summary to stderr.
* ``backtest --mentions FILE``: replay recorded mentions (NDJSON) through the hub's own
  pipeline in virtual time (:mod:`groundcontrol.lab.mention_backtest`) and print every
  incident it would have opened, as text or with ``--json``.

Exit codes: 0 done, 2 bad input (one line on stderr naming the file, line and fault).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundcontrol.lab.backtest import (
    BacktestError,
    Kind,
    find_alerts,
    format_summary,
    parse_series,
    score_series,
    write_scores,
)
from groundcontrol.signals.detector import ALERT_SCORE

__all__ = ["add_parser", "run"]


def _score_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a score between 0 and 1, got {text}")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``backtest`` to ``sub``."""
    p = sub.add_parser(
        "backtest",
        help="score a saved series with the anomaly detector and list the alerts it raises",
        description=(
            "Run the online anomaly detector over FILE.csv (columns timestamp,value: one "
            "count per bucket at a fixed interval, oldest first) as if live, and write "
            "timestamp,value,anomaly_score with the score from 0 to 1. The detector's "
            "baseline knows the time of day and the day of the week, ignores single-bucket "
            "outliers and follows slow trends; a row's score uses that row and earlier ones "
            "only. The score marks the onset and the escalations of an anomaly; an alert "
            "stays open while the evidence stays above the threshold."
        ),
        epilog=(
            "Timestamps: ISO 8601 (2015-02-26 21:42:53, with or without an offset) or Unix "
            "seconds; time of day is read as written (naive and Unix times count as UTC). "
            "The interval is the most common step between rows. Unsorted or duplicate "
            "timestamps, unreadable values and steps that are not whole intervals are "
            "errors. A gap (missing buckets) is an error unless --allow-gaps, which skips "
            "the missing buckets (never counted as zero). With --out the CSV goes to OUT and "
            "the alert summary to stdout; without it the CSV goes to stdout and the summary "
            "to stderr. Exit 2 on bad input, with one line naming the file, line and fault."
        ),
    )
    p.add_argument(
        "file", metavar="FILE.csv", nargs="?", help="input CSV with timestamp,value columns"
    )
    p.add_argument(
        "--mentions",
        metavar="FILE",
        help="instead of a series: recorded mentions (NDJSON, as tail, export and feed demo "
        "--record write) run through the hub's own pipeline in virtual time; prints every "
        "incident the hub would have opened",
    )
    p.add_argument(
        "--config", metavar="FILE", help="with --mentions: the hub's TOML config (brands...)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='with --mentions: print {"incidents": [...]} as JSON',
    )
    p.add_argument("--out", metavar="OUT.csv", help="write the scored CSV here (default stdout)")
    p.add_argument(
        "--threshold",
        type=_score_arg,
        default=ALERT_SCORE,
        help=f"score at which an alert opens (default {ALERT_SCORE:g})",
    )
    p.add_argument(
        "--allow-gaps",
        action="store_true",
        help="skip missing buckets instead of stopping at the first gap",
    )
    p.add_argument(
        "--share",
        action="store_true",
        help="the value is a share from 0 to 1 (say, negative share) and a count column "
        "gives each bucket's mentions",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``backtest``; 0 on success, 2 on bad input."""
    if args.mentions:
        if args.file:
            print(
                "groundcontrol backtest: give FILE.csv or --mentions FILE, not both",
                file=sys.stderr,
            )
            return 2
        return _run_mentions(args)
    if not args.file:
        print(
            "groundcontrol backtest: give a series FILE.csv, or --mentions FILE",
            file=sys.stderr,
        )
        return 2
    if args.config or args.json:
        print("groundcontrol backtest: --config and --json go with --mentions", file=sys.stderr)
        return 2
    kind: Kind = "share" if args.share else "count"
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"groundcontrol backtest: cannot read {args.file}: {reason}", file=sys.stderr)
        return 2
    try:
        series = parse_series(text, args.file, kind=kind, allow_gaps=args.allow_gaps)
    except BacktestError as exc:
        print(f"groundcontrol backtest: {exc}", file=sys.stderr)
        return 2
    readings = score_series(series)
    alerts = find_alerts(series.stamps, series.values, readings, args.threshold)
    summary = format_summary(series, alerts, args.threshold)
    if args.out:
        try:
            with open(args.out, "w", newline="", encoding="utf-8") as out:
                write_scores(out, series, readings)
        except OSError as exc:
            print(
                f"groundcontrol backtest: cannot write {args.out}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 2
        sys.stdout.write(summary)
    else:
        write_scores(sys.stdout, series, readings)
        sys.stderr.write(summary)
    return 0


def _run_mentions(args: argparse.Namespace) -> int:
    from groundcontrol.config import ConfigError, load_config
    from groundcontrol.lab.mention_backtest import MentionsError, as_json, as_text, run_mentions

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"groundcontrol backtest: {exc}", file=sys.stderr)
        return 2

    def progress(n: int, seconds: float) -> None:
        print(
            f"  {seconds / 3600:.1f} h of mentions replayed ({n:,} mentions)",
            file=sys.stderr,
            flush=True,
        )

    try:
        result = run_mentions(Path(args.mentions), config, progress=progress)
    except MentionsError as exc:
        print(f"groundcontrol backtest: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(as_json(result) + "\n" if args.json else as_text(result))
    return 0
