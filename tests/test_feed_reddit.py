"""The Reddit adapter against a fake Reddit OAuth API on loopback, with a real hub."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import feeds.reddit as reddit
from feeds.base import CursorError, CursorFile, Emitter, FeedConfigError, FeedContext, SourceHealth
from feeds.reddit import (
    AuthError,
    Cursor,
    Page,
    RedditAPI,
    RedditAuth,
    Settings,
    apply_poll,
    parse_listing,
    parse_post,
    run,
)
from feeds.registry import settings_from_table
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import start_hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Retraction
from tests.fakes.reddit import FakeReddit, post
from tests.test_hub import small_config

T0 = 1_795_000_000.0
UA = "linux:groundcontrol-test:0.1 (by /u/acme_social)"
ENV = {"REDDIT_CLIENT_ID": "fake-client-id", "REDDIT_CLIENT_SECRET": "fake-client-secret"}


def listing(children: list[Any], after: str | None = None) -> bytes:
    return json.dumps({"kind": "Listing", "data": {"after": after, "children": children}}).encode()


# --------------------------------------------------------------------------- parsing


def test_parse_listing_keeps_good_posts_and_skips_bad_ones() -> None:
    selfpost = post(1, T0 + 0.5, "Northwind Aero 14 battery swelled", "Week 3. Support: useless.")
    selfpost["data"].update(score=-4, num_comments=17, edited=T0 + 90.0)
    link = post(2, T0 + 7, "Northwind recalls the Aero 14", subreddit="hardware", score=812)
    link["data"]["selftext"] = ""
    gone = post(3, T0 + 8, "Northwind rant")
    gone["data"].update(selftext="[deleted]", author="[deleted]", removed_by_category="deleted")
    removed = post(4, T0 + 9, "Northwind spam", "buy now")
    removed["data"]["removed_by_category"] = "moderator"
    no_name = post(5, T0, "Northwind no name")
    del no_name["data"]["name"]
    string_time = post(6, T0, "Northwind string time")
    string_time["data"]["created_utc"] = "1795000000.0"
    comment = {"kind": "t1", "data": {"name": "t1_abc", "body": "Northwind"}}
    no_title = post(7, T0, "x")
    no_title["data"]["title"] = None
    page = parse_listing(
        listing(
            [selfpost, link, gone, removed, no_name, string_time, comment, "junk", no_title],
            after="t3_p00007",
        )
    )
    assert page.after == "t3_p00007"
    assert [p.mention.source_id for p in page.posts] == ["t3_p00001", "t3_p00002"]
    s, lnk = (p.mention for p in page.posts)
    assert s.source == "reddit"
    assert s.text == "Northwind Aero 14 battery swelled\n\nWeek 3. Support: useless."
    assert (
        s.url
        == "https://www.reddit.com/r/laptops/comments/p00001/northwind_aero_14_battery_swelled/"
    )
    assert s.author == "user_1"
    assert s.created_at.timestamp() == T0 + 0.5
    assert s.created_at.tzinfo is not None
    assert s.lang == ""
    assert (s.engagement.likes, s.engagement.replies) == (0, 17)  # negative score -> 0
    assert page.posts[0].edited == T0 + 90.0 and page.posts[1].edited == 0.0
    assert lnk.text == "Northwind recalls the Aero 14"
    assert lnk.engagement.likes == 812
    assert page.gone == ["t3_p00003", "t3_p00004"]
    assert [r for r, _ in page.skipped] == [
        "bad name None",
        "bad created_utc '1795000000.0'",
        "kind 't1' is not a post (t3)",
        "a child is a JSON object, not str",
        "no title",
    ]
    assert json.loads(page.skipped[2][1]) == comment


def test_parse_listing_refuses_what_is_not_a_listing() -> None:
    body = listing([post(1, T0, "Northwind")])
    with pytest.raises(ValueError, match="not JSON"):
        parse_listing(body[: len(body) // 2])  # a response cut short
    with pytest.raises(ValueError, match="not a Listing"):
        parse_listing(b'{"message": "Forbidden", "error": 403}')
    with pytest.raises(ValueError, match="children"):
        parse_listing(b'{"kind": "Listing", "data": {"after": null}}')


def test_long_posts_are_cut_to_what_the_hub_keeps() -> None:
    p = parse_post(post(1, T0, "Northwind", "x" * 50_000))
    assert len(p.mention.text) == 20_000


def test_apply_poll_takes_new_posts_oldest_first_and_finds_edits_and_deletions() -> None:
    def p(n: int, at: float, text: str = "Northwind", edited: float = 0.0) -> reddit.Post:
        return parse_post(post(n, at, text, edited=edited or False))

    cursor = Cursor(
        since=T0 + 10,
        names={"t3_p00010"},
        recent=[("t3_p00001", T0 + 1, 0.0), ("t3_p00002", T0 + 2, 0.0), ("t3_p00010", T0 + 10, 0)],
    )
    found = Page(
        # newest first, as Reddit sends them; p11 shares the cursor's second with p10
        posts=[p(13, T0 + 13), p(12, T0 + 12), p(11, T0 + 10), p(10, T0 + 10), p(9, T0 + 9)],
    )
    info = Page(posts=[p(1, T0 + 1, "Northwind (edit: fixed)", edited=T0 + 50), p(10, T0 + 10)])
    info.gone = ["t3_p00002", "t3_p99999"]  # the second was never taken: no retraction
    changes = apply_poll(cursor, found, info, keep=4)
    assert [m.source_id for m in changes.mentions] == ["t3_p00011", "t3_p00012", "t3_p00013"]
    assert [m.text for m in changes.edits] == ["Northwind (edit: fixed)"]
    assert changes.deleted == [Retraction(source="reddit", source_id="t3_p00002")]
    new = changes.cursor
    assert (new.since, new.names) == (T0 + 13, {"t3_p00013"})
    assert [r[0] for r in new.recent] == ["t3_p00010", "t3_p00011", "t3_p00012", "t3_p00013"]
    # Same answers again: nothing new, no edit twice.
    again = apply_poll(new, found, Page(posts=[p(13, T0 + 13)]), keep=4)
    assert (again.mentions, again.edits, again.deleted) == ([], [], [])
    # A post at the cursor's second that was not taken yet is new.
    same_second = apply_poll(new, Page(posts=[p(14, T0 + 13)]), Page(), keep=0)
    assert [m.source_id for m in same_second.mentions] == ["t3_p00014"]
    assert same_second.cursor.names == {"t3_p00013", "t3_p00014"}
    assert same_second.cursor.recent == []
    # Without a recheck list only the names at the cursor's second tell what was taken.
    bare = Cursor(since=T0 + 10, names={"t3_p00010"}, recent=[])
    only = apply_poll(bare, found, Page(), keep=0)
    assert [m.source_id for m in only.mentions] == ["t3_p00011", "t3_p00012", "t3_p00013"]


def test_cursor_round_trips_and_a_bad_one_says_so(tmp_path: Path) -> None:
    c = Cursor(T0, {"t3_a"}, [("t3_a", T0, 0.0)])
    assert Cursor.load(json.loads(json.dumps(c.dump())), 0.0, "x") == c
    assert Cursor.load({}, 42.0, "x") == Cursor(42.0, set(), [])
    with pytest.raises(CursorError, match="not a reddit cursor"):
        Cursor.load({"since": "soon"}, 0.0, "x.json")


# --------------------------------------------------------------------------- settings


def table(**over: Any) -> dict[str, Any]:
    return {"query": "northwind", "user_agent": UA, **over}


def test_settings_from_config_and_a_bad_user_agent_is_refused() -> None:
    spec = settings_from_table("reddit", table(subreddit="r/laptops", interval=30))
    assert spec.settings.subreddit == "r/laptops"
    assert spec.settings.endpoint == "https://oauth.reddit.com"
    assert spec.settings.auth_endpoint == "https://www.reddit.com"
    assert spec.settings.client_id_env == "REDDIT_CLIENT_ID"
    for bad in ("python-requests/2.31", "groundcontrol 0.1", "linux:gc:0.1 by acme"):
        with pytest.raises(FeedConfigError, match=r"form Reddit asks for.*\(by /u/"):
            settings_from_table("reddit", table(user_agent=bad))
    with pytest.raises(FeedConfigError, match=r"user_agent is required.*linux:groundcontrol"):
        settings_from_table("reddit", {"query": "northwind"})
    with pytest.raises(FeedConfigError, match="subreddit"):
        settings_from_table("reddit", table(subreddit="r/no spaces"))
    with pytest.raises(FeedConfigError, match="recheck"):
        settings_from_table("reddit", table(recheck=500))
    with pytest.raises(FeedConfigError, match="query is empty"):
        settings_from_table("reddit", table(query="  "))


# --------------------------------------------------------------------------- the fake


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeReddit, str]]:
    api = FakeReddit()
    runner = web.AppRunner(api.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield api, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_token_flow_renews_before_expiry_and_on_401(fake: tuple[FakeReddit, str]) -> None:
    api, url = fake
    api.posts = [post(1, T0, "Northwind")]
    now = [100.0]
    async with aiohttp.ClientSession(headers={"User-Agent": UA}) as http:
        bad = RedditAuth(http, url, "fake-client-id", "wrong", where="$ID_VAR and $SECRET_VAR")
        with pytest.raises(AuthError, match=r"refused the app credentials.*\$ID_VAR and \$SEC"):
            await bad.token()
        auth = RedditAuth(
            http, url, "fake-client-id", "fake-client-secret", where="x", clock=lambda: now[0]
        )
        assert await auth.token() == "fake-token-1"
        assert await auth.token() == "fake-token-1"  # kept while it lives
        now[0] += 86_400 - 61  # a minute and a bit before expiry: still good
        assert await auth.token() == "fake-token-1"
        now[0] += 2  # within the last minute: renewed
        assert await auth.token() == "fake-token-2"
        assert api.tokens_issued == 2
        # The API revokes every token (an expired one): the next GET gets 401, renews
        # the token and tries again once, transparently.
        rest = RedditAPI(http, url, auth, SourceHealth(), lambda _m: None)
        api.revoke_after = 0
        body = await rest.get("/search", {"q": "northwind", "sort": "new"})
        assert [p.mention.source_id for p in parse_listing(body).posts] == ["t3_p00001"]
        assert [r.status for r in api.api_requests()] == [401, 200]
        assert [r.authorization for r in api.api_requests()] == [
            "bearer fake-token-2",
            "bearer fake-token-3",
        ]
    token_calls = [r for r in api.requests if r.method == "POST"]
    assert all(r.user_agent == UA for r in api.requests)
    assert len(token_calls) == 4  # one refused, three issued


def ctx_for(state: Path, port: int, name: str = "reddit", **kw: Any) -> FeedContext:
    return FeedContext(
        f"ws://127.0.0.1:{port}",
        name,
        state_dir=state,
        clock=kw.pop("clock", lambda: T0 + 1_000.0),
        env=kw.pop("env", ENV),
        **kw,
    )


def stored(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT source_id, text FROM mentions WHERE source = 'reddit'"))


async def test_bad_or_missing_credentials_stop_the_feed_with_a_clear_message(
    fake: tuple[FakeReddit, str], tmp_path: Path
) -> None:
    api, url = fake
    settings = Settings(query="northwind", user_agent=UA, endpoint=url, auth_endpoint=url)
    env = {"REDDIT_CLIENT_ID": "fake-client-id", "REDDIT_CLIENT_SECRET": "leaked-or-wrong"}
    events: list[str] = []
    ctx = ctx_for(tmp_path, 9, env=env, on_event=events.append)
    with pytest.raises(FeedConfigError) as err:
        await run(settings, ctx, stop_after_polls=1)
    assert "$REDDIT_CLIENT_ID and $REDDIT_CLIENT_SECRET" in str(err.value)
    assert "prefs/apps" in str(err.value)
    assert "leaked-or-wrong" not in str(err.value) + "".join(events)
    with pytest.raises(FeedConfigError, match=r"REDDIT_CLIENT_SECRET .* is not set"):
        await run(settings, ctx_for(tmp_path, 9, env={"REDDIT_CLIENT_ID": "x"}), stop_after_polls=1)
    assert api.api_requests() == []


# --------------------------------------------------------------------------- end to end


async def test_polls_resume_after_a_restart_with_no_gap_and_no_duplicate(
    fake: tuple[FakeReddit, str], tmp_path: Path
) -> None:
    api, url = fake
    api.posts = [post(i, T0 + i, f"Northwind post {i}", f"body {i}") for i in range(1, 251)]
    api.posts += [post(1000, T0 + 5, "about something else")]
    api.posts += [post(1001, T0 - 7200, "Northwind, but older than the first hour")]
    bad_time = post(1002, T0 + 100, "Northwind bad time")
    bad_time["data"]["created_utc"] = "yesterday"
    comment = {"kind": "t1", "data": {"name": "t1_c1", "body": "Northwind", "created_utc": T0}}
    api.posts += [bad_time, comment]
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    state = tmp_path / "state"
    events: list[str] = []
    try:
        settings = Settings(
            query="northwind", user_agent=UA, endpoint=url, auth_endpoint=url, interval=0.02
        )
        ctx = ctx_for(state, port, on_event=events.append)
        backoff = Backoff(initial=0.02, maximum=0.05)
        # First run: a 500, a response cut in half, a 429, and the token revoked midway.
        api.fail_next = 1
        api.cut_next = 1
        api.rate_limit_next = 1
        api.retry_after = "0.1"
        api.revoke_after = 6
        await run(settings, ctx, stop_after_polls=5, backoff=backoff)
        # Every wait it chose is the short backoff given, or the Retry-After the fake
        # sent (not its default 5 s, nor a minute for the 429).
        waits = [
            float(w) for w in re.findall(r"(?:retrying in|waiting) ([0-9.]+)s", "\n".join(events))
        ]
        assert len(waits) >= 3 and max(waits) <= 0.1, events
        assert len(stored(db)) == 250
        saved = CursorFile(state / "reddit.json").load()
        assert (saved["since"], saved["names"]) == (T0 + 250, ["t3_p00250"])
        # New posts while the feed is down, some in the same second as the cursor.
        api.posts += [post(i, T0 + i, f"Northwind post {i}") for i in range(251, 281)]
        api.posts += [post(2000, T0 + 250, "Northwind, same second as the cursor")]
        before = len(api.api_requests())
        await run(settings, ctx, stop_after_polls=1, backoff=backoff)
        resumed = api.api_requests()[before:]
    finally:
        await runner.cleanup()
    ids = stored(db)
    assert sorted(ids) == sorted([f"t3_p{i:05d}" for i in range(1, 281)] + ["t3_p02000"]), (
        "a gap or an extra"
    )
    assert ids["t3_p00007"] == "Northwind post 7\n\nbody 7"
    assert hub.counters.duplicates == 0  # the cursor's own second was not sent again
    # Paging: sort=new, 100 a page, following after; the restart read one page.
    searches = [r for r in api.api_requests() if r.path == "/search" and r.status == 200]
    assert searches[0].query == {
        "q": "northwind",
        "sort": "new",
        "limit": "100",
        "raw_json": "1",
        "type": "link",
    }
    afters = [r.query["after"] for r in api.api_requests() if "after" in r.query]
    assert afters == ["t3_p00152", "t3_p00052"]
    assert [r.path for r in resumed] == ["/search", "/api/info"]
    assert len(resumed[1].query["id"].split(",")) == 100
    # The errors were said, the token was renewed, the bad items are dead letters.
    statuses = [r.status for r in api.api_requests()]
    assert 500 in statuses and 429 in statuses and 401 in statuses
    assert api.tokens_issued == 3  # first run, after the revocation, the restart
    assert any("500" in e for e in events) and any("429" in e for e in events)
    assert any("ClientPayloadError" in e or "not JSON" in e for e in events)
    with sqlite3.connect(db) as con:
        reasons = [r[0] for r in con.execute("SELECT reason FROM dead_letters")]
    assert "feed: bad created_utc 'yesterday'" in reasons
    assert "feed: kind 't1' is not a post (t3)" in reasons
    assert all(r.startswith("feed: ") for r in reasons)


async def test_quota_headers_make_it_wait_for_the_reset(
    fake: tuple[FakeReddit, str], tmp_path: Path
) -> None:
    api, url = fake
    api.posts = [post(1, T0, "Northwind")]
    # Long enough that the two first polls (10 ms apart) are in one window on any
    # machine: the scenario is "two requests, then the quota is used up".
    window = 2.0
    api.quota, api.window = 2, window
    health = SourceHealth()
    settings = Settings(
        query="northwind", user_agent=UA, endpoint=url, auth_endpoint=url, interval=0.01, recheck=0
    )
    events: list[str] = []
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    try:
        ctx = ctx_for(tmp_path, port, clock=time.time, on_event=events.append)
        task = asyncio.create_task(run(settings, ctx, stop_after_polls=3, health=health))
        waits: list[tuple[float, str]] = []
        while not task.done():
            status = health.status()
            if status.rate_limit_wait > 0:
                waits.append((status.rate_limit_wait, status.detail))
            await asyncio.sleep(0.01)
        await task
    finally:
        await runner.cleanup()
    seen = api.api_requests()
    assert [r.status for r in seen] == [200, 200, 200]  # never over the quota
    assert seen[1].window_start == seen[0].window_start  # the scenario: one window
    # The third waited for the window the first opened to end; the second did not
    # wait at all: the one wait it announced came once the quota was used up.
    assert seen[2].at >= seen[0].window_start + window
    quota_waits = [e for e in events if "quota used up" in e]
    assert len(quota_waits) == 1 and "(2 requests)" in quota_waits[0], quota_waits
    assert waits and max(w for w, _ in waits) <= window
    assert "quota used up (2 requests)" in waits[0][1]


async def test_a_subreddit_search_with_edits_and_deletions(
    fake: tuple[FakeReddit, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, url = fake
    api.posts = [post(i, T0 + i, f"Northwind post {i}", "first words") for i in range(1, 6)]
    api.posts += [post(9, T0 + 9, "Northwind elsewhere", subreddit="hardware")]
    emitted: list[tuple[list[Mention], list[Mention], list[Retraction]]] = []

    class Spy(Emitter):
        async def emit(
            self,
            mentions: list[Mention],
            cursor: dict[str, Any],
            *,
            edits: list[Mention] | None = None,
            deleted: list[Retraction] | None = None,
        ) -> None:
            emitted.append((mentions, edits or [], deleted or []))
            await super().emit(mentions, cursor, edits=edits, deleted=deleted)

    monkeypatch.setattr(reddit, "Emitter", Spy)
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    try:
        settings = Settings(
            query="northwind",
            user_agent=UA,
            subreddit="r/laptops",
            endpoint=url,
            auth_endpoint=url,
            interval=0.01,
        )
        ctx = ctx_for(tmp_path / "state", port)
        await run(settings, ctx, stop_after_polls=1)
        api.edit("t3_p00002", "second words", at=T0 + 500)
        api.delete("t3_p00004")
        await run(settings, ctx, stop_after_polls=1)
    finally:
        await runner.cleanup()
    first = api.api_requests()[0]
    assert first.path == "/r/laptops/search" and first.query["restrict_sr"] == "1"
    assert [m.source_id for m in emitted[0][0]] == [f"t3_p0000{i}" for i in range(1, 6)]
    mentions, edits, deleted = emitted[1]
    assert mentions == []
    assert [(m.source_id, m.text) for m in edits] == [
        ("t3_p00002", "Northwind post 2\n\nsecond words")
    ]
    assert deleted == [Retraction(source="reddit", source_id="t3_p00004")]
    saved = CursorFile(tmp_path / "state" / "reddit.json").load()
    assert [r[0] for r in saved["recent"]] == ["t3_p00001", "t3_p00002", "t3_p00003", "t3_p00005"]


async def test_edits_and_deletions_reach_the_store(
    fake: tuple[FakeReddit, str], tmp_path: Path
) -> None:
    api, url = fake
    api.posts = [post(i, T0 + i, f"Northwind post {i}", "first words") for i in range(1, 4)]
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    try:
        settings = Settings(
            query="northwind", user_agent=UA, endpoint=url, auth_endpoint=url, interval=0.01
        )
        ctx = ctx_for(tmp_path / "state", port)
        await run(settings, ctx, stop_after_polls=1)
        api.edit("t3_p00001", "second words", at=T0 + 500)
        api.delete("t3_p00003")
        await run(settings, ctx, stop_after_polls=1)
    finally:
        await runner.cleanup()
    assert stored(db) == {
        "t3_p00001": "Northwind post 1\n\nsecond words",
        "t3_p00002": "Northwind post 2\n\nfirst words",
    }
