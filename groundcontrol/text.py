"""Tokenization shared by language detection, sentiment, terms and query matching.

A mention's text is analysed once into a :class:`TextInfo`; every enrichment step
reads from it instead of tokenizing again. Tokenizing is a bytes.translate + split
for ASCII text, and a C-level ``map`` over a cache of whitespace chunks otherwise:
no per-token Python code and no regex over the whole text on the common path.

Word tokens are runs of letters, digits, underscores, ``#`` and ``@``, lower-cased;
a token that starts with ``#`` is a hashtag, one that starts with ``@`` a handle.
Everything else separates tokens: ``"Northwind's Aero-14!"`` gives ``northwind``,
``s``, ``aero``, ``14``. Links (``http://...``, ``www....``, X's photo links
``pic.twitter.com/...``) are dropped before
tokenizing, so neither terms nor queries see ``https`` or path fragments.

Matching rules (used by :mod:`groundcontrol.query`):

* a plain word matches the same word *and* the same word as a hashtag
  (``northwind`` matches "#Northwind"), because people tag what they talk about;
* a hashtag or handle matches only itself (``#northwind`` does not match the bare
  word, ``@northwind`` matches only that handle);
* a plain word does not match a handle: a handle names an account, and replies
  carry the handles of everyone in a thread whatever the post is about.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import chain

import msgspec

__all__ = ["TextInfo", "analyse", "tokenize"]

_URL_RE = re.compile(r"(?:https?://|www\.|pic\.twitter\.com/)\S+")
# Non-ASCII characters that are not word characters (emoji, typographic quotes,
# dashes, no-break spaces): blanked first, so that the byte pass below only has to
# deal with ASCII separators.
_NON_WORD = re.compile(r"[^\x00-\x7f\w]+")
# ASCII bytes that separate tokens become spaces; UTF-8 multi-byte sequences are
# all >= 0x80 and pass untouched. bytes.translate + split runs about five times
# faster than an equivalent re.findall(r"[\w#@]+").
_SEPARATORS = bytes(
    c if c >= 0x80 or chr(c).isalnum() or chr(c) in "_#@" else 0x20 for c in range(256)
)


#: Most chunks the tokenizer remembers before it starts over (bounds memory).
CACHE_LIMIT = 200_000


class TextInfo(msgspec.Struct, frozen=True, gc=False):
    """One text, analysed once: what every enrichment step reads."""

    text: str
    """The original text (NFC-normalised)."""
    lower: str
    """The text in lower case, links included."""
    chunks: list[str]
    """``lower.split()``: whitespace-separated chunks, punctuation and all."""
    tokens: list[str]
    """Lower-case word tokens in order; hashtags and handles keep their sigil."""
    words: frozenset[str]
    """The distinct tokens."""
    joined: str
    """``" " + " ".join(tokens) + " "``: phrases and prefixes become substring tests."""
    joined_bare: str
    """Like ``joined`` with hashtags' ``#`` removed, for plain-word phrases and prefixes."""


def _split(clean: str) -> list[str]:
    if "http" in clean or "www." in clean or "pic.twitter.com/" in clean:
        clean = _URL_RE.sub(" ", clean)
    if not clean.isascii():
        clean = _NON_WORD.sub(" ", clean)
    return clean.encode().translate(_SEPARATORS).decode().split()


class _ChunkTokens(dict[str, list[str]]):
    """Lower-case chunk -> its word tokens. Posts reuse the same chunks all the time,
    so most texts are tokenized by a C-level ``map`` over this cache."""

    def __missing__(self, chunk: str) -> list[str]:
        tokens = _split(chunk)
        if len(self) >= CACHE_LIMIT:
            self.clear()
        if (
            "http" not in chunk and "www." not in chunk and "pic." not in chunk
        ):  # links rarely repeat
            self[chunk] = tokens
        return tokens


_CHUNK_TOKENS = _ChunkTokens()


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of ``text`` (links removed), as :func:`analyse` makes them."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return _split(text.lower())


def analyse(text: str) -> TextInfo:
    """Analyse ``text`` once for all the enrichment steps."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        # Decomposed accents (macOS, some web forms) would split "ü" into "u" + mark.
        text = unicodedata.normalize("NFC", text)
    lower = text.lower()
    chunks = lower.split()
    if lower.isascii():
        tokens = _split(lower)
    else:
        # Links, separators and emoji never cross whitespace, so tokenizing chunk by
        # chunk gives what tokenizing the whole text gives; the cache makes that a
        # C-level pass, cheaper than the regex over non-ASCII text in _split.
        tokens = list(chain.from_iterable(map(_CHUNK_TOKENS.__getitem__, chunks)))
    joined = f" {' '.join(tokens)} "
    joined_bare = joined.replace(" #", " ") if "#" in joined else joined
    return TextInfo(text, lower, chunks, tokens, frozenset(tokens), joined, joined_bare)
