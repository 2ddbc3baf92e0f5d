"""Triage in the store and the review queue: the v2 -> v3 migration, the round trip of
the triage fields, the queue's rules, GET /triage/queue, the tick's and /metrics'
pending count, and ``groundcontrol review``."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import msgspec
import polars as pl
import pytest

import groundcontrol.store.writer as persist_module
from groundcontrol.cli import review as review_cli
from groundcontrol.client.ingest import IngestClient
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Engagement, Mention
from groundcontrol.protocol import TriageAction, TriageQueueItem, TriageState, fold_triage
from groundcontrol.store.database import SCHEMA_VERSION, Store
from groundcontrol.store.export import export
from tests.deadline import SAFETY, until
from tests.test_hub import small_config

T0 = 1_790_000_000.0
TIMEOUT = SAFETY

# ---------------------------------------------------------------------- migration

#: The schema of version 2, as groundcontrol created it before triage reached the
#: store (the mentions table, its indexes, and the tables the migration must keep).
V2_DDL = """
CREATE TABLE mentions (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
    source_id TEXT NOT NULL, created_at REAL NOT NULL, received_at REAL NOT NULL,
    author TEXT NOT NULL, author_reach INTEGER NOT NULL, lang TEXT NOT NULL,
    text TEXT NOT NULL, url TEXT NOT NULL, sentiment REAL NOT NULL,
    sentiment_label TEXT NOT NULL, likes INTEGER NOT NULL, reposts INTEGER NOT NULL,
    replies INTEGER NOT NULL, quotes INTEGER NOT NULL, brands TEXT NOT NULL,
    queries TEXT NOT NULL, terms TEXT NOT NULL
);
CREATE INDEX mentions_received_at ON mentions (received_at);
CREATE INDEX mentions_source_received ON mentions (source, received_at);
CREATE TABLE mention_brands (brand TEXT NOT NULL, received_at REAL NOT NULL,
    mention INTEGER NOT NULL, PRIMARY KEY (brand, received_at, mention)) WITHOUT ROWID;
CREATE TABLE mention_terms (term TEXT NOT NULL, received_at REAL NOT NULL,
    mention INTEGER NOT NULL, PRIMARY KEY (term, received_at, mention)) WITHOUT ROWID;
CREATE TABLE alerts (id TEXT PRIMARY KEY, kind TEXT NOT NULL, series TEXT NOT NULL,
    severity TEXT NOT NULL, started_at REAL NOT NULL, updated_at REAL NOT NULL,
    ended_at REAL, alert TEXT NOT NULL);
CREATE INDEX alerts_started_at ON alerts (started_at);
CREATE TABLE triage_actions (id INTEGER PRIMARY KEY, mention_id TEXT NOT NULL,
    action TEXT NOT NULL, label TEXT NOT NULL, actor TEXT NOT NULL, at REAL NOT NULL,
    note TEXT NOT NULL);
CREATE INDEX triage_actions_mention ON triage_actions (mention_id, at);
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, received_at REAL NOT NULL,
    feed TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
