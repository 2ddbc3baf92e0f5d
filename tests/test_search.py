"""Search: the syntax, the full-text index (in step with every change, and finding at
least what the query language matches), the v4 -> v5 migration, pages and cursors,
GET /mentions on a real hub, and ``groundcontrol search``."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import shutil
import sqlite3
import unicodedata
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import msgspec
import pytest

from groundcontrol.cli.main import main as cli_main
from groundcontrol.cli.review import display_width
from groundcontrol.cli.search import format_page
from groundcontrol.hub.auth import Role
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from groundcontrol.query import (
    FIELDS,
    QuerySyntaxError,
    Raw,
    Search,
    parse_search,
    parse_when,
)
from groundcontrol.store import database
from groundcontrol.store import search as searching
from groundcontrol.store.database import SCHEMA_VERSION, MigrationProgress, Store, index_text
from groundcontrol.store.search import decode_cursor, encode_cursor, fts_expression
from groundcontrol.text import tokenize
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, auth, tokens

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def mention(
    i: int,
    text: str,
    *,
    at: float | None = None,
    brands: Iterable[str] = (),
    source: str = "x",
    author: str | None = None,
    lang: str = "en",
    sentiment: str = "neutral",
    category: str = "",
    flags: Iterable[str] = (),
) -> Mention:
    """A mention as the hub stores it (enriched), received at ``at``."""
    return Mention(
        source=source,
        source_id=str(i),
        id=f"{source}:{i}",
        text=text,
        created_at=datetime.fromtimestamp(at or T0 + i, UTC),
        received_at=at if at is not None else T0 + i,
        author=author if author is not None else f"@user{i % 7}",
        lang=lang,
        sentiment_label=sentiment,  # type: ignore[arg-type]
        brands=list(brands),
        category=category,
        flags=list(flags),
    )


def fresh(tmp_path: Path, name: str = "gc.db") -> Store:
    return Store(tmp_path / name)


def fts_ok(store: Store) -> None:
    """The full-text index is sound and holds exactly, token for token and position for
    position, what a new index of the stored mentions' texts would."""
    db = store._db
    db.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('integrity-check')")
    (ddl,) = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'mentions_fts'").fetchone()
    want = sqlite3.connect(":memory:")
    want.execute(ddl)
    want.executemany(
        "INSERT INTO mentions_fts (rowid, text) VALUES (?, ?)",
        [
            (rowid, index_text(text))
            for rowid, text in db.execute("SELECT rowid, text FROM mentions")
        ],
    )
    vocab = "CREATE VIRTUAL TABLE temp.fts_words USING fts5vocab(main, mentions_fts, instance)"
    listing = "SELECT term, doc, col, offset FROM temp.fts_words ORDER BY 1, 2, 3, 4"
    want.execute(vocab)
    db.execute(vocab)
    try:
        assert db.execute(listing).fetchall() == want.execute(listing).fetchall()
    finally:
        db.execute("DROP TABLE temp.fts_words")
        want.close()


def fts_ids(store: Store, expression: str) -> set[str]:
    rows = store._db.execute(
        "SELECT m.id FROM mentions_fts f JOIN mentions m ON m.rowid = f.rowid"
        " WHERE mentions_fts MATCH ?",
        (expression,),
    )
    return {r[0] for r in rows}


def every_page(
    store: Store, text: str, *, since: float | None = None, until: float | None = None, **kw: int
) -> tuple[list[str], int]:
    """The ids a search finds following its cursors to the end, and the pages it took."""
    s = parse_search(text)
    limit = kw.pop("limit", 7)
    found: list[str] = []
    cursor: str | None = None
    for pages in itertools.count(1):
        items, cursor, _scanned = store.search(
            s, since=since, until=until, before=cursor, limit=limit, **kw
        )
        found += [m.id for m in items]
        if cursor is None:
            return found, pages
        assert pages < 10_000, "the cursors never end"
    raise AssertionError  # pragma: no cover


