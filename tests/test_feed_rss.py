"""The RSS/Atom adapter: its parsers, and its loop against a fake feed server on
loopback with a real hub (conditional GET, redirects, 410, 429, cut and truncated
bodies, bad entries, edits, and a restart that resumes from the saved cursor)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feeds import registry
from feeds.base import CursorFile, Emitter, FeedConfigError, FeedContext
from feeds.rss import (
    FeedState,
    Settings,
    feed_lang,
    parse_feed,
    retry_after,
    run,
    shown,
    unwrap_google_alerts,
    unwrap_google_news,
)
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Retraction
from tests.deadline import until
from tests.fakes.rss import (
    EMPTY_RSS_ITEM,
    FakeFeeds,
    Feed,
    Item,
    alert_item,
    alerts_link,
    alerts_xml,
    atom_xml,
    gnews_article_id,
    gnews_item,
    gnews_opaque_id,
    gnews_xml,
    news_item,
    rss_xml,
)
from tests.test_hub import small_config

T0 = 1_795_000_000
NOW = float(T0 + 3600)
HERE = {"content-location": "https://www.laptopmag.example/feed/"}


def empty_item() -> Item:
    return Item(id="", title="", html="", link="", published=0, raw=EMPTY_RSS_ITEM)


# ----------------------------------------------------------------------------- parsers


def test_parse_rss_2_0() -> None:
    no_guid = news_item(2, T0 + 60, "Aero 14 battery test")
    no_guid.id = ""
    bare = Item(id="", title="Northwind price cut", html="<p>Cheaper.</p>", link="", published=0)
    body = rss_xml(
        [news_item(1, T0, "Northwind Aero 14 review"), no_guid, bare, empty_item()],
        title="Laptop Mag",
        link="https://www.laptopmag.example/",
        language="en-us",
    )
    mentions, skipped = parse_feed(body, source="press", fetched_at=NOW, headers=HERE)
    first, second, third = mentions
    assert first.source == "press"
    assert first.source_id == "https://www.laptopmag.example/?p=1001"
    # content:encoded wins over the shorter description; HTML becomes text.
    assert first.text == (
        "Northwind Aero 14 review\n\nNorthwind Aero 14 review: what we found.\n\nRead more."
    )
    assert first.url == "https://www.laptopmag.example/2026/11/story-1/"
    assert first.author == "Dana Reyes"
    assert first.lang == "en"
    assert first.created_at == datetime.fromtimestamp(T0, UTC)
    # No guid: the link is the id. No guid, link or date: a stable hash of the title.
    assert second.source_id == "https://www.laptopmag.example/2026/11/story-2/"
    assert third.source_id.startswith("sha1:")
    assert third.created_at == datetime.fromtimestamp(NOW, UTC)  # undated: fetch time
    assert third.url == ""
    again, _ = parse_feed(body, source="press", fetched_at=NOW + 999, headers=HERE)
    assert again[2].source_id == third.source_id
    assert [(reason, key[:5]) for key, reason, _ in skipped] == [
        ("no title, summary or content", "dead:")
    ]
    assert "misc" in skipped[0][2]  # the payload is the entry as feedparser read it


def test_parse_atom_with_relative_links_and_language() -> None:
    item = news_item(3, T0, "Northwind &amp; the <i>Aero</i>")
    item.link = "/2026/11/relative/"
    body = atom_xml([item], title="Blog", feed_id="urn:blog", language="de-DE")
    (mention,), skipped = parse_feed(body, source="news", fetched_at=NOW, headers=HERE)
    assert skipped == []
    assert mention.text.startswith("Northwind & the Aero\n\n")
    assert mention.url == "https://www.laptopmag.example/2026/11/relative/"
    assert mention.lang == "de"
    assert mention.author == "Dana Reyes"


def test_parse_google_alerts() -> None:
    real = "https://www.theverge.example/2026/11/18/northwind-aero-14?utm_source=x&b=2"
    body = alerts_xml(
        [alert_item(1, T0, "Northwind", real)], query="northwind", path="/alerts/feeds/06/25"
    )
    (mention,), skipped = parse_feed(body, source="news", fetched_at=NOW)
    assert skipped == []
    assert mention.url == real
    assert mention.text == (
        "Northwind Aero 14 review, part 1\n\n"
        "The Northwind Aero 14 (2026) is back with a new battery \u00b7 1"
    )
    assert "<b>" not in mention.text
    assert mention.source_id == "tag:google.com,2013:googlealerts/feed:10395837749120392739"
    assert mention.author == ""


def test_parse_google_news() -> None:
    real = "https://www.theverge.example/2026/11/18/northwind-recall"
    no_source = gnews_item(3, T0, "Northwind ships fix", "", "https://wired.example/a")
    no_source.title = "Northwind ships fix - Wired"
    body = gnews_xml(
        [
            gnews_item(1, T0, "Northwind recalls Aero 14 batteries", "The Verge", real),
            gnews_item(2, T0, "Northwind stock falls", "Reuters", "https://r.example", old=False),
            no_source,
        ],
        query="northwind",
    )
    (old, new, bare), _ = parse_feed(body, source="news", fetched_at=NOW)
    assert old.url == real
    assert old.author == "The Verge"
    assert old.source_id == gnews_article_id(real)
    # The description only repeats the title and the publisher: not kept twice.
    assert old.text == "Northwind recalls Aero 14 batteries - The Verge"
    assert old.lang == "en"
    # The newer, opaque article id cannot be unwrapped: the Google link stays.
    assert new.url.startswith("https://news.google.com/rss/articles/")
    assert new.author == "Reuters"
    assert bare.author == "Wired"  # from the title's " - Publisher"
    assert bare.url == "https://wired.example/a"


def test_unwrap_links() -> None:
    real = "https://example.com/a?b=1&c=2"
    assert unwrap_google_alerts(alerts_link(real)) == real
    assert unwrap_google_alerts("https://www.google.co.uk/url?q=https://x.example/") == (
        "https://x.example/"
    )
    for other in (
        "https://example.com/url?url=https://evil.example/",
        "https://www.google.com/search?q=northwind",
        "https://www.google.com/url?url=javascript:alert(1)",
    ):
        assert unwrap_google_alerts(other) == other
    art = gnews_article_id("https://news.example/x")
    assert unwrap_google_news(f"https://news.google.com/rss/articles/{art}?oc=5") == (
        "https://news.example/x"
    )
    long_url = "https://news.example/" + "y" * 300  # a two-byte varint length
    art = gnews_article_id(long_url)
    assert unwrap_google_news(f"https://news.google.com/articles/{art}") == long_url
    for kept in (
        f"https://news.google.com/rss/articles/{gnews_opaque_id(7)}?oc=5",
        "https://news.google.com/rss/articles/!!!not-base64!!!?oc=5",
        "https://news.google.com/rss/articles/"
        + base64.urlsafe_b64encode(b"\x08\x13\x22\xff").decode(),  # field runs past the end
        "https://news.google.com/topics/abc",
        "https://example.com/rss/articles/" + gnews_article_id("https://x.example/"),
    ):
        assert unwrap_google_news(kept) == kept


def test_parse_feed_refuses_cut_documents_and_non_feeds_but_reads_sloppy_ones() -> None:
    body = rss_xml(
        [news_item(i, T0 + i, f"Story {i}") for i in range(5)],
        title="t",
        link="https://www.laptopmag.example/",
    )
    with pytest.raises(ValueError, match="cut off before its end"):
        parse_feed(body[: len(body) // 2], source="news", fetched_at=NOW)
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        parse_feed(b"<html><body><h1>Oops</h1></body></html>", source="news", fetched_at=NOW)
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        parse_feed(b"", source="news", fetched_at=NOW)
    # An unescaped '&' makes the XML not well-formed, but the document is whole.
    sloppy = body.replace(b"<title>Story 1</title>", b"<title>Story 1 & more</title>")
    mentions, _ = parse_feed(sloppy, source="news", fetched_at=NOW)
    assert len(mentions) == 5
    assert any(m.text.startswith("Story 1 & more") for m in mentions)


def test_feed_lang_and_retry_after() -> None:
    assert [feed_lang(v) for v in ("en-US", "fr", "en_gb", "deu", "", None, "x-klingon")] == [
        "en",
        "fr",
        "en",
        "",
        "",
        "",
        "",
    ]
    assert retry_after("120", NOW, 5.0) == 120.0
    assert retry_after(None, NOW, 5.0) == 5.0
    assert retry_after("soon", NOW, 5.0) == 5.0
    assert retry_after("-3", NOW, 5.0) == 0.0
    assert retry_after("99999999", NOW, 5.0) == 6 * 3600.0
    date = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert retry_after(date, NOW, 5.0) == pytest.approx(90.0)


def test_urls_in_messages_hide_credentials() -> None:
    assert shown("https://u:pw@feeds.example/p?user=ann&token=s3cr3t&q=northwind") == (
        "https://***@feeds.example/p?user=ann&token=***&q=northwind"
    )
    assert shown("https://www.google.com/alerts/feeds/0684/2526") == (
        "https://www.google.com/alerts/feeds/0684/2526"
    )
    assert (
        shown("https://x.example/rss?api_key=1&sig=2")
        == "https://x.example/rss?api_key=***&sig=***"
    )


def test_settings() -> None:
    spec = registry.settings_from_table(
        "press",
        {"type": "rss", "urls": ["feed.xml", "https://b.example/x"], "endpoint": "http://a/"},
    )
    assert spec.settings.resolved() == ["http://a/feed.xml", "https://b.example/x"]
    assert (spec.settings.interval, spec.settings.source) == (300.0, "news")
    for table, message in (
        ({"urls": []}, "urls is empty"),
        ({"urls": ["feed.xml"]}, "needs endpoint"),
        ({"urls": ["ftp://x/y"]}, "not an http"),
        ({"urls": ["http://x/"], "interval": 0}, "interval"),
        ({"urls": ["http://x/"], "source": "News!"}, "source"),
        ({"urls": ["http://x/"], "query": "(northwind"}, "query"),
        ({}, "urls is required"),
    ):
        with pytest.raises(FeedConfigError, match=message):
            registry.settings_from_table("rss", table)


def test_feed_state_from_a_damaged_cursor() -> None:
    state = FeedState.from_json(
        "http://x/",
        {"etag": 5, "gone": "yes", "seen": [["a", "1"], ["b"], 3, ["c", "2"]]},
        Backoff(),
    )
    assert (state.etag, state.gone, state.seen) == ("", False, [("a", "1"), ("c", "2")])
    assert FeedState.from_json("http://x/", None, Backoff()).seen == []
    state.remember([("n", "9"), ("c", "3")])
    assert state.seen == [("n", "9"), ("c", "3"), ("a", "1")]


# ----------------------------------------------------------------------- against a hub


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeFeeds, str]]:
    feeds = FakeFeeds()
    runner = web.AppRunner(feeds.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield feeds, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, int, Path]]:
    db = tmp_path / "gc.db"
    h, runner, port = await start_hub(small_config(), port=0, store_path=db)
    yield h, port, db
    await runner.cleanup()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return list(con.execute(sql))


def stored(db: Path) -> list[str]:
    return [r[0] for r in rows(db, "SELECT source_id FROM mentions ORDER BY source_id")]


def fast() -> Backoff:
    return Backoff(initial=0.05, maximum=0.1)


def shapes(feeds: FakeFeeds, n: range) -> dict[str, list[str]]:
    """Put entries numbered ``n`` in the four feed shapes; the ids each should yield."""
    blog = [news_item(i, T0 + i, f"Northwind Aero 14, take {i}") for i in n]
    atom = [news_item(100 + i, T0 + i, f"Aero 14 teardown {i}") for i in n]
    alerts = [alert_item(i, T0 + i, "Northwind", f"https://v.example/{i}") for i in n]
    gnews = [gnews_item(i, T0 + i, f"Northwind {i}", "Wired", f"https://w.example/{i}") for i in n]
    for path, kind, items in (
        ("/blog/feed/", "rss", blog),
        ("/atom.xml", "atom", atom),
        ("/alerts/feeds/0684825214/2526618226", "alerts", alerts),
        ("/rss/search", "gnews", gnews),
    ):
        feed = feeds.feeds.setdefault(path, Feed(kind, title="northwind"))  # type: ignore[arg-type]
        feed.items = items + feed.items  # newest first, as feeds list them
    feeds.feeds["/rss/search"].validators = False  # Google News sends no validators
    return {
        "blog": [f"https://www.laptopmag.example/?p={1000 + i}" for i in n],
        "atom": [f"https://www.laptopmag.example/?p={1100 + i}" for i in n],
        "alerts": [f"tag:google.com,2013:googlealerts/feed:{10395837749120392738 + i}" for i in n],
        "gnews": [gnews_article_id(f"https://w.example/{i}") for i in n],
    }


URLS = ["/blog/feed/", "atom.xml", "/alerts/feeds/0684825214/2526618226", "/rss/search?q=northwind"]


async def test_restart_resumes_from_the_cursor_with_no_gap_and_no_duplicate(
    fake: tuple[FakeFeeds, str], hub: tuple[Hub, int, Path], tmp_path: Path
) -> None:
    feeds, endpoint = fake
    h, port, db = hub
    first = shapes(feeds, range(1, 6))
    feeds.feeds["/blog/feed/"].items.append(empty_item())
    state = tmp_path / "state"
    events: list[str] = []
    ctx = FeedContext(
        f"ws://127.0.0.1:{port}", "rss", state_dir=state, clock=lambda: NOW, on_event=events.append
    )
    settings = Settings(urls=URLS, endpoint=endpoint, interval=0.05)
    # Two rounds: the second is answered 304 (or, without validators, the same list).
    await run(settings, ctx, stop_after_rounds=2, backoff=fast)
    want = sorted(chain.from_iterable(first.values()))
    assert stored(db) == want
    blog = feeds.hits("/blog/feed/")
    assert [r.status for r in blog] == [200, 304]
    assert blog[0].if_none_match == "" and blog[1].if_none_match.startswith('"')
    assert [r.status for r in feeds.hits("/rss/search")] == [200, 200]
    assert h.counters.duplicates == 0  # nothing sent twice
    cursor = CursorFile(state / "rss.json").load()
    assert set(cursor["feeds"]) == {endpoint + "/" + u.lstrip("/") for u in URLS}
    assert len(cursor["feeds"][endpoint + "/atom.xml"]["seen"]) == 5

    # New entries while the feed is down; the restarted feed sends those and only those.
    second = shapes(feeds, range(6, 9))
    await run(settings, ctx, stop_after_rounds=1, backoff=fast)
    assert stored(db) == sorted([*want, *chain.from_iterable(second.values())])
    assert h.counters.duplicates == 0
    assert feeds.hits("/blog/feed/")[-1].if_none_match == blog[1].if_none_match
    await until(lambda: bool(rows(db, "SELECT reason FROM dead_letters")))
    # The bad entry is a dead letter once, not once per poll.
    assert rows(db, "SELECT reason FROM dead_letters") == [("feed: no title, summary or content",)]
    assert any("3 new" in e for e in events)


async def test_redirects_gone_rate_limits_and_broken_feeds(
    fake: tuple[FakeFeeds, str], hub: tuple[Hub, int, Path], tmp_path: Path
) -> None:
    feeds, endpoint = fake
    _h, port, db = hub
    ids: list[str] = []
    for k, (path, kind) in enumerate(
        [
            ("/blog/feed/", "rss"),
            ("/moved.xml", "rss"),
            ("/atom.xml", "atom"),
            ("/limited.xml", "rss"),
            ("/truncated.xml", "rss"),
            ("/cut.xml", "atom"),
        ]
    ):
        items = [news_item(10 * k + i, T0 + i, f"Northwind {path} {i}") for i in range(8)]
        feeds.feeds[path] = Feed(kind, items)  # type: ignore[arg-type]
        ids += [f"https://www.laptopmag.example/?p={1000 + 10 * k + i}" for i in range(8)]
    feeds.redirects["/old.xml"] = (301, "/moved.xml")
    feeds.redirects["/temp.xml"] = (302, "/atom.xml")
    feeds.gone.add("/gone.xml")
    feeds.down.add("/down.xml")
    feeds.rate_limit_next["/limited.xml"] = 1
    feeds.retry_after = "0.3"
    feeds.truncate_next["/truncated.xml"] = 1
    feeds.cut_next["/cut.xml"] = 1
    urls = ["blog/feed/", "old.xml", "temp.xml", "gone.xml", "down.xml"]
    urls += ["limited.xml", "truncated.xml", "cut.xml"]
    settings = Settings(urls=urls, endpoint=endpoint, interval=0.05)
    state = tmp_path / "state"
    events: list[str] = []
    ctx = FeedContext(
        f"ws://127.0.0.1:{port}", "rss", state_dir=state, clock=time.time, on_event=events.append
    )
    cursor = CursorFile(state / "rss.json")

    def settled() -> bool:
        saved = cursor.load().get("feeds", {})
        return (
            stored(db) == sorted(ids)
            and saved.get(f"{endpoint}/old.xml", {}).get("moved_to") == f"{endpoint}/moved.xml"
            and saved.get(f"{endpoint}/gone.xml", {}).get("gone") is True
            and len(feeds.hits("/down.xml")) >= 3
        )

    task = asyncio.create_task(run(settings, ctx, backoff=fast))
    try:
        await until(settled)
        # A few more rounds: what is asked once is still asked once.
        more = {p: len(feeds.hits(p)) + 3 for p in ("/moved.xml", "/temp.xml")}
        await until(lambda: all(len(feeds.hits(p)) >= n for p, n in more.items()))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stored(db) == sorted(ids)  # every good feed got through, no duplicate
    # 301: followed once, then the new URL is polled directly. 302: not remembered.
    assert len(feeds.hits("/old.xml")) == 1
    assert len(feeds.hits("/moved.xml")) >= 2
    assert len(feeds.hits("/temp.xml")) >= 2
    saved = cursor.load()["feeds"]
    assert saved[f"{endpoint}/temp.xml"]["moved_to"] == ""
    # 410: asked once, never again.
    assert len(feeds.hits("/gone.xml")) == 1
    # 429: the next request waited for Retry-After.
    limited = feeds.hits("/limited.xml")
    assert limited[0].status == 429 and limited[1].status == 200
    assert limited[1].at - limited[0].at >= 0.28
    # A truncated or cut body sends nothing and keeps no validator: it is fetched whole.
    assert [r.status for r in feeds.hits("/truncated.xml")][:2] == [200, 200]
    assert feeds.hits("/truncated.xml")[1].if_none_match == ""
    assert feeds.hits("/cut.xml")[1].if_none_match == ""
    # A dead feed is retried with backoff, not in a tight loop: never sooner than
    # the shortest backoff (half the initial 0.05 s), however many rounds went by.
    down = [r.at for r in feeds.hits("/down.xml")]
    assert len(down) >= 3
    assert min(b - a for a, b in itertools.pairwise(down)) >= 0.025 - 0.002, down
    said = "\n".join(events)
    for words in (
        "moved permanently to",
        "gone (410)",
        "429 from",
        "cut off before its end",
        "ClientPayloadError",
        "HTTP 500",
    ):
        assert words in said

    # A restart goes straight to the moved URL and leaves the gone one alone.
    before = {p: len(feeds.hits(p)) for p in ("/old.xml", "/gone.xml", "/moved.xml")}
    events.clear()
    await run(settings, ctx, stop_after_rounds=1, backoff=fast)
    assert len(feeds.hits("/old.xml")) == before["/old.xml"]
    assert len(feeds.hits("/gone.xml")) == before["/gone.xml"]
    assert len(feeds.hits("/moved.xml")) == before["/moved.xml"] + 1
    assert any("410 Gone before" in e for e in events)
    assert stored(db) == sorted(ids)


async def edited_feed(
    feeds: FakeFeeds, endpoint: str, port: int, tmp_path: Path, sent: list[dict[str, Any]]
) -> None:
    """Two entries reach the hub; then the source edits one of them."""
    item = news_item(1, T0, "Northwind Aero 14 review")
    feeds.feeds["/blog/feed/"] = Feed("rss", [item, news_item(2, T0 + 1, "Other Northwind")])
    settings = Settings(urls=["blog/feed/"], endpoint=endpoint, interval=0.05)
    ctx = FeedContext(f"ws://127.0.0.1:{port}", "rss", state_dir=tmp_path / "state")
    task = asyncio.create_task(run(settings, ctx, backoff=fast))
    try:
        await until(lambda: sum(len(s["mentions"]) for s in sent) == 2)
        item.title = "Northwind Aero 14 review (updated: battery fixed)"
        item.html = "<p>Northwind shipped a fix.</p>"
        await until(lambda: any(s["edits"] for s in sent))
        # More polls: the edit is not sent again.
        polls = len(feeds.hits("/blog/feed/")) + 3
        await until(lambda: len(feeds.hits("/blog/feed/")) >= polls)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every batch the adapter hands to its Emitter."""
    calls: list[dict[str, Any]] = []
    emit = Emitter.emit

    async def recording(
        self: Emitter,
        mentions: list[Mention],
        cursor: dict[str, Any],
        *,
        edits: list[Mention] | None = None,
        deleted: list[Retraction] | None = None,
    ) -> None:
        calls.append(
            {"mentions": mentions, "edits": edits or [], "deleted": deleted or [], "cursor": cursor}
        )
        await emit(self, mentions, cursor, edits=edits, deleted=deleted)

    monkeypatch.setattr(Emitter, "emit", recording)
    return calls


