"""``groundcontrol tail``: print enriched mentions as NDJSON, one JSON object per line.

* ``tail [QUERY]``: follow ``--hub``'s stream of mentions (only those matching QUERY),
  one ``msgspec`` JSON object per line on stdout, reconnecting with backoff; connection
  news goes to stderr. Runs until interrupted or the pipe closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from groundcontrol.cli.common import DEFAULT_HUB, fail

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tail`` to ``sub``."""
    tail = sub.add_parser(
        "tail", help="print enriched mentions as NDJSON, one JSON object per line"
    )
    tail.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    tail.add_argument("query", nargs="?", help="only mentions matching this query")


def run(args: argparse.Namespace) -> int:
    """Follow the hub's mentions until interrupted; 0, or 2 for a bad query."""
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

    hub: str = args.hub
    query: str | None = args.query
    if query:
        try:
            parse_query(query)
        except QuerySyntaxError as exc:
            return fail(f"bad query {query!r}: {exc}")
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
