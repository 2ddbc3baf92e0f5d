"""How fast the store answers searches over a million mentions, with and without FTS.

    .venv/bin/python benchmarks/search.py                 # build (or reuse) and time
    .venv/bin/python benchmarks/search.py --db FILE --mentions 200000 --repeat 10
    .venv/bin/python benchmarks/search.py --insert        # insert cost per mention

The store (``--db``, default a file in the temporary directory, reused when it holds
``--mentions`` mentions at the current schema) is built from the demo generator
(feeds/demo.py: a day of the demo stream stretched over 30 days of ``received_at``,
with its brands, languages, authors, incidents and ripples), enriched as the hub does,
and given a heavy tail: 40% of the texts get one to three words drawn from a Zipf law
over 50,000 made-up words, so there are words in every other mention and words in five.
About 2% of the batches arrive up to an hour late (``received_at`` moved back), as a
feed's spool does after an outage. Building prints its progress.

Each search is timed ``--repeat`` times (p50 and p95 of one page of 50, the way
``GET /mentions`` runs it: ``Store.search`` on its own connection) and, in the same
run, done as a baseline without the full-text index: a scan of the mentions newest
first with ``text LIKE '%word%'`` conditions, each candidate checked in Python, until
the page is full. The ratio baseline / FTS is what to quote: this machine is shared.
``--insert`` measures what the v5 indexes add to an insert: the same batches into a
store with them and into one where they are dropped.
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feeds.demo import DemoStream
from groundcontrol.config import load_config
from groundcontrol.listen.enrich import Enricher
from groundcontrol.model import Mention
from groundcontrol.query import And, Node, Not, Or, Phrase, Raw, Search, Term, parse_search
from groundcontrol.store.database import (
    _MENTION_COLUMNS,
    SCHEMA_VERSION,
    Store,
    _mention_from_row,
)
from groundcontrol.store.search import decode_cursor, encode_cursor

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: when the stored month starts
SPAN = 30 * 86400.0
VOCABULARY = 50_000
ZIPF_S = 1.1
BATCH = 1_000


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the store


def _words(rng: random.Random, n: int) -> list[str]:
    """``n`` made-up words of two to four syllables, distinct."""
    onsets = [
        "b",
        "c",
        "d",
        "f",
        "g",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "z",
        "br",
        "kr",
        "pl",
        "st",
        "tr",
        "sk",
    ]
    vowels = [*"aeiou", "ai", "ei", "ou"]
    codas = ["", "", "n", "r", "s", "l", "x", "nd", "st"]
    out: dict[str, None] = {}
    while len(out) < n:
        syllables = rng.randint(2, 4)
        w = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
        out[w + rng.choice(codas)] = None
    return list(out)


def _zipf_cumulative(n: int, s: float) -> list[float]:
    total = 0.0
    cum: list[float] = []
    for rank in range(1, n + 1):
        total += rank**-s
        cum.append(total)
    return cum


def build(path: Path, mentions: int, seed: int = 7) -> None:
    """Build a store of ``mentions`` demo mentions at ``path`` (see the module doc)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    config = load_config()
    enricher = Enricher(config.brands, config.queries)
    rng = random.Random(seed)
    vocabulary = _words(rng, VOCABULARY)
    cum = _zipf_cumulative(VOCABULARY, ZIPF_S)
    # A day of the demo holds about this many mentions at rate 1 (stories add more).
    rate = mentions / 86400.0 / 1.15
    demo = DemoStream(seed=seed, rate=rate, start=T0)
    store = Store(path)
    store.set_autocheckpoint(0)
    stretch = SPAN / 86400.0
    made = 0
    started = time.perf_counter()
    last_report = 0.0
    t = T0
    while made < mentions:
        batch = demo.between(t, t + 60)
        t += 60
        if not batch:
            continue
        batch = batch[: mentions - made]
        for m in batch:
            if rng.random() < 0.4:
                extra = rng.choices(vocabulary, cum_weights=cum, k=rng.randint(1, 3))
                m.text = m.text + " " + " ".join(extra)
        enricher.enrich(batch)
        late = rng.random() < 0.02
        lag = rng.uniform(0, 3600) if late else 0.0
        for m in batch:
            m.id = m.key
            m.received_at = T0 + (m.created_at.timestamp() - T0) * stretch - lag
        for i in range(0, len(batch), BATCH):
            store.write(batch[i : i + BATCH])
        made += len(batch)
        if made - last_report >= 50_000 or made >= mentions:
            last_report = made
            store.index_authors(10**9)
            store.checkpoint("TRUNCATE")
            rate_now = made / (time.perf_counter() - started)
            say(
                f"building {path}: {made:,} / {mentions:,} mentions"
                f" ({made * 100 // mentions}%, {rate_now:,.0f}/s)"
            )
    store.index_authors(10**9)
    store.checkpoint("TRUNCATE")
    store.close()