CREATE TABLE mention_authors (author TEXT NOT NULL, received_at REAL NOT NULL,
    mention INTEGER NOT NULL, PRIMARY KEY (author, received_at, mention)) WITHOUT ROWID;
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: Two version-2 rows, every column set: (id, source, source_id, created_at,
#: received_at, author, author_reach, lang, text, url, sentiment, sentiment_label,
#: likes, reposts, replies, quotes, brands, queries, terms).
V2_ROWS = [
    (
        "x:1", "x", "1", T0 - 60, T0, "ana", 120, "en", "Aero 14 battery #aero",
        "https://x.example/1", -0.5, "negative", 3, 1, 2, 0, '["Northwind"]', '["support"]',
        '["battery", "#aero"]',
    ),
    (
        "reddit:t3_b", "reddit", "t3_b", T0 - 30, T0 + 1, "bo", 0, "de", "Akku kaputt", "",
        0.0, "neutral", 0, 0, 0, 7, '["Northwind"]', "[]", '["akku"]',
    ),
]  # fmt: skip


def make_v2_store(path: Path, *, extra: str = "") -> None:
    with sqlite3.connect(path) as db:
        db.executescript(V2_DDL + extra)
        db.executemany(
            "INSERT INTO mentions (id, source, source_id, created_at, received_at, author,"
            " author_reach, lang, text, url, sentiment, sentiment_label, likes, reposts,"
            " replies, quotes, brands, queries, terms) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            V2_ROWS,
        )
        db.execute("INSERT INTO mention_brands VALUES ('Northwind', ?, 1)", (T0,))
        db.execute("INSERT INTO mention_terms VALUES ('#aero', ?, 1)", (T0,))
        db.execute("INSERT INTO mention_authors VALUES ('ana', ?, 1), ('bo', ?, 2)", (T0, T0 + 1))
        db.execute("INSERT INTO store_meta VALUES ('authors_indexed_rowid', 2)")
        db.execute(
            "INSERT INTO triage_actions (mention_id, action, label, actor, at, note)"
            " VALUES ('x:1', 'label', 'support', 'ana', ?, 'old')",
            (T0 + 5,),
        )
        db.execute("PRAGMA user_version = 2")


def flat(chunks: Iterator[list[Mention]]) -> list[Mention]:
    return [m for chunk in chunks for m in chunk]


def test_a_v2_store_is_migrated_in_place_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    make_v2_store(path)
    with Store(path) as s:
        db = s._db
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        columns = {r[1]: (r[2], r[3], r[4]) for r in db.execute("PRAGMA table_info(mentions)")}
        assert columns["category"] == ("TEXT", 1, "''")
        assert columns["category_confidence"] == ("REAL", 1, "0")
        assert columns["needs_review"] == ("INTEGER", 1, "0")
        assert columns["flags"] == ("TEXT", 1, "''")
        assert columns["copy_of"] == ("TEXT", 1, "''")
        index = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'mentions_review'")
        assert "WHERE needs_review = 1" in index.fetchone()[0]
        # Every old column of every row is what version 2 held.
        old_columns = (
            "id, source, source_id, created_at, received_at, author, author_reach, lang, text,"
            " url, sentiment, sentiment_label, likes, reposts, replies, quotes, brands, queries,"
            " terms"
        )
        assert db.execute(f"SELECT {old_columns} FROM mentions ORDER BY rowid").fetchall() == [
            tuple(r) for r in V2_ROWS
        ]
        got = flat(s.iter_mentions(since=None, until=None))
        assert [m.id for m in got] == ["x:1", "reddit:t3_b"]
        first = got[0]
        assert (first.text, first.author_reach, first.engagement) == (
            "Aero 14 battery #aero",
            120,
            Engagement(likes=3, reposts=1, replies=2),
        )
        assert (first.brands, first.queries, first.terms) == (
            ["Northwind"],
            ["support"],
            ["battery", "#aero"],
        )
        # The new fields read back as their defaults.
        for m in got:
            assert (m.category, m.category_confidence, m.needs_review, m.flags, m.copy_of) == (
                "",
                0.0,
                False,
                [],
                "",
            )
        # The other tables and the index tables are untouched and still used.
        assert s.stats()["triage_actions"] == 1
        assert [m.id for m in flat(s.iter_mentions(since=None, until=None, hashtag="aero"))] == [
            "x:1"
        ]
        assert [m.id for m in flat(s.iter_mentions(since=None, until=None, author="bo"))] == [
            "reddit:t3_b"
        ]
        assert s.count_pending_review() == 0
        # New rows go into the migrated table with their triage fields.
        s.add_mentions([classified("x:9", T0 + 9, category="sales", review=True)])
        assert [m.id for m in s.review_queue(10)] == ["x:9"]
    with sqlite3.connect(path) as db:  # the migration was committed, not left pending
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_schema")}
        # v4: the old alerts table is kept as it was; incidents start empty.
        assert {"alerts", "incidents", "incident_actions", "notifications"} <= names


def test_a_migration_that_fails_leaves_the_v2_file_as_it_was(tmp_path: Path) -> None:
    # A file that somehow has one of the new columns already: the migration fails on
    # it after adding the others, and its one transaction must take them back.
    path = tmp_path / "odd.db"
    make_v2_store(path, extra="ALTER TABLE mentions ADD COLUMN copy_of TEXT;")
    with pytest.raises(sqlite3.OperationalError, match="duplicate column name: copy_of"):
        Store(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        columns = {r[1] for r in db.execute("PRAGMA table_info(mentions)")}
        assert "category" not in columns and "needs_review" not in columns
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 2


# ---------------------------------------------------------------------- round trip


def classified(
    key: str,
    at: float,
    *,
    category: str = "support",
    confidence: float = 0.4,
    review: bool = False,
    flags: list[str] | None = None,
    copy_of: str = "",
    author: str = "ana",
) -> Mention:
    source, source_id = key.split(":", 1)
    return Mention(
        source=source,
        source_id=source_id,
        text=f"post {key} about #aero",
        created_at=datetime.fromtimestamp(int(at) - 10, UTC),
        author=author,
        lang="en",
        id=key,
        sentiment=-0.25,
        sentiment_label="negative",
        brands=["Northwind"],
        terms=["post", "#aero"],
        received_at=at,
        category=category,
        category_confidence=confidence,
        needs_review=review,
        flags=flags or [],
        copy_of=copy_of,
    )


def test_triage_fields_round_trip_through_every_read_path(tmp_path: Path) -> None:
    written = [
        classified("x:1", T0, category="praise", confidence=0.464, review=True),
        classified(
            "x:2",
            T0 + 1,
            category="compliance_risk",
            confidence=1.0,
            review=True,
            flags=["posted during a quiet period", 'figures "without" safe-harbour ✓'],
        ),
        classified("x:3", T0 + 2, category="other", confidence=0.667, copy_of="x:1"),
    ]
    path = tmp_path / "gc.db"
    with Store(path) as s:
        assert s.add_mentions(written) == [True, True, True]
    with Store(path) as s:  # reopened: read from disk
        assert flat(s.iter_mentions(since=None, until=None)) == written
        assert flat(s.iter_mentions(since=None, until=None, brand="Northwind")) == written
        assert flat(s.iter_mentions(since=None, until=None, hashtag="aero")) == written
        assert flat(s.iter_mentions(since=None, until=None, author="ana")) == written
        s.index_authors()
        assert flat(s.iter_mentions(since=None, until=None, author="ana")) == written
        assert flat(s.recent_mentions(T0)) == written
        # None means '' on disk; a list is JSON.
        stored = dict(s._db.execute("SELECT id, flags FROM mentions"))
        assert stored["x:1"] == "" and json.loads(stored["x:2"]) == written[1].flags


def test_an_edit_updates_the_triage_fields_but_not_the_first_arrival(tmp_path: Path) -> None:
    with Store(tmp_path / "gc.db") as s:
        s.add_mentions([classified("x:1", T0, category="praise", review=True, copy_of="x:0")])
        edit = classified("x:1", T0 + 50, category="product_problem", confidence=0.8)
        edit.text = "edited: it broke"
        edit.flags = ["posted during a quiet period"]
        s.write(edits=[edit])
        (got,) = flat(s.iter_mentions(since=None, until=None))
        assert (got.text, got.category, got.category_confidence) == (
            "edited: it broke",
            "product_problem",
            0.8,
        )
        assert got.needs_review is False and got.flags == ["posted during a quiet period"]
        assert (got.received_at, got.copy_of) == (T0, "x:0")
        assert s.count_pending_review() == 0


def test_csv_and_ndjson_exports_carry_the_triage_fields(tmp_path: Path) -> None:
    path = tmp_path / "gc.db"
    with Store(path) as s:
        s.add_mentions(
            [
                classified("x:1", T0, category="praise", confidence=0.5, review=True),
                classified("x:2", T0 + 1, flags=["posted during a quiet period"], copy_of="x:1"),
            ]
        )
    out = tmp_path / "out.csv"
    assert export(path, fmt="csv", out=out) == 2
    frame = pl.read_csv(out)
    assert frame["category"].to_list() == ["praise", "support"]
    assert frame["category_confidence"].to_list() == [0.5, 0.4]
    assert frame["needs_review"].to_list() == [True, False]
    assert frame["flags"].to_list() == ["[]", '["posted during a quiet period"]']
    assert frame["copy_of"].fill_null("").to_list() == ["", "x:1"]
    sink = io.BytesIO()
    export(path, fmt="ndjson", out=None, stdout=sink)
    lines = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert lines[0]["needs_review"] is True and lines[1]["copy_of"] == "x:1"


# ---------------------------------------------------------------------- the queue

#: (id, received_at offset, category, needs_review): the labelled queue fixture.
QUEUE_FIXTURE = [
    ("x:a", 0, "support", True),
    ("x:b", 1, "praise", True),
    ("x:c", 2, "support", False),  # confident: never queued
    ("x:d", 3, "sales", True),
    ("x:e", 4, "support", True),
    ("x:f", 5, "product_problem", True),
]


@pytest.fixture
def queued(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gc.db") as s:
        s.add_mentions(
            [classified(k, T0 + dt, category=c, review=r) for k, dt, c, r in QUEUE_FIXTURE]
        )
        yield s


def ids(mentions: list[Mention]) -> list[str]:
    return [m.id for m in mentions]


def test_the_queue_is_oldest_first_and_filters_by_category(queued: Store) -> None:
    # Oldest first since issue 13: the mention that has waited longest comes first.
    assert ids(queued.review_queue(10)) == ["x:a", "x:b", "x:d", "x:e", "x:f"]
    assert queued.count_pending_review() == 5
    assert ids(queued.review_queue(2)) == ["x:a", "x:b"]
    assert ids(queued.review_queue(10, "support")) == ["x:a", "x:e"]
    assert ids(queued.review_queue(10, "other")) == []
    full = queued.review_queue(10)[-1]
    assert full == classified("x:f", T0 + 5, category="product_problem", review=True)
    with pytest.raises(ValueError, match="limit must be at least 1"):
        queued.review_queue(0)


def test_resolve_and_ignore_take_a_mention_out_of_the_queue(queued: Store) -> None:
    # Since issue 13 only resolve and ignore close a mention; the other actions keep it
    # queued (with an owner, a person's class, a note).
    queued.add_triage_action("x:e", "note", note="looking")
    queued.add_triage_action("x:b", "label", label="praise", actor="bo")
    queued.add_triage_action("x:a", "claim", label="bo", actor="bo")
    assert ids(queued.review_queue(10)) == ["x:a", "x:b", "x:d", "x:e", "x:f"]
    queued.add_triage_action("x:e", "resolve", at=T0 + 100)
    queued.add_triage_action("x:b", "ignore", at=T0 + 100)
    queued.add_triage_action("x:c", "escalate")  # was never queued
    queued.add_triage_action("x:zz", "ignore")  # names no stored mention
    assert ids(queued.review_queue(10)) == ["x:a", "x:d", "x:f"]
    assert ids(queued.review_queue(10, "support")) == ["x:a"]
    assert queued.count_pending_review() == 3
    # A claim after a resolve opens it again; a note after one does not.
    queued.add_triage_action("x:e", "claim", label="cy", actor="cy", at=T0 + 200)
    queued.add_triage_action("x:b", "note", note="spam", at=T0 + 200)
    assert ids(queued.review_queue(10)) == ["x:a", "x:d", "x:e", "x:f"]
    # A mention whose closing action was recorded before it arrived never enters the queue.
    queued.add_triage_action("x:late", "resolve")
    queued.add_mentions([classified("x:late", T0 + 9, review=True)])
    assert queued.count_pending_review() == 4


def test_pruned_mentions_leave_the_queue(queued: Store) -> None:
    assert queued.prune(T0 + 3) == 3
    assert ids(queued.review_queue(10)) == ["x:d", "x:e", "x:f"]


# ---------------------------------------------------------------------- hub

TOKENS = {
    Role.FEED: "feed-token-0123456789abcdef",
    Role.DISPLAY: "display-token-0123456789abcdef",
    Role.ANALYST: "analyst-token-0123456789abcdef",
    Role.ADMIN: "admin-token-0123456789abcdef",
}

#: Texts and what the default [triage] rules make of them (tests/test_triage.py checks
#: the rules; here only which ones go to review matters).
HUB_TEXTS = {
    "1": ("Love the Northwind Aero 14 but the battery swelled", True),  # torn: praise?
    "2": ("My Northwind Aero 14 battery swelled and is broken", False),  # sure
    "3": ("Northwind opened an office", False),  # no rule
    "4": ("Northwind Aero 14: how do I get a refund, the battery is broken", True),
}


def auth(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@pytest.fixture
async def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Hub, str]]:
    # Count the queue often, so the test need not wait the production 5 s.
    monkeypatch.setattr(persist_module, "REVIEW_COUNT_INTERVAL", 0.1)
    monkeypatch.setattr(persist_module, "CHECKPOINT_INTERVAL", 0.05)
    tokens = Tokens.from_pairs([(role, tok, f"{role}-1") for role, tok in TOKENS.items()])
    h, runner, port = await start_hub(
        small_config(), port=0, tokens=tokens, store_path=tmp_path / "gc.db"
    )
    addr = f"127.0.0.1:{port}"
    client = IngestClient(f"ws://{addr}", name="t", token=TOKENS[Role.FEED], window=2)
    client.start()
    try:
        await client.submit(
            [
                Mention(
                    source="x",
                    source_id=sid,
                    text=text,
                    created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
                    author=f"user{sid}",
                )
                for sid, (text, _) in HUB_TEXTS.items()
            ]
        )
        assert await client.drain(TIMEOUT)
    finally:
        await client.close()
    yield h, addr
    await runner.cleanup()


async def get_queue(addr: str, query: str = "", role: Role = Role.ANALYST) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://{addr}/triage/queue{query}", headers=auth(role)) as resp,
    ):
        return resp.status, await resp.text()


async def eventually(check: Callable[[], bool], what: str) -> None:
    await until(check, what)


async def test_the_queue_endpoint_serves_analysts_and_admins_only(
    hub: tuple[Hub, str],
) -> None:
    _h, addr = hub
    # Oldest first (one batch: in the order it was sent), each with its state (issue 13).
    expected = [f"x:{sid}" for sid, (_, review) in HUB_TEXTS.items() if review]
    for role in (Role.ANALYST, Role.ADMIN):
        status, body = await get_queue(addr, role=role)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["pending"] == 2
        items = answer["items"]
        assert [i["mention"]["id"] for i in items] == expected
        assert all(i["mention"]["needs_review"] and i["mention"]["category"] for i in items)
        assert all(i["state"]["status"] == "new" for i in items)
        assert msgspec.convert(items[1]["mention"], Mention, strict=False).id == "x:4"
    for role in (Role.FEED, Role.DISPLAY):
        status, body = await get_queue(addr, role=role)
        assert status == 403 and f"{role} token may not" in body
    async with aiohttp.ClientSession() as http, http.get(f"http://{addr}/triage/queue") as resp:
        assert resp.status == 401
    status, body = await get_queue(addr, "?category=support&limit=1")
    assert status == 200 and [i["mention"]["id"] for i in json.loads(body)["items"]] == ["x:4"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?limit=0", "limit must be a whole number from 1 to 500, not '0'"),
        ("?limit=501", "limit must be a whole number from 1 to 500"),
        ("?limit=ten", "not 'ten'"),
        ("?limit=%C2%B2", "limit must be a whole number"),  # a superscript two
        ("?limit=" + "9" * 5000, "limit must be a whole number"),
        ("?category=refunds", "category must be one of support, sales,"),
        ("?sort=old", "unknown parameter 'sort'"),
        ("?limit=1&limit=2", "may each be given once"),
    ],
)
async def test_bad_queue_parameters_are_a_400_with_the_reason(
    hub: tuple[Hub, str], query: str, reason: str
) -> None:
    status, body = await get_queue(hub[1], query)
    assert status == 400
    assert body.startswith("bad queue request: ") and reason in body
    assert body.count("\n") == 1


