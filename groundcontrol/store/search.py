"""Search and history over the store: the read side of schema v5.

Search (:func:`search`, ``Store.search``)
    A page of the mentions a :class:`~groundcontrol.query.Search` matches, newest
    first (``received_at``, then rowid), keyset-paginated: the cursor is the key of
    the last mention looked at, ``"<received_at>/<rowid>"``, and the next page starts
    below it. SQL finds candidates, Python decides: every candidate goes through
    :meth:`Search.matches`, so what SQL does only has to be a superset.

    A page walks back through time in slices of the store (``mention_hours`` says how
    many mentions each hour holds and the range of their rowids): the first slice holds
    a few thousand mentions, each next one four times more (at most
    :data:`MAX_SLICE_MENTIONS`), so a common word fills a page from the newest hour
    while a rare one reaches back through a million mentions in two dozen slices. In
    each slice one index drives, the most selective at hand:

    * ``author:``: ``mention_authors`` (and the newest rows it has not reached yet);
    * a text query with words: the full-text index ``mentions_fts``, limited to the
      slice's rowids (:func:`fts_expression` translates the query);
    * ``brand:``: ``mention_brands``; ``source:``: ``mentions_source_received``;
    * nothing of these: ``mentions_received_at``.

    The other fields are SQL conditions on the candidates. A page stops when it is
    full, after :data:`MAX_SCAN` candidates checked in Python, or when it has worked
    :data:`PAGE_SECONDS`; it then returns the cursor where it stopped (a page that
    stopped early may be short, or empty, and still have a cursor). A full page's
    cursor may lead to an empty page.

The full-text index and the query language
    ``mentions_fts`` holds each mention's tokens as :mod:`groundcontrol.text` cuts
    them (``database.index_text``), so a query's word, hashtag or handle is the very
    string the index holds, and a phrase's words are next to each other there as they
    are in the query language (links are not in between). SQLite's unicode61 tokenizer
    reads those tokens (folding case and accents, keeping ``_ # @``), the same way for
    the index and the query. :func:`fts_expression` translates terms, prefixes (of
    :data:`MIN_PREFIX` characters or more), phrases, AND and OR; ``NOT``, emoji and
    other text without letters (matched as substrings), and tokens made only of
    letters newer than Unicode 3.2 drop out of the FTS constraint; the check in
    Python still applies them. A translation FTS5 refuses (it has limits of its own)
    is answered without the index.

History (:func:`history`, ``Store.history``)
    Per bucket (an hour, a UTC day, or a week from Monday 00:00 UTC) and brand: the
    mentions, the negative ones, the share of voice (the brand's mentions over all the
    listed brands' in the bucket) and the negative share, from the ``brand_hours``
    rollup. ``since`` and ``until`` are widened to whole buckets; empty buckets are
    zeros; at most :data:`MAX_BUCKETS` buckets.
"""

from __future__ import annotations

import heapq
import sqlite3
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from groundcontrol.model import Mention
from groundcontrol.protocol import HistoryRow
from groundcontrol.query import And, Node, Not, Or, Phrase, Raw, Search, Term
from groundcontrol.store.database import _MENTION_COLUMNS, _mention_from_row, hour_of

if TYPE_CHECKING:
    from groundcontrol.store.database import Store

__all__ = [
    "BUCKET_SECONDS",
    "MAX_BUCKETS",
    "HistoryError",
    "bucket_start",
    "decode_cursor",
    "encode_cursor",
    "fts_expression",
    "history",
    "search",
]

#: Candidates a page checks in Python at most before it returns its cursor.
MAX_SCAN = 5_000
#: Seconds of work after which a page returns what it has and its cursor.
PAGE_SECONDS = 0.12
#: Mentions the first slice of a page holds (about; whole hours), and the most any holds
#: when the full-text index drives (its work is the matches) or another index does
#: (its work may be every mention of the slice, filtered in SQL).
FIRST_SLICE_MENTIONS = 2_000
MAX_SLICE_MENTIONS = 50_000
MAX_SCAN_SLICE_MENTIONS = 20_000
#: Shortest prefix (``bat*``) the full-text index looks up; shorter ones match so much
#: that checking the mentions in order is the faster way.
MIN_PREFIX = 2
#: Most buckets one history answer holds.
MAX_BUCKETS = 5_000

Key = tuple[float, int]
"""A mention's place in search order: (received_at, rowid); pages go from high to low."""

_ROWS_PER_FETCH = 256