def expected(
    mentions: list[Mention], text: str, since: float | None = None, until: float | None = None
) -> list[str]:
    """The ids a search should find, newest first (received_at, then insertion order)."""
    s = parse_search(text)
    order = {m.id: n for n, m in enumerate(mentions)}
    hits = [
        m
        for m in mentions
        if s.matches(m)
        and (since is None or m.received_at >= since)
        and (until is None or m.received_at < until)
    ]
    hits.sort(key=lambda m: (m.received_at, order[m.id]), reverse=True)
    return [m.id for m in hits]


# --------------------------------------------------------------------------- syntax


def test_fields_are_read_off_the_search_and_the_rest_is_the_text_query() -> None:
    s = parse_search('Brand:NorthWind battery author:"Jane Doe" -charger lang:DE source:X')
    assert s.brands == ("northwind",) and s.sources == ("x",) and s.langs == ("de",)
    assert s.authors == ("Jane Doe",)  # authors keep their case
    assert s.text is not None and str(s.text) == "(battery AND NOT charger)"
    assert str(s) == 'brand:northwind source:x author:"Jane Doe" lang:de battery NOT charger'
    # The same field twice, or ORed with itself, means either value.
    assert parse_search("brand:a brand:B").brands == ("a", "b")
    assert parse_search("brand:a OR brand:b x").brands == ("a", "b")
    assert parse_search("sentiment:Negative class:support flag:quiet").sentiments == ("negative",)
    # ANDs around a field are the field's own; a word ending in ":" is still a word,
    # and a link is not a field.
    assert str(parse_search("a AND brand:x AND b")) == "brand:x a b"
    assert str(parse_search("update: firmware")) == "update firmware"
    assert isinstance(parse_search("https://example.com/x").text.root, Raw)  # type: ignore[union-attr]
    assert parse_search("").empty and parse_search("   ").text is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colour:red", "unknown field 'colour:' (known: " + ", ".join(f + ":" for f in FIELDS)),
        ("brand:", "expected a value after 'brand:'"),
        ('author:""', "expected a value after 'author:'"),
        ("(brand:x a)", "put it outside parentheses"),
        ("-brand:x", "cannot be negated"),
        ("NOT lang:en", "cannot be negated"),
        ("a OR brand:x", "can only be ORed with another brand: value"),
        ("brand:x OR source:y", "can only be ORed with another brand: value"),
        ("sentiment:meh", "sentiment: must be one of positive, neutral, negative"),
        ("class:complaint", "class: must be one of support, sales"),
        ("lang:english", "lang: expected a 2- or 3-letter code"),
        ("source:X!", "source: expected a source name"),
        ('brand:x "open', "unclosed quote"),
        ("brand:x (a", "unclosed parenthesis"),
    ],
)
def test_bad_searches_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        parse_search(text)
    assert problem in str(err.value)


def test_the_canonical_form_reads_back_as_the_same_search() -> None:
    for text in [
        "brand:a OR brand:b (x OR y) z",
        'author:"Jane Doe" "aero 14" batter* #aerogate @support',
        "a OR b",
        "NOT x",
        'flag:"posted during a quiet period" ":-("',
        "source:reddit lang:de sentiment:positive class:praise",
        "wi-fi 🎉",
    ]:
        s = parse_search(text)
        again = parse_search(str(s))
        assert again == s and str(again) == str(s), text


def test_a_search_matches_a_mention_on_every_field_and_its_text() -> None:
    m = mention(
        1,
        "My Aero 14 battery died #AeroGate",
        brands=["Northwind"],
        source="reddit",
        author="u/Jane",
        lang="en",
        sentiment="negative",
        category="product_problem",
        flags=["posted during a quiet period"],
    )
    for yes in [
        "",
        "brand:NORTHWIND",
        "brand:contoso brand:northwind",
        "source:Reddit author:u/Jane lang:en sentiment:negative class:product_problem",
        'flag:"posted during a quiet period" battery',
        '"aero 14" #aerogate -charger',
    ]:
        assert parse_search(yes).matches(m), yes
    for no in [
        "brand:contoso",
        "author:u/jane",  # case counts for authors
        "source:x",
        "lang:de",
        "sentiment:positive",
        "class:praise",
        "flag:quiet",
        "battery -died",
    ]:
        assert not parse_search(no).matches(m), no


