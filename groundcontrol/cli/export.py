"""``groundcontrol export``: write stored mentions as NDJSON, CSV or Parquet.

* ``export --db PATH``: the store's mentions (``--since``/``--until`` on the hub's
  ``received_at`` clock, ``--query`` on their text) in ``--format`` to ``--out`` or
  stdout, streamed in chunks by :func:`groundcontrol.store.export.export`; a closed
  pipe (``export ... | head``) is not an error.

:func:`parse_time` reads the times it takes: ISO 8601 or a duration ago (``2h``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import re
import sys
import time
from datetime import UTC, datetime

from groundcontrol.query import QuerySyntaxError
from groundcontrol.store.export import FORMATS, ExportError, export

__all__ = ["TIME_FORMS", "add_parser", "parse_time", "run"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
TIME_FORMS = (
    "an ISO 8601 date or time (2026-11-22, 2026-11-22T10:00:00Z; UTC when no offset)"
    " or a duration ago (90s, 15m, 2h, 7d, 2w)"
)


def parse_time(text: str, *, now: float | None = None) -> float:
    """Parse an absolute ISO 8601 time or a relative duration ("2h" = two hours ago).

    Returns unix seconds. Raises ValueError naming the value and the accepted forms.
    """
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        ago = float(match[1]) * _UNITS[match[2]]
        return (time.time() if now is None else now) - ago
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad time {text!r}: expected {TIME_FORMS}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    stamp = dt.timestamp()
    if not math.isfinite(stamp):  # pragma: no cover - fromisoformat bounds the year
        raise ValueError(f"bad time {text!r}: expected {TIME_FORMS}")
    return stamp


def _time_arg(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export`` to ``sub``."""
    parser = sub.add_parser(
        "export", help="write stored mentions as NDJSON, CSV or Parquet (streamed in chunks)"
    )
    parser.add_argument("--db", required=True, metavar="PATH", help="the store file")
    parser.add_argument("--format", choices=FORMATS, default="ndjson", help="default ndjson")
    parser.add_argument(
        "--since", type=_time_arg, metavar="TIME", help="from this time on; " + TIME_FORMS
    )
    parser.add_argument("--until", type=_time_arg, metavar="TIME", help="before this time")
    parser.add_argument("--query", metavar="Q", help="only mentions whose text matches Q")
    parser.add_argument(
        "--out", metavar="FILE", help="output file (default stdout; required for parquet)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``export``; 0 done (or the pipe closed), 1 for an I/O error, 2 for bad input."""
    if args.since is not None and args.until is not None and args.since >= args.until:
        print("groundcontrol export: --since must be before --until", file=sys.stderr)
        return 2
    try:
        n = export(
            args.db,
            fmt=args.format,
            out=args.out,
            since=args.since,
            until=args.until,
            query=args.query,
        )
    except QuerySyntaxError as exc:
        print(f"groundcontrol export: bad query {args.query!r}: {exc}", file=sys.stderr)
        return 2
    except ExportError as exc:
        print(f"groundcontrol export: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # polars reports EPIPE as a plain OSError without errno, naming it in the message.
        if exc.errno != errno.EPIPE and "os error 32" not in str(exc):
            print(f"groundcontrol export: {exc}", file=sys.stderr)
            return 1
        # `export ... | head` closed the pipe: not an error. stdout must not be flushed
        # again at exit, or Python prints a traceback after all.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    print(
        f"exported {n} mentions to {args.out if args.out else 'stdout'}",
        file=sys.stderr,
        flush=True,
    )
    return 0
