"""``groundcontrol history``: mentions, share of voice and negative share over time.

``history`` asks ``--hub``'s ``GET /history`` with the analyst token from
``GROUNDCONTROL_TOKEN`` and prints one line per bucket (hour, UTC day or week from
Monday) with, per brand, its mentions, its share of voice and its negative share;
``--csv FILE`` (or ``-`` for stdout) writes the hub's CSV instead, ``--json`` prints
its JSON. :func:`format_history` is pure, for tests.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from groundcontrol.cli.common import DEFAULT_HUB, HubError, hub_request
from groundcontrol.cli.review import _one_line, fit
from groundcontrol.client.stream import CA_FILE_ENV, TOKEN_ENV, Access
from groundcontrol.protocol import History, HistoryRow

__all__ = ["add_parser", "format_history", "run"]

_EPILOG = """\
Buckets are UTC: an hour, a day from midnight, or a week from Monday 00:00; the range
is widened to whole buckets, and a bucket with no mentions shows zeros. Share of voice
is a brand's mentions over all the listed brands' mentions in the bucket; negative
share, its negative mentions over its mentions. Brands default to the hub's config
(ours and competitors), the range to the last 7 days by hour, 90 by day, 365 by week.

Examples:
  groundcontrol history --by day --since 30d
  groundcontrol history --by hour --since 48h --brands northwind,contoso
  groundcontrol history --by week --since 2026-01-01 --csv weekly.csv

Times (--since, --until): unix seconds, ISO 8601 (UTC when no offset) or a duration
ago (90s, 15m, 2h, 7d, 2w).

The token comes from {token} (an analyst or admin token); for an https hub, {ca}
names the CA file to trust when its certificate is private.

Exit codes: 0 done, 1 the hub cannot be reached or failed, or the file cannot be
written, 2 bad arguments or the hub refused (too many buckets, an unknown brand, a
bad token, a hub without a store).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``history`` to ``sub``."""
    p = sub.add_parser(
        "history",
        help="mentions, share of voice and negative share per brand over time (analyst token)",
        description=(
            "Mentions, share of voice and negative share of each brand, per hour, day or"
            " week, from the hub's store."
        ),
        epilog=_EPILOG.format(token=TOKEN_ENV, ca=CA_FILE_ENV),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    p.add_argument("--by", choices=("hour", "day", "week"), default="day", help="default day")
    p.add_argument("--since", metavar="TIME", help="from the bucket holding TIME (e.g. 30d)")
    p.add_argument("--until", metavar="TIME", help="to the bucket before TIME (default now)")
    p.add_argument("--brands", metavar="A,B", help="these brands (default: the hub's config)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="FILE", help="write the hub's CSV to FILE (- for stdout)")
    out.add_argument("--json", action="store_true", help="print the hub's JSON answer")


def run(args: argparse.Namespace) -> int:
    """Run ``history``; the exit code."""
    params = {
        "by": args.by,
        "since": args.since or "",
        "until": args.until or "",
        "brands": args.brands or "",
        "format": "csv" if args.csv else "json",
    }
    try:
        body = hub_request(args.hub, "/history", params, Access.from_env())
    except HubError as exc:
        return _fail(str(exc), exc.code)
    if args.csv:
        if args.csv == "-":
            sys.stdout.write(body.decode())
            return 0
        try:
            Path(args.csv).write_bytes(body)
        except OSError as exc:
            return _fail(f"cannot write {args.csv}: {exc.strerror or exc}", 1)
        rows = body.count(b"\n") - 1
        print(f"wrote {rows} rows to {args.csv}", file=sys.stderr)
        return 0
    if args.json:
        sys.stdout.write(body.decode() + "\n")
        return 0
    try:
        answer = msgspec.json.decode(body, type=History)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _fail(f"the hub's answer is not what was expected: {exc}", 1)
    width = shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(format_history(answer.by, answer.brands, answer.rows, width=width))
    return 0


def _start(t: float, by: str) -> str:
    fmt = "%Y-%m-%d %H:00" if by == "hour" else "%Y-%m-%d"
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


_CELL = 22  # "  12,345  62%  18%" per brand


def format_history(by: str, brands: list[str], rows: list[HistoryRow], *, width: int = 100) -> str:
    """One line per bucket, and per brand its mentions, share of voice and negative
    share; as many brands as fit in ``width`` columns (the rest are named at the end)."""
    if not brands:
        return "No brands.\n"
    first = 16 if by == "hour" else 10
    label = {"hour": "hour (UTC)", "day": "day (UTC)", "week": "week from"}[by]
    fits = max(1, (max(width, 40) - first) // _CELL)
    shown = brands[:fits]
    lines = [
        fit(label, first) + "".join(fit("  " + _one_line(b), _CELL) for b in shown),
        " " * first + "".join(f"{'mentions':>10} {'sov':>5} {'neg':>5}" for _ in shown),
    ]
    by_bucket: dict[float, dict[str, HistoryRow]] = {}
    for row in rows:
        by_bucket.setdefault(row.at, {})[row.brand] = row
    for at, cells in by_bucket.items():
        line = fit(_start(at, by), first)
        for b in shown:
            r = cells.get(b)
            if r is None:
                line += " " * _CELL
                continue
            line += f"{r.mentions:>10,} {r.share_of_voice:>5.0%} {r.negative_share:>5.0%}"
        lines.append(line.rstrip())
    if len(shown) < len(brands):
        rest = ", ".join(brands[len(shown) :])
        lines.append(f"(not shown, too narrow: {rest}; try --csv -)")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _fail(message: str, code: int = 2) -> int:
    print(f"groundcontrol history: {message}", file=sys.stderr)
    return code