def usable(path: Path, mentions: int) -> bool:
    """Whether ``path`` is a benchmark store of ``mentions`` at the current schema."""
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(path) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            count = db.execute("SELECT count(*) FROM mentions").fetchone()[0]
    except sqlite3.Error:
        return False
    return bool(version == SCHEMA_VERSION and count == mentions)


# ---------------------------------------------------------------------- the baseline


def _like(node: Node, params: list[Any]) -> str:
    """SQL that holds for at least the texts ``node`` matches (ASCII case aside)."""
    if isinstance(node, Term):
        params.append("%" + node.token.lstrip("#@") + "%")
        return "m.text LIKE ?"
    if isinstance(node, Phrase):
        parts = []
        for token in node.tokens:
            params.append("%" + token.lstrip("#@") + "%")
            parts.append("m.text LIKE ?")
        return "(" + " AND ".join(parts) + ")"
    if isinstance(node, Raw | Not):
        return "1"
    assert isinstance(node, And | Or)
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(_like(child, params) for child in node.children) + ")"


def like_search(
    store: Store,
    s: Search,
    *,
    since: float | None,
    until: float | None,
    before: str | None,
    limit: int,
) -> tuple[list[Mention], str | None, int]:
    """The same page without the full-text index: newest first over received_at,
    LIKE conditions and the fields in SQL, each candidate checked in Python."""
    db = store._db
    where: list[str] = []
    params: list[Any] = []
    if s.text is not None:
        where.append(_like(s.text.root, params))
    for column, values in (
        ("m.source", s.sources),
        ("m.author", s.authors),
        ("m.lang", s.langs),
        ("m.sentiment_label", s.sentiments),
        ("m.category", s.classes),
    ):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if s.brands:
        where.append("(" + " OR ".join("m.brands LIKE ?" for _ in s.brands) + ")")
        params.extend(f'%"{b}"%' for b in s.brands)
    if since is not None:
        where.append("m.received_at >= ?")
        params.append(since)
    upper = decode_cursor(before) if before else None
    if until is not None and (upper is None or upper[0] >= until):
        upper = (until, 0)
    items: list[Mention] = []
    scanned = 0
    while True:
        bounds = list(where)
        bound_params = list(params)
        if upper is not None:
            bounds.append("(m.received_at, m.rowid) < (?, ?)")
            bound_params.extend(upper)
        rows = db.execute(
            f"SELECT {_MENTION_COLUMNS} FROM mentions m INDEXED BY mentions_received_at"
            f" WHERE {' AND '.join(bounds) or '1'}"
            " ORDER BY m.received_at DESC, m.rowid DESC LIMIT 200",
            bound_params,
        ).fetchall()
        for row in rows:
            scanned += 1
            m = _mention_from_row(row)
            if s.matches(m):
                items.append(m)
                if len(items) == limit:
                    return items, encode_cursor((row[1], row[0])), scanned
        if len(rows) < 200:
            return items, None, scanned
        upper = (rows[-1][1], rows[-1][0])


# ---------------------------------------------------------------------- timing

Runner = Callable[..., tuple[list[Mention], str | None, int]]


def _time(
    run: Runner,
    store: Store,
    s: Search,
    *,
    since: float | None,
    until: float | None,
    pages: int,
    repeat: int,
) -> tuple[list[float], int, int, bool]:
    """Times (ms) of the last of ``pages`` pages, ``repeat`` times; with the last
    run's items, candidates checked and whether it had a next cursor."""
    times: list[float] = []
    items: list[Mention] = []
    scanned = 0
    more = False
    for _ in range(repeat):
        cursor: str | None = None
        for page in range(pages):
            started = time.perf_counter()
            with store.snapshot():
                items, nxt, scanned = run(
                    store, s, since=since, until=until, before=cursor, limit=50
                )
            took = (time.perf_counter() - started) * 1000
            if page == pages - 1 or nxt is None:
                times.append(took)
                more = nxt is not None
                break
            cursor = nxt
    return times, len(items), scanned, more


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def rare_word(store: Store, seed: int = 7) -> tuple[str, int]:
    """A made-up word of the Zipf tail found in a handful of mentions."""
    vocabulary = _words(random.Random(seed), VOCABULARY)
    for rank in range(2_000, VOCABULARY, 97):
        word = vocabulary[rank]
        n = store._db.execute(
            "SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH ?", (f'"{word}"',)
        ).fetchone()[0]
        if 5 <= n <= 15:
            return word, int(n)
    return "xyzzy", 0