# --------------------------------------------------------------------------- cursors


def encode_cursor(key: Key) -> str:
    """The opaque cursor for "below this key"."""
    return f"{key[0]!r}/{key[1]}"


def decode_cursor(text: str) -> Key:
    """The key of a cursor from :func:`encode_cursor`; ValueError if it is not one."""
    at, sep, rowid = text.partition("/")
    try:
        key = (float(at), int(rowid))
    except ValueError:
        key = None
    if not sep or key is None or key[0] != key[0] or abs(key[0]) == float("inf"):
        raise ValueError(f"bad cursor {text[:40]!r}")
    return key


# --------------------------------------------------------------------------- FTS


def _indexable(token: str) -> bool:
    # The tokenizer must see at least one character of the token, or the FTS phrase
    # would be empty and match nothing. Letters and digits of Unicode 3.2 are surely
    # in SQLite's tables; a token of only newer ones is left to the check in Python.
    for ch in token:
        if ch.isascii():
            if ch.isalnum() or ch in "_#@":
                return True
        elif unicodedata.ucd_3_2_0.category(ch)[0] in "LN":
            return True
    return False


def _string(token: str) -> str:
    # Query tokens never hold '"' (text.py); double it anyway, as FTS5 wants.
    return '"' + token.replace('"', '""') + '"'


def fts_expression(node: Node) -> str | None:
    """An FTS5 query that finds at least every text ``node`` matches, or None when no
    constraint can be drawn from it (see the module doc)."""
    if isinstance(node, Term):
        token = node.token
        if not _indexable(token):
            return None
        tagged = token[0] in "#@"
        if node.prefix:
            if len(token) - tagged < MIN_PREFIX:
                return None
            if tagged:
                return _string(token) + " *"
            return f"({_string(token)} * OR {_string('#' + token)} *)"
        if tagged:
            return _string(token)
        # A plain word matches the hashtag too.
        return f"({_string(token)} OR {_string('#' + token)})"
    if isinstance(node, Phrase):
        tokens = node.tokens
        if not all(map(_indexable, tokens)):
            return None
        phrase = _string(" ".join(tokens))
        if any(t[0] in "#@" for t in tokens):
            return phrase
        # Each word of a plain phrase may be a hashtag too ("aero #14"): the phrase as
        # written, or all its words (any form) with at least one as a hashtag.
        each = " AND ".join(f"({_string(t)} OR {_string('#' + t)})" for t in tokens)
        some_tag = " OR ".join(_string("#" + t) for t in tokens)
        return f"({phrase} OR ({each} AND ({some_tag})))"
    if isinstance(node, Raw | Not):
        return None
    if isinstance(node, And):
        parts = [p for child in node.children if (p := fts_expression(child)) is not None]
        return None if not parts else "(" + " AND ".join(parts) + ")"
    assert isinstance(node, Or)
    alternatives: list[str] = []
    for child in node.children:
        part = fts_expression(child)
        if part is None:
            return None  # one unconstrained alternative: the whole OR is
        alternatives.append(part)
    return "(" + " OR ".join(alternatives) + ")"


# --------------------------------------------------------------------------- search


@dataclass
class _Plan:
    """How a page finds its candidates: SQL conditions on ``mentions m`` for the
    fields, and the driving index."""

    conditions: list[str]
    params: list[Any]
    driver: Literal["authors", "fts", "brands", "sources", "all"]
    fts: str | None
    brands: list[str]
    """The stored brand names the search's brands stand for (any case)."""
    authors_mark: int = 0


