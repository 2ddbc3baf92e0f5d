"""``groundcontrol sentiment``: score texts, one per line, as JSON lines.

Wired into :mod:`groundcontrol.cli.main` with :func:`add_parser` and :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from groundcontrol.listen.lang import LANGUAGES, detect_language
from groundcontrol.listen.sentiment import SentimentScorer
from groundcontrol.model import label_for
from groundcontrol.text import analyse

__all__ = ["UNDETERMINED", "add_parser", "run", "score_lines"]

#: The "lang" printed when ``--lang auto`` cannot tell (ISO 639-2 "undetermined").
UNDETERMINED = "und"

_DESCRIPTION = """\
Score the sentiment of texts, one per line, from FILE or standard input.

Prints one JSON object per input line, in the same order, as soon as the line is
read (the input is streamed, never read whole first):

  {"lang": "de", "score": -0.6249, "label": "negative"}

score is in [-1, 1]; label is "positive" (score >= 0.05), "negative" (score <= -0.05)
or "neutral". An empty line gives {"lang": "und", "score": 0.0, "label": "neutral"}.

Languages: English, German, Danish, French, Spanish, Dutch and Swedish have
lexicons and rules (negation, intensifiers, ALL CAPS, "!!!", emoji and emoticons,
hashtags, sarcasm markers such as "/s" or "yeah right"). Other languages the
detector knows (it, pt, no) are scored from emoji and emoticons only.
"""

_EPILOG = """\
lang in the output: with --lang auto, the language detected for that line, or "und"
when the line gives too little to tell (it is then scored with the English rules,
which also read emoji and emoticons); with --lang CODE, that code.

Invalid UTF-8: by default the bad bytes become U+FFFD (the replacement character),
the line is scored anyway and a warning naming the line goes to standard error;
with --invalid-utf8 error the command stops at that line with exit code 2 (the lines
before it have been printed). Line ends may be \\n or \\r\\n.

Exit codes: 0 done, 2 bad arguments, unreadable FILE or (with --invalid-utf8 error)
invalid UTF-8.

examples:
  groundcontrol sentiment posts.txt
  tail -f posts.txt | groundcontrol sentiment --lang de
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sentiment`` sub-command to ``sub``."""
    parser = sub.add_parser(
        "sentiment",
        help="score texts (one per line) and print JSON lines",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--lang",
        default="auto",
        metavar="LANG",
        help=f"auto (detect per line, the default) or one of: {', '.join(LANGUAGES)}",
    )
    parser.add_argument(
        "--invalid-utf8",
        choices=("replace", "error"),
        default="replace",
        help="what to do with a line that is not valid UTF-8 (default: replace)",
    )
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="text file, one text per line (default or '-': standard input)",
    )


class InvalidUtf8(Exception):
    """A line of the input is not valid UTF-8 (with ``--invalid-utf8 error``)."""

    def __init__(self, lineno: int) -> None:
        super().__init__(f"line {lineno}: invalid UTF-8")
        self.lineno = lineno


def score_lines(
    lines: Iterable[bytes],
    scorer: SentimentScorer,
    lang: str = "auto",
    *,
    strict: bool = False,
    warn: TextIO | None = None,
) -> Iterable[str]:
    """One JSON object (a string, no newline) per input line, lazily, in order.

    ``lines`` are raw lines with or without their line end. Invalid UTF-8 raises
    :class:`InvalidUtf8` when ``strict``, else is replaced (and reported on ``warn``).
    """
    score = scorer.score
    for lineno, raw in enumerate(lines, 1):
        raw = raw.rstrip(b"\n").rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if strict:
                raise InvalidUtf8(lineno) from None
            text = raw.decode("utf-8", errors="replace")
            if warn is not None:
                print(f"line {lineno}: invalid UTF-8, replaced with U+FFFD", file=warn)
        info = analyse(text)
        code = detect_language(info) if lang == "auto" else lang
        value = score(info, code)
        yield json.dumps(
            {"lang": code or UNDETERMINED, "score": value, "label": label_for(value)},
            ensure_ascii=False,
        )


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")


def run(args: argparse.Namespace) -> int:
    """Run ``groundcontrol sentiment``; returns the exit code."""
    lang: str = args.lang
    if lang != "auto" and lang not in LANGUAGES:
        known = ", ".join(("auto", *LANGUAGES))
        print(f"groundcontrol sentiment: unknown --lang {lang!r} (known: {known})", file=sys.stderr)
        return 2
    try:
        stream = _open(args.file)
    except OSError as exc:
        print(f"groundcontrol sentiment: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        scorer = SentimentScorer()
        strict = args.invalid_utf8 == "error"
        for line in score_lines(stream, scorer, lang, strict=strict, warn=sys.stderr):
            out.write(line + "\n")
            out.flush()  # one line out per line in: a pipe gets each result at once
    except InvalidUtf8 as exc:
        print(f"groundcontrol sentiment: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # the reader went away (| head): not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
            return 0
        print(f"groundcontrol sentiment: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0
