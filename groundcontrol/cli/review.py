"""``groundcontrol review``: the hub's review queue as a table for a person.

Wired into :mod:`groundcontrol.cli.main` with :func:`add_parser` and :func:`run`. It asks
the hub's ``GET /triage/queue`` with the analyst token from ``GROUNDCONTROL_TOKEN``
(and, for https, the CA in ``GROUNDCONTROL_CA_FILE``), as ``groundcontrol triage``
does, and prints one line per mention. :func:`format_queue` is pure, for tests.
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
from groundcontrol.model import CATEGORIES, Mention

__all__ = ["QueueAnswer", "add_parser", "fetch_queue", "format_queue", "run"]

DEFAULT_HUB = "ws://127.0.0.1:8765"
#: What the hub accepts for ?limit= (groundcontrol.hub.api.MAX_QUEUE_LIMIT).
MAX_LIMIT = 500
#: Fewer columns than this left for the text beside the id: it goes on its own line.
MIN_TEXT_COLUMNS = 24

_DESCRIPTION = """\
Show the review queue: the mentions the triage rules were unsure about (confidence
below [triage] review_below in the hub's config) or that carry compliance flags, and
that nobody has triaged yet, newest first.

One line per mention: its id, the rules' guess and confidence, the author and the
text, cut to the terminal width. The lines after it say how to classify one; any triage
action on a mention (label, assign, escalate, resolve, ignore, note) takes it out of
the queue.
"""

_EPILOG = f"""\
The token (an analyst or admin token) comes from {TOKEN_ENV}; for an https hub,
{CA_FILE_ENV} names the CA file to trust when the hub's certificate is private.

--json prints the hub's answer as one JSON object:
  {{"pending": 12, "items": [{{"source": "x", "source_id": "7", "text": "...", ...}}]}}
pending counts the whole queue; items holds at most --limit mentions.

Exit codes: 0 done, 1 the hub cannot be reached or failed, 2 bad arguments or the hub
refused the request (bad token, bad parameter).

examples:
  groundcontrol review
  groundcontrol review --category support --limit 10
  groundcontrol review --hub https://hub.example:8765 --json
"""


class QueueAnswer(msgspec.Struct):
    """The body of GET /triage/queue."""

    pending: int
    items: list[Mention]


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
    try:
        body = fetch_queue(args.hub, int(limit_text), category, Access.from_env())
        answer = msgspec.json.decode(body, type=QueueAnswer)
    except ReviewError as exc:
        return _fail(str(exc), exc.code)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _fail(f"the hub's answer is not a review queue: {exc}", 1)
    if args.json:
        sys.stdout.write(body.decode() + "\n")
        return 0
    width = shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(format_queue(answer.pending, answer.items, width=width, hub=args.hub))
    return 0


def fetch_queue(hub: str, limit: int, category: str | None, access: Access) -> bytes:
    """GET /triage/queue from the hub; the raw JSON body, or ReviewError saying why."""
    import urllib.error
    import urllib.request

    params = {"limit": str(limit)}
    if category is not None:
        params["category"] = category
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


def _guess(m: Mention) -> str:
    category = m.category or "-"
    return f"{category} {m.category_confidence:.2f}"


def format_queue(pending: int, items: Sequence[Mention], *, width: int, hub: str) -> str:
    """The queue as a table at most ``width`` columns wide, and how to classify one."""
    width = max(width, 60)
    lines: list[str] = []
    if not items:
        lines.append(
            "The review queue is empty." if pending == 0 else f"{pending} waiting; none shown."
        )
    else:
        ids = [_one_line(m.id or m.key) for m in items]
        guesses = [_guess(m) for m in items]
        authors = [_one_line(m.author) or "-" for m in items]
        # Never cut an id: a person copies it into the triage command.
        id_w = max(display_width(t) for t in [*ids, "ID"])
        guess_w = max(len(t) for t in [*guesses, "GUESS"])
        author_w = min(max(display_width(t) for t in [*authors, "AUTHOR"]), 20)
        text_w = width - id_w - guess_w - author_w - 3 * 2
        if text_w < 12:  # a narrow terminal: the author goes before the text does
            author_w = max(6, author_w - (12 - text_w))
            text_w = width - id_w - guess_w - author_w - 3 * 2
        texts = [_one_line(m.text) for m in items]
        rows = [("ID", "GUESS", "AUTHOR", "TEXT"), *zip(ids, guesses, authors, texts, strict=True)]
        # Too long an id for the text to fit beside it: the text goes on a line of its own.
        below = text_w < MIN_TEXT_COLUMNS
        for ident, guess, author, text in rows:
            cells = [fit(ident, id_w), fit(guess, guess_w), fit(author, author_w)]
            if not below:
                cells.append(fit(text, text_w))
            lines.append("  ".join(cells).rstrip())
            if below:
                lines.append(("    " + fit(text, width - 4)).rstrip())
        shown = len(items)
        lines.append("")
        lines.append(f"{pending} waiting for review; the newest {shown} shown.")
    hub_opt = "" if hub == DEFAULT_HUB else f" --hub {shlex.quote(hub)}"
    example_id = shlex.quote(items[0].id or items[0].key) if items else "ID"
    label = (items[0].category if items else "") or "support"
    lines.append(f"Classify one: groundcontrol triage{hub_opt} {example_id} label --label {label}")
    lines.append(f"  labels: {', '.join(CATEGORIES)}")
    lines.append("  Any triage action (label, resolve, ignore...) takes a mention off the queue.")
    return "\n".join(lines) + "\n"


def _fail(message: str, code: int = 2) -> int:
    print(f"groundcontrol review: {message}", file=sys.stderr)
    return code