def _plan(store: Store, s: Search, *, use_fts: bool = True) -> _Plan | None:
    """The plan of a search; None when it cannot match anything stored."""
    conditions: list[str] = []
    params: list[Any] = []

    def one_of(column: str, values: Sequence[str]) -> None:
        conditions.append(f"{column} IN ({','.join('?' * len(values))})")
        params.extend(values)

    brands: list[str] = []
    if s.brands:
        brands = [b for b in store.brand_names() if b.lower() in s.brands]
        if not brands:
            return None
    if s.sources:
        one_of("m.source", s.sources)
    if s.authors:
        one_of("m.author", s.authors)
    if s.langs:
        one_of("m.lang", s.langs)
    if s.sentiments:
        one_of("m.sentiment_label", s.sentiments)
    if s.classes:
        one_of("m.category", s.classes)
    if s.flags:
        # flags is a JSON list (or ''): a superset test, the check in Python is exact.
        conditions.append("(" + " OR ".join("instr(m.flags, ?) > 0" for _ in s.flags) + ")")
        params.extend('"' + f.replace("\\", "\\\\").replace('"', '\\"') + '"' for f in s.flags)
    fts = fts_expression(s.text.root) if s.text is not None and use_fts else None
    driver: Literal["authors", "fts", "brands", "sources", "all"]
    if s.authors:
        driver = "authors"  # an author has few mentions: check them all
    elif fts is not None:
        driver = "fts"
    elif brands:
        driver = "brands"
    elif s.sources:
        driver = "sources"
    else:
        driver = "all"
    if brands and driver != "brands":
        marks = ",".join("?" * len(brands))
        conditions.append(
            "EXISTS (SELECT 1 FROM mention_brands b2 WHERE b2.brand IN"
            f" ({marks}) AND b2.received_at = m.received_at AND b2.mention = m.rowid)"
        )
        params.extend(brands)
    plan = _Plan(conditions, params, driver, fts, brands)
    if driver == "authors":
        plan.authors_mark = store._authors_indexed()
    return plan


@dataclass
class _Slice:
    low: float | None
    """Received at or after this (None: no lower bound: the last slice)."""
    first_rowid: int
    last_rowid: int
    mentions: int


def _slices(db: Any, upper: Key | None, since: float | None, largest: int) -> Iterator[_Slice]:
    """Slices of the store from ``upper`` down to ``since``, growing up to ``largest``
    mentions (see the module doc); the last one reaches down to ``since``."""
    where: list[str] = []
    params: list[Any] = []
    if upper is not None:
        where.append("hour <= ?")
        params.append(hour_of(upper[0]))
    if since is not None:
        where.append("hour >= ?")
        params.append(hour_of(since))
    sql = "SELECT hour, first_rowid, last_rowid, mentions FROM mention_hours"
    if where:
        sql += " WHERE " + " AND ".join(where)
    hours = db.execute(sql + " ORDER BY hour DESC", params)
    target = FIRST_SLICE_MENTIONS
    low_rowid, high_rowid, count = 1 << 62, 0, 0
    for hour, first_rowid, last_rowid, mentions in hours:
        low_rowid = min(low_rowid, first_rowid)
        high_rowid = max(high_rowid, last_rowid)
        count += max(0, mentions)
        if count >= target:
            low = hour if since is None else max(hour, since)
            yield _Slice(low, low_rowid, high_rowid, count)
            if since is not None and low <= since:
                return
            low_rowid, high_rowid, count = 1 << 62, 0, 0
            target = min(target * 4, largest)
    yield _Slice(None if since is None else since, low_rowid, high_rowid, count)


