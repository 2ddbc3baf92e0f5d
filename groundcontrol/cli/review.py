"""``groundcontrol review``: the hub's review queue as a table for a person.

Wired into :mod:`groundcontrol.cli.main` with :func:`add_parser` and :func:`run`. It asks
the hub's ``GET /triage/queue`` with the analyst token from ``GROUNDCONTROL_TOKEN``
(and, for https, the CA in ``GROUNDCONTROL_CA_FILE``), as ``groundcontrol triage``
does, and prints one line per mention, its columns fitted to the terminal's width
(an id too long for its column is shortened in the middle). :func:`format_queue` is
pure, for tests.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
import unicodedata
from collections.abc import Sequence

import msgspec

from groundcontrol.client.stream import CA_FILE_ENV, TOKEN_ENV, Access, http_url
from groundcontrol.model import CATEGORIES
from groundcontrol.protocol import TriageQueue, TriageQueueItem

__all__ = ["QueueAnswer", "add_parser", "fetch_queue", "format_queue", "run"]

DEFAULT_HUB = "ws://127.0.0.1:8765"
#: What the hub accepts for ?limit= (groundcontrol.hub.api.MAX_QUEUE_LIMIT).
MAX_LIMIT = 500
#: Fewer columns than this left for the text beside the id: it goes on its own line.
MIN_TEXT_COLUMNS = 24
#: An id is never shortened below this many columns; it gets what is left first.
MIN_ID_COLUMNS = 20
#: An author gets at least this many columns (fewer if shorter), at most MAX_AUTHOR_COLUMNS.
MIN_AUTHOR_COLUMNS = 12
MAX_AUTHOR_COLUMNS = 20
#: Widest owner cell.
MAX_OWNER_COLUMNS = 14

_DESCRIPTION = """\
Show the review queue: the mentions the triage rules were unsure about (confidence
below [triage] review_below in the hub's config) or that carry compliance flags, and
that nobody has resolved or ignored yet, oldest first.

One line per mention: its id, its class (the rules' guess and confidence, or "(set)"
when a person labelled it), how long it has waited for a first response ("!" past the
hub's [triage] response_target), its owner ("ESC" when escalated), the author and the
text, fitted to the terminal width. The lines after it say how to take or classify
one; only resolve and ignore take a mention off the queue.
"""

_EPILOG = f"""\
The token (an analyst or admin token) comes from {TOKEN_ENV}; for an https hub,
{CA_FILE_ENV} names the CA file to trust when the hub's certificate is private.

--json prints the hub's answer as one JSON object, with the ids whole:
  {{"pending": 12, "breached": 3, "target_seconds": 1800.0, "items": [{{"mention":
  {{"id": "x:7", "text": "...", ...}}, "state": {{"status": "claimed", "assignee": "bob",
  ...}}, "waiting_seconds": 95.0, "breached": false}}]}}
pending and breached count the whole queue; items holds at most --limit mentions.

Exit codes: 0 done, 1 the hub cannot be reached or failed, 2 bad arguments or the hub
refused the request (bad token, bad parameter).

examples:
  groundcontrol review
  groundcontrol review --category support --limit 10
  groundcontrol review --assignee me
  groundcontrol review --hub https://hub.example:8765 --json
"""


#: The body of GET /triage/queue.
QueueAnswer = TriageQueue


class ReviewError(Exception):
    """The queue could not be read; ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``review`` sub-command to ``sub``."""
    parser = sub.add_parser(
        "review",
        help="show the mentions waiting for a person to classify (analyst token)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    parser.add_argument(
        "--limit",
        default="20",
        metavar="N",
        help=f"show at most N mentions, 1 to {MAX_LIMIT} (default 20)",
    )
    parser.add_argument(
        "--category",
        metavar="C",
        help=f"only the ones the rules put in C: {', '.join(CATEGORIES)}",
    )
    parser.add_argument(
        "--assignee",
        metavar="NAME",
        help="only the ones NAME owns: a name, me (your token's name) or none (nobody's)",
    )
    parser.add_argument("--json", action="store_true", help="print the hub's JSON answer")


def run(args: argparse.Namespace) -> int:
    """Run ``groundcontrol review``; return the exit code."""
    limit_text: str = args.limit
    if not (limit_text.isascii() and limit_text.isdigit()) or not (
        1 <= int(limit_text) <= MAX_LIMIT
    ):
        return _fail(f"--limit must be a whole number from 1 to {MAX_LIMIT}, not {limit_text!r}")
    category: str | None = args.category
    if category is not None and category not in CATEGORIES:
        return _fail(f"--category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    assignee: str | None = getattr(args, "assignee", None)
    if assignee is not None and not _one_line(assignee):
        return _fail("--assignee must be a name, me or none")
    try:
        body = fetch_queue(args.hub, int(limit_text), category, Access.from_env(), assignee)
        answer = msgspec.json.decode(body, type=TriageQueue)
    except ReviewError as exc:
        return _fail(str(exc), exc.code)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _fail(f"the hub's answer is not a review queue: {exc}", 1)
    if args.json:
        sys.stdout.write(body.decode() + "\n")
        return 0
    width = shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(
        format_queue(
            answer.pending,
            answer.items,
            width=width,
            hub=args.hub,
            breached=answer.breached,
            target_seconds=answer.target_seconds,
        )
    )
    return 0


def fetch_queue(
    hub: str, limit: int, category: str | None, access: Access, assignee: str | None = None
) -> bytes:
    """GET /triage/queue from the hub; the raw JSON body, or ReviewError saying why."""
    import urllib.error
    import urllib.request

    params = {"limit": str(limit)}
    if category is not None:
        params["category"] = category
    if assignee is not None:
        params["assignee"] = assignee
    url = http_url(hub, "/triage/queue", params)
    request = urllib.request.Request(url, headers=access.headers() or {})
    context = access.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as resp:
            body: bytes = resp.read()
            return body
    except urllib.error.HTTPError as exc:
        reason = _one_line(exc.read().decode("utf-8", "replace"))
        code = 2 if exc.code in (400, 401, 403) else 1
        raise ReviewError(
            f"hub refused the review queue: HTTP {exc.code}: {reason}", code
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise ReviewError(f"cannot reach {url}: {why}", 1) from None


# ---------------------------------------------------------------------- table

#: Control characters (C0, DEL, C1) and line or paragraph separators: never printed.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """``text`` on one line, without anything that could move the terminal's cursor."""
    return _SPACES.sub(" ", _UNPRINTABLE.sub(" ", text)).strip()


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters and emoji take two)."""
    return sum(_char_width(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, ending in "…" when cut; padded to
    exactly ``width`` columns."""
    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    out: list[str] = []
    used = 0
    for ch in text:
        w = _char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…" + " " * (width - 1 - used)


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, its middle replaced by "…" when it is too
    long (both ends of an id say the most: its source, and what tells it from its
    neighbours); padded to exactly ``width`` columns."""
    if width <= 0:
        return ""
    size = display_width(text)
    if size <= width:
        return text + " " * (width - size)
    if width == 1:
        return "…"
    head_w = width // 2
    head: list[str] = []
    used = 0
    for ch in text:
        w = _char_width(ch)
        if used + w > head_w:
            break
        head.append(ch)
        used += w
    tail_w = width - 1 - used  # what a wide character left over goes to the tail
    tail: list[str] = []
    tail_used = 0
    for ch in reversed(text):
        w = _char_width(ch)
        if tail_used + w > tail_w:
            break
        tail.append(ch)
        tail_used += w
    out = "".join(head) + "…" + "".join(reversed(tail))
    return out + " " * (width - display_width(out))


def _guess(item: TriageQueueItem) -> str:
    state = item.state
    if state.category_by == "person":
        return f"{state.category or '-'} (set)"
    return f"{state.category or '-'} {item.mention.category_confidence:.2f}"


def _wait(seconds: float) -> str:
    """A wait in a few characters: 45s, 12m, 2h05, 3d."""
    s = int(max(seconds, 0.0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}"
    return f"{s // 86400}d"


def _owner(item: TriageQueueItem) -> str:
    owner = _one_line(item.state.assignee) or "-"
    return f"ESC {owner}" if item.state.status == "escalated" else owner


def _columns(width: int, natural: dict[str, int], text_beside: bool) -> dict[str, int]:
    """Widths of the id, author and text columns (text 0 when it goes below): each its
    minimum, then what is left to the id up to its length, then to the author."""
    fixed = natural["guess"] + natural["wait"] + natural["owner"]
    gaps = 2 * (5 if text_beside else 4)
    room = width - fixed - gaps - (MIN_TEXT_COLUMNS if text_beside else 0)
    id_w = min(natural["id"], MIN_ID_COLUMNS)
    author_w = min(natural["author"], MIN_AUTHOR_COLUMNS)
    left = max(room - id_w - author_w, 0)
    grow = min(natural["id"] - id_w, left)
    id_w += grow
    left -= grow
    author_w += min(min(natural["author"], MAX_AUTHOR_COLUMNS) - author_w, left)
    text_w = width - fixed - gaps - id_w - author_w if text_beside else 0
    return {"id": id_w, "author": author_w, "text": text_w}


def format_queue(
    pending: int,
    items: Sequence[TriageQueueItem],
    *,
    width: int,
    hub: str,
    breached: int = 0,
    target_seconds: float = 0.0,
) -> str:
    """The queue as a table at most ``width`` columns wide, and how to act on one."""
    width = max(width, 60)
    lines: list[str] = []
    shortened = False
    if not items:
        lines.append(
            "The review queue is empty." if pending == 0 else f"{pending} waiting; none shown."
        )
    else:
        ids = [_one_line(i.mention.id or i.mention.key) for i in items]
        guesses = [_guess(i) for i in items]
        waits = [_wait(i.waiting_seconds) + ("!" if i.breached else "") for i in items]
        owners = [_owner(i) for i in items]
        authors = [_one_line(i.mention.author) or "-" for i in items]
        texts = [_one_line(i.mention.text) for i in items]
        header = ("ID", "CLASS", "WAIT", "OWNER", "AUTHOR", "TEXT")
        natural = {
            "id": max(display_width(t) for t in [*ids, header[0]]),
            "guess": max(display_width(t) for t in [*guesses, header[1]]),
            "wait": max(len(t) for t in [*waits, header[2]]),
            "owner": min(max(display_width(t) for t in [*owners, header[3]]), MAX_OWNER_COLUMNS),
            "author": max(display_width(t) for t in [*authors, header[4]]),
        }
        # No room for the text beside the shortest id and author: it goes on a line of
        # its own.
        below = _columns(width, natural, text_beside=True)["text"] < MIN_TEXT_COLUMNS
        w = _columns(width, natural, text_beside=not below)
        shortened = w["id"] < natural["id"]
        rows = [header, *zip(ids, guesses, waits, owners, authors, texts, strict=True)]
        for ident, guess, wait, owner, author, text in rows:
            cells = [
                shorten_middle(ident, w["id"]),
                fit(guess, natural["guess"]),
                fit(wait, natural["wait"]),
                fit(owner, natural["owner"]),
                fit(author, w["author"]),
            ]
            if not below:
                cells.append(fit(text, w["text"]))
            lines.append("  ".join(cells).rstrip())
            if below:
                lines.append(("    " + fit(text, width - 4)).rstrip())
        lines.append("")
        past = ""
        if target_seconds > 0:
            past = f", {breached} past the {_wait(target_seconds)} response target (!)"
        lines.append(f"{pending} waiting for review{past}; the oldest {len(items)} shown.")
        if shortened:
            lines.append("Ids shortened to fit: groundcontrol review --json prints them whole.")
    hub_opt = "" if hub == DEFAULT_HUB else f" --hub {shlex.quote(hub)}"
    first = items[0].mention if items else None
    example_id = shlex.quote(first.id or first.key) if first is not None else "ID"
    label = (items[0].state.category if items else "") or "support"
    lines.append(f"Take one: groundcontrol triage{hub_opt} {example_id} claim")
    lines.append(f"Classify one: groundcontrol triage{hub_opt} {example_id} label --label {label}")
    lines.append(f"  labels: {', '.join(CATEGORIES)}")
    lines.append("  Only resolve and ignore take a mention off the queue.")
    return "\n".join(lines) + "\n"


def _fail(message: str, code: int = 2) -> int:
    print(f"groundcontrol review: {message}", file=sys.stderr)
    return code