def bench(path: Path, repeat: int) -> None:
    store = Store(path)
    word, docs = rare_word(store)
    middle = T0 + SPAN / 2
    cases: list[tuple[str, str, float | None, float | None, int]] = [
        ("common word", "support", None, None, 1),
        (f"rare word ({docs} mentions)", word, None, None, 1),
        ("phrase", '"anyone else"', None, None, 1),
        ("prefix", "batter*", None, None, 1),
        ("prefix, 3 letters", "sup*", None, None, 1),
        ("hashtag", "#laptop", None, None, 1),
        ("brand only", "brand:contoso", None, None, 1),
        ("brand + word", "brand:fabrikam support", None, None, 1),
        ("word in a 2h range", "battery", middle, middle + 7200, 1),
        ("page 5 deep", "brand:northwind battery", None, None, 5),
        ("field only (lang:fr)", "lang:fr", None, None, 1),
        ("NOT only (no index)", "NOT northwind", None, None, 1),
        ("emoji (no index)", "🔥", None, None, 1),
        ("nothing matches", "lang:zz", None, None, 1),
    ]
    count = store._db.execute("SELECT count(*) FROM mentions").fetchone()[0]
    print(f"store {path}: {count:,} mentions, {path.stat().st_size / 2**20:,.0f} MiB")
    print(f"each search {repeat} times, one page of 50 (ms)\n")
    head = f"{'search':<26} {'query':<26} {'p50':>7} {'p95':>7} {'items':>5} {'checked':>7}"
    print(head + f" {'LIKE p50':>9} {'p95':>7} {'ratio':>6}")
    for label, text, since, until, pages in cases:
        s = parse_search(text)
        fts = _time(Store.search, store, s, since=since, until=until, pages=pages, repeat=repeat)
        like_repeat = max(3, repeat // 4)
        base = _time(
            like_search, store, s, since=since, until=until, pages=pages, repeat=like_repeat
        )
        times, items, scanned, more = fts
        p50, p95 = statistics.median(times), _pct(times, 0.95)
        b50, b95 = statistics.median(base[0]), _pct(base[0], 0.95)
        flag = "+" if more else " "
        print(
            f"{label:<26} {text[:26]:<26} {p50:7.1f} {p95:7.1f} {items:>4}{flag} {scanned:>7}"
            f" {b50:9.1f} {b95:7.1f} {b50 / p50:5.1f}x"
        )
    print("\n+: the page has a cursor to the next one")
    store.close()


# ---------------------------------------------------------------------- insert cost


def insert_cost(mentions: int, repeat: int) -> None:
    """Microseconds per mention to insert demo batches of 1,000, with the v5 indexes
    and with them dropped (what v4 stored), in the same run."""
    config = load_config()
    batch = DemoStream(seed=3, rate=200, start=T0).between(T0, T0 + mentions / 200 * 1.2)
    batch = batch[:mentions]
    Enricher(config.brands, config.queries).enrich(batch)
    for i, m in enumerate(batch):
        m.id = m.key
        m.received_at = T0 + i * 0.01
    tmp = Path(tempfile.mkdtemp(prefix="gc-insert-"))
    results: dict[str, list[float]] = {"v5": [], "without": []}
    for _ in range(repeat):
        for name in results:
            path = tmp / f"{name}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            store = Store(path)
            store.set_autocheckpoint(0)
            if name == "without":
                _drop_search(store)
            started = time.perf_counter()
            for i in range(0, len(batch), BATCH):
                store.write(batch[i : i + BATCH])
            results[name].append((time.perf_counter() - started) / len(batch) * 1e6)
            store.close()
    for name, values in results.items():
        print(f"{name:>8}: median {statistics.median(values):.1f} us/mention ({values})")
    with_, without = (statistics.median(v) for v in results.values())
    print(f"the v5 indexes add {with_ - without:.1f} us per mention ({with_ / without:.2f}x)")


def _drop_search(store: Store) -> None:
    """Make a v5 store write what a v4 one did: no full-text index, no rollups."""
    store._index_search = lambda *batch: None  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, help="store file (built when missing or stale)")
    parser.add_argument("--mentions", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--repeat", type=int, default=20, help="timings per search")
    parser.add_argument("--rebuild", action="store_true", help="build the store again")
    parser.add_argument("--insert", action="store_true", help="measure the insert cost only")
    args = parser.parse_args(argv)
    if args.insert:
        insert_cost(min(args.mentions, 200_000), max(1, args.repeat // 5))
        return 0
    path = args.db or Path(tempfile.gettempdir()) / f"groundcontrol-search-bench-{args.mentions}.db"
    if args.rebuild or not usable(path, args.mentions):
        build(path, args.mentions)
    else:
        say(f"reusing {path}")
    bench(path, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