def test_times_are_unix_seconds_iso_or_a_duration_ago() -> None:
    assert parse_when("1767225600") == T0
    assert parse_when("2026-01-01T00:00:00Z") == T0
    assert parse_when("2026-01-01") == T0  # UTC without an offset
    assert parse_when("2026-01-01T01:00:00+01:00") == T0
    assert parse_when("90s", now=T0) == T0 - 90
    assert parse_when("15m", now=T0) == T0 - 900
    assert parse_when("2h", now=T0) == T0 - 7200
    assert parse_when("7d", now=T0) == T0 - 7 * 86400
    for bad in ("yesterday", "2h ago", "-5m", "", "1e9"):
        with pytest.raises(ValueError, match="bad time"):
            parse_when(bad)


def test_cursors_round_trip_and_bad_ones_are_refused() -> None:
    key = (1767225600.123456, 42)
    assert decode_cursor(encode_cursor(key)) == key
    for bad in ("", "42", "abc/1", "1.5/x", "nan/3", "inf/3"):
        with pytest.raises(ValueError, match="bad cursor"):
            decode_cursor(bad)


# --------------------------------------------------------------------------- FTS


def test_the_fts_translation_keeps_what_it_can_and_drops_what_it_cannot() -> None:
    def fts(text: str) -> str | None:
        s = parse_search(text)
        assert s.text is not None
        return fts_expression(s.text.root)

    assert fts("battery") == '("battery" OR "#battery")'
    assert fts("#aerogate") == '"#aerogate"'
    assert fts("@support") == '"@support"'
    assert fts("batter*") == '("batter" * OR "#batter" *)'
    assert fts("a*") is None  # too short a prefix: checked in order instead
    assert fts('"aero #14"') == '"aero #14"'
    assert fts("a -b") == '(("a" OR "#a"))'
    assert fts("NOT b") is None
    assert fts("🎉") is None
    assert fts("a OR 🎉") is None  # one unconstrained alternative frees the OR
    assert fts("a 🎉") == '(("a" OR "#a"))'


#: Texts that probe where the full-text tokenizer and groundcontrol.text could differ.
TRICKY = [
    "My Aero-14's battery died!! #AeroGate @Northwind_Help",
    "über straße STRASSE Ωmega ΟΔΟΣ οδός café CAFÉ naïve",
    unicodedata.normalize("NFD", "über café naïve Ærø"),
    "日本語のテキスト 中文 한국어 हिन्दी भाषा ไทย",
    'x_y snake_case #Hash_Tag @handle.name a@b.com c# c++ 3.5mm 14"',
    "emoji 🎉🔥 party🎉time :-) ¯\\_(ツ)_/¯ ‼ — –",
    "ﬁne ﬂow ǅemal ǈ Ⅻ ² ½ ①",
    "zero\u200bwidth soft\u00adhyphen nbsp\u00a0here tab\there",
    "a #a #b b aero #14 14 aero",
    "see the docs https://t.co/abc?x=1",
]


def _queries(rng: random.Random, texts: list[str]) -> list[str]:
    """Queries made of the texts' own tokens: words, hashtags, prefixes, phrases, and
    AND / OR / NOT over them."""
    tokens = sorted({t for text in texts for t in tokenize(text) if t.strip("#@")})
    out: list[str] = []
    for t in tokens:
        out.append(t)
        if t[0] in "#@" and t[1:].strip("#@"):
            out.append(t[1:])
        bare = t.lstrip("#@")
        if len(bare) >= 3 and bare.isalnum():
            out.append(t[: len(t) - len(bare) + rng.randint(2, len(bare))] + "*")
    for text in texts:
        toks = tokenize(text)
        for i in range(len(toks) - 1):
            out.append('"' + " ".join(toks[i : i + 2 + (i % 2)]) + '"')
    singles = [q for q in out if q[0] not in "\"'"]
    for _ in range(200):
        a, b, c = rng.sample(singles, 3)
        out.append(rng.choice([f"{a} {b}", f"{a} OR {b}", f"({a} OR {b}) -{c}", f"{a} NOT {b}"]))
    return out