async def test_an_edited_entry_is_sent_as_an_edit(
    fake: tuple[FakeFeeds, str],
    hub: tuple[Hub, int, Path],
    tmp_path: Path,
    sent: list[dict[str, Any]],
) -> None:
    feeds, endpoint = fake
    _h, port, db = hub
    await edited_feed(feeds, endpoint, port, tmp_path, sent)
    edits = [m for s in sent for m in s["edits"]]
    assert [m.source_id for m in edits] == ["https://www.laptopmag.example/?p=1001"]
    assert edits[0].text == (
        "Northwind Aero 14 review (updated: battery fixed)\n\nNorthwind shipped a fix."
    )
    assert sum(len(s["mentions"]) for s in sent) == 2  # the edit is not a new mention
    assert all(not s["deleted"] for s in sent)  # feeds do not say what was deleted
    assert len(stored(db)) == 2


async def test_the_hub_stores_the_edited_text(
    fake: tuple[FakeFeeds, str],
    hub: tuple[Hub, int, Path],
    tmp_path: Path,
    sent: list[dict[str, Any]],
) -> None:
    feeds, endpoint = fake
    _h, port, db = hub
    await edited_feed(feeds, endpoint, port, tmp_path, sent)
    await until(
        lambda: (
            rows(db, "SELECT text FROM mentions WHERE source_id LIKE '%p=1001'")
            == [("Northwind Aero 14 review (updated: battery fixed)\n\nNorthwind shipped a fix.",)]
        ),
    )