async def test_a_resolve_empties_the_queue_tick_and_metrics(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Since issue 13 a label keeps a mention queued: a resolve is what takes it out.
    h, addr = hub
    told: list[tuple[str, str]] = []
    original = h.analytics.triaged

    def triaged(state: TriageState) -> None:
        told.append((state.mention_id, state.status))
        original(state)

    monkeypatch.setattr(h.analytics, "triaged", triaged)

    def tick_pending() -> int:
        return -2 if h.last_tick is None else h.last_tick.triage.pending

    await eventually(lambda: tick_pending() == 2, "the tick says 2 pending")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://{addr}/triage",
            json={"mention_id": "x:4", "action": "resolve"},
            headers=auth(Role.ANALYST),
        ) as resp:
            assert resp.status == 200
        assert told == [("x:4", "resolved")]
        await eventually(lambda: tick_pending() == 1, "the tick says 1 pending")
        async with http.get(f"http://{addr}/metrics", headers=auth(Role.ADMIN)) as resp:
            metrics = await resp.text()
    assert "\ngroundcontrol_review_pending 1\n" in metrics
    status, body = await get_queue(addr)
    assert status == 200 and json.loads(body)["pending"] == 1
    assert [i["mention"]["id"] for i in json.loads(body)["items"]] == ["x:1"]