def test_the_index_finds_at_least_what_the_query_language_matches(tmp_path: Path) -> None:
    rng = random.Random(5)
    from feeds.demo import DemoStream

    demo = [m.text for m in DemoStream(seed=3, rate=50, start=T0).between(T0, T0 + 20)]
    texts = TRICKY + demo
    store = fresh(tmp_path)
    mentions = [mention(i, text) for i, text in enumerate(texts)]
    store.write(mentions)
    queries = _queries(rng, TRICKY) + _queries(rng, demo[:40])
    checked = 0
    for q in queries:
        try:
            s = parse_search(q)
        except QuerySyntaxError:
            continue
        assert s.text is not None
        want = {m.id for m in mentions if s.matches(m)}
        expression = fts_expression(s.text.root)
        if expression is None:
            continue
        got = fts_ids(store, expression)
        # Links are the known gap (see store/search.py): not in these phrases.
        missing = want - got
        assert not missing, (q, expression, [texts[int(i.split(":")[1])] for i in missing])
        checked += 1
    assert checked > 300


def test_the_index_follows_inserts_edits_and_deletions(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    store.write([mention(1, "the battery died"), mention(2, "screen flicker"), mention(3, "fine")])
    fts_ok(store)
    assert fts_ids(store, '"battery"') == {"x:1"}
    # A source's edit replaces the text: the old words are gone, the new ones found.
    store.write(edits=[mention(1, "the charger died"), mention(3, "Flicker gone 🤦")])
    fts_ok(store)
    assert fts_ids(store, '"battery"') == set() and fts_ids(store, '"charger"') == {"x:1"}
    assert fts_ids(store, '"flicker"') == {"x:2", "x:3"}
    store.write(edits=[mention(3, "Flicker gone 🤦")])  # the same text again: no change
    fts_ok(store)
    # A retraction, then the retention policy.
    store.write(deleted=["x:2"])
    fts_ok(store)
    assert fts_ids(store, '"flicker"') == {"x:3"}
    assert store.prune(T0 + 2) == 1  # x:1, received at T0 + 1
    fts_ok(store)
    assert fts_ids(store, '"charger"') == set()
    assert [m.id for m in store.search(parse_search("flicker"), since=None, until=None)[0]] == [
        "x:3"
    ]


# --------------------------------------------------------------------------- migration

#: The v4 schema (groundcontrol 0.x before issue 13), as a v4 hub created it.
V4_SCHEMA = """
CREATE TABLE mentions (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
    source_id TEXT NOT NULL, created_at REAL NOT NULL, received_at REAL NOT NULL,
    author TEXT NOT NULL, author_reach INTEGER NOT NULL, lang TEXT NOT NULL,
    text TEXT NOT NULL, url TEXT NOT NULL, sentiment REAL NOT NULL,
    sentiment_label TEXT NOT NULL, likes INTEGER NOT NULL, reposts INTEGER NOT NULL,
    replies INTEGER NOT NULL, quotes INTEGER NOT NULL, brands TEXT NOT NULL,
    queries TEXT NOT NULL, terms TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    category_confidence REAL NOT NULL DEFAULT 0, needs_review INTEGER NOT NULL DEFAULT 0,
    flags TEXT NOT NULL DEFAULT '', copy_of TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mentions_received_at ON mentions (received_at);
CREATE INDEX mentions_source_received ON mentions (source, received_at);
CREATE INDEX mentions_review ON mentions (received_at, id, needs_review) WHERE needs_review = 1;
CREATE TABLE mention_brands (brand TEXT NOT NULL, received_at REAL NOT NULL,
    mention INTEGER NOT NULL, PRIMARY KEY (brand, received_at, mention)) WITHOUT ROWID;
CREATE TABLE mention_terms (term TEXT NOT NULL, received_at REAL NOT NULL,
    mention INTEGER NOT NULL, PRIMARY KEY (term, received_at, mention)) WITHOUT ROWID;
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
CREATE TABLE incidents (id TEXT PRIMARY KEY, brand TEXT NOT NULL, kind TEXT NOT NULL,
    severity TEXT NOT NULL, status TEXT NOT NULL, started_at REAL NOT NULL,
    updated_at REAL NOT NULL, ended_at REAL, incident TEXT NOT NULL);
CREATE INDEX incidents_started_at ON incidents (started_at);
CREATE INDEX incidents_status ON incidents (status, started_at);
CREATE TABLE incident_actions (id INTEGER PRIMARY KEY, incident_id TEXT NOT NULL,
    action TEXT NOT NULL, actor TEXT NOT NULL, at REAL NOT NULL, detail TEXT NOT NULL);
CREATE INDEX incident_actions_incident ON incident_actions (incident_id, at);
CREATE TABLE notifications (id INTEGER PRIMARY KEY, incident_id TEXT NOT NULL,
    channel TEXT NOT NULL, change TEXT NOT NULL, at REAL NOT NULL, attempts INTEGER NOT NULL,
    outcome TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX notifications_incident ON notifications (incident_id, at);
CREATE TABLE detector_state (series TEXT PRIMARY KEY, saved_at REAL NOT NULL,
    state TEXT NOT NULL);
INSERT INTO store_meta VALUES ('authors_indexed_rowid', 0);
PRAGMA user_version = 4;
"""

MIGRATED = [
    mention(i, f"post {i} about the {'battery' if i % 3 else 'screen'}", brands=["Northwind"])
    for i in range(1, 41)
]


def v4_store(tmp_path: Path) -> Path:
    """A v4 store holding MIGRATED, its rows copied from a store that wrote them."""
    source = fresh(tmp_path, "source.db")
    source.write(MIGRATED)
    source.index_authors()
    source.close()
    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as db:
        db.executescript(V4_SCHEMA)
        db.execute("ATTACH ? AS src", (str(tmp_path / "source.db"),))
        for table in ("mentions", "mention_brands", "mention_terms", "mention_authors"):
            db.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
        db.execute("UPDATE store_meta SET value = 40")
        db.commit()
        db.execute("DETACH src")
    return path


def test_a_v4_store_is_upgraded_with_its_progress_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = v4_store(tmp_path)
    monkeypatch.setattr(database, "MIGRATION_CHUNK", 8)
    reports: list[tuple[str, int, int]] = []
    store = Store(path, progress=lambda *r: reports.append(r))
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert reports[0] == ("search index", 0, 40) and reports[-1] == ("search index", 40, 40)
    assert len(reports) == 6  # the start, then one per chunk of 8
    fts_ok(store)
    found, _ = every_page(store, "battery")
    assert found == expected(MIGRATED, "battery") and len(found) == 27
    assert sum(r.mentions for r in store.history("day", T0, T0 + 86400)) == 40
    # The migrated store takes new mentions as a new one does.
    store.write([mention(99, "battery again", brands=["Northwind"])])
    assert every_page(store, "battery")[0][0] == "x:99"


def test_a_failed_upgrade_leaves_a_usable_v4_store(tmp_path: Path) -> None:
    path = v4_store(tmp_path)

    def fail(stage: str, done: int, total: int) -> None:
        if done:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        Store(path, progress=fail)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_schema")}
        assert "mentions_fts" not in tables and "brand_hours" not in tables
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 40
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(path)  # and the next open upgrades it
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert len(every_page(store, "screen")[0]) == 13


async def test_the_hub_and_export_upgrade_an_old_store_saying_so_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = v4_store(tmp_path)
    shutil.copy(path, tmp_path / "v4-copy.db")
    _h, runner, port = await start_hub(small_config(), port=0, store_path=path)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/mentions", params={"q": "screen"}) as resp,
        ):
            body = await resp.json()
    finally:
        await runner.cleanup()
    assert len(body["items"]) == 13
    err = capsys.readouterr().err
    assert "upgrading store to v6: search index 40 / 40 (100%)" in err
    out = tmp_path / "out.ndjson"
    argv = ["export", "--db", str(tmp_path / "v4-copy.db"), "--out", str(out)]
    assert await asyncio.to_thread(cli_main, argv) == 0
    assert "upgrading store to v6: search index 40 / 40 (100%)" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 40


