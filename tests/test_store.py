"""The durable store: round trips, dedupe across reopen, atomic batches, pagination, prune."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import groundcontrol.store.database as store_module
from feeds.demo import DemoStream
from groundcontrol.config import load_config
from groundcontrol.listen.enrich import Enricher
from groundcontrol.model import Engagement, Mention
from groundcontrol.protocol import Incident, IncidentAction, IncidentEvent
from groundcontrol.store.database import SCHEMA_VERSION, DeadLetter, Store, StoreError

T0 = 1_790_000_000.0


def make(n: int, *, start: float = T0, source: str = "demo", step: float = 1.0) -> list[Mention]:
    """Small synthetic mentions with every field set; received_at = start + i * step."""
    out = []
    for i in range(n):
        out.append(
            Mention(
                source=source,
                source_id=f"s{start}-{i}",
                text=f"post {i} about #Aero and Northwind",
                created_at=datetime.fromtimestamp(start + i * step - 5, UTC),
                url=f"https://example.org/{i}",
                author=f"user{i % 7}",
                author_reach=i * 10,
                lang="en",
                engagement=Engagement(likes=i, reposts=1, replies=2, quotes=3),
                sentiment=0.5 if i % 2 else -0.25,
                sentiment_label="positive" if i % 2 else "negative",
                brands=["Northwind"] if i % 3 else ["Northwind", "Brightline"],
                queries=["support"] if i % 5 == 0 else [],
                terms=["post", "#aero"] if i % 2 else ["post"],
                received_at=start + i * step,
            )
        )
    return out


def flat(chunks: Iterator[list[Mention]]) -> list[Mention]:
    return [m for chunk in chunks for m in chunk]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gc.db") as s:
        yield s


def test_round_trip_of_enriched_demo_mentions(tmp_path: Path) -> None:
    config = load_config()
    mentions = DemoStream(seed=1, rate=200, start=T0).between(T0, T0 + 2)
    Enricher(config.brands, config.queries).enrich(mentions)
    for i, m in enumerate(mentions):
        m.id = m.key
        m.received_at = T0 + i / 1000
    assert any(m.brands for m in mentions) and any(m.terms for m in mentions)
    with Store(tmp_path / "gc.db") as s:
        assert s.add_mentions(mentions) == [True] * len(mentions)
    with Store(tmp_path / "gc.db") as s:
        back = flat(s.iter_mentions(since=None, until=None))
    assert back == mentions


def test_id_is_computed_when_missing(store: Store) -> None:
    m = make(1)[0]
    assert m.id == ""
    store.add_mentions([m])
    (back,) = flat(store.iter_mentions(since=None, until=None))
    assert back.id == m.key


def test_dedupe_within_batch_and_across_reopen(tmp_path: Path) -> None:
    batch = make(10)
    with Store(tmp_path / "gc.db") as s:
        assert (
            s.add_mentions([*batch[:5], batch[2], *batch[5:]]) == [True] * 5 + [False] + [True] * 5
        )
        brand_rows = s._db.execute("SELECT count(*) FROM mention_brands").fetchone()[0]
    with Store(tmp_path / "gc.db") as s:
        assert s.add_mentions(batch) == [False] * 10
        assert s.add_mentions([*make(1, start=T0 + 100), batch[0]]) == [True, False]
        assert s.stats()["mentions"] == 11
        assert s._db.execute("SELECT count(*) FROM mention_brands").fetchone()[0] == (
            brand_rows + 2  # make(1)[0] names two brands
        )


def test_a_failing_batch_leaves_nothing(store: Store) -> None:
    store.add_mentions(make(3, start=T0 - 100))
    batch = make(10)
    # sqlite3 cannot bind an arbitrary object: executemany fails at row 6 of 10,
    # after rows 0-5 were inserted inside the transaction.
    batch[6].author = object()  # type: ignore[assignment]
    with pytest.raises(sqlite3.Error):
        store.add_mentions(batch)
    assert store.stats()["mentions"] == 3
    # ... and the store still works, and the good rows were not remembered as seen.
    del batch[6]
    assert store.add_mentions(batch) == [True] * 9


def test_failure_after_the_mentions_insert_rolls_back_everything(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> list[bool]:
        raise RuntimeError("index step failed")

    monkeypatch.setattr(store, "_index_new", boom)
    with pytest.raises(RuntimeError):
        store.add_mentions(make(5))
    monkeypatch.undo()
    assert store.stats()["mentions"] == 0
    assert store.add_mentions(make(5)) == [True] * 5


def test_wal_mode_and_schema_version(store: Store) -> None:
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_iter_mentions_order_chunks_and_bounds(store: Store) -> None:
    # Inserted out of received_at order, in several batches.
    mentions = make(50)
    store.add_mentions(mentions[25:])
    store.add_mentions(mentions[:25][::-1])
    chunks = list(store.iter_mentions(since=None, until=None, chunk=7))
    assert [len(c) for c in chunks] == [7] * 7 + [1]
    assert [m.received_at for c in chunks for m in c] == [m.received_at for m in mentions]
    got = flat(store.iter_mentions(since=T0 + 10, until=T0 + 20, chunk=3))
    assert [m.received_at for m in got] == [T0 + i for i in range(10, 20)]
    assert flat(store.iter_mentions(since=T0 + 1000, until=None)) == []


def test_iter_mentions_ties_on_received_at_are_not_lost(store: Store) -> None:
    # Every mention received at the same instant: pagination must use the rowid too.
    mentions = make(20, step=0.0)
    store.add_mentions(mentions)
    got = flat(store.iter_mentions(since=None, until=None, chunk=3))
    assert sorted(m.id for m in got) == sorted(m.key for m in mentions)


def test_iter_mentions_filters(store: Store) -> None:
    store.add_mentions(make(30))
    store.add_mentions(make(10, start=T0 + 0.5, source="reddit"))
    brightline = flat(store.iter_mentions(since=None, until=None, brand="Brightline", chunk=4))
    assert brightline and all("Brightline" in m.brands for m in brightline)
    assert len(brightline) == 10 + 4  # i % 3 == 0 in each set
    assert [m.received_at for m in brightline] == sorted(m.received_at for m in brightline)
    windowed = flat(
        store.iter_mentions(since=T0 + 3, until=T0 + 9, brand="Brightline", source="demo")
    )
    assert [m.received_at for m in windowed] == [T0 + 3, T0 + 6]
    reddit = flat(store.iter_mentions(since=None, until=None, source="reddit", chunk=3))
    assert len(reddit) == 10 and {m.source for m in reddit} == {"reddit"}
    user3 = flat(store.iter_mentions(since=None, until=None, author="user3", source="demo"))
    assert [m.received_at for m in user3] == [T0 + i for i in range(30) if i % 7 == 3]
    assert flat(store.iter_mentions(since=None, until=None, brand="Nobody")) == []


def test_author_queries_see_indexed_and_not_yet_indexed_mentions(store: Store) -> None:
    store.add_mentions(make(14))
    assert store.index_authors(limit=10) == 10  # a partial pass
    store.add_mentions(make(14, start=T0 + 100))
    user3 = flat(store.iter_mentions(since=None, until=None, author="user3", chunk=1))
    assert [m.received_at for m in user3] == [T0 + 3, T0 + 10, T0 + 103, T0 + 110]
    assert store.index_authors() == 18
    assert store.index_authors() == 0
    again = flat(store.iter_mentions(since=T0 + 5, until=T0 + 105, author="user3"))
    assert [m.received_at for m in again] == [T0 + 10, T0 + 103]
    # Pruned mentions leave the author index too.
    store.prune(T0 + 50)
    rows = store._db.execute("SELECT count(*) FROM mention_authors").fetchone()[0]
    assert rows == 14


def test_hashtag_queries_use_the_term_index(store: Store) -> None:
    store.add_mentions(make(20))
    aero = flat(store.iter_mentions(since=None, until=None, hashtag="#Aero", chunk=3))
    assert [m.received_at for m in aero] == [T0 + i for i in range(20) if i % 2]
    assert flat(store.iter_mentions(since=None, until=None, hashtag="aero")) == aero
    both = flat(
        store.iter_mentions(since=T0 + 2, until=T0 + 16, hashtag="#aero", brand="Brightline")
    )
    assert [m.received_at for m in both] == [T0 + 3, T0 + 9, T0 + 15]
    plan = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM mentions WHERE source = ? ORDER BY received_at",
        ("demo",),
    ).fetchall()
    assert "mentions_source_received" in str(plan)


def test_recent_mentions(store: Store) -> None:
    store.add_mentions(make(10))
    assert [m.received_at for m in flat(store.recent_mentions(T0 + 7))] == [
        T0 + 7,
        T0 + 8,
        T0 + 9,
    ]


def test_prune_removes_only_old_rows_and_their_index_rows(store: Store) -> None:
    store.add_mentions(make(100))

    def index_rows(table: str) -> list[tuple[float, int]]:
        rows = store._db.execute(f"SELECT received_at, mention FROM {table}").fetchall()
        return [(at, rid) for at, rid in rows]

    assert store.prune(T0 + 40, chunk=7) == 40
    assert store.stats()["mentions"] == 60
    left = flat(store.iter_mentions(since=None, until=None))
    assert [m.received_at for m in left] == [T0 + i for i in range(40, 100)]
    live = {rid for (rid,) in store._db.execute("SELECT rowid FROM mentions")}
    for table in ("mention_brands", "mention_terms"):
        rows = index_rows(table)
        assert rows, table
        assert all(at >= T0 + 40 and rid in live for at, rid in rows), table
    assert store._db.execute("SELECT count(*) FROM mention_terms").fetchone()[0] == 30
    assert store.prune(T0 + 40) == 0
    # A pruned id can come back (it is older than the dedupe horizon by then).
    assert store.add_mentions(make(1)) == [True]


def test_only_hashtags_go_to_the_term_index(store: Store) -> None:
    store.add_mentions(make(4))
    terms = store._db.execute("SELECT DISTINCT term FROM mention_terms").fetchall()
    assert terms == [("#aero",)]


def incident(status: str = "open", **kw: object) -> Incident:
    fields: dict[str, object] = {
        "id": "inc-1-northwind",
        "title": "Northwind negative surge",
        "brand": "Northwind",
        "kind": "negative",
        "severity": "warning",
        "status": status,
        "started_at": T0,
        "updated_at": T0,
        "history": [IncidentAction(action="opened", at=T0)],
    }
    fields.update(kw)
    return Incident(**fields)  # type: ignore[arg-type]


def test_incidents_their_history_and_notifications(store: Store) -> None:
    first = incident()
    store.put_incident(IncidentEvent(change="opened", incident=first))
    acked = incident(
        "acknowledged",
        severity="critical",
        acked_by="alice",
        acked_at=T0 + 30,
        updated_at=T0 + 30,
        history=[*first.history, IncidentAction(action="acknowledged", at=T0 + 30, by="alice")],
    )
    store.put_incident(IncidentEvent(change="acknowledged", incident=acked))
    # New numbers only: the row changes, the history does not grow.
    store.put_incident(IncidentEvent(change="updated", incident=acked))
    got = store.incident("inc-1-northwind")
    assert got is not None and got.acked_by == "alice" and got.severity == "critical"
    assert store.incident_history("inc-1-northwind") == [
        (T0, "opened", "", ""),
        (T0 + 30, "acknowledged", "alice", ""),
    ]
    assert [i.id for i in store.incidents(unresolved=True)] == ["inc-1-northwind"]
    assert store.incidents(since=T0 + 1) == []
    # What a restarting hub takes back: unresolved ones and recently resolved ones.
    old = incident("resolved", id="inc-0-contoso", brand="Contoso", updated_at=T0 - 7200)
    store.put_incident(IncidentEvent(change="resolved", incident=old))
    assert [i.id for i in store.incidents_to_restore(T0 + 60)] == ["inc-1-northwind"]
    assert len(store.incidents_to_restore(T0 - 7000)) == 2
    store.add_notification(
        "inc-1-northwind", "ops", "opened", at=T0 + 1, attempts=3, outcome="delivered"
    )
    assert store.notifications("inc-1-northwind") == [
        {
            "incident_id": "inc-1-northwind",
            "channel": "ops",
            "change": "opened",
            "at": T0 + 1,
            "attempts": 3,
            "outcome": "delivered",
            "reason": "",
        }
    ]
    assert store.stats()["incidents"] == 2


def test_triage_dead_letters_and_stats(store: Store) -> None:
    first = store.add_triage_action("demo:1", "label", label="bug", actor="ana", at=T0)
    second = store.add_triage_action("demo:1", "resolve")
    assert second > first
    store.add_dead_letters([DeadLetter(T0, "demo", "malformed", b"\xff{not json")])
    payload = store._db.execute("SELECT payload FROM dead_letters").fetchone()[0]
    assert payload == b"\xff{not json"
    store.add_mentions(make(3))
    stats = store.stats()
    assert stats["mentions"] == 3
    assert stats["incidents"] == 0
    assert stats["dead_letters"] == 1
    assert stats["triage_actions"] == 2
    assert stats["file_bytes"] > 0


def test_older_schema_version_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    Store(path).close()
    # Pretend to be a release that expects the next version and has no migration.
    nxt = SCHEMA_VERSION + 1
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", nxt)
    with pytest.raises(
        StoreError, match=rf"old\.db: store schema version {SCHEMA_VERSION} is older than {nxt}"
    ):
        Store(path)
    # With a migration, the file is upgraded in place.
    monkeypatch.setitem(
        store_module._MIGRATIONS, SCHEMA_VERSION, "ALTER TABLE incidents ADD COLUMN note TEXT"
    )
    with Store(path) as s:
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == nxt
        s._db.execute("SELECT note FROM incidents").fetchall()


def test_a_version_1_store_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with Store(path) as s:
        s.add_mentions(make(5))
    with sqlite3.connect(path) as db:  # what version 1 looked like
        db.execute("DROP TABLE briefings")  # v6's briefings
        db.execute("DROP INDEX mentions_copy_of")  # v5's search and history
        db.execute("DROP TRIGGER brand_hours_sentiment")
        for table in ("mentions_fts", "brand_hours", "mention_hours"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP INDEX mentions_review")  # v3's triage columns and index
        for column in ("category", "category_confidence", "needs_review", "flags", "copy_of"):
            db.execute(f"ALTER TABLE mentions DROP COLUMN {column}")
        db.execute("DROP TABLE mention_authors")
        db.execute("DROP TABLE store_meta")
        for table in ("incidents", "incident_actions", "notifications", "detector_state"):
            db.execute(f"DROP TABLE {table}")
        db.execute(  # v1 had the alerts table, which v4 keeps
            "CREATE TABLE alerts (id TEXT PRIMARY KEY, kind TEXT NOT NULL, series TEXT NOT NULL,"
            " severity TEXT NOT NULL, started_at REAL NOT NULL, updated_at REAL NOT NULL,"
            " ended_at REAL, alert TEXT NOT NULL)"
        )
        db.execute("CREATE INDEX mentions_created_at ON mentions (created_at)")
        db.execute("CREATE INDEX mentions_author_created ON mentions (author, created_at)")
        db.execute("DROP INDEX mentions_source_received")
        db.execute("CREATE INDEX mentions_source_created ON mentions (source, created_at)")
        db.execute("PRAGMA user_version = 1")
    with Store(path) as s:
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in s._db.execute("SELECT name FROM sqlite_schema")}
        assert {"mentions_created_at", "mentions_author_created"}.isdisjoint(names)
        assert {"mentions_source_received", "mentions_review", "incidents", "alerts"} <= names
        assert {"mentions_fts", "brand_hours", "mention_hours", "mentions_copy_of"} <= names
        assert "briefings" in names
        assert s.stats()["mentions"] == 5
        # The old rows' authors were indexed by the migration.
        assert s.index_authors() == 0
        assert len(flat(s.iter_mentions(since=None, until=None, author="user3"))) == 1


def test_newer_schema_version_and_foreign_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=rf"new\.db.*version {SCHEMA_VERSION + 1} is newer"):
        Store(path)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE x (y)")
    with pytest.raises(StoreError, match="not a Ground Control store"):
        Store(foreign)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        Store(junk)
    with pytest.raises(StoreError, match="no such store file"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_reader_iterates_while_the_writer_inserts(tmp_path: Path) -> None:
    path = tmp_path / "gc.db"
    writer = Store(path)
    writer.add_mentions(make(2000))
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for k in range(1, 30):
                writer.add_mentions(make(200, start=T0 + 10_000 * k))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=write)
    seen = 0
    with Store(path, create=False) as reader:
        thread.start()
        previous = float("-inf")
        for chunk in reader.iter_mentions(since=None, until=None, chunk=100):
            for m in chunk:
                assert m.received_at >= previous
                previous = m.received_at
            seen += len(chunk)
    thread.join()
    writer.close()
    assert not errors
    assert 2000 <= seen <= 2000 + 29 * 200
