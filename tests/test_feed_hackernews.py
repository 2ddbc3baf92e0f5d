"""The Hacker News adapter against a fake Algolia on loopback, with a real hub."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from feeds.base import CursorFile, FeedContext
from feeds.hackernews import Settings, parse_page, run
from feeds.html import html_to_text
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import start_hub
from tests.fakes.hn_algolia import FakeAlgolia, comment, story
from tests.test_hub import small_config

T0 = 1_795_000_000


def test_html_to_text() -> None:
    assert html_to_text("My <i>Aero 14</i> battery &amp; charger<p>swelled&#x27;s") == (
        "My Aero 14 battery & charger\n\nswelled's"
    )
    assert html_to_text('<a href="x">link</a> <script>bad()</script>ok') == "link ok"
    assert html_to_text("plain") == "plain"
    assert html_to_text("<p>unclosed <b>tags") == "unclosed tags"


def test_parse_page_keeps_good_hits_and_skips_bad_ones() -> None:
    body = json.dumps(
        {
            "hits": [
                story(1, T0, "Northwind Aero 14 battery recall?", points=88, comments=41),
                comment(
                    2,
                    T0 + 5,
                    "<p>Mine swelled too.</p><p>Northwind support: useless</p>",
                    on="Northwind Aero 14 battery recall?",
                ),
                {"objectID": "3", "created_at_i": "yesterday", "title": "x"},
                {"created_at_i": T0, "title": "no id"},
                "not an object",
            ],
            "nbPages": 3,
        }
    ).encode()
    mentions, skipped, pages = parse_page(body)
    assert pages == 3
    assert [m.source_id for m in mentions] == ["1", "2"]
    s, c = mentions
    assert s.text == "Northwind Aero 14 battery recall?"
    assert (s.engagement.likes, s.engagement.replies) == (88, 41)
    assert s.url == "https://news.ycombinator.com/item?id=1"
    assert c.text.startswith("Mine swelled too.\n\nNorthwind support: useless")
    assert "(on: Northwind Aero 14 battery recall?)" in c.text
    assert c.created_at.timestamp() == T0 + 5
    assert [r for r, _ in skipped] == [
        "bad created_at_i 'yesterday'",
        "no objectID",
        "a hit is a JSON object, not str",
    ]
    with pytest.raises(ValueError, match="no 'hits' list"):
        parse_page(b'{"message": "Invalid query"}')


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAlgolia, str]]:
    algolia = FakeAlgolia()
    runner = web.AppRunner(algolia.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield algolia, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT source_id FROM mentions ORDER BY source_id")]


async def test_polls_resume_after_a_restart_with_no_gap_and_no_duplicate(
    fake: tuple[FakeAlgolia, str], tmp_path: Path
) -> None:
    algolia, endpoint = fake
    algolia.hits = [story(i, T0 + i, f"Northwind story {i}") for i in range(1, 251)]
    algolia.hits += [story(1000, T0, "about something else")]
    algolia.hits += [{"objectID": "bad", "created_at_i": "soon", "title": "Northwind"}]
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    state = tmp_path / "state"
    try:
        settings = Settings(query="northwind", endpoint=endpoint, interval=0.05)
        ctx = FeedContext(
            f"ws://127.0.0.1:{port}", "hackernews", state_dir=state, clock=lambda: T0 + 1_000.0
        )
        backoff = Backoff(initial=0.05, maximum=0.1)
        # First run: the fake cuts one response in half and rate-limits once.
        algolia.cut_next = 1
        algolia.rate_limit_next = 1
        algolia.retry_after = "0.2"
        await run(settings, ctx, stop_after_polls=3, backoff=backoff)
        assert len(stored(db)) == 250
        assert CursorFile(state / "hackernews.json").load() == {"since": T0 + 250}
        # New posts while the feed is down; a restarted feed picks them up from its cursor.
        algolia.hits += [story(i, T0 + i, f"Northwind story {i}") for i in range(251, 281)]
        await run(settings, ctx, stop_after_polls=1, backoff=backoff)
        assert algolia.requests[-1]["numericFilters"] == f"created_at_i>={T0 + 250}"
    finally:
        await runner.cleanup()
    ids = stored(db)
    assert sorted(ids, key=int) == [str(i) for i in range(1, 281)]
    assert len(ids) == len(set(ids))
    # The unparseable hit is a dead letter, not a crash; the first run asked from an
    # hour before its start.
    with sqlite3.connect(db) as con:
        reasons = [r[0] for r in con.execute("SELECT reason FROM dead_letters")]
    assert "feed: bad created_at_i 'soon'" in reasons
    assert algolia.requests[0]["numericFilters"] == f"created_at_i>={T0 + 1_000 - 3600}"
    assert hub.counters.duplicates >= 1  # the repeat of the cursor's own second