def test_an_index_of_another_tokenization_is_rebuilt_on_open(tmp_path: Path) -> None:
    store = fresh(tmp_path)
    store.write(MIGRATED)
    # As if text.py (or Python's Unicode tables) had cut the words differently.
    store._db.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('delete-all')")
    store._db.execute("INSERT INTO mentions_fts (rowid, text) VALUES (1, 'stale words')")
    store._db.execute("UPDATE store_meta SET value = 1 WHERE key = 'search_index_version'")
    store.close()
    reports: list[tuple[str, int, int]] = []
    store = Store(tmp_path / "gc.db", progress=lambda *r: reports.append(r))
    assert reports[-1] == ("search index", 40, 40)
    fts_ok(store)
    assert len(every_page(store, "battery")[0]) == 27 and not fts_ids(store, '"stale"')
    store.close()
    reports.clear()
    Store(tmp_path / "gc.db", progress=lambda *r: reports.append(r)).close()
    assert reports == []  # once is enough


def test_progress_is_printed_as_a_line_a_person_can_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = MigrationProgress(interval=3600)
    p("search index", 0, 1_000_000)
    p("search index", 420_000, 1_000_000)  # within the interval: not printed
    p("search index", 1_000_000, 1_000_000)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "upgrading store to v6: search index 0 / 1,000,000 (0%)",
        "upgrading store to v6: search index 1,000,000 / 1,000,000 (100%)",
    ]


