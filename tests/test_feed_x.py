"""The X adapter against a fake X API on loopback, with a real hub."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import feeds.x as xfeed
from feeds.base import CursorFile, Emitter, FeedConfigError, FeedContext
from feeds.x import (
    OVERLAP_MS,
    Reconnect,
    Rule,
    Settings,
    http_delay,
    lang_code,
    network_delay,
    parse_rule_change,
    parse_rules,
    parse_search_page,
    parse_stream_line,
    plan_rule_sync,
    rate_limit_delay,
    snowflake_at,
    snowflake_ms,
    sync_rules,
)
from groundcontrol.hub.server import Hub, start_hub
from tests.deadline import SAFETY, until
from tests.fakes.x import (
    OPERATIONAL_DISCONNECT,
    TOKEN,
    UNAVAILABLE,
    Cut,
    End,
    FakeX,
    Hide,
    Line,
    Post,
    Refuse,
    Send,
    Stall,
    now_ms,
    post,
    rate_limited,
    snowflake,
)
from tests.test_hub import small_config

ROOT = Path(__file__).resolve().parent.parent
# Short waits for tests: the real ones are 20 s, 250 ms, 5 s and 60 s. The stall
# timeout stays long next to the fake's keep-alives (every 50 ms), so that a busy
# machine's late keep-alive is never taken for a stall: a stall in a test is a Stall.
FAST: dict[str, float] = {
    "stall_timeout": 2.0,
    "network_base": 0.01,
    "http_base": 0.02,
    "rate_limit_base": 0.05,
    "request_timeout": SAFETY,
}
T_MS = 1_714_566_896_000  # 2024-05-01T12:34:56Z


def line(p: Post, *rules: tuple[str, str], **extra: Any) -> bytes:
    obj: dict[str, Any] = {
        "data": p.data(),
        "includes": {"users": [p.user()]},
        "matching_rules": [{"id": i, "tag": t} for i, t in rules] or [{"id": "1", "tag": "gc"}],
    }
    obj.update(extra)
    return json.dumps(obj).encode() + b"\r\n"


# --------------------------------------------------------------------------- parsing


def test_parse_a_stream_line_with_the_users_expansion() -> None:
    p = post(T_MS, "Northwind Aero 14 &amp; its charger: &lt;3", username="dana_k", followers=5400)
    p.likes, p.reposts, p.replies, p.quotes = 12, 4, 7, 1
    parsed = parse_stream_line(line(p, ("1", "gc")), "gc")
    assert not parsed.skipped and not parsed.errors and parsed.ignored == 0
    [t] = parsed.tweets
    m = t.mention
    assert t.id == int(p.id) and not t.edit
    assert (m.source, m.source_id) == ("x", p.id)
    assert m.text == "Northwind Aero 14 & its charger: <3"
    assert m.url == f"https://x.com/dana_k/status/{p.id}"
    assert (m.author, m.author_reach, m.lang) == ("dana_k", 5400, "en")
    assert m.created_at == datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)
    e = m.engagement
    assert (e.likes, e.reposts, e.replies, e.quotes) == (12, 4, 7, 1)


def test_parse_without_the_user_and_with_odd_languages() -> None:
    p = post(T_MS, "northwind", lang="und")
    obj = {"data": p.data(), "matching_rules": [{"id": "9", "tag": "gc"}]}
    [t] = parse_stream_line(json.dumps(obj).encode(), "gc").tweets
    assert t.mention.url == f"https://x.com/i/web/status/{p.id}"
    assert (t.mention.author, t.mention.author_reach, t.mention.lang) == ("", 0, "")
    assert [lang_code(c) for c in ("en", "in", "iw", "und", "qme", "zxx", "pt-BR", None)] == [
        "en",
        "id",
        "he",
        "",
        "",
        "",
        "",
        "",
    ]
    # A long post's full text comes in note_tweet; no created_at: the id says when.
    data = {**p.data(), "note_tweet": {"text": "northwind " * 40}}
    del data["created_at"]
    [t] = parse_stream_line(json.dumps({"data": data}).encode(), "gc").tweets
    assert t.mention.text == ("northwind " * 40).strip()
    assert t.mention.created_at == datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)
    assert snowflake_ms(int(p.id)) == T_MS and snowflake_at(T_MS) == int(p.id)


def test_an_edited_post_is_an_edit_of_its_first_version() -> None:
    first = post(T_MS, "Northwind support is slow")
    edited = post(T_MS + 60_000, "Northwind support is slow (fixed now!)")
    edited.edit_history = [first.id, edited.id]
    [t] = parse_stream_line(line(edited), "gc").tweets
    assert t.edit and t.id == int(edited.id)
    assert t.mention.source_id == first.id
    assert t.mention.text == "Northwind support is slow (fixed now!)"
    [t] = parse_stream_line(line(first), "gc").tweets
    assert not t.edit and t.mention.source_id == first.id


def test_malformed_lines_are_skipped_with_a_reason() -> None:
    good = post(T_MS, "northwind")

    def bad(**data: Any) -> bytes:
        return json.dumps({"data": {**good.data(), **data}}).encode()

    cases = {
        b"{not json": "not JSON",
        b"[1, 2]": "a stream line is a JSON object, not list",
        b'{"includes": {}}': "neither data nor errors",
        json.dumps({"data": "text"}).encode(): "a post is a JSON object, not str",
        bad(id="abc"): "bad id 'abc'",
        bad(id=123): "bad id 123",
        bad(text=None): "no text",
        bad(text="   "): "empty text",
        bad(created_at="yesterday"): "bad created_at 'yesterday'",
        bad(created_at="2024-05-01T12:00:00"): "bad created_at '2024-05-01T12:00:00' (no timezone)",
        bad(edit_history_tweet_ids=["x1", good.id]): "bad edit_history_tweet_ids[0] 'x1'",
    }
    for raw, reason in cases.items():
        parsed = parse_stream_line(raw, "gc")
        assert parsed.tweets == [], raw
        [(why, payload)] = parsed.skipped
        assert why.startswith(reason), (raw, why)
        assert payload == raw.decode()
    # Keep-alives are nothing at all; other tags' posts are ignored, not dead letters.
    assert parse_stream_line(b"\r\n", "gc") == xfeed.Parsed()
    other = parse_stream_line(line(good, ("77", "other-team")), "gc")
    assert (other.tweets, other.skipped, other.ignored) == ([], [], 1)
    # ... unless the rule is ours under another tag (a duplicate X kept once).
    assert parse_stream_line(line(good, ("77", "other-team")), "gc", frozenset({"77"})).tweets


def test_errors_lines_and_operational_disconnects() -> None:
    parsed = parse_stream_line(json.dumps(OPERATIONAL_DISCONNECT).encode(), "gc")
    assert parsed.disconnect.startswith("This stream has been disconnected upstream")
    assert parsed.errors and parsed.errors[0].startswith("operational-disconnect")
    # A post with a partial error (its author could not be expanded) still counts.
    p = post(T_MS, "northwind")
    partial = line(
        p,
        errors=[
            {
                "value": "2244994945",
                "detail": "Could not find user with ids: [2244994945].",
                "title": "Not Found Error",
                "resource_type": "user",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ],
    )
    parsed = parse_stream_line(partial, "gc")
    assert len(parsed.tweets) == 1 and parsed.disconnect == ""


def test_parse_a_search_page() -> None:
    a, b = post(T_MS, "northwind a", username="ann"), post(T_MS + 1, "northwind b", seq=1)
    body = {
        "data": [b.data(), a.data(), {"id": "x", "text": "bad"}],
        "includes": {"users": [a.user()]},
        "meta": {"newest_id": b.id, "oldest_id": a.id, "result_count": 3, "next_token": "t2"},
    }
    parsed, token = parse_search_page(json.dumps(body).encode())
    assert token == "t2"
    assert [t.mention.source_id for t in parsed.tweets] == [b.id, a.id]
    assert parsed.tweets[1].mention.author == "ann"
    assert [r for r, _ in parsed.skipped] == ["bad id 'x'"]
    empty, token = parse_search_page(b'{"meta": {"result_count": 0}}')
    assert (empty.tweets, token) == ([], "")
    with pytest.raises(ValueError, match="Invalid Request"):
        parse_search_page(
            b'{"errors":[{"parameters":{"since_id":["1"]},"message":"Invalid since_id"}],'
            b'"title":"Invalid Request","detail":"One or more parameters was invalid."}'
        )
    with pytest.raises(ValueError, match="not JSON"):
        parse_search_page(b'{"data": [')


def test_rules_parsing_and_the_sync_plan() -> None:
    body = (
        b'{"data":[{"id":"1","value":"northwind","tag":"gc"},{"id":"2","value":"old","tag":"gc"},'
        b'{"id":"3","value":"contoso","tag":"team"},{"id":"4","value":"untagged"}],'
        b'"meta":{"sent":"2024-05-01T12:00:00.000Z","result_count":4}}'
    )
    rules = parse_rules(body)
    assert rules[3] == Rule("4", "untagged", "")
    assert plan_rule_sync(rules, ["northwind", "aero 14", "contoso"], "gc") == (
        ["2"],
        ["aero 14", "contoso"],
    )
    assert parse_rules(b'{"meta":{"sent":"x","result_count":0}}') == []
    with pytest.raises(ValueError):
        parse_rules(b'{"title":"Unauthorized","status":401}')
    invalid = parse_rule_change(
        b'{"meta":{"sent":"x","summary":{"created":0,"not_created":1,"valid":0,"invalid":1}},'
        b'"errors":[{"value":"brand:northwind","details":["Reference to invalid operator '
        b'\'brand\'."],"title":"UnprocessableEntity",'
        b'"type":"https://api.twitter.com/2/problems/invalid-rules"}]}'
    )
    assert invalid.invalid == [
        "UnprocessableEntity for 'brand:northwind': Reference to invalid operator 'brand'."
    ]
    dup = parse_rule_change(
        b'{"data":[{"id":"8","value":"a","tag":"gc"}],"meta":{"sent":"x","summary":'
        b'{"created":1,"not_created":1,"valid":2,"invalid":0}},"errors":[{"value":"b","id":"5",'
        b'"title":"DuplicateRule","type":"https://api.twitter.com/2/problems/duplicate-rules"}]}'
    )
    assert (dup.created, dup.duplicates, dup.invalid) == ([Rule("8", "a", "gc")], {"b": "5"}, [])


def test_backoff_curves_are_the_ones_x_documents() -> None:
    assert [network_delay(n) for n in (1, 2, 3, 4, 63, 64, 65, 500)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        15.75,
        16.0,
        16.0,
        16.0,
    ]
    assert [http_delay(n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 320, 320]
    assert [rate_limit_delay(n) for n in range(1, 7)] == [60, 120, 240, 480, 960, 960]
    assert http_delay(10**6) == 320 and rate_limit_delay(10**6) == 960
    r = Reconnect()
    assert [r.next_delay("network") for _ in range(3)] == [0.25, 0.5, 0.75]
    assert [r.next_delay("http") for _ in range(3)] == [5, 10, 20]
    assert r.next_delay("rate") == 60
    assert r.next_delay("rate", reset_in=400.0) == 401.0  # x-rate-limit-reset is later
    assert r.next_delay("rate", reset_in=10.0) == 240
    r.reset()
    assert (r.next_delay("network"), r.next_delay("http"), r.next_delay("rate")) == (0.25, 5, 60)
    fast = Reconnect(0.01, 0.02, 0.05)
    assert [fast.next_delay("http") for _ in range(3)] == [0.02, 0.04, 0.08]


def test_settings_check() -> None:
    Settings(rules=["northwind"]).check()
    for bad, why in [
        (Settings(rules=[]), "rules is empty"),
        (Settings(rules=["a", " "]), "rules is empty"),
        (Settings(rules=["a", "a"]), "twice"),
        (Settings(rules=["a"], tag=""), "tag is empty"),
        (Settings(rules=["a"], endpoint="api.x.com"), "endpoint"),
    ]:
        with pytest.raises(FeedConfigError, match=why):
            bad.check()


# --------------------------------------------------------------------------- against the fake


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeX, str]]:
    x = FakeX()
    runner = web.AppRunner(x.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield x, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str, Path]]:
    db = tmp_path / "gc.db"
    # Enrichment inline: no worker processes to start for each test.
    h, runner, port = await start_hub(small_config(enrich_workers=0), port=0, store_path=db)
    yield h, f"ws://127.0.0.1:{port}", db
    await runner.cleanup()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return list(con.execute(sql))


def stored(db: Path) -> list[str]:
    return [r[0] for r in rows(db, "SELECT source_id FROM mentions WHERE source = 'x'")]


@asynccontextmanager
async def feed(
    settings: Settings, ctx: FeedContext, **kw: float
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(xfeed.run(settings, ctx, **{**FAST, **kw}))
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def context(url: str, tmp_path: Path, events: list[str], token: str = TOKEN) -> FeedContext:
    return FeedContext(
        url,
        "x",
        state_dir=tmp_path / "state",
        on_event=events.append,
        env={"X_BEARER_TOKEN": token},
    )


async def test_rules_sync_adds_deletes_only_ours_and_leaves_others(
    fake: tuple[FakeX, str],
) -> None:
    x, endpoint = fake
    kept = x.add_rule("northwind", "groundcontrol")
    stale = x.add_rule("old campaign", "groundcontrol")
    other = x.add_rule("contoso", "other-team")
    shared = x.add_rule("fabrikam", "other-team")
    untagged = x.add_rule("untagged rule")
    wanted = ["northwind", "aero 14 battery", "fabrikam"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        sync = await sync_rules(http, endpoint, wanted, "groundcontrol")
        assert x.rule_posts == [
            {"delete": {"ids": [stale]}},
            {
                "add": [
                    {"value": "aero 14 battery", "tag": "groundcontrol"},
                    {"value": "fabrikam", "tag": "groundcontrol"},
                ]
            },
        ]
        by_value = {r["value"]: r for r in x.rules.values()}
        assert set(by_value) == {
            "northwind",
            "aero 14 battery",
            "contoso",
            "fabrikam",
            "untagged rule",
        }
        assert by_value["northwind"]["id"] == kept
        assert by_value["aero 14 battery"]["tag"] == "groundcontrol"
        assert (by_value["contoso"]["id"], by_value["contoso"]["tag"]) == (other, "other-team")
        assert by_value["fabrikam"]["tag"] == "other-team"
        assert by_value["untagged rule"]["id"] == untagged
        assert (sync.added, sync.deleted, sync.shared) == (
            ["aero 14 battery", "fabrikam"],
            [stale],
            {"fabrikam": shared},
        )
        assert sync.ids == {kept, by_value["aero 14 battery"]["id"], shared}
        # In step: nothing to change the second time.
        again = await sync_rules(http, endpoint, wanted, "groundcontrol")
        assert len(x.rule_posts) == 3  # only the add of "fabrikam", refused as duplicate
        assert again.shared == {"fabrikam": shared} and not again.deleted


async def test_invalid_rules_and_a_bad_token_stop_the_feed_with_a_clear_error(
    fake: tuple[FakeX, str], tmp_path: Path
) -> None:
    x, endpoint = fake
    events: list[str] = []
    ctx = context("ws://127.0.0.1:9", tmp_path, events)
    bad = Settings(rules=["northwind", "brand:northwind"], endpoint=endpoint)
    with pytest.raises(FeedConfigError) as err:
        await asyncio.wait_for(xfeed.run(bad, ctx, **FAST), SAFETY)
    assert "X refused the stream rules" in str(err.value)
    assert "'brand:northwind'" in str(err.value) and "invalid operator 'brand'" in str(err.value)
    assert x.rules == {}  # nothing added
    wrong = context("ws://127.0.0.1:9", tmp_path, events, token="wrong-token-value")
    with pytest.raises(FeedConfigError) as err:
        await asyncio.wait_for(xfeed.run(Settings(rules=["a"], endpoint=endpoint), wrong), SAFETY)
    assert "X_BEARER_TOKEN" in str(err.value) and "401" in str(err.value)
    assert "wrong-token-value" not in str(err.value) + "".join(events)


async def test_missing_token_is_a_clear_error(tmp_path: Path) -> None:
    ctx = FeedContext("ws://127.0.0.1:9", "x", state_dir=tmp_path, env={})
    with pytest.raises(FeedConfigError, match=r"X_BEARER_TOKEN .*is not set"):
        await xfeed.run(Settings(rules=["northwind"]), ctx)


def test_missing_token_stops_the_command_with_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "X_BEARER_TOKEN"}
    out = subprocess.run(
        [sys.executable, "-m", "groundcontrol", "feed", "x", "--rules", "northwind"],
        cwd=ROOT,
        env={**env, "XDG_STATE_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=SAFETY,
    )
    assert out.returncode == 2
    assert "X_BEARER_TOKEN" in out.stderr and "not set" in out.stderr


async def test_stream_survives_limits_errors_cuts_and_stalls_with_no_gap(
    fake: tuple[FakeX, str], hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    x, endpoint = fake
    _, url, db = hub
    x.add_rule("contoso", "other-team")
    t0 = now_ms() - 120_000
    p = [post(t0 + i * 1000, f"Northwind Aero 14 post {i}") for i in range(9)]
    garbled = json.dumps({"data": {**p[0].data(), "id": "abc"}}).encode() + b"\r\n"
    x.connections = [
        [rate_limited()],
        [Refuse(503, UNAVAILABLE)],
        [
            Line(b"\r\n"),
            Send(p[1]),
            Send(p[2]),
            Line(b"{not json\r\n"),
            Line(garbled),
            Send(post(t0 + 2500, "contoso is hiring")),
            Send(post(t0 + 2600, "RT @dana_k: Northwind Aero 14 post 2")),
            Line(b"\r\n"),
            Send(p[3]),
            Hide(p[4]),
            Cut(p[5]),
        ],
        [Send(p[6]), Hide(p[7]), Stall(SAFETY)],
        [Line(json.dumps(OPERATIONAL_DISCONNECT).encode() + b"\r\n"), End()],
        [Send(p[8])],
    ]
    events: list[str] = []
    ctx = context(url, tmp_path, events)
    settings = Settings(rules=["northwind -is:retweet"], endpoint=endpoint)
    want = sorted(q.id for q in p[1:])
    async with feed(settings, ctx):
        await until(lambda: sorted(stored(db)) == want)
        await until(
            lambda: CursorFile(tmp_path / "state" / "x.json").load().get("since_id") == p[8].id
        )
    ids = stored(db)
    assert sorted(ids) == want and len(ids) == len(set(ids))
    assert x.stream_connects == 6
    # Each reconnect with a cursor filled the gap from the newest post seen, less the overlap.
    since = [r.get("since_id") for r in x.search_requests]
    # After the cut, the stall (p[7] may have come in the backfill before it: the fake
    # posts it while the feed reads the gap) and the operational disconnect.
    gap = {q.id: str(snowflake_at(snowflake_ms(int(q.id)) - OVERLAP_MS)) for q in p}
    assert len(since) == 3
    assert since[0] == gap[p[3].id] and since[1] in (gap[p[6].id], gap[p[7].id])
    assert since[2] == gap[p[7].id]
    assert all(r["query"] == "northwind -is:retweet" for r in x.search_requests)
    reasons = sorted(r[0] for r in rows(db, "SELECT reason FROM dead_letters"))
    assert [r.split(":")[:2] for r in reasons] == [["feed", " bad id 'abc'"], ["feed", " not JSON"]]
    said = "\n".join(events)
    for why in ("HTTP 429", "HTTP 503", "stream stalled", "operational reasons", "backfill: "):
        assert why in said, why


async def test_a_restart_resumes_from_the_saved_id_with_no_gap_and_no_duplicate(
    fake: tuple[FakeX, str], hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    x, endpoint = fake
    h, url, db = hub
    t0 = now_ms() - 600_000
    first = [post(t0 + i * 1000, f"northwind first run {i}") for i in range(3)]
    x.connections = [[Send(q) for q in first]]
    settings = Settings(rules=["northwind"], endpoint=endpoint)
    events: list[str] = []
    ctx = context(url, tmp_path, events)
    cursor = CursorFile(tmp_path / "state" / "x.json")
    async with feed(settings, ctx):
        await until(lambda: cursor.load().get("since_id") == first[-1].id)
    assert x.search_requests == []  # no cursor at first: nothing to fill
    # 150 posts while the feed is down (two pages of search), then one live.
    down = [post(t0 + 5000 + i * 100, f"northwind while down {i}") for i in range(150)]
    x.posts += down
    live = post(t0 + 30_000, "northwind live again")
    x.connections = [[Send(live)]]
    async with feed(settings, ctx):
        await until(lambda: cursor.load().get("since_id") == live.id)
    ids = stored(db)
    assert sorted(ids) == sorted(q.id for q in [*first, *down, live])
    assert len(ids) == len(set(ids))
    start = str(snowflake_at(snowflake_ms(int(first[-1].id)) - OVERLAP_MS))
    assert [(r["since_id"], r.get("next_token")) for r in x.search_requests] == [
        (start, None),
        (start, "b26v89c19zqg8o3f100"),
    ]
    assert h.counters.duplicates >= 3  # the overlap came again; the hub dropped it


async def test_search_rate_limits_are_waited_out_before_the_stream_is_read(
    fake: tuple[FakeX, str], hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    x, endpoint = fake
    _, url, db = hub
    t0 = now_ms() - 60_000
    old, missed, live = (post(t0 + i * 1000, f"northwind {i}") for i in range(3))
    x.posts = [old, missed]
    CursorFile(tmp_path / "state" / "x.json").save({"since_id": old.id})
    x.search_refusals = [rate_limited(), Refuse(500, {"title": "Internal Error"})]
    x.connections = [[Send(live)], [Send(live)], [Send(live)]]
    events: list[str] = []
    async with feed(
        Settings(rules=["northwind"], endpoint=endpoint), context(url, tmp_path, events)
    ):
        await until(lambda: sorted(stored(db)) == sorted([old.id, missed.id, live.id]))
    assert len(x.search_requests) == 3 and x.stream_connects == 3
    said = "\n".join(events)
    assert "recent search: HTTP 429" in said and "recent search: HTTP 500" in said


async def test_a_search_x_refuses_does_not_hold_up_the_stream(
    fake: tuple[FakeX, str], hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    x, endpoint = fake
    _, url, db = hub
    t0 = now_ms() - 60_000
    old, missed, live = (post(t0 + i * 1000, f"northwind {i}") for i in range(3))
    x.posts = [missed]
    CursorFile(tmp_path / "state" / "x.json").save({"since_id": old.id})
    x.search_refusals = [
        Refuse(
            400,
            {
                "errors": [{"parameters": {"query": ["x"]}, "message": "Query is too long"}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
            },
        )
    ]
    x.connections = [[Send(live)]]
    events: list[str] = []
    async with feed(
        Settings(rules=["northwind"], endpoint=endpoint), context(url, tmp_path, events)
    ):
        await until(lambda: stored(db) == [live.id])
    assert x.stream_connects == 1
    assert "backfill failed: recent search: HTTP 400 (Invalid Request" in "\n".join(events)
    assert "Query is too long" in "\n".join(events)


async def test_backoff_starts_over_after_a_connection_that_delivered_data(
    fake: tuple[FakeX, str], hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    x, endpoint = fake
    _, url, _db = hub
    busy = Refuse(503, UNAVAILABLE)
    first = post(now_ms() - 10_000, "northwind")
    x.connections = [[busy], [busy], [Send(first), End()], [busy]]
    events: list[str] = []
    async with feed(
        Settings(rules=["northwind"], endpoint=endpoint), context(url, tmp_path, events)
    ):
        await until(lambda: x.stream_connects == 5)
    waits = [float(m) for m in re.findall(r"retrying in ([0-9.]+)s", "\n".join(events))]
    # HTTP errors double (0.02, 0.04); data resets it all: the next 503 waits 0.02 again.
    assert waits == [0.02, 0.04, 0.01, 0.02]


@pytest.fixture
def emits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    real = Emitter.emit

    def spy(self: Any, mentions: Any, cursor: Any, **kw: Any) -> Awaitable[None]:
        calls.append({"mentions": list(mentions), "cursor": cursor, **kw})
        return real(self, mentions, cursor, **kw)

    monkeypatch.setattr(Emitter, "emit", spy)
    yield calls


async def _edit_run(
    fake: tuple[FakeX, str], url: str, tmp_path: Path, db: Path
) -> tuple[Post, Post]:
    x, endpoint = fake
    t0 = now_ms() - 60_000
    first = post(t0, "Northwind support never answers")
    edited = post(t0 + 90_000, "Northwind support never answers. Update: they called back!")
    edited.edit_history = [first.id, edited.id]
    x.connections = [[Send(first), Send(edited)]]
    cursor = CursorFile(tmp_path / "state" / "x.json")
    async with feed(Settings(rules=["northwind"], endpoint=endpoint), context(url, tmp_path, [])):
        await until(lambda: cursor.load().get("since_id") == edited.id)
    return first, edited


async def test_run_sends_an_edited_post_as_an_edit(
    fake: tuple[FakeX, str],
    hub: tuple[Hub, str, Path],
    tmp_path: Path,
    emits: list[dict[str, Any]],
) -> None:
    _, url, db = hub
    first, edited = await _edit_run(fake, url, tmp_path, db)
    sent = [(m.source_id, m.text) for c in emits for m in c["mentions"]]
    edits = [(m.source_id, m.text) for c in emits for m in c.get("edits") or []]
    assert sent == [(first.id, first.text)]
    assert edits == [(first.id, edited.text)]
    assert [c["cursor"] for c in emits if c.get("edits")] == [{"since_id": edited.id}]


async def test_the_store_follows_an_edit(
    fake: tuple[FakeX, str], hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    _, url, db = hub
    first, edited = await _edit_run(fake, url, tmp_path, db)
    await until(
        lambda: (
            rows(db, "SELECT source_id, text FROM mentions WHERE source = 'x'")
            == [(first.id, edited.text)]
        ),
    )


def test_ids_in_the_fake_are_time_ordered() -> None:
    # The cursor's comparison rests on this: a later post has a larger id.
    assert int(snowflake(T_MS + 1)) > int(snowflake(T_MS, seq=4000)) > int(snowflake(T_MS))