def _range(
    key: tuple[str, str], upper: Key | None, low: float | None
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if upper is not None:
        where.append(f"({key[0]}, {key[1]}) < (?, ?)")
        params.extend(upper)
    if low is not None:
        where.append(f"{key[0]} >= ?")
        params.append(low)
    return where, params


def _stream(
    db: Any,
    table: str,
    key: tuple[str, str],
    where: list[str],
    params: list[Any],
    upper: Key | None,
    low: float | None,
) -> Iterator[tuple[Any, ...]]:
    """Mention rows from ``table`` in key order, high to low, in growing chunks."""
    chunk = 64
    while True:
        bounds, bound_params = _range(key, upper, low)
        conditions = " AND ".join([*where, *bounds]) or "1"
        rows = db.execute(
            f"SELECT {_MENTION_COLUMNS} FROM {table} WHERE {conditions}"
            f" ORDER BY {key[0]} DESC, {key[1]} DESC LIMIT {chunk}",
            [*params, *bound_params],
        ).fetchall()
        yield from rows
        if len(rows) < chunk:
            return
        upper = (rows[-1][1], rows[-1][0])
        chunk = min(chunk * 4, 1024)


def _merge(streams: list[Iterator[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
    """Several streams as one, in key order, each mention once."""
    if len(streams) == 1:
        yield from streams[0]
        return
    last = None
    for row in heapq.merge(*streams, key=lambda r: (r[1], r[0]), reverse=True):
        if row[0] != last:
            last = row[0]
            yield row


def _fts_rows(db: Any, plan: _Plan, piece: _Slice, upper: Key | None) -> Iterator[tuple[Any, ...]]:
    """The slice's candidates from the full-text index, in key order."""
    if piece.mentions <= 0 and piece.last_rowid == 0:
        return
    bounds, bound_params = _range(("m.received_at", "m.rowid"), upper, piece.low)
    conditions = " AND ".join(
        ["f.text MATCH ?", "f.rowid BETWEEN ? AND ?", *bounds, *plan.conditions]
    )
    keys = db.execute(
        "SELECT m.rowid FROM mentions_fts f CROSS JOIN mentions m ON m.rowid = f.rowid"
        f" WHERE {conditions} ORDER BY m.received_at DESC, m.rowid DESC",
        [plan.fts, piece.first_rowid, piece.last_rowid, *bound_params, *plan.params],
    ).fetchall()
    for start in range(0, len(keys), _ROWS_PER_FETCH):
        wanted = [k[0] for k in keys[start : start + _ROWS_PER_FETCH]]
        rows = db.execute(
            f"SELECT {_MENTION_COLUMNS} FROM mentions m WHERE m.rowid IN"
            f" ({','.join('?' * len(wanted))})",
            wanted,
        ).fetchall()
        by_rowid = {r[0]: r for r in rows}
        for rowid in wanted:
            row = by_rowid.get(rowid)
            if row is not None:
                yield row


def _rows(
    db: Any, plan: _Plan, s: Search, piece: _Slice, upper: Key | None
) -> Iterator[tuple[Any, ...]]:
    """The candidates of one slice, in key order (high to low)."""
    if plan.driver == "fts":
        yield from _fts_rows(db, plan, piece, upper)
        return
    m_key = ("m.received_at", "m.rowid")
    streams: list[Iterator[tuple[Any, ...]]] = []
    if plan.driver == "authors":
        for author in s.authors:
            streams.append(
                _stream(
                    db,
                    "mention_authors a CROSS JOIN mentions m ON m.rowid = a.mention",
                    ("a.received_at", "a.mention"),
                    ["a.author = ?", *plan.conditions],
                    [author, *plan.params],
                    upper,
                    piece.low,
                )
            )
        # The newest mentions, whose authors are not indexed yet (a few thousand).
        streams.append(
            _stream(
                db,
                "mentions m NOT INDEXED",
                m_key,
                ["m.rowid > ?", *plan.conditions],
                [plan.authors_mark, *plan.params],
                upper,
                piece.low,
            )
        )
    elif plan.driver == "brands":
        for brand in plan.brands:
            streams.append(
                _stream(
                    db,
                    "mention_brands b CROSS JOIN mentions m ON m.rowid = b.mention",
                    ("b.received_at", "b.mention"),
                    ["b.brand = ?", *plan.conditions],
                    [brand, *plan.params],
                    upper,
                    piece.low,
                )
            )
    elif plan.driver == "sources":
        for source in s.sources:
            streams.append(
                _stream(
                    db,
                    "mentions m INDEXED BY mentions_source_received",
                    m_key,
                    ["m.source = ?", *plan.conditions],
                    [source, *plan.params],
                    upper,
                    piece.low,
                )
            )
    else:
        streams.append(
            _stream(
                db,
                "mentions m INDEXED BY mentions_received_at",
                m_key,
                plan.conditions,
                plan.params,
                upper,
                piece.low,
            )
        )
    yield from _merge(streams)


def search(
    store: Store,
    s: Search,
    *,
    since: float | None = None,
    until: float | None = None,
    before: str | None = None,
    limit: int = 50,
    max_scan: int = MAX_SCAN,
    seconds: float = PAGE_SECONDS,
) -> tuple[list[Mention], str | None, int]:
    """One page of ``s`` with ``since <= received_at < until``, newest first, below the
    cursor ``before``: (mentions, the next page's cursor or None, candidates checked).

    ValueError for a bad cursor or limit (see the module doc for how a page works).
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if max_scan < 1:
        raise ValueError(f"max_scan must be at least 1, not {max_scan}")
    upper: Key | None = decode_cursor(before) if before is not None else None
    if until is not None and (upper is None or upper[0] >= until):
        upper = (until, 0)  # received_at < until (rowids start at 1)
    items: list[Mention] = []
    if since is not None and upper is not None and upper[0] < since:
        return items, None, 0
    plan = _plan(store, s)
    if plan is None:
        return items, None, 0
    try:
        return _page(store, plan, s, upper, since, limit, max_scan, seconds)
    except sqlite3.OperationalError as exc:
        if plan.driver != "fts" or "fts5" not in str(exc):
            raise
    # FTS5 has limits of its own (nesting, query size): do without the index.
    plan = _plan(store, s, use_fts=False)
    assert plan is not None
    return _page(store, plan, s, upper, since, limit, max_scan, seconds)


def _page(
    store: Store,
    plan: _Plan,
    s: Search,
    upper: Key | None,
    since: float | None,
    limit: int,
    max_scan: int,
    seconds: float,
) -> tuple[list[Mention], str | None, int]:
    items: list[Mention] = []
    db = store._db
    deadline = time.perf_counter() + seconds
    scanned = 0
    last: Key | None = None  # the last candidate looked at
    largest = MAX_SLICE_MENTIONS if plan.driver == "fts" else MAX_SCAN_SLICE_MENTIONS
    for piece in _slices(db, upper, since, largest):
        for row in _rows(db, plan, s, piece, upper):
            if scanned >= max_scan or (last is not None and time.perf_counter() > deadline):
                assert last is not None
                return items, encode_cursor(last), scanned
            scanned += 1
            last = (row[1], row[0])
            mention = _mention_from_row(row)
            if s.matches(mention):
                items.append(mention)
                if len(items) == limit:
                    return items, encode_cursor(last), scanned
        if piece.low is None or (since is not None and piece.low <= since):
            return items, None, scanned
        upper = (piece.low, 0)
        last = upper
        if time.perf_counter() > deadline:
            return items, encode_cursor(upper), scanned
    return items, None, scanned


# --------------------------------------------------------------------------- history

Bucket = Literal["hour", "day", "week"]
#: Seconds in each bucket of a history.
BUCKET_SECONDS: dict[str, float] = {"hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0}
#: 1970-01-05, the first Monday of unix time: weeks start on Mondays.
_WEEK_ORIGIN = 4 * 86400.0


class HistoryError(ValueError):
    """A history that cannot be given (an unknown bucket, too many buckets)."""


def bucket_start(t: float, by: Bucket) -> float:
    """The start of the bucket of size ``by`` that holds ``t`` (UTC; weeks from Monday)."""
    step = BUCKET_SECONDS[by]
    origin = _WEEK_ORIGIN if by == "week" else 0.0
    return (t - origin) // step * step + origin


def history(
    store: Store, by: str, since: float, until: float, brands: Sequence[str]
) -> list[HistoryRow]:
    """Buckets of ``by`` from the one holding ``since`` to the one holding the moment
    before ``until``, one row per bucket and brand (in ``brands`` order), zeros where
    nothing was said; HistoryError for an unknown ``by`` or more than MAX_BUCKETS."""
    if by not in BUCKET_SECONDS:
        raise HistoryError(f"by must be hour, day or week, not {by[:20]!r}")
    bucket: Bucket = by  # type: ignore[assignment]
    if not since < until:
        raise HistoryError("since must be before until")
    step = BUCKET_SECONDS[bucket]
    start = bucket_start(since, bucket)
    count = int((until - start + step - 1e-6) // step)
    count = max(count, 1)
    if count > MAX_BUCKETS:
        raise HistoryError(
            f"too many buckets: {count:,} {by}s (at most {MAX_BUCKETS:,}); use a coarser"
            " bucket or a shorter range"
        )
    end = start + count * step
    names = list(dict.fromkeys(brands))
    totals: dict[tuple[int, str], list[int]] = {}
    if names:
        marks = ",".join("?" * len(names))
        rows: Iterable[tuple[str, float, int, int]] = store._db.execute(
            f"SELECT brand, hour, mentions, negative FROM brand_hours WHERE brand IN ({marks})"
            " AND hour >= ? AND hour < ?",
            [*names, start, end],
        )
        for brand, hour, mentions, negative in rows:
            index = int((hour - start) // step)
            if 0 <= index < count:
                cell = totals.setdefault((index, brand), [0, 0])
                cell[0] += mentions
                cell[1] += negative
    out: list[HistoryRow] = []
    for index in range(count):
        cells = [totals.get((index, name), [0, 0]) for name in names]
        everyone = sum(max(0, c[0]) for c in cells)
        for name, (mentions, negative) in zip(names, cells, strict=True):
            mentions, negative = max(0, mentions), max(0, negative)
            out.append(
                HistoryRow(
                    at=start + index * step,
                    brand=name,
                    mentions=mentions,
                    negative=negative,
                    share_of_voice=round(mentions / everyone, 4) if everyone else 0.0,
                    negative_share=round(negative / mentions, 4) if mentions else 0.0,
                )
            )
    return out