# --------------------------------------------------------------------------- pages

WORDS = ["battery", "screen", "charger", "hinge", "fan", "keyboard", "support", "refund"]


def corpus(n: int = 600, seed: int = 1) -> list[Mention]:
    """Mentions with every field varied, received out of order now and then (as a
    feed's spool delivers them late), some at the same instant."""
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        words = [*rng.sample(WORDS, 3), rng.choice(["#aerogate", "@help", "ok", "Über"])]
        late = rng.random() < 0.1
        at = T0 + i * 60 - (rng.uniform(0, 7200) if late else 0)
        if i % 50 == 0:
            at = out[-1].received_at  # the same instant as the one before
        out.append(
            mention(
                i,
                " ".join(words),
                at=at,
                brands=rng.sample(["Northwind", "Contoso", "Fabrikam"], rng.randint(0, 2)),
                source=rng.choice(["x", "reddit", "bluesky"]),
                author=f"@a{rng.randint(0, 30)}",
                lang=rng.choice(["en", "de"]),
                sentiment=rng.choice(["positive", "neutral", "negative"]),
                category=rng.choice(["support", "praise", ""]),
            )
        )
    return out


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[Mention]]:
    mentions = corpus()
    store = Store(tmp_path_factory.mktemp("stocked") / "gc.db")
    for i in range(0, len(mentions), 100):
        store.write(mentions[i : i + 100])
    store.index_authors(500)  # the newest authors stay unindexed: the tail is searched too
    return store, mentions


@pytest.mark.parametrize(
    "text",
    [
        "",
        "battery",
        "battery charger",
        "battery OR refund",
        '"battery screen"',
        "batt*",
        "#aerogate",
        "aerogate",
        "über",
        "-battery",
        "brand:northwind",
        "brand:CONTOSO brand:fabrikam",
        "brand:northwind refund",
        "source:reddit",
        "source:reddit hinge",
        "author:@a3",
        "author:@a3 author:@a7 battery",
        "lang:de sentiment:negative",
        "class:support brand:contoso -fan",
        "brand:nobody",
    ],
)
def test_every_page_in_order_finds_exactly_what_the_search_matches(
    stocked: tuple[Store, list[Mention]], text: str
) -> None:
    store, mentions = stocked
    found, _pages = every_page(store, text)
    assert found == expected(mentions, text)
    since, until = T0 + 6000, T0 + 20000
    found, _pages = every_page(store, text, since=since, until=until)
    assert found == expected(mentions, text, since, until)