async def test_query_keeps_only_matching_entries(
    fake: tuple[FakeFeeds, str], hub: tuple[Hub, int, Path], tmp_path: Path
) -> None:
    feeds, endpoint = fake
    _h, port, db = hub
    feeds.feeds["/feed"] = Feed(
        "rss",
        [
            news_item(1, T0, "Northwind Aero 14 battery recall"),
            news_item(2, T0, "Contoso launches a phone"),
            news_item(3, T0, "Northwind earnings"),
        ],
    )
    settings = Settings(
        urls=["feed"], endpoint=endpoint, interval=0.05, source="press", query="northwind recall"
    )
    ctx = FeedContext(f"ws://127.0.0.1:{port}", "press", state_dir=tmp_path / "state")
    await run(settings, ctx, stop_after_rounds=1, backoff=fast)
    assert rows(db, "SELECT source, source_id FROM mentions") == [
        ("press", "https://www.laptopmag.example/?p=1001")
    ]


async def test_a_big_feed_goes_in_batches_and_the_cursor_moves_after_the_last(
    fake: tuple[FakeFeeds, str],
    hub: tuple[Hub, int, Path],
    tmp_path: Path,
    sent: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds, endpoint = fake
    _h, port, db = hub
    monkeypatch.setattr("feeds.rss.BATCH", 2)
    feeds.feeds["/feed"] = Feed("rss", [news_item(i, T0 + i, f"Northwind {i}") for i in range(5)])
    settings = Settings(urls=["feed"], endpoint=endpoint, interval=0.05)
    ctx = FeedContext(f"ws://127.0.0.1:{port}", "rss", state_dir=tmp_path / "state")
    await run(settings, ctx, stop_after_rounds=1, backoff=fast)
    assert [len(s["mentions"]) for s in sent] == [2, 2, 1]
    key = f"{endpoint}/feed"
    # Until the last batch is acked, a restart must fetch the whole feed again.
    for s in sent[:2]:
        assert s["cursor"]["feeds"][key]["etag"] == ""
        assert s["cursor"]["feeds"][key]["seen"] == []
    assert sent[2]["cursor"]["feeds"][key]["etag"].startswith('"')
    assert len(sent[2]["cursor"]["feeds"][key]["seen"]) == 5
    assert len(stored(db)) == 5
    assert CursorFile(tmp_path / "state" / "rss.json").load() == sent[2]["cursor"]
