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
import os
import sys

from groundcontrol.query import WHEN_FORMS, QuerySyntaxError, parse_when
from groundcontrol.store.export import FORMATS, ExportError, export

__all__ = ["TIME_FORMS", "add_parser", "parse_time", "run"]

#: The times --since and --until take (the same as a search's).
TIME_FORMS = WHEN_FORMS


def parse_time(text: str, *, now: float | None = None) -> float:
    """Unix seconds from an ISO 8601 time, unix seconds or a duration ago ("2h" = two
    hours ago): :func:`groundcontrol.query.parse_when`. ValueError names the value
    and the accepted forms."""
    return parse_when(text, now=now)


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