async def test_without_a_store_the_queue_is_unavailable_and_pending_unknown() -> None:
    h, runner, port = await start_hub(small_config(), port=0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/triage/queue") as resp:
                assert resp.status == 503 and "without a store" in await resp.text()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert "\ngroundcontrol_review_pending -1\n" in await resp.text()
        await eventually(lambda: h.last_tick is not None, "a tick")
        assert h.last_tick is not None and h.last_tick.triage.pending == -1
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------- the command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="groundcontrol")
    review_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["review", *argv])


async def review(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], role: Role, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[role])
    monkeypatch.setenv("COLUMNS", "100")
    code = await asyncio.to_thread(review_cli.run, parse(*argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_review_command_prints_the_queue_and_how_to_classify(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _h, addr = hub
    url = f"http://{addr}"
    code, out, err = await review(monkeypatch, capsys, Role.ANALYST, "--hub", url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    # Oldest first, with the wait and the owner (issue 13).
    assert lines[0].split() == ["ID", "CLASS", "WAIT", "OWNER", "AUTHOR", "TEXT"]
    assert lines[1].startswith("x:1  praise ")
    assert lines[2].startswith("x:4  support 0.")
    assert "user4" in lines[2] and "how do I get a refund" in lines[2]
    assert all(len(line) <= 100 for line in lines[:3])  # the table; not the command
    assert "2 waiting for review, 0 past the 30m response target (!); the oldest 2 shown." in out
    assert f"groundcontrol triage --hub {url} x:1 label --label praise" in out
    assert f"groundcontrol triage --hub {url} x:1 claim" in out

    code, out, _ = await review(monkeypatch, capsys, Role.ANALYST, "--hub", url, "--json")
    assert code == 0 and json.loads(out)["pending"] == 2

    code, out, _ = await review(
        monkeypatch, capsys, Role.ADMIN, "--hub", url, "--category", "praise", "--limit", "5"
    )
    assert code == 0 and "x:1" in out and "x:4" not in out


@pytest.mark.parametrize(
    ("argv", "code", "reason"),
    [
        (("--limit", "0"), 2, "--limit must be a whole number from 1 to 500, not '0'"),
        (("--limit", "x"), 2, "not 'x'"),
        (("--category", "refund"), 2, "--category must be one of support,"),
    ],
)
def test_review_command_refuses_bad_arguments_on_one_line(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: int, reason: str
) -> None:
    assert review_cli.run(parse(*argv)) == code
    err = capsys.readouterr().err
    assert err.startswith("groundcontrol review: ") and reason in err and err.count("\n") == 1


async def test_review_command_says_why_the_hub_refused_or_is_gone(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _h, addr = hub
    code, _, err = await review(monkeypatch, capsys, Role.DISPLAY, "--hub", f"ws://{addr}")
    assert code == 2 and "HTTP 403: a display token may not" in err and err.count("\n") == 1
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    code, _, err = await review(monkeypatch, capsys, Role.ANALYST, "--hub", f"127.0.0.1:{free}")
    assert code == 1 and f"cannot reach http://127.0.0.1:{free}/triage/queue" in err


def queue_item(
    m: Mention, *actions: TriageAction, waiting: float = 65.0, breached: bool = False
) -> TriageQueueItem:
    state = fold_triage(m.id, m.category, list(actions), received_at=m.received_at)
    return TriageQueueItem(mention=m, state=state, waiting_seconds=waiting, breached=breached)


#: A Bluesky id: about 80 characters, the length that used to squeeze authors to 5.
BLUESKY_ID = "bluesky:at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3lbxq4kqyf22k"


def test_format_queue_fits_80_columns_shortening_long_ids_in_the_middle() -> None:
    m = classified(BLUESKY_ID, T0, category="product_problem", confidence=0.4567)
    m.author = "jonas.bsky.social"
    m.text = "日本語のテキスト 🔋 swollen battery\x1b[31m red\nnext line " * 3
    short = classified("x:2", T0, category="", confidence=0.0, author="")
    short.text = "short"
    claimed = TriageAction(action="claim", assignee="alice", actor="alice", at=T0 + 1)
    items = [queue_item(m, waiting=4000, breached=True), queue_item(short, claimed)]
    out = review_cli.format_queue(
        7, items, width=80, hub=review_cli.DEFAULT_HUB, breached=1, target_seconds=1800
    )
    lines = out.splitlines()
    # No room beside so long an id: each text goes on a line of its own, under it; the
    # id gives up its middle, and the author keeps a readable width (issue 13).
    ident, *middle, author = lines[2].split()
    assert ident.startswith("bluesky:at://di") and ident.endswith("/3lbxq4kqyf22k")
    assert "…" in ident and review_cli.display_width(ident) >= review_cli.MIN_ID_COLUMNS
    assert middle == ["product_problem", "0.46", "1h06!", "-"]
    assert author == "jonas.bsky.…" and review_cli.display_width(author) == 12
    assert lines[3].startswith("    日本語のテキスト 🔋 swollen battery [31m red next line")
    assert lines[3].endswith("…") and review_cli.display_width(lines[3]) == 80
    assert lines[4].split() == ["x:2", "-", "0.00", "1m", "alice", "-"] and lines[5] == "    short"
    assert all(review_cli.display_width(line) <= 80 for line in lines[:6]), out
    assert "\x1b" not in out
    assert "7 waiting for review, 1 past the 30m response target (!); the oldest 2 shown." in out
    assert "Ids shortened to fit: groundcontrol review --json prints them whole." in out
    # The command is never cut, whatever the width.
    assert f"groundcontrol triage {BLUESKY_ID} label --label product_problem" in out
    empty = review_cli.format_queue(0, [], width=80, hub="https://hub:8765")
    assert empty.startswith("The review queue is empty.\n")
    assert "groundcontrol triage --hub https://hub:8765 ID label --label support" in empty


def test_format_queue_at_160_columns_shows_whole_ids_with_the_text_beside() -> None:
    m = classified(BLUESKY_ID, T0, category="product_problem", confidence=0.4567)
    m.author = "jonas.bsky.social"
    m.text = "My Aero 14 battery swelled after the update " * 4
    other = classified("x:1861", T0, category="praise", author="northwind_fan")
    escalated = TriageAction(action="escalate", actor="bob", at=T0 + 1)
    labelled = TriageAction(action="label", label="support", actor="bob", at=T0 + 2)
    items = [queue_item(m), queue_item(other, escalated, labelled)]
    out = review_cli.format_queue(2, items, width=160, hub=review_cli.DEFAULT_HUB)
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CLASS", "WAIT", "OWNER", "AUTHOR", "TEXT"]
    assert lines[1].startswith(BLUESKY_ID + "  product_problem 0.46")
    assert "jonas.bsky.social  My Aero 14 battery" in lines[1]
    assert lines[1].endswith("…") and review_cli.display_width(lines[1]) == 160
    assert lines[2].split()[:6] == ["x:1861", "support", "(set)", "1m", "ESC", "-"]
    assert "shortened" not in out


def test_shorten_middle_keeps_both_ends() -> None:
    assert review_cli.shorten_middle("abcdefghij", 10) == "abcdefghij"
    assert review_cli.shorten_middle("abcdefghij", 12) == "abcdefghij  "
    assert review_cli.shorten_middle("abcdefghij", 7) == "abc…hij"
    assert review_cli.shorten_middle("abcdefghij", 6) == "abc…ij"
    assert review_cli.shorten_middle("日本語日本語", 7) == "日…本語"
    assert review_cli.display_width(review_cli.shorten_middle("日本語日本語", 6)) == 6


async def test_review_command_fits_the_terminal_width(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _h, addr = hub
    for columns in ("80", "160"):
        monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.ANALYST])
        monkeypatch.setenv("COLUMNS", columns)
        code = await asyncio.to_thread(review_cli.run, parse("--hub", f"http://{addr}"))
        out = capsys.readouterr().out
        assert code == 0
        table = out.split("\n\n")[0].splitlines()
        assert len(table) == 3 and all(len(line) <= int(columns) for line in table)
        assert table[1].startswith("x:1  praise ")


def test_fit_counts_wide_characters_twice() -> None:
    assert review_cli.fit("abc", 5) == "abc  "
    assert review_cli.fit("日本語", 6) == "日本語"
    assert review_cli.fit("日本語", 5) == "日本…"  # 2 + 2 + 1 columns
    assert review_cli.display_width(review_cli.fit("🔋🔋🔋", 4)) == 4
