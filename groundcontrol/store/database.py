"""The durable store: every accepted mention, incident, triage action and dead letter, in SQLite.

One file, WAL mode, ``synchronous=NORMAL``: a commit is an append to the WAL (no fsync
per batch; a power cut can lose the last commits but never corrupts the file), and
readers never block the writer nor the writer them.

Threads
    A :class:`Store` owns one connection. The hub writes from ONE thread (its writer
    thread) through one Store; every reader (export, the rebuild after a restart) opens
    its OWN Store on the same path. The connection is opened with
    ``check_same_thread=False`` only so that a Store may be created in one thread and
    used in another; it must never be used by two threads at once (writes are
    serialised by a lock as a safety net, reads are not).

Keys
    A mention's key is ``"<source>:<source_id>"`` (``Mention.id``, or computed when the
    hub has not set it). :meth:`Store.add_mentions` inserts with ``INSERT OR IGNORE`` and
    reports which mentions were new, so the hub dedupes across restarts for free.

Schema
    Versioned with ``PRAGMA user_version`` and created on first open; older versions
    are migrated in place. ``mentions`` holds one row per mention in flat columns
    (lists as JSON text), indexed by id, received_at and (source, received_at).
    ``mention_brands`` and ``mention_terms`` (hashtags only) are small index tables
    keyed by ``(brand|term, received_at, mention rowid)`` so "brand X since T" is a
    range scan. ``mention_authors`` is the same for authors, but written behind the
    mentions by :meth:`Store.index_authors` (sorted, in bulk), because random inserts
    into an author index cost as much as the rest of an insert.

Triage (schema v3)
    Each mention row also holds what the hub's triage rules said: ``category``,
    ``category_confidence``, ``needs_review`` (0 or 1), ``flags`` (the compliance
    flags as a JSON list of strings, or ``''`` when there are none: the column's
    default, so rows migrated from v2 read back as no flags) and ``copy_of`` (the id of
    the mention this one copies, ``''`` for originals). The review queue is the
    mentions with ``needs_review = 1`` that are not closed: a mention is closed when
    the newest of its status actions (claim, assign, escalate, resolve, ignore) in
    ``triage_actions`` is a resolve or an ignore; a label or a note keeps it queued
    (``protocol.fold_triage`` is the same rule for one mention). ``triage_actions.label``
    holds the class for a ``label`` and the person for an ``assign`` or ``claim``. The
    partial index
    ``mentions_review`` holds only the ``needs_review = 1`` rows, by received_at, so
    the queue is read newest first without touching the other mentions; it holds
    ``id`` and ``needs_review`` too, so counting the queue reads only this index and
    ``triage_actions``' (38 ms for 100k flagged mentions in a store of 1M, 4.8x
    faster than the same count over the table).

Search and history (schema v5)
    ``mentions_fts`` is a full-text index (FTS5, contentless) of the mentions' text as
    the query language cuts it: what it indexes for a mention is
    :func:`index_text`, its tokens from :mod:`groundcontrol.text` joined by spaces,
    so the index and the query language agree on every token (SQLite's own tokenizer
    alone would glue some emoji to the word before them, and index links).
    ``brand_hours`` counts, per brand and UTC hour of ``received_at``, the mentions
    (rows of ``mention_brands``) and the negative ones among them; ``mention_hours``
    holds, per hour, how many mentions it has and the range of their rowids, so a
    search can walk back through time in slices and ask the full-text index about one
    slice's rowids at a time (store/search.py reads all three). ``mentions_copy_of``
    indexes the copies.

    The store keeps them in step itself, in the same transaction as the change, a
    statement or two per batch: inserts (:meth:`Store.write`), deletions (prune,
    retractions) and edits; like ``mention_brands``, they follow changes made through
    :class:`Store` only. Triggers would work row by row, and an FTS5 table written
    from a trigger flushes its pending terms at every row (measured: 22 vs 5 us a
    mention to insert, 37 vs 3 us to delete). One trigger remains, for a change that
    may come from anywhere: an UPDATE of a mention's sentiment label moves its
    brands' negative counts. ``store_meta``'s ``search_index_version`` says which
    tokenization the index holds (:data:`SEARCH_INDEX_VERSION` and the Unicode
    version of Python's tables); a store opened with another is re-indexed. The v4 ->
    v5 migration fills all three in one transaction, reporting its progress
    (``Store(progress=...)``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import msgspec

from groundcontrol.model import Engagement, Mention
from groundcontrol.protocol import (
    Briefing,
    HistoryRow,
    Incident,
    IncidentEvent,
    MentionCopy,
    TriageAction,
)
from groundcontrol.text import tokenize

if TYPE_CHECKING:
    from groundcontrol.query import Search

__all__ = [
    "SCHEMA_VERSION",
    "DeadLetter",
    "MigrationProgress",
    "Progress",
    "Store",
    "StoreError",
    "hour_of",
    "index_text",
]

#: Bump with a migration in ``_MIGRATIONS`` whenever the schema changes.
SCHEMA_VERSION = 6

#: Milliseconds a connection waits for a lock before raising "database is locked".
BUSY_TIMEOUT_MS = 10_000

#: Page cache per connection, KiB.
CACHE_KIB = 65_536

#: The author index table, written behind the mentions in author order
#: (Store.index_authors): random inserts into an author index cost as much as the
#: rest of an insert put together. store_meta says how far it has got.
_AUTHORS_SCHEMA = """
CREATE TABLE mention_authors (
    author TEXT NOT NULL,
    received_at REAL NOT NULL,
    mention INTEGER NOT NULL,
    PRIMARY KEY (author, received_at, mention)
) WITHOUT ROWID;
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_SCHEMA = """
CREATE TABLE mentions (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    received_at REAL NOT NULL,
    author TEXT NOT NULL,
    author_reach INTEGER NOT NULL,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT NOT NULL,
    sentiment REAL NOT NULL,
    sentiment_label TEXT NOT NULL,
    likes INTEGER NOT NULL,
    reposts INTEGER NOT NULL,
    replies INTEGER NOT NULL,
    quotes INTEGER NOT NULL,
    brands TEXT NOT NULL,
    queries TEXT NOT NULL,
    terms TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    category_confidence REAL NOT NULL DEFAULT 0,
    needs_review INTEGER NOT NULL DEFAULT 0,
    flags TEXT NOT NULL DEFAULT '',
    copy_of TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mentions_received_at ON mentions (received_at);
CREATE INDEX mentions_source_received ON mentions (source, received_at);
-- The review queue's candidates only (see the module doc).
CREATE INDEX mentions_review ON mentions (received_at, id, needs_review) WHERE needs_review = 1;

-- WITHOUT ROWID: the primary key is the whole row, so each index table is one b-tree.
CREATE TABLE mention_brands (
    brand TEXT NOT NULL,
    received_at REAL NOT NULL,
    mention INTEGER NOT NULL,
    PRIMARY KEY (brand, received_at, mention)
) WITHOUT ROWID;
-- mention_authors and store_meta: see _AUTHORS_SCHEMA.
CREATE TABLE mention_terms (
    term TEXT NOT NULL,
    received_at REAL NOT NULL,
    mention INTEGER NOT NULL,
    PRIMARY KEY (term, received_at, mention)
) WITHOUT ROWID;


CREATE TABLE triage_actions (
    id INTEGER PRIMARY KEY,
    mention_id TEXT NOT NULL,
    action TEXT NOT NULL,
    label TEXT NOT NULL,
    actor TEXT NOT NULL,
    at REAL NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX triage_actions_mention ON triage_actions (mention_id, at);

CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    feed TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
"""