def test_a_page_stops_when_its_work_is_done_and_its_cursor_goes_on(
    stocked: tuple[Store, list[Mention]],
) -> None:
    store, mentions = stocked
    s = parse_search("NOT battery")  # no index can help: each mention is checked
    items, cursor, scanned = store.search(s, since=None, until=None, limit=50, max_scan=40)
    assert scanned == 40 and cursor is not None and len(items) < 40
    # Tiny budgets make many short pages that add up to the whole answer.
    found, pages = every_page(store, "NOT battery", max_scan=40, limit=50)
    assert found == expected(mentions, "NOT battery") and pages >= len(mentions) // 40
    # A page that has spent its time returns what it has and where it stopped.
    items, cursor, scanned = store.search(s, since=None, until=None, seconds=0.0)
    assert cursor is not None and 1 <= scanned < len(mentions)


def test_a_search_the_index_cannot_take_is_answered_without_it(
    stocked: tuple[Store, list[Mention]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, mentions = stocked
    monkeypatch.setattr(searching, "fts_expression", lambda node: '"battery" AND')
    found, _pages = every_page(store, "battery refund")
    assert found == expected(mentions, "battery refund")


def test_pages_never_repeat_or_skip_a_mention_received_at_the_same_instant(
    tmp_path: Path,
) -> None:
    store = fresh(tmp_path)
    same = [mention(i, "battery", at=T0) for i in range(1, 31)]
    store.write(same)
    found, pages = every_page(store, "battery", limit=4)
    assert found == [f"x:{i}" for i in range(30, 0, -1)] and pages == 8


def test_limits_and_bad_cursors_are_refused(stocked: tuple[Store, list[Mention]]) -> None:
    store, _ = stocked
    with pytest.raises(ValueError, match="limit"):
        store.search(Search(), since=None, until=None, limit=0)
    with pytest.raises(ValueError, match="bad cursor"):
        store.search(Search(), since=None, until=None, before="yesterday")


def test_the_table_fits_the_terminal() -> None:
    items = [
        mention(1, "Mein Akku ist kaputt " * 10, brands=["Northwind"], sentiment="negative"),
        mention(2, "wide 日本語 text " * 8, author="@" + "x" * 40, source="bluesky"),
    ]
    for width in (60, 80, 120):
        lines = format_page(items, width=width).splitlines()
        assert len(lines) == 3
        assert all(display_width(line) <= width for line in lines)
    assert "Northwind" in format_page(items, width=120) and "-" in format_page(items, width=120)
    assert format_page([], width=80) == "No mentions.\n"


# --------------------------------------------------------------------------- HTTP


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    path = tmp_path / "gc.db"
    store = Store(path)
    store.write(corpus(200))
    store.close()
    h, runner, port = await start_hub(small_config(), port=0, tokens=tokens(), store_path=path)
    yield h, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def get(base: str, path: str, role: Role = Role.ANALYST, **params: str) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(base + path, params=params, headers=auth(role)) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def test_get_mentions_pages_through_a_search(hub: tuple[Hub, str]) -> None:
    _h, base = hub
    mentions = corpus(200)
    want = expected(mentions, "brand:northwind battery")
    seen: list[str] = []
    params = {"q": "Brand:Northwind  battery", "limit": "9"}
    while True:
        status, body = await get(base, "/mentions", **params)
        assert status == 200 and isinstance(body, dict), body
        assert body["query"] == "brand:northwind battery"
        assert body["since"] is None and body["until"] is None
        assert body["scanned"] >= len(body["items"]) and body["took_ms"] >= 0
        for item in body["items"]:
            # The whole stored mention, as msgspec writes a Mention.
            m = next(m for m in mentions if m.id == item["id"])
            assert msgspec.convert(item, Mention) == m
        seen += [item["id"] for item in body["items"]]
        if body["next"] is None:
            break
        params["before"] = body["next"]
    assert seen == want


async def test_get_mentions_takes_times_in_three_forms(hub: tuple[Hub, str]) -> None:
    h, base = hub
    mentions = corpus(200)
    since, until = T0 + 3000, T0 + 6000
    iso = datetime.fromtimestamp(until, UTC).isoformat()
    status, body = await get(
        base, "/mentions", q="", since=str(since), until=iso.replace("+00:00", "Z"), limit="200"
    )
    assert status == 200 and isinstance(body, dict)
    assert (body["since"], body["until"]) == (since, until)
    assert [i["id"] for i in body["items"]] == expected(mentions, "", since, until)
    h.search.clock = lambda: T0 + 200 * 60  # "now": the newest mention's minute
    status, body = await get(base, "/mentions", since="30m", limit="200")
    assert status == 200 and isinstance(body, dict)
    assert body["since"] == T0 + 170 * 60
    assert [i["id"] for i in body["items"]] == expected(mentions, "", T0 + 170 * 60)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"q": "colour:red"}, "bad search: unknown field 'colour:'"),
        ({"q": '"open'}, "bad search: unclosed quote at position 1"),
        ({"since": "yesterday"}, "bad search: since: bad time 'yesterday'"),
        ({"since": "1h", "until": "2h"}, "bad search: since must be before until"),
        ({"limit": "0"}, "bad search: limit must be a whole number from 1 to 200"),
        ({"limit": "201"}, "bad search: limit must be a whole number from 1 to 200"),
        ({"before": "x"}, "bad search: bad cursor 'x'"),
        ({"page": "2"}, "bad search: unknown parameter 'page'"),
        ({"q": "a\x1bb"}, "bad search: control characters in q"),
    ],
)
async def test_bad_searches_are_400_with_the_reason(
    hub: tuple[Hub, str], params: dict[str, str], reason: str
) -> None:
    _h, base = hub
    status, body = await get(base, "/mentions", **params)
    assert status == 400 and isinstance(body, str) and body.startswith(reason), body


