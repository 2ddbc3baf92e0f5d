"""``groundcontrol search``: search the hub's stored mentions from a shell.

``search QUERY`` asks ``--hub``'s ``GET /mentions`` with the analyst token from
``GROUNDCONTROL_TOKEN`` and prints one page, newest first, as a table fitted to the
terminal (``--json``: the hub's answer as it came), with the command for the next
page. :func:`format_page` is pure, for tests. Also here: :func:`get`, the one GET
the search and history commands share.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from groundcontrol.cli.common import DEFAULT_HUB, HubError, hub_request
from groundcontrol.cli.review import _one_line, display_width, fit
from groundcontrol.client.stream import CA_FILE_ENV, TOKEN_ENV, Access
from groundcontrol.model import Mention
from groundcontrol.protocol import SearchPage

__all__ = ["add_parser", "format_page", "run"]

_SYNTAX = """\
The search is the query language of brands and saved queries, plus fields:

  words       battery           a whole word (also as a hashtag: #battery)
  phrases     "battery died"    words next to each other
  prefixes    batter*           battery, batteries...
  hashtags    #aerogate         only the hashtag; @name only the handle
  operators   a OR b, a AND b (or just a b), NOT a (or -a), parentheses
  fields      brand:northwind   source:x   author:@jane   lang:de
              sentiment:negative   class:product_problem   flag:NAME
              values with spaces in quotes: author:"Jane Doe"; the same field
              twice means either value (brand:contoso brand:fabrikam)

Examples (quote a search that holds quotes, parentheses or a -word):
  groundcontrol search brand:northwind battery --since 2h
  groundcontrol search 'brand:northwind battery -charger' --since 2h
  groundcontrol search 'sentiment:negative "customer service"' --since 7d
  groundcontrol search 'source:reddit (overheats OR swollen)' --limit 100

Times (--since, --until): unix seconds, ISO 8601 (2026-11-22T10:00Z; UTC when no
offset) or a duration ago (90s, 15m, 2h, 7d, 2w).

The token comes from {token} (an analyst or admin token); for an https hub,
{ca} names the CA file to trust when its certificate is private.

Exit codes: 0 done, 1 the hub cannot be reached or failed, 2 bad arguments or the
hub refused (a bad search, a bad token, a hub without a store).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``search`` to ``sub``."""
    p = sub.add_parser(
        "search",
        help="search the hub's stored mentions (analyst token)",
        description=(
            "Search the mentions the hub has stored, newest first: one page, as a table"
            " (--json: the hub's answer), and how to ask for the next one."
        ),
        epilog=_SYNTAX.format(token=TOKEN_ENV, ca=CA_FILE_ENV),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "query", nargs="*", metavar="QUERY", help="the search (its words are joined); none: all"
    )
    p.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    p.add_argument("--since", metavar="TIME", help="received at or after TIME (e.g. 2h, 7d)")
    p.add_argument("--until", metavar="TIME", help="received before TIME")
    p.add_argument("--limit", type=int, default=50, help="mentions per page (1-200, default 50)")
    p.add_argument("--before", metavar="CURSOR", help="the page after this cursor (from 'more:')")
    p.add_argument("--json", action="store_true", help="print the hub's JSON answer")


def run(args: argparse.Namespace) -> int:
    """Run ``search``; the exit code."""
    if not 1 <= args.limit <= 200:
        return _fail(f"--limit must be from 1 to 200, not {args.limit}")
    text = " ".join(args.query)
    params = {
        "q": text,
        "since": args.since or "",
        "until": args.until or "",
        "before": args.before or "",
        "limit": str(args.limit),
    }
    try:
        body = hub_request(args.hub, "/mentions", params, Access.from_env())
        page = msgspec.json.decode(body, type=SearchPage)
    except HubError as exc:
        return _fail(str(exc), exc.code)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _fail(f"the hub's answer is not what was expected: {exc}", 1)
    if args.json:
        sys.stdout.write(body.decode() + "\n")
        return 0
    width = shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(format_page(page.items, width=width))
    sys.stdout.write(
        f"{len(page.items)} mention{'s' * (len(page.items) != 1)}"
        f" (checked {page.scanned:,} in {page.took_ms:,.0f} ms)"
        + (f" for {page.query}" if page.query else "")
        + "\n"
    )
    if page.next:
        again = ["groundcontrol", "search", *([_shell(text)] if text else [])]
        for flag in ("since", "until"):
            if getattr(args, flag):
                again += [f"--{flag}", _shell(getattr(args, flag))]
        if args.hub != DEFAULT_HUB:
            again += ["--hub", _shell(args.hub)]
        again += ["--before", page.next]
        sys.stdout.write("more: " + " ".join(again) + "\n")
    return 0


_SENTIMENT = {"positive": "+", "negative": "-", "neutral": "0"}


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M")


def format_page(items: Sequence[Mention], *, width: int = 100) -> str:
    """A table of mentions at most ``width`` columns wide: when (UTC), source, author,
    sentiment (+ - 0), brands and as much of the text as fits."""
    width = max(width, 60)
    if not items:
        return "No mentions.\n"
    author_w = min(20, max(6, *(display_width(_one_line(m.author)) for m in items)))
    brands_w = min(18, max(6, *(display_width(", ".join(m.brands)) for m in items)))
    fixed = 11 + 1 + 9 + 1 + author_w + 1 + 1 + 1 + brands_w + 1
    if width - fixed < 20:  # narrow: drop the brands column first
        brands_w = 0
        fixed = 11 + 1 + 9 + 1 + author_w + 1 + 1 + 1
    text_w = max(10, width - fixed)
    head = [fit("when (UTC)", 11), fit("source", 9), fit("author", author_w), " "]
    if brands_w:
        head.append(fit("brands", brands_w))
    head.append("text")
    lines = [" ".join(head).rstrip()]
    for m in items:
        cells = [
            _when(m.received_at),
            fit(_one_line(m.source), 9),
            fit(_one_line(m.author), author_w),
            _SENTIMENT.get(m.sentiment_label, " "),
        ]
        if brands_w:
            cells.append(fit(_one_line(", ".join(m.brands)), brands_w))
        cells.append(fit(_one_line(m.text), text_w))
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _shell(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _fail(message: str, code: int = 2) -> int:
    print(f"groundcontrol search: {message}", file=sys.stderr)
    return code