#: Incidents (v4): the latest state of each as JSON beside the columns one filters on,
#: every step of their lives (who acknowledged, snoozed, resolved, and when), and every
#: notification delivery with its outcome.
_INCIDENTS_SCHEMA = """
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    ended_at REAL,
    incident TEXT NOT NULL
);
CREATE INDEX incidents_started_at ON incidents (started_at);
CREATE INDEX incidents_status ON incidents (status, started_at);
CREATE TABLE incident_actions (
    id INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX incident_actions_incident ON incident_actions (incident_id, at);
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    change TEXT NOT NULL,
    at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX notifications_incident ON notifications (incident_id, at);
CREATE TABLE detector_state (
    series TEXT PRIMARY KEY,
    saved_at REAL NOT NULL,
    state TEXT NOT NULL
);
"""
#: Search and history (v5, see the module doc). The store writes these tables itself
#: (_index_search, _unindex_search); the trigger catches a sentiment change that may
#: come from anywhere. Hours are CAST(received_at / 3600 AS INTEGER) * 3600 (hour_of).
_SEARCH_SCHEMA = """
CREATE VIRTUAL TABLE mentions_fts USING fts5(
    text, content='', columnsize=0, tokenize="unicode61 remove_diacritics 2 tokenchars '#@_'"
);
CREATE TABLE brand_hours (
    brand TEXT NOT NULL,
    hour REAL NOT NULL,
    mentions INTEGER NOT NULL,
    negative INTEGER NOT NULL,
    PRIMARY KEY (brand, hour)
) WITHOUT ROWID;
CREATE TABLE mention_hours (
    hour REAL PRIMARY KEY,
    first_rowid INTEGER NOT NULL,
    last_rowid INTEGER NOT NULL,
    mentions INTEGER NOT NULL
) WITHOUT ROWID;
-- Only the brands still indexed: an edit (_apply_edits) takes its brand rows out
-- first, moving the counts itself, and puts the new ones back after.
CREATE TRIGGER brand_hours_sentiment AFTER UPDATE OF sentiment_label ON mentions
WHEN (old.sentiment_label = 'negative') != (new.sentiment_label = 'negative') BEGIN
    UPDATE brand_hours
    SET negative = negative
        + (new.sentiment_label = 'negative') - (old.sentiment_label = 'negative')
    WHERE hour = CAST(old.received_at / 3600 AS INTEGER) * 3600.0 AND brand IN (
        SELECT b.brand FROM mention_brands b
        WHERE b.brand IN (SELECT value FROM json_each(old.brands))
        AND b.received_at = old.received_at AND b.mention = old.rowid
    );
END;
CREATE INDEX mentions_copy_of ON mentions (copy_of) WHERE copy_of != '';
"""

#: Briefings (v6): what the room is told to say, shown on every wall until ``until``
#: or until someone withdraws it (hub/briefings.py).
_BRIEFINGS_SCHEMA = """
CREATE TABLE briefings (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    severity TEXT NOT NULL,
    by TEXT NOT NULL,
    created_at REAL NOT NULL,
    until REAL NOT NULL,
    withdrawn_at REAL,
    withdrawn_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX briefings_until ON briefings (until);
"""

_SCHEMA += (
    _AUTHORS_SCHEMA
    + _INCIDENTS_SCHEMA
    + "INSERT INTO store_meta VALUES ('authors_indexed_rowid', 0);"
    + _SEARCH_SCHEMA
    + _BRIEFINGS_SCHEMA
)

#: How a migration reports its progress: (stage, done, total), e.g. ("search index",
#: 420_000, 1_000_000), once per chunk.
Progress = Callable[[str, int, int], None]

#: Rows the v5 migration indexes per step (one progress report each).
MIGRATION_CHUNK = 50_000

#: from-version -> SQL that brings the schema to from-version + 1.
_MIGRATIONS: dict[int, str] = {
    # v2: queries go by received_at, so no query used the created_at indexes, and
    # every insert paid for them. The author index becomes the mention_authors table,
    # written behind the mentions in author order: measured 31 -> 17 us per mention.
    1: """
DROP INDEX IF EXISTS mentions_created_at;
DROP INDEX IF EXISTS mentions_author_created;
DROP INDEX IF EXISTS mentions_source_created;
CREATE INDEX mentions_source_received ON mentions (source, received_at);
"""
    + _AUTHORS_SCHEMA
    + """
INSERT INTO mention_authors SELECT author, received_at, rowid FROM mentions ORDER BY 1, 2, 3;
INSERT INTO store_meta SELECT 'authors_indexed_rowid', coalesce(max(rowid), 0) FROM mentions
""",
    # v3: triage and compliance reach the store (see "Triage" in the module doc).
    # ADD COLUMN with a constant default rewrites no row: stored mentions read back
    # as unclassified, not for review, with no flags and no copy.
    2: """
ALTER TABLE mentions ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE mentions ADD COLUMN category_confidence REAL NOT NULL DEFAULT 0;
ALTER TABLE mentions ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mentions ADD COLUMN flags TEXT NOT NULL DEFAULT '';
ALTER TABLE mentions ADD COLUMN copy_of TEXT NOT NULL DEFAULT '';
CREATE INDEX mentions_review ON mentions (received_at, id, needs_review) WHERE needs_review = 1
""",
    # v4: incidents replace alerts. The alerts of the old detector are kept as they were
    # (the table stays, no longer written); incidents start empty.
    3: _INCIDENTS_SCHEMA,
    # v5: search and history (see the module doc); _BACKFILLS[4] fills the new tables.
    4: _SEARCH_SCHEMA,
    # v6: briefings, a new table; nothing to fill.
    5: _BRIEFINGS_SCHEMA,
}


def hour_of(t: float) -> float:
    """The hour bucket of ``t`` in ``brand_hours`` and ``mention_hours`` (unix seconds;
    the same arithmetic as the SQL, CAST(t / 3600 AS INTEGER) * 3600)."""
    return float(int(t / 3600) * 3600)


_HOUR = "CAST(m.received_at / 3600 AS INTEGER) * 3600.0"

