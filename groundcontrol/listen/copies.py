"""Retweets, quotes and near-duplicate copies: which mentions repeat an earlier one.

One viral complaint retweeted two thousand times is one story told once, not a
trend of two thousand voices. :class:`CopyIndex` remembers a fingerprint of every
text it has seen and the url of every post, and marks a mention as a copy
(``Mention.copy_of`` = the id of the first mention) when

* it is a retweet ("RT @handle: text") of a text seen before, or of another retweet
  of it;
* its text is a near-duplicate of an earlier one: the same words once links, handles,
  hashtags, emoji, punctuation and case are set aside (copy-paste campaigns,
  bots, syndicated news with a different link);
* it quotes a post the hub has seen (the text links to that post's url).

Volume still counts copies (many people did share it); hot topics do not count their
terms (:mod:`groundcontrol.signals.analytics`), so one copied text does not look like a trend.

Memory is bounded: the oldest fingerprints and urls are forgotten first, after
:data:`MAX_REMEMBERED` of each. Pure code, no I/O; the hub calls :meth:`CopyIndex.mark`
on its event loop, in arrival order, after enrichment. What a text alone gives (its
fingerprint and the urls it links to, :func:`copy_print`) is worked out with the rest
of its enrichment in a worker process; on the loop only the lookups remain.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from groundcontrol.model import Mention

__all__ = ["MAX_REMEMBERED", "MIN_WORDS", "CopyIndex", "CopyPrint", "copy_print", "fingerprint"]

#: What copy detection needs from a text alone: its fingerprint and the urls it links to.
CopyPrint = tuple[str, tuple[str, ...]]

#: Fingerprints (and urls) remembered; about 100 bytes each.
MAX_REMEMBERED = 200_000
#: A text needs this many words to have a fingerprint: "love it" twice is not a copy.
MIN_WORDS = 6
#: Words of a text that make its fingerprint (a long text that differs only at the
#: end is still the same text).
FINGERPRINT_WORDS = 40

_RT = re.compile(r"^\s*RT\s+@[\w.\-]+\s*:?\s*", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.\-]+", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")


def fingerprint(text: str) -> str:
    """The words of ``text`` that make it the same text, or "" if it is too short.

    Links, handles, hashtags, emoji, punctuation and case are set aside, and a
    retweet prefix is dropped, so a copy with another link or tag has the same one.
    """
    words = _WORD.findall(_NOISE.sub(" ", _RT.sub("", text, count=1)).lower())
    if len(words) < MIN_WORDS:
        return ""
    return " ".join(words[:FINGERPRINT_WORDS])


def _urls(text: str) -> list[str]:
    return [u.rstrip(".,;:!?").lower() for u in _URL.findall(text)]


def copy_print(text: str) -> CopyPrint:
    """``text``'s fingerprint and the urls it links to (none without "://")."""
    return fingerprint(text), tuple(_urls(text)) if "://" in text else ()


class CopyIndex:
    """Marks mentions that copy an earlier one (see the module docstring)."""

    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self._max = max_remembered
        # OrderedDicts: see _remember.
        self._texts: OrderedDict[str, str] = OrderedDict()
        """fingerprint -> id of the first mention with it"""
        self._urls: OrderedDict[str, str] = OrderedDict()
        """a post's url (lower case) -> its mention id"""
        self.copies = 0
        """Mentions marked as copies so far."""

    def __len__(self) -> int:
        return len(self._texts) + len(self._urls)

    def mark(self, mentions: Iterable[Mention], prints: Sequence[CopyPrint] | None = None) -> None:
        """Set ``copy_of`` on every mention that copies one seen before (in order).

        ``prints``: the mentions' :func:`copy_print`, when enrichment made them already.
        """
        texts, urls = self._texts, self._urls
        for n, m in enumerate(mentions):
            mid = m.id or m.key
            original = ""
            fp, quoted_urls = prints[n] if prints is not None else copy_print(m.text)
            if fp:
                first = texts.get(fp)
                if first is None:
                    self._remember(texts, fp, mid)
                elif first != mid:
                    original = first
            if not original and quoted_urls:
                own = m.url.lower()
                for url in quoted_urls:
                    quoted = urls.get(url)
                    if quoted is not None and quoted != mid and url != own:
                        original = quoted
                        break
            if m.url:
                self._remember(urls, m.url.lower(), mid)
            m.copy_of = original
            if original:
                self.copies += 1

    def _remember(self, table: OrderedDict[str, str], key: str, value: str) -> None:
        if key in table:
            return
        if len(table) >= self._max:
            # The oldest first. Not ``del table[next(iter(table))]`` on a dict: each
            # call walks over the holes the ones before left, slower and slower.
            table.popitem(last=False)
        table[key] = value