async def test_search_needs_an_analyst_token_and_a_store(
    hub: tuple[Hub, str], tmp_path: Path
) -> None:
    _h, base = hub
    assert (await get(base, "/mentions", Role.DISPLAY))[0] == 403
    assert (await get(base, "/mentions", Role.ADMIN))[0] == 200
    _h2, runner, port = await start_hub(small_config(), port=0, tokens=tokens())
    try:
        status, body = await get(f"http://127.0.0.1:{port}", "/mentions", q="battery")
    finally:
        await runner.cleanup()
    assert status == 503 and "without a store" in str(body)


async def test_mentions_that_arrive_over_ingest_can_be_searched(tmp_path: Path) -> None:
    from tests.test_hub import batch, reply
    from tests.test_hub import feed as connect_feed
    from tests.test_hub import mention as raw_mention

    _h, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    try:
        ws = await connect_feed(f"ws://127.0.0.1:{port}")
        await ws.send(
            batch(1, [raw_mention(1), raw_mention(2, text="Contoso Nimbus hinge cracked")])
        )
        await reply(ws)  # acked: committed
        await ws.close()
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/mentions"
            async with http.get(url, params={"q": "brand:contoso hinge"}) as resp:
                body = await resp.json()
    finally:
        await runner.cleanup()
    assert [i["id"] for i in body["items"]] == ["x:2"]


async def test_the_command_line_searches_and_says_how_to_go_on(
    hub: tuple[Hub, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _h, base = hub
    hub_url = base.replace("http://", "ws://")
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.ANALYST])
    argv = ["search", "brand:northwind", "battery", "--limit", "3", "--hub", hub_url]
    assert await asyncio.to_thread(cli_main, argv) == 0
    out = capsys.readouterr().out
    want = expected(corpus(200), "brand:northwind battery")
    assert out.count("\n") == 1 + 3 + 2 and "3 mentions" in out
    more = out.splitlines()[-1]
    assert more.startswith("more: groundcontrol search 'brand:northwind battery' --hub")
    cursor = more.split("--before ")[1]
    assert await asyncio.to_thread(cli_main, [*argv, "--json", "--before", cursor]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in page["items"]] == want[3:6]
    assert await asyncio.to_thread(cli_main, ["search", "colour:red", "--hub", hub_url]) == 2
    assert "HTTP 400: bad search: unknown field 'colour:'" in capsys.readouterr().err
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.DISPLAY])
    assert await asyncio.to_thread(cli_main, ["search", "--hub", hub_url]) == 2
    assert "HTTP 403" in capsys.readouterr().err


def test_search_help_explains_the_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["search", "--help"])
    out = capsys.readouterr().out
    for part in ("brand:northwind", '"battery died"', "batter*", 'author:"Jane Doe"', "2h"):
        assert part in out
