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

from groundcontrol.cli.common import DEFAULT_HUB, HUBS_HELP, fail

__all__ = ["add_parser", "run"]

_DESCRIPTION = """\
Print the hub's enriched mentions as they arrive, one JSON object per line (NDJSON) on
stdout, for jq and scripts; connection news goes to stderr. It reconnects by itself
and runs until interrupted.

QUERY keeps only the mentions it matches, in the query language of brands and saved
searches:
  word          a whole word, any case; a plain word matches its hashtag too
  "two words"   those words next to each other
  batter*       a prefix: battery, batteries
  #tag @handle  only that hashtag, only that handle
  a b, a AND b  both; a OR b either; NOT a or -a without (operators in capitals)
  ( ... )       grouping
"""

_EPILOG = """\
The token comes from GROUNDCONTROL_TOKEN: a display or analyst token (admin works
too); for an https hub, GROUNDCONTROL_CA_FILE names the CA file to trust when the
hub's certificate is private.

examples:
  groundcontrol tail
  groundcontrol tail '"aero 14" (battery OR swell*) -refund'
  groundcontrol tail '#aerogate OR @northwind' | jq -r .text
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tail`` to ``sub``."""
    tail = sub.add_parser(
        "tail",
        help="print enriched mentions as NDJSON, one JSON object per line",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tail.add_argument("--hub", default=DEFAULT_HUB, help=HUBS_HELP)
    tail.add_argument(
        "query", nargs="?", help="only mentions matching this query (see above; quote it)"
    )


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

    def which(url: str) -> str:
        # With several hubs (--hub A,B), the one this is about.
        return url.split("/stream")[0] if "," in hub else hub

    async def go() -> None:
        client = StreamClient(stream_url(hub, mentions=True, query=query), access=Access.from_env())
        async for event in client.events():
            if isinstance(event, MentionsEvent):
                for m in event.mentions:
                    out.write(encoder.encode(m) + b"\n")
                out.flush()
            elif isinstance(event, Disconnected):
                print(
                    f"groundcontrol tail: hub {which(event.url)} unreachable ({event.reason}); "
                    f"retrying in {event.retry_in:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
            elif isinstance(event, Connected):
                print(
                    f"groundcontrol tail: connected to {which(event.url)}",
                    file=sys.stderr,
                    flush=True,
                )
            elif isinstance(event, BadMessage):
                print(f"groundcontrol tail: skipped a bad message: {event.error}", file=sys.stderr)

    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        asyncio.run(go())
    return 0