#: Mentions (``m``, chosen by a WHERE clause) into ``mention_hours``, counted with a sign.
_ADD_HOURS = (
    "INSERT INTO mention_hours (hour, first_rowid, last_rowid, mentions)"
    f" SELECT {_HOUR}, min(m.rowid), max(m.rowid), ? * count(*) FROM mentions m"
    " WHERE {where} GROUP BY 1 ON CONFLICT (hour) DO UPDATE SET"
    " first_rowid = min(first_rowid, excluded.first_rowid),"
    " last_rowid = max(last_rowid, excluded.last_rowid), mentions = mentions + excluded.mentions"
)
#: The same into ``brand_hours``: one per distinct brand of each mention, as in
#: mention_brands (INSERT OR IGNORE), with the negative ones.
_ADD_BRAND_HOURS = (
    "INSERT INTO brand_hours (brand, hour, mentions, negative)"
    f" SELECT b.value, {_HOUR}, ? * count(DISTINCT m.rowid),"
    " ? * count(DISTINCT CASE WHEN m.sentiment_label = 'negative' THEN m.rowid END)"
    " FROM mentions m, json_each(m.brands) b WHERE {where} AND m.brands != '[]'"
    " GROUP BY 1, 2 ON CONFLICT (brand, hour) DO UPDATE SET"
    " mentions = mentions + excluded.mentions, negative = negative + excluded.negative"
)


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script``, whole (a trigger's body holds semicolons)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


#: Bump when groundcontrol.text changes how it cuts text into tokens: the full-text
#: index is then rebuilt when a store is opened (see "Search and history" above).
SEARCH_INDEX_VERSION = 1


def index_version() -> int:
    """What ``store_meta.search_index_version`` holds for the index this code writes:
    :data:`SEARCH_INDEX_VERSION` and the Unicode version of Python's tables."""
    major, minor, patch = (int(x) for x in unicodedata.unidata_version.split("."))
    return SEARCH_INDEX_VERSION * 10**6 + major * 10**4 + minor * 100 + patch


def index_text(text: str) -> str:
    """What the full-text index holds for a mention's text: its tokens as the query
    language cuts them (links dropped, lower case, NFC), joined by spaces. ASCII text
    without a link is given as it is: unicode61 with ``tokenchars '#@_'`` cuts ASCII
    exactly as groundcontrol.text does (letters, digits, ``_ # @``; case folded)."""
    if text.isascii():
        lower = text.lower()
        if "http" not in lower and "www." not in lower and "pic.twitter.com/" not in lower:
            return text
    return " ".join(tokenize(text))


def _fill_search(store: Store, progress: Progress | None, *, rollups: bool) -> None:
    """Index every stored mention (and, with ``rollups``, count them into the hour
    tables), a chunk of rowids at a time, reporting the progress."""
    db = store._db
    top, total = db.execute("SELECT coalesce(max(rowid), 0), count(*) FROM mentions").fetchone()
    if progress is not None:
        progress("search index", 0, total)
    done = 0
    for low in range(0, top, MIGRATION_CHUNK):
        bounds = (low, low + MIGRATION_CHUNK)
        rows = db.execute(
            "SELECT rowid, text FROM mentions WHERE rowid > ? AND rowid <= ?", bounds
        ).fetchall()
        db.executemany(
            "INSERT INTO mentions_fts (rowid, text) VALUES (?, ?)",
            [(rowid, index_text(text)) for rowid, text in rows],
        )
        if rollups:
            store._roll_up("m.rowid > ? AND m.rowid <= ?", bounds, 1)
        done += len(rows)
        if progress is not None:
            progress("search index", min(done, total), total)
    db.execute(
        "INSERT INTO store_meta VALUES ('search_index_version', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (index_version(),),
    )


def _backfill_search(store: Store, progress: Progress | None) -> None:
    """Fill v5's tables from the stored mentions."""
    _fill_search(store, progress, rollups=True)


#: Work a migration does in Python after its script, in the same transaction.
_BACKFILLS: dict[int, Callable[[Store, Progress | None], None]] = {4: _backfill_search}


class MigrationProgress:
    """A :data:`Progress` that prints ``upgrading store to v5: search index 420,000 /
    1,000,000 (42%)`` to stderr, at most once a second and at the end of each stage."""

    def __init__(self, stream: Any = None, *, interval: float = 1.0) -> None:
        self.stream = stream
        self.interval = interval
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        pct = f" ({done * 100 // total}%)" if total else ""
        stream = self.stream if self.stream is not None else sys.stderr
        print(
            f"upgrading store to v{SCHEMA_VERSION}: {stage} {done:,} / {total:,}{pct}",
            file=stream,
            flush=True,
        )


#: Incidents the hub takes back at start: unresolved, or resolved this recently.
RESTORE_RESOLVED_SECONDS = 1800.0

#: What deleting a mention's index rows needs, in this order.
_ROW_KEYS = "rowid, received_at, brands, terms, author"

_INSERT_MENTION = (
    "INSERT OR IGNORE INTO mentions (id, source, source_id, created_at, received_at, author,"
    " author_reach, lang, text, url, sentiment, sentiment_label, likes, reposts, replies,"
    " quotes, brands, queries, terms, category, category_confidence, needs_review, flags,"
    " copy_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_MENTION_COLUMNS = (
    "m.rowid, m.received_at, m.source, m.source_id, m.text, m.created_at, m.url, m.author,"
    " m.author_reach, m.lang, m.likes, m.reposts, m.replies, m.quotes, m.id, m.sentiment,"
    " m.sentiment_label, m.brands, m.queries, m.terms, m.category, m.category_confidence,"
    " m.needs_review, m.flags, m.copy_of"
)


def _latest_action(column: str, actions: str) -> str:
    """SQL for ``column`` of mention ``m``'s newest action among ``actions`` (NULL if none);
    one seek of ``triage_actions_mention`` per mention."""
    return (
        f"(SELECT t.{column} FROM triage_actions t WHERE t.mention_id = m.id"
        f" AND t.action IN ({actions}) ORDER BY t.at DESC, t.id DESC LIMIT 1)"
    )


#: The newest status action of mention m (NULL when none): resolve or ignore close it.
_LATEST_STATUS = _latest_action("action", "'claim', 'assign', 'escalate', 'resolve', 'ignore'")
#: Who owns mention m ('' for nobody): the person of its newest claim or assign.
_OWNER = "coalesce(" + _latest_action("label", "'claim', 'assign'") + ", '')"
#: Mention m's class: the newest label a person gave it, else the rules'.
_CLASS = "coalesce(" + _latest_action("label", "'label'") + ", m.category)"
#: When a person first acted on mention m (NULL: nobody yet).
_FIRST_RESPONSE = (
    "(SELECT min(t.at) FROM triage_actions t WHERE t.mention_id = m.id AND t.action IN"
    " ('claim', 'assign', 'label', 'escalate', 'resolve', 'ignore', 'note'))"
)

#: The review queue: flagged for review, and not closed (see "Triage" in the module doc).
_PENDING_REVIEW = (
    f"m.needs_review = 1 AND coalesce({_LATEST_STATUS}, '') NOT IN ('resolve', 'ignore')"
)
#: The triage_actions columns that make a TriageAction, in _action_from_row's order.
_ACTION_COLUMNS = "id, mention_id, action, label, actor, at, note"

_json_list = msgspec.json.Encoder().encode
_decode_list = msgspec.json.Decoder(list[str]).decode


_BRIEFING_COLUMNS = "id, text, severity, by, created_at, until, withdrawn_at, withdrawn_by"


def _briefing_from_row(row: tuple[Any, ...]) -> Briefing:
    bid, text, severity, by, created_at, until, withdrawn_at, withdrawn_by = row
    return Briefing(
        id=int(bid),
        text=str(text),
        severity="warning" if severity == "warning" else "info",
        by=str(by),
        created_at=float(created_at),
        until=float(until),
        withdrawn_at=None if withdrawn_at is None else float(withdrawn_at),
        withdrawn_by=str(withdrawn_by),
    )


class StoreError(Exception):
    """The store file cannot be used: missing, not ours, or of another schema version."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Something the hub could not take (undecodable message, rejected mention), kept as is."""

    received_at: float
    feed: str
    reason: str
    payload: bytes


def _dump(items: list[str]) -> str:
    # Most mentions have no queries and few brands: skip the encoder for the empty case.
    return _json_list(items).decode() if items else "[]"


def _load(text: str) -> list[str]:
    return _decode_list(text) if text != "[]" else []


def _dump_flags(flags: list[str]) -> str:
    # '' (the column default) for none: almost no mention has compliance flags.
    return _json_list(flags).decode() if flags else ""


def _load_flags(text: str) -> list[str]:
    return _decode_list(text) if text else []


_encode_incident = msgspec.json.Encoder().encode
_decode_incident = msgspec.json.Decoder(Incident).decode


def _action_from_row(row: tuple[Any, ...]) -> TriageAction:
    # row follows _ACTION_COLUMNS; label holds the person for assign and claim.
    rowid, _mention, action, label, actor, at, note = row
    owner = action in ("assign", "claim")
    return TriageAction(
        action=action,
        label="" if owner else label,
        assignee=label if owner else "",
        note=note,
        actor=actor,
        at=float(at),
        id=int(rowid),
    )


def _mention_from_row(row: tuple[Any, ...]) -> Mention:
    # row follows _MENTION_COLUMNS: (rowid, received_at) first, the pagination key.
    return Mention(
        source=row[2],
        source_id=row[3],
        text=row[4],
        created_at=datetime.fromtimestamp(row[5], UTC),
        url=row[6],
        author=row[7],
        author_reach=row[8],
        lang=row[9],
        engagement=Engagement(likes=row[10], reposts=row[11], replies=row[12], quotes=row[13]),
        id=row[14],
        sentiment=row[15],
        sentiment_label=row[16],
        brands=_load(row[17]),
        queries=_load(row[18]),
        terms=_load(row[19]),
        received_at=row[1],
        category=row[20],
        category_confidence=row[21],
        needs_review=bool(row[22]),
        flags=_load_flags(row[23]),
        copy_of=row[24],
    )


class Store:
    """A SQLite store of mentions, incidents, triage actions and dead letters (see module doc).

    ``create=False`` refuses to create a missing file (for readers such as export).
    """

    def __init__(
        self, path: str | Path, *, create: bool = True, progress: Progress | None = None
    ) -> None:
        self.path = Path(path)
        """The database file."""
        self._progress = progress
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no such store file")
        try:
            self._db = sqlite3.connect(
                self.path,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves: one per batch
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open: {exc}") from exc
        self._lock = threading.Lock()
        self.write_cpu: dict[str, float] = {}
        """CPU seconds :meth:`write` spent, by step (for the hub's /metrics and the bench)."""
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------ lifecycle

    def _setup(self) -> None:
        db = self._db
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # 64 MiB of page cache: the id and author indexes take random inserts, and
            # keeping their pages cached measured +25% ingest over the 2 MiB default.
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            db.execute("PRAGMA synchronous = NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a Ground Control store: {exc}") from exc
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode!r})")
        if version == SCHEMA_VERSION:
            self._check_search_index()
            return
        if version == 0:
            tables = db.execute("SELECT count(*) FROM sqlite_schema WHERE type='table'")
            if tables.fetchone()[0]:
                raise StoreError(
                    f"{self.path}: not a Ground Control store (tables present, user_version 0)"
                )
            self._create_schema()
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema version {version} is newer than this"
                f" groundcontrol supports ({SCHEMA_VERSION}); upgrade groundcontrol"
            )
        self._migrate(version)

    def _create_schema(self) -> None:
        # executescript would commit implicitly; run the statements in one transaction
        # so a crash mid-creation leaves an empty file, which the next open recreates.
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(_SCHEMA):
                db.execute(statement)
            db.execute(
                "INSERT INTO store_meta VALUES ('search_index_version', ?)", (index_version(),)
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _migrate(self, version: int) -> None:
        db = self._db
        while version < SCHEMA_VERSION:
            script = _MIGRATIONS.get(version)
            if script is None:
                raise StoreError(
                    f"{self.path}: store schema version {version} is older than"
                    f" {SCHEMA_VERSION} and cannot be migrated; move the file aside"
                    " (or export it with an older groundcontrol) and start a new store"
                )
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    db.execute(statement)
                backfill = _BACKFILLS.get(version)
                if backfill is not None:
                    backfill(self, self._progress)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _check_search_index(self) -> None:
        """Rebuild the full-text index if it holds another tokenization than this
        code's (groundcontrol.text, or Python's Unicode tables, changed)."""
        db = self._db
        row = db.execute(
            "SELECT value FROM store_meta WHERE key = 'search_index_version'"
        ).fetchone()
        if row is not None and row[0] == index_version():
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT value FROM store_meta WHERE key = 'search_index_version'"
            ).fetchone()
            if row is None or row[0] != index_version():  # nobody did it meanwhile
                db.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('delete-all')")
                _fill_search(self, self._progress, rollups=False)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the connection (the last one to close checkpoints the WAL)."""
        self._db.close()

    def set_autocheckpoint(self, pages: int) -> None:
        """Checkpoint the WAL on commit once it holds ``pages`` pages; 0 never does (some
        other connection must call :meth:`checkpoint`, or the WAL grows without end)."""
        self._db.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    def set_synchronous(self, mode: str) -> None:
        """``normal``: a commit survives the process being killed, and the WAL is
        fsynced at each checkpoint; ``full``: every commit is fsynced (survives a
        power cut too, and costs a sync per commit)."""
        if mode not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {mode!r}")
        self._db.execute(f"PRAGMA synchronous = {mode.upper()}")

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """Copy WAL frames into the database file: (busy, frames in WAL, frames copied).

        PASSIVE never waits for the writer; RESTART waits for it, copies everything
        and makes the next writer start the WAL from its beginning (bounding its size).
        """
        if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(f"unknown checkpoint mode {mode!r}")
        row = self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def wal_bytes(self) -> int:
        """Size of the WAL file (0 when there is none)."""
        try:
            return os.path.getsize(f"{self.path}-wal")
        except OSError:  # no WAL file once fully checkpointed
            return 0

    def file_bytes(self) -> int:
        """Size of the store on disk: the database file plus its WAL."""
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = 0
        return size + self.wal_bytes()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def add_mentions(self, mentions: Sequence[Mention]) -> list[bool]:
        """Insert a batch in ONE transaction; return, per mention, whether it was new.

        A mention whose key is already stored, or appears earlier in the same batch,
        is ignored (False). If anything fails, nothing of the batch is stored.
        """
        if not mentions:
            return []
        return self.write(mentions)

    def write(
        self,
        mentions: Sequence[Mention] = (),
        dead_letters: Sequence[DeadLetter] = (),
        incidents: Sequence[IncidentEvent] = (),
        *,
        edits: Sequence[Mention] = (),
        deleted: Sequence[str] = (),
    ) -> list[bool]:
        """Store mentions, dead letters and incident changes, apply the sources' edits and delete
        what their authors deleted (by id), in ONE transaction (a group commit).

        Returns the new flags of ``mentions`` as :meth:`add_mentions` does. All or
        nothing: if anything fails, none of it is stored.
        """
        with self._lock:
            with self._transaction():
                new = self._insert_mentions(mentions) if mentions else []
                self._write_rest(dead_letters, incidents, edits, deleted)
                body = time.thread_time()
            self._spent("store commit", body)
        return new

    def _write_rest(
        self,
        dead_letters: Sequence[DeadLetter],
        incidents: Sequence[IncidentEvent],
        edits: Sequence[Mention],
        deleted: Sequence[str],
    ) -> None:
        """What :meth:`write` does after the new mentions, in its transaction."""
        if dead_letters:
            self._insert_dead_letters(dead_letters)
        for event in incidents:
            self._put_incident(event)
        if edits:
            self._apply_edits(edits)
        if deleted:
            self._delete_rows(
                self._db.execute(
                    f"SELECT {_ROW_KEYS} FROM mentions WHERE id IN "
                    f"(SELECT value FROM json_each(?))",
                    (_json_list(list(deleted)).decode(),),
                ).fetchall()
            )

    def _spent(self, step: str, since: float) -> float:
        """Add this thread's CPU time since ``since`` to ``step``; return the time now."""
        now = time.thread_time()
        self.write_cpu[step] = self.write_cpu.get(step, 0.0) + now - since
        return now

    def _apply_edits(self, edits: Sequence[Mention]) -> None:
        """Replace what a source may change in stored mentions (text, engagement and
        what the hub derived from the text, its triage class and compliance flags too);
        the arrival time and ``copy_of`` stay those of the first arrival."""
        db = self._db
        for m in edits:
            key = m.id or m.key
            row = db.execute(f"SELECT {_ROW_KEYS} FROM mentions WHERE id = ?", (key,)).fetchone()
            if row is None:
                continue
            rowid, at, brands, terms, _author = row
            self._roll_up("m.rowid = ?", (rowid,), -1, hours=False)
            self._unindex(rowid, at, _load(brands), _load(terms))
            (old_text,) = db.execute(
                "SELECT text FROM mentions WHERE rowid = ?", (rowid,)
            ).fetchone()
            e = m.engagement
            db.execute(
                "UPDATE mentions SET text=?, url=?, author_reach=?, lang=?, sentiment=?,"
                " sentiment_label=?, likes=?, reposts=?, replies=?, quotes=?, brands=?,"
                " queries=?, terms=?, category=?, category_confidence=?, needs_review=?,"
                " flags=? WHERE rowid=?",
                (
                    m.text,
                    m.url,
                    m.author_reach,
                    m.lang,
                    m.sentiment,
                    m.sentiment_label,
                    e.likes,
                    e.reposts,
                    e.replies,
                    e.quotes,
                    _dump(m.brands),
                    _dump(m.queries),
                    _dump(m.terms),
                    m.category,
                    m.category_confidence,
                    int(m.needs_review),
                    _dump_flags(m.flags),
                    rowid,
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO mention_brands VALUES (?,?,?)",
                [(b, at, rowid) for b in m.brands],
            )
            db.executemany(
                "INSERT OR IGNORE INTO mention_terms VALUES (?,?,?)",
                [(t, at, rowid) for t in m.terms if t[:1] == "#"],
            )
            if old_text != m.text:
                db.execute(
                    "INSERT INTO mentions_fts (mentions_fts, rowid, text) VALUES ('delete', ?, ?)",
                    (rowid, index_text(old_text)),
                )
                db.execute(
                    "INSERT INTO mentions_fts (rowid, text) VALUES (?, ?)",
                    (rowid, index_text(m.text)),
                )
            self._roll_up("m.rowid = ?", (rowid,), 1, hours=False)

    def _unindex(self, rowid: int, at: float, brands: list[str], terms: list[str]) -> None:
        db = self._db
        db.executemany(
            "DELETE FROM mention_brands WHERE brand=? AND received_at=? AND mention=?",
            [(b, at, rowid) for b in brands],
        )
        db.executemany(
            "DELETE FROM mention_terms WHERE term=? AND received_at=? AND mention=?",
            [(t, at, rowid) for t in terms if t[:1] == "#"],
        )

    def _delete_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Delete mentions given as ``_ROW_KEYS`` rows, with their index rows."""
        db = self._db
        db.executemany(
            "DELETE FROM mention_authors WHERE author=? AND received_at=? AND mention=?",
            [(r[4], r[1], r[0]) for r in rows],
        )
        brand_keys = [(b, at, rid) for rid, at, bs, _, _ in rows for b in _load(bs)]
        term_keys = [(t, at, rid) for rid, at, _, ts, _ in rows for t in _load(ts) if t[:1] == "#"]
        # Exact primary-key deletes: the index tables have no received_at index.
        db.executemany(
            "DELETE FROM mention_brands WHERE brand=? AND received_at=? AND mention=?",
            brand_keys,
        )
        db.executemany(
            "DELETE FROM mention_terms WHERE term=? AND received_at=? AND mention=?",
            term_keys,
        )
        self._unindex_search([r[0] for r in rows])
        db.executemany("DELETE FROM mentions WHERE rowid=?", [(r[0],) for r in rows])

    def _index_search(
        self, top: int, mentions: Sequence[Mention], keys: list[str], inserted: dict[str, int]
    ) -> None:
        """Put a batch's new mentions (``inserted``: key -> rowid, all above ``top``)
        into the full-text index and the hour rollups. The rollups are added up here,
        a row or two per batch, rather than by a GROUP BY over the new rows (measured
        2.7 -> 0.3 us a mention); _ADD_HOURS and _ADD_BRAND_HOURS count the same."""
        texts: dict[int, str] = {}
        hours: dict[float, list[int]] = {}  # hour -> [first rowid, last rowid, mentions]
        brands: dict[tuple[str, float], list[int]] = {}  # (brand, hour) -> [mentions, negative]
        for key, m in zip(keys, mentions, strict=True):
            rowid = inserted.get(key)
            if rowid is None or rowid in texts:  # not new, or a key repeated in the batch
                continue
            texts[rowid] = index_text(m.text)
            hour = hour_of(m.received_at)
            span = hours.get(hour)
            if span is None:
                hours[hour] = [rowid, rowid, 1]
            else:
                span[0] = min(span[0], rowid)
                span[1] = max(span[1], rowid)
                span[2] += 1
            negative = m.sentiment_label == "negative"
            for brand in dict.fromkeys(m.brands):  # as mention_brands: each brand once
                cell = brands.setdefault((brand, hour), [0, 0])
                cell[0] += 1
                cell[1] += negative
        db = self._db
        db.executemany("INSERT INTO mentions_fts (rowid, text) VALUES (?, ?)", texts.items())
        db.executemany(
            "INSERT INTO mention_hours VALUES (?,?,?,?) ON CONFLICT (hour) DO UPDATE SET"
            " first_rowid = min(first_rowid, excluded.first_rowid),"
            " last_rowid = max(last_rowid, excluded.last_rowid),"
            " mentions = mentions + excluded.mentions",
            [(hour, *span) for hour, span in hours.items()],
        )
        db.executemany(
            "INSERT INTO brand_hours VALUES (?,?,?,?) ON CONFLICT (brand, hour) DO UPDATE SET"
            " mentions = mentions + excluded.mentions, negative = negative + excluded.negative",
            [(brand, hour, *cell) for (brand, hour), cell in brands.items()],
        )

    def _unindex_search(self, rowids: list[int]) -> None:
        """Take mentions about to be deleted out of the full-text index and the rollups."""
        if not rowids:
            return
        where = "m.rowid IN (SELECT value FROM json_each(?))"
        params = (_json_list(rowids).decode(),)
        self._roll_up(where, params, -1)
        # A contentless FTS5 table forgets a row given what it indexed for it.
        rows = self._db.execute(f"SELECT m.rowid, m.text FROM mentions m WHERE {where}", params)
        self._db.executemany(
            "INSERT INTO mentions_fts (mentions_fts, rowid, text) VALUES ('delete', ?, ?)",
            [(rowid, index_text(text)) for rowid, text in rows],
        )

    def _roll_up(self, where: str, params: Sequence[Any], sign: int, *, hours: bool = True) -> None:
        """Count the mentions ``where`` chooses into (sign 1) or out of (-1)
        ``brand_hours`` and, with ``hours``, ``mention_hours``."""
        db = self._db
        if hours:
            db.execute(_ADD_HOURS.format(where=where), (sign, *params))
        db.execute(_ADD_BRAND_HOURS.format(where=where), (sign, sign, *params))

    def _insert_mentions(self, mentions: Sequence[Mention]) -> list[bool]:
        started = time.thread_time()
        keys = [m.id or m.key for m in mentions]
        rows = [
            (
                key,
                m.source,
                m.source_id,
                m.created_at.timestamp(),
                m.received_at,
                m.author,
                m.author_reach,
                m.lang,
                m.text,
                m.url,
                m.sentiment,
                m.sentiment_label,
                (e := m.engagement).likes,
                e.reposts,
                e.replies,
                e.quotes,
                _dump(m.brands),
                _dump(m.queries),
                _dump(m.terms),
                m.category,
                m.category_confidence,
                int(m.needs_review),
                _dump_flags(m.flags),
                m.copy_of,
            )
            for key, m in zip(keys, mentions, strict=True)
        ]
        db = self._db
        # The writer holds the write lock, and rowids grow past the current maximum,
        # so the rows with rowid > top are exactly this batch's new ones: one range
        # read instead of a lookup per mention.
        top = self.mentions_ever()
        db.executemany(_INSERT_MENTION, rows)
        inserted = dict(db.execute("SELECT id, rowid FROM mentions WHERE rowid > ?", (top,)))
        at = self._spent("store rows", started)
        self._index_search(top, mentions, keys, inserted)
        at = self._spent("store search index", at)
        new = self._index_new(mentions, keys, inserted)
        self._spent("store brand and hashtag index", at)
        return new

    def _index_new(
        self, mentions: Sequence[Mention], keys: list[str], inserted: dict[str, int]
    ) -> list[bool]:
        """Write brand and hashtag rows for the new mentions; return the new flags."""
        new: list[bool] = []
        brand_rows: list[tuple[str, float, int]] = []
        term_rows: list[tuple[str, float, int]] = []
        for key, m in zip(keys, mentions, strict=True):
            # pop: a key repeated later in the batch finds nothing and counts as a duplicate.
            rowid = inserted.pop(key, None)
            if rowid is None:
                new.append(False)
                continue
            new.append(True)
            at = m.received_at
            for brand in m.brands:
                brand_rows.append((brand, at, rowid))
            for term in m.terms:
                if term[:1] == "#":
                    term_rows.append((term, at, rowid))
        db = self._db
        if brand_rows:
            db.executemany("INSERT OR IGNORE INTO mention_brands VALUES (?,?,?)", brand_rows)
        if term_rows:
            db.executemany("INSERT OR IGNORE INTO mention_terms VALUES (?,?,?)", term_rows)
        return new

    def index_authors(self, limit: int = 100_000) -> int:
        """Index the authors of up to ``limit`` mentions not indexed yet, sorted by
        author so each index page is written once; return how many were indexed."""
        db = self._db
        with self._lock, self._transaction():
            mark = self._authors_indexed()
            top = db.execute(
                "SELECT coalesce(max(rowid), 0) FROM mentions WHERE rowid <= ?", (mark + limit,)
            ).fetchone()[0]
            if top <= mark:
                return 0
            cur = db.execute(
                "INSERT OR IGNORE INTO mention_authors SELECT author, received_at, rowid"
                " FROM mentions WHERE rowid > ? AND rowid <= ? ORDER BY 1, 2, 3",
                (mark, top),
            )
            db.execute(
                "UPDATE store_meta SET value = ? WHERE key = 'authors_indexed_rowid'", (top,)
            )
        return max(cur.rowcount, 0)

    def _authors_indexed(self) -> int:
        row = self._db.execute(
            "SELECT value FROM store_meta WHERE key = 'authors_indexed_rowid'"
        ).fetchone()
        return int(row[0]) if row else 0

    def add_dead_letters(self, items: Sequence[DeadLetter]) -> None:
        """Keep what the hub could not take, in one transaction."""
        if items:
            self.write(dead_letters=items)

    def _insert_dead_letters(self, items: Sequence[DeadLetter]) -> None:
        rows = [(d.received_at, d.feed, d.reason, bytes(d.payload)) for d in items]
        self._db.executemany(
            "INSERT INTO dead_letters (received_at, feed, reason, payload) VALUES (?,?,?,?)",
            rows,
        )

    def put_incident(self, event: IncidentEvent) -> None:
        """Store an incident's new state and, unless it only has new numbers, the step of
        its history that changed it."""
        self.write(incidents=[event])

    def _put_incident(self, event: IncidentEvent) -> None:
        inc = event.incident
        self._db.execute(
            "INSERT INTO incidents (id, brand, kind, severity, status, started_at,"
            " updated_at, ended_at, incident) VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (id) DO UPDATE SET brand=excluded.brand, kind=excluded.kind,"
            " severity=excluded.severity, status=excluded.status,"
            " started_at=excluded.started_at, updated_at=excluded.updated_at,"
            " ended_at=excluded.ended_at, incident=excluded.incident",
            (
                inc.id,
                inc.brand,
                inc.kind,
                inc.severity,
                inc.status,
                inc.started_at,
                inc.updated_at,
                inc.ended_at,
                _encode_incident(inc).decode(),
            ),
        )
        if event.change != "updated" and inc.history:
            step = inc.history[-1]
            self._db.execute(
                "INSERT INTO incident_actions (incident_id, action, actor, at, detail)"
                " VALUES (?,?,?,?,?)",
                (inc.id, step.action, step.by, step.at, step.detail),
            )

    def incidents(
        self,
        *,
        since: float | None = None,
        unresolved: bool = False,
        limit: int = 100,
    ) -> list[Incident]:
        """Stored incidents, newest first: those started since ``since``, or only the
        unresolved ones."""
        where = []
        args: list[Any] = []
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        if unresolved:
            where.append("status != 'resolved'")
        sql = "SELECT incident FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id LIMIT ?"
        args.append(max(0, limit))
        return [_decode_incident(row[0]) for row in self._db.execute(sql, args)]

    def incident(self, incident_id: str) -> Incident | None:
        row = self._db.execute(
            "SELECT incident FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        return None if row is None else _decode_incident(row[0])

    def incidents_to_restore(self, now: float) -> list[Incident]:
        """What a restarting hub takes back: unresolved incidents, and those resolved in
        the last :data:`RESTORE_RESOLVED_SECONDS` (the walls still show them)."""
        rows = self._db.execute(
            "SELECT incident FROM incidents WHERE status != 'resolved' OR updated_at >= ?"
            " ORDER BY started_at",
            (now - RESTORE_RESOLVED_SECONDS,),
        )
        return [_decode_incident(row[0]) for row in rows]

    def incident_history(self, incident_id: str) -> list[tuple[float, str, str, str]]:
        """Every step of an incident's life: (at, action, actor, detail), oldest first."""
        rows = self._db.execute(
            "SELECT at, action, actor, detail FROM incident_actions WHERE incident_id = ?"
            " ORDER BY at, id",
            (incident_id,),
        )
        return [(float(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    def save_detector_states(self, states: Mapping[str, Any], at: float) -> None:
        """Keep what the hub's detectors have learnt (one JSON state per series)."""
        with self._lock, self._transaction():
            self._put_detector_states(states, at)

    def _put_detector_states(self, states: Mapping[str, Any], at: float) -> None:
        self._db.executemany(
            "INSERT INTO detector_state (series, saved_at, state) VALUES (?,?,?)"
            " ON CONFLICT (series) DO UPDATE SET saved_at=excluded.saved_at,"
            " state=excluded.state",
            [(k, at, json.dumps(v, allow_nan=False)) for k, v in states.items()],
        )

    def detector_states(self) -> tuple[float | None, dict[str, Any]]:
        """(when they were saved, series -> state); (None, {}) if none were."""
        out: dict[str, Any] = {}
        newest: float | None = None
        for series, saved_at, state in self._db.execute(
            "SELECT series, saved_at, state FROM detector_state"
        ):
            try:
                out[series] = json.loads(state)
            except ValueError:
                continue
            newest = saved_at if newest is None else max(newest, saved_at)
        return newest, out

    def add_notification(
        self,
        incident_id: str,
        channel: str,
        change: str,
        *,
        at: float,
        attempts: int,
        outcome: str,
        reason: str = "",
    ) -> None:
        """Record one delivery of a notification: ``outcome`` is "delivered" or "failed"."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO notifications (incident_id, channel, change, at, attempts,"
                " outcome, reason) VALUES (?,?,?,?,?,?,?)",
                (incident_id, channel, change, at, attempts, outcome, reason),
            )

    def notifications(self, incident_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded deliveries, oldest first (all, or one incident's)."""
        sql = (
            "SELECT incident_id, channel, change, at, attempts, outcome, reason FROM notifications"
        )
        args: tuple[Any, ...] = ()
        if incident_id is not None:
            sql += " WHERE incident_id = ?"
            args = (incident_id,)
        sql += " ORDER BY at, id"
        keys = ("incident_id", "channel", "change", "at", "attempts", "outcome", "reason")
        return [dict(zip(keys, row, strict=True)) for row in self._db.execute(sql, args)]

    def add_triage_action(
        self,
        mention_id: str,
        action: str,
        *,
        label: str = "",
        actor: str = "",
        at: float | None = None,
        note: str = "",
    ) -> int:
        """Record what someone (or a triage rule) did with a mention; return the action id.

        ``label`` is the class for a ``label`` action and the person for an ``assign``
        or ``claim``. Nothing checks that the mention exists: the hub does (its writer
        reads it on the same connection just before, see store/writer.py).
        """
        when = time.time() if at is None else at
        with self._lock, self._transaction():
            cur = self._db.execute(
                "INSERT INTO triage_actions (mention_id, action, label, actor, at, note)"
                " VALUES (?,?,?,?,?,?)",
                (mention_id, action, label, actor, when, note),
            )
        rowid = cur.lastrowid
        assert rowid is not None
        return rowid

    def add_briefing(
        self, text: str, severity: str, *, by: str, created_at: float, until: float
    ) -> Briefing:
        """Keep a new briefing; return it with its id."""
        with self._lock, self._transaction():
            cur = self._db.execute(
                "INSERT INTO briefings (text, severity, by, created_at, until) VALUES (?,?,?,?,?)",
                (text, severity, by, created_at, until),
            )
        rowid = cur.lastrowid
        assert rowid is not None
        return Briefing(
            id=rowid,
            text=text,
            severity="warning" if severity == "warning" else "info",
            by=by,
            created_at=created_at,
            until=until,
        )

    def withdraw_briefing(self, briefing_id: int, *, by: str, at: float) -> Briefing | None:
        """Withdraw a briefing (one already withdrawn or over stays as it was); return
        its state after, or None when no such briefing is stored."""
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE briefings SET withdrawn_at = ?, withdrawn_by = ?"
                " WHERE id = ? AND withdrawn_at IS NULL AND until > ?",
                (at, by, briefing_id, at),
            )
        return self.briefing(briefing_id)

    def briefing(self, briefing_id: int) -> Briefing | None:
        row = self._db.execute(
            f"SELECT {_BRIEFING_COLUMNS} FROM briefings WHERE id = ?", (briefing_id,)
        ).fetchone()
        return None if row is None else _briefing_from_row(row)

    def briefings(self, *, since: float, limit: int = 50) -> list[Briefing]:
        """Briefings still running or that ended (or were withdrawn) since ``since``,
        newest first."""
        rows = self._db.execute(
            f"SELECT {_BRIEFING_COLUMNS} FROM briefings WHERE until >= ?"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (since, max(0, limit)),
        )
        return [_briefing_from_row(row) for row in rows]

    def active_briefings(self, now: float) -> list[Briefing]:
        """Briefings on the walls at ``now`` (neither over nor withdrawn), oldest first."""
        rows = self._db.execute(
            f"SELECT {_BRIEFING_COLUMNS} FROM briefings"
            " WHERE until > ? AND withdrawn_at IS NULL ORDER BY created_at, id",
            (now,),
        )
        return [_briefing_from_row(row) for row in rows]

    def prune(self, older_than: float, *, chunk: int = 5000) -> int:
        """Delete mentions and dead letters received before ``older_than``.

        Works in transactions of at most ``chunk`` rows, releasing the write lock
        between them, so the ingest writer waits at most one chunk. Returns rows deleted.
        """
        deleted = 0
        while n := self.prune_step(older_than, chunk=chunk):
            deleted += n
        return deleted

    def prune_step(self, older_than: float, *, chunk: int = 5000) -> int:
        """One transaction of :meth:`prune`: at most ``chunk`` mentions (with their brand
        and term rows) and ``chunk`` dead letters. Returns rows deleted; 0 when done."""
        db = self._db
        with self._lock, self._transaction():
            rows = db.execute(
                f"SELECT {_ROW_KEYS} FROM mentions"
                " WHERE received_at < ? ORDER BY received_at LIMIT ?",
                (older_than, chunk),
            ).fetchall()
            self._delete_rows(rows)
            letters = db.execute(
                "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters"
                " WHERE received_at < ? ORDER BY received_at LIMIT ?)",
                (older_than, chunk),
            ).rowcount
            if len(rows) < chunk:
                # Caught up: the hours the retention emptied go from the rollups too.
                db.execute("DELETE FROM mention_hours WHERE mentions <= 0")
                db.execute("DELETE FROM brand_hours WHERE mentions <= 0")
        return len(rows) + max(letters, 0)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: the reads inside see the same state of the store."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ reads

    def iter_mentions(
        self,
        *,
        since: float | None,
        until: float | None,
        brand: str | None = None,
        source: str | None = None,
        author: str | None = None,
        hashtag: str | None = None,
        chunk: int = 5000,
    ) -> Iterator[list[Mention]]:
        """Yield mentions with ``since <= received_at < until`` in received_at order.

        Chunks of at most ``chunk`` mentions; each is one short read (keyset pagination
        on ``(received_at, rowid)``), so no read transaction stays open between chunks
        and the WAL can be checkpointed while a long export runs. Rows inserted while
        iterating appear if they sort after the current position.
        """
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}")
        # Each plan: (tables, keyset columns, conditions, parameters).
        plans: list[tuple[str, tuple[str, str], list[str], list[Any]]] = []
        common: list[str] = []
        common_params: list[Any] = []
        if source is not None:
            common.append("m.source = ?")
            common_params.append(source)
        if hashtag is not None:
            # The hashtag index table drives; other filters apply to what it finds.
            where = ["t.term = ?", *common]
            params: list[Any] = [hashtag.lower() if hashtag[:1] == "#" else f"#{hashtag.lower()}"]
            params += common_params
            if brand is not None:
                where.append("m.brands LIKE ?")
                params.append(f'%"{brand}"%')
            if author is not None:
                where.append("m.author = ?")
                params.append(author)
            plans.append(
                (
                    "mention_terms t JOIN mentions m ON m.rowid = t.mention",
                    ("t.received_at", "t.mention"),
                    where,
                    params,
                )
            )
        elif brand is not None:
            # Drive from the brand index table: a range scan in (received_at, rowid) order.
            where = ["b.brand = ?", *common]
            params = [brand, *common_params]
            if author is not None:
                where.append("m.author = ?")
                params.append(author)
            plans.append(
                (
                    "mention_brands b JOIN mentions m ON m.rowid = b.mention",
                    ("b.received_at", "b.mention"),
                    where,
                    params,
                )
            )
        elif author is not None:
            # The author index is written behind the mentions (index_authors): the
            # indexed part first, then the few newest rows it has not reached yet.
            mark = self._authors_indexed()
            plans.append(
                (
                    "mention_authors a JOIN mentions m ON m.rowid = a.mention",
                    ("a.received_at", "a.mention"),
                    ["a.author = ?", *common],
                    [author, *common_params],
                )
            )
            plans.append(
                (
                    "mentions m",
                    ("m.received_at", "m.rowid"),
                    ["m.rowid > ?", "m.author = ?", *common],
                    [mark, author, *common_params],
                )
            )
        else:
            plans.append(("mentions m", ("m.received_at", "m.rowid"), common, common_params))
        for table, key, where, params in plans:
            yield from self._paginate(table, key, where, params, since, until, chunk)

    def _paginate(
        self,
        table: str,
        key: tuple[str, str],
        where: list[str],
        params: list[Any],
        since: float | None,
        until: float | None,
        chunk: int,
    ) -> Iterator[list[Mention]]:
        where = list(where)
        params = list(params)
        if until is not None:
            where.append(f"{key[0]} < ?")
            params.append(until)
        order = f" ORDER BY {key[0]}, {key[1]} LIMIT {int(chunk)}"
        conditions = " AND ".join(where)
        first = f"SELECT {_MENTION_COLUMNS} FROM {table}"
        first_where = list(where)
        first_params = list(params)
        if since is not None:
            first_where.append(f"{key[0]} >= ?")
            first_params.append(since)
        if first_where:
            first += " WHERE " + " AND ".join(first_where)
        nxt = (
            f"SELECT {_MENTION_COLUMNS} FROM {table} WHERE ({key[0]}, {key[1]}) > (?, ?)"
            + (f" AND {conditions}" if conditions else "")
            + order
        )
        rows = self._db.execute(first + order, first_params).fetchall()
        while rows:
            yield [_mention_from_row(r) for r in rows]
            if len(rows) < chunk:
                return
            last = rows[-1]
            rows = self._db.execute(nxt, [last[1], last[0], *params]).fetchall()

    def recent_mentions(self, since: float, *, chunk: int = 5000) -> Iterator[list[Mention]]:
        """Mentions received since ``since``, oldest first: to rebuild windows on restart."""
        return self.iter_mentions(since=since, until=None, chunk=chunk)

    def review_queue(
        self, limit: int, category: str | None = None, *, assignee: str | None = None
    ) -> list[Mention]:
        """The review queue, oldest first: at most ``limit`` mentions the rules sent to
        review (``needs_review``) that are not resolved or ignored (see the module doc);
        only those of ``category`` (a person's label, else the rules' class) and owned
        by ``assignee`` (``""``: by nobody) when given."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        where = _PENDING_REVIEW
        params: list[Any] = []
        if category is not None:
            where += f" AND {_CLASS} = ?"
            params.append(category)
        if assignee is not None:
            where += f" AND {_OWNER} = ?"
            params.append(assignee)
        rows = self._db.execute(
            f"SELECT {_MENTION_COLUMNS} FROM mentions m INDEXED BY mentions_review"
            f" WHERE {where} ORDER BY m.received_at, m.rowid LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [_mention_from_row(r) for r in rows]

    def count_review(self, *, now: float, target: float) -> tuple[int, int]:
        """(pending, breached) over the whole review queue: breached ones waited more
        than ``target`` seconds from their arrival to their first response (or to
        ``now``, while nobody has responded)."""
        row = self._db.execute(
            "SELECT count(*), coalesce(sum("
            f"coalesce({_FIRST_RESPONSE}, ?) - m.received_at > ?), 0)"
            f" FROM mentions m INDEXED BY mentions_review WHERE {_PENDING_REVIEW}",
            (now, target),
        ).fetchone()
        return int(row[0]), int(row[1])

    def triage_history(self, mention_id: str) -> list[TriageAction]:
        """Every triage action on one mention, oldest first."""
        rows = self._db.execute(
            f"SELECT {_ACTION_COLUMNS} FROM triage_actions WHERE mention_id = ? ORDER BY at, id",
            (mention_id,),
        )
        return [_action_from_row(r) for r in rows]

    def triage_histories(self, mention_ids: Sequence[str]) -> dict[str, list[TriageAction]]:
        """:meth:`triage_history` of many mentions in one read: id -> actions (mentions
        without any are absent)."""
        out: dict[str, list[TriageAction]] = {}
        if not mention_ids:
            return out
        rows = self._db.execute(
            f"SELECT {_ACTION_COLUMNS} FROM triage_actions WHERE mention_id IN"
            " (SELECT value FROM json_each(?)) ORDER BY at, id",
            (_json_list(list(mention_ids)).decode(),),
        )
        for r in rows:
            out.setdefault(r[1], []).append(_action_from_row(r))
        return out

    def mention_by_id(self, mention_id: str) -> Mention | None:
        """One stored mention by its id ("<source>:<source id>"), or None."""
        row = self._db.execute(
            f"SELECT {_MENTION_COLUMNS} FROM mentions m WHERE m.id = ?", (mention_id,)
        ).fetchone()
        return None if row is None else _mention_from_row(row)

    def copies_of(self, mention_id: str, *, limit: int = 50) -> tuple[int, list[MentionCopy]]:
        """(how many stored mentions copy this one, the newest ``limit`` of them)."""
        db = self._db
        total = db.execute(
            # "copy_of != ''" lets SQLite use the partial index mentions_copy_of.
            "SELECT count(*) FROM mentions WHERE copy_of = ? AND copy_of != ''",
            (mention_id,),
        ).fetchone()[0]
        rows = db.execute(
            "SELECT id, source, author, received_at, url FROM mentions"
            " WHERE copy_of = ? AND copy_of != '' ORDER BY received_at DESC, rowid DESC LIMIT ?",
            (mention_id, max(0, limit)),
        )
        copies = [
            MentionCopy(id=key, source=source, author=author, at=float(at), url=url)
            for key, source, author, at, url in rows
        ]
        return int(total), copies

    def brand_names(self) -> list[str]:
        """Every brand the store has counted mentions of (``brand_hours``), sorted."""
        names: list[str] = []
        row = self._db.execute("SELECT min(brand) FROM brand_hours").fetchone()
        while row is not None and row[0] is not None:
            names.append(row[0])
            # One seek per brand: the table is keyed (brand, hour).
            row = self._db.execute(
                "SELECT brand FROM brand_hours WHERE brand > ? ORDER BY brand LIMIT 1", (row[0],)
            ).fetchone()
        return names

    def search(
        self,
        search: Search,
        *,
        since: float | None,
        until: float | None,
        before: str | None = None,
        limit: int = 50,
        **budget: Any,
    ) -> tuple[list[Mention], str | None, int]:
        """One page of a search, newest first: (mentions, the next page's cursor or None,
        candidates checked). See :func:`groundcontrol.store.search.search`."""
        from groundcontrol.store import search as searching

        return searching.search(
            self, search, since=since, until=until, before=before, limit=limit, **budget
        )

    def history(
        self, by: str, since: float, until: float, brands: Sequence[str] | None = None
    ) -> list[HistoryRow]:
        """Mentions, negative ones, share of voice and negative share per bucket and
        brand (every brand counted when ``brands`` is None). See
        :func:`groundcontrol.store.search.history`."""
        from groundcontrol.store import search as searching

        names = self.brand_names() if brands is None else list(brands)
        return searching.history(self, by, since, until, names)

    def count_pending_review(self) -> int:
        """How many mentions wait in the review queue (see :meth:`review_queue`)."""
        row = self._db.execute(
            f"SELECT count(*) FROM mentions m INDEXED BY mentions_review WHERE {_PENDING_REVIEW}"
        ).fetchone()
        return int(row[0])

    def mentions_ever(self) -> int:
        """How many mentions this store has taken, pruned ones included (the rowids
        only grow), without counting the rows."""
        row = self._db.execute("SELECT coalesce(max(rowid), 0) FROM mentions").fetchone()
        return int(row[0])

    def received_at_of_nth_newest(self, n: int) -> float | None:
        """The received_at of the ``n``-th newest mention (None if there are fewer)."""
        row = self._db.execute(
            "SELECT received_at FROM mentions ORDER BY received_at DESC LIMIT 1 OFFSET ?",
            (max(0, n - 1),),
        ).fetchone()
        return None if row is None else float(row[0])

    def stats(self) -> dict[str, float]:
        """Row counts and the size on disk (database plus WAL), for health panels."""
        db = self._db
        counts = db.execute(
            "SELECT (SELECT count(*) FROM mentions), (SELECT count(*) FROM dead_letters),"
            " (SELECT count(*) FROM incidents), (SELECT count(*) FROM triage_actions)"
        ).fetchone()
        return {
            "mentions": float(counts[0]),
            "dead_letters": float(counts[1]),
            "incidents": float(counts[2]),
            "triage_actions": float(counts[3]),
            "file_bytes": float(self.file_bytes()),
        }


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the body raised."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
