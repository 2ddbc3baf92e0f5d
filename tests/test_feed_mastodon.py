"""The Mastodon adapter against a fake Mastodon on loopback, with a real hub."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feeds import mastodon
from feeds.base import CursorFile, FeedConfigError, FeedContext
from feeds.mastodon import (
    Settings,
    SSEParser,
    min_id_from_link,
    parse_sse,
    parse_status,
    parse_stream_event,
    parse_timeline,
    parse_ws_message,
    run,
)
from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Retraction
from tests.deadline import SAFETY, until
from tests.fakes.mastodon import FIRST_ID, FakeMastodon, make_status
from tests.test_hub import small_config

HOST = "social.example"


# --------------------------------------------------------------------------- parsers


def test_sse_parser_heartbeats_multiline_data_and_split_chunks() -> None:
    body = (
        ":)\n"
        "event: update\n"
        'data: {"id": "1",\n'
        'data:  "x": 2}\n'
        "\n"
        ":thump\n"
        ":thump\n"
        "event: delete\r\n"
        "data: 12345\r\n"
        "\r\n"
        "data: no event name\n"
        "\n"
        "event: update\n"
        "\n"  # an event with no data is not dispatched
        "event: delete\n"
        "data: 999"  # cut before its blank line: never returned
    )
    expected = [
        ("update", '{"id": "1",\n "x": 2}'),
        ("delete", "12345"),
        ("message", "no event name"),
    ]
    assert parse_sse(body) == expected
    # The same bytes one at a time (CRLF split across chunks included) give the same.
    parser = SSEParser()
    events: list[tuple[str, str]] = []
    for i in range(len(body)):
        events += parser.feed(body[i].encode())
    assert events == expected
    assert parser.comments == 3
    assert json.loads(events[0][1]) == {"id": "1", "x": 2}


def test_parse_status_html_spoiler_reblog_and_fields() -> None:
    status = make_status(
        FIRST_ID + 7,
        "My <b>Aero 14</b> battery &amp; charger\n\nswelled again",
        tags=["northwind"],
        acct="kim@fosstodon.example",
        followers=1234,
        lang="en",
        favourites=9,
        reblogs=3,
        replies=2,
    )
    m = parse_status(status, HOST)
    assert m.source == "mastodon"
    assert m.source_id == f"{HOST}/{FIRST_ID + 7}"
    assert m.text == "My Aero 14 battery & charger\n\nswelled again #northwind"
    assert m.created_at == datetime.fromisoformat(status["created_at"])
    assert m.created_at.tzinfo is not None
    assert m.url == f"https://social.example/@kim/{FIRST_ID + 7}"
    assert (m.author, m.author_reach, m.lang) == ("kim@fosstodon.example", 1234, "en")
    assert (m.engagement.likes, m.engagement.reposts, m.engagement.replies) == (9, 3, 2)

    cw = dict(status, spoiler_text="battery fire", language="pt-BR")
    m = parse_status(cw, HOST, "masto-eu")
    assert m.text.startswith("battery fire\n\nMy Aero 14")
    assert (m.source, m.lang) == ("masto-eu", "pt")

    boost = make_status(FIRST_ID + 99, "boosting", tags=[], acct="bob")
    boost["content"] = ""
    boost["reblog"] = status
    m = parse_status(boost, HOST)
    assert m.source_id == f"{HOST}/{FIRST_ID + 7}"  # the reblogged status, not the boost
    assert m.author == "kim@fosstodon.example"
    assert m.text.startswith("My Aero 14")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "no status id"),
        ({"id": "12ab"}, "bad status id '12ab'"),
        ({"id": 17}, "bad status id 17"),
        ({"created_at": None}, "no created_at"),
        ({"created_at": "yesterday"}, "bad created_at 'yesterday'"),
        ({"created_at": "2026-03-14T09:00:00"}, "has no time zone"),
        ({"content": "", "spoiler_text": ""}, "has no text"),
        ({"reblog": "not a status"}, "reblog is not a status"),
    ],
)
def test_parse_status_rejects_malformed(change: dict[str, Any], reason: str) -> None:
    status = make_status(FIRST_ID + 1, "hello", tags=["northwind"]) | change
    with pytest.raises(ValueError, match=reason):
        parse_status(status, HOST)


def test_stream_events_update_delete_and_edit() -> None:
    status = make_status(FIRST_ID + 5, "Northwind support: useless", tags=["northwind"])
    got = parse_stream_event("update", json.dumps(status), HOST)
    assert [m.source_id for m in got.mentions] == [f"{HOST}/{FIRST_ID + 5}"]
    assert got.newest == FIRST_ID + 5 and not got.edits and not got.deleted

    edited = dict(status, content="<p>Northwind support: fixed it</p>")
    got = parse_stream_event("status.update", json.dumps(edited), HOST)
    assert not got.mentions and got.newest is None
    assert [m.text for m in got.edits] == ["Northwind support: fixed it"]

    got = parse_stream_event("delete", f"{FIRST_ID + 5}", HOST)
    assert got.deleted == [Retraction(source="mastodon", source_id=f"{HOST}/{FIRST_ID + 5}")]

    bad = parse_stream_event("update", '{"id": "12", "content": ', HOST)
    assert not bad.mentions and bad.skipped[0][0].startswith("update: not JSON")
    assert bad.skipped[0][1] == '{"id": "12", "content": '
    no_date = parse_stream_event("update", json.dumps({"id": "77", "content": "x"}), HOST)
    assert no_date.skipped[0][0] == "status: no created_at"
    assert no_date.newest == 77  # the stream moved past it all the same
    assert parse_stream_event("delete", "", HOST).skipped[0][0] == "delete: bad status id ''"
    assert parse_stream_event("notification", "{}", HOST).count() == 0


def test_websocket_messages_are_double_decoded() -> None:
    status = make_status(FIRST_ID + 3, "Aero 14 hinge cracked", tags=["aero14"])
    message = json.dumps(
        {"stream": ["hashtag", "aero14"], "event": "update", "payload": json.dumps(status)}
    )
    tag, got = parse_ws_message(message, HOST)
    assert tag == "aero14"
    assert [m.text for m in got.mentions] == ["Aero 14 hinge cracked #aero14"]

    tag, got = parse_ws_message(
        json.dumps({"stream": ["hashtag", "aero14"], "event": "delete", "payload": "42"}), HOST
    )
    assert (tag, got.deleted[0].source_id) == ("aero14", f"{HOST}/42")

    tag, got = parse_ws_message(
        json.dumps({"stream": ["hashtag", "aero14"], "event": "status.update", "payload": "{bad"}),
        HOST,
    )
    assert got.skipped[0][0].startswith("status.update: not JSON")
    _, got = parse_ws_message('{"stream":["hashtag","x"],"event":"upd', HOST)
    assert got.skipped[0][0].startswith("message: not JSON")
    with pytest.raises(mastodon.StreamRefused, match="Missing access token") as refused:
        parse_ws_message('{"error": "Missing access token", "status": 401}', HOST)
    assert refused.value.status == 401


def test_parse_timeline_sorts_oldest_first_and_skips_bad_statuses() -> None:
    page = [
        make_status(FIRST_ID + 30, "third", tags=["t"]),
        {"id": str(FIRST_ID + 40), "content": "<p>no date</p>"},
        make_status(FIRST_ID + 20, "second", tags=["t"]),
        make_status(FIRST_ID + 10, "first", tags=["t"]),
        "not a status",
    ]
    got = parse_timeline(json.dumps(page).encode(), HOST)
    assert [m.text for m in got.mentions] == ["first #t", "second #t", "third #t"]
    assert got.newest == FIRST_ID + 40
    assert [r for r, _ in got.skipped] == [
        "status: no created_at",
        "status: a status is a JSON object, not str",
    ]
    with pytest.raises(ValueError, match="not a list"):
        parse_timeline(b'{"id": "1"}', HOST)
    with pytest.raises(ValueError, match="timeline error: Record not found"):
        parse_timeline(b'{"error": "Record not found"}', HOST)
    with pytest.raises(ValueError, match="not JSON"):
        parse_timeline(b'[{"id": "1", "crea', HOST)
    link = (
        '<https://h/x?limit=40&max_id=5>; rel="next", <https://h/x?limit=40&min_id=9>; rel="prev"'
    )
    assert min_id_from_link(link) == 9
    assert min_id_from_link(None) is None


def test_rate_limit_wait_from_headers() -> None:
    now = datetime(2026, 3, 14, 9, 0, tzinfo=UTC).timestamp()
    wait = mastodon._reset_wait
    assert wait({"X-RateLimit-Reset": "2026-03-14T09:04:10.500Z"}, now, 60) == 250.5
    assert wait({"Retry-After": "7"}, now, 60) == 7
    assert wait({"Retry-After": "Sat, 14 Mar 2026 09:00:30 GMT"}, now, 60) == 30
    assert wait({"X-RateLimit-Reset": "2020-01-01T00:00:00Z"}, now, 60) == 0
    assert wait({"X-RateLimit-Reset": "soon"}, now, 60) == 60
    assert wait({}, now, 60) == 60


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tags": []}, "tags is empty"),
        ({"tags": ["#northwind"]}, "without '#'"),
        ({"tags": ["two words"]}, "is not a hashtag"),
        ({"transport": "grpc"}, "'sse' or 'websocket'"),
        ({"endpoint": "mastodon.social"}, "not an http"),
        ({"query": "northwind AND ("}, "query: "),
        ({"source": "Mastodon!"}, "source 'Mastodon!'"),
    ],
)
def test_settings_check(kw: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"tags": ["northwind"], **kw}
    with pytest.raises(FeedConfigError, match=message):
        Settings(**values).check()
    Settings(tags=["northwind", "café_2026"], transport="websocket", query="aero").check()


# --------------------------------------------------------------------------- end to end

TOKEN = "fake-token-0123456789abcdef"
FAST = Backoff(initial=0.05, maximum=0.1)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeMastodon, str]]:
    instance = FakeMastodon(token=TOKEN)
    runner = web.AppRunner(instance.app(), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield instance, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, int, Path]]:
    db = tmp_path / "gc.db"
    h, runner, port = await start_hub(small_config(), port=0, store_path=db)
    yield h, port, db
    await runner.cleanup()


def stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT source_id FROM mentions ORDER BY source_id")]


def texts(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT source_id, text FROM mentions").fetchall())


def dead_reasons(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT reason FROM dead_letters")]


class Feed:
    """The adapter running as a task, with what it said."""

    def __init__(
        self, settings: Settings, port: int, state: Path, env: dict[str, str] | None = None
    ) -> None:
        self.events: list[str] = []
        self.ctx = FeedContext(
            f"ws://127.0.0.1:{port}",
            "mastodon",
            state_dir=state,
            on_event=self.events.append,
            env={"MASTODON_TOKEN": TOKEN} if env is None else env,
        )
        # Short enough to matter in a test, long enough that a busy machine's late
        # heartbeat is not taken for a dead stream.
        self.task = asyncio.create_task(run(settings, self.ctx, backoff=FAST, idle_timeout=10.0))

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def cursor(self) -> dict[str, Any]:
        return CursorFile(self.ctx.state_dir / "mastodon.json").load()


def ids(host: str, statuses: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{host}/{s['id']}" for s in statuses)


@pytest.mark.parametrize("transport", ["sse", "websocket"])
async def test_stream_cut_backfill_and_restart_leave_no_gap_and_no_duplicate(
    transport: str,
    fake: tuple[FakeMastodon, str],
    hub: tuple[Hub, int, Path],
    tmp_path: Path,
) -> None:
    instance, endpoint = fake
    hub_, port, db = hub
    host = endpoint.removeprefix("http://")
    tags = ["northwind", "aero14"]
    state = tmp_path / "state"
    settings = Settings(tags=tags, endpoint=endpoint, transport=transport)
    # Already on the instance before the first run: the newest page seeds the cursor.
    before = [instance.post(f"Northwind recall {i}", tags=["northwind"]) for i in range(3)]
    posted = list(before)
    feed = Feed(settings, port, state)
    try:
        await until(lambda: all(instance.subscribed(t) for t in tags), "subscriptions")
        await until(lambda: stored(db) == ids(host, posted), "the first page")
        # Live, on either tag or both (one copy stored).
        posted.append(instance.post("Aero 14 hinge", tags=["aero14"]))
        posted.append(instance.post("Northwind Aero 14 both", tags=["northwind", "aero14"]))
        # Malformed events are dead letters and do not stop the stream.
        instance.push_raw(["northwind"], "update", '{"id": "1", "content": "<p>cut')
        instance.push_raw(
            ["northwind"], "update", json.dumps({"created_at": "2026-03-14T09:00:00Z"})
        )
        no_date = make_status(instance.new_id(), "no date", tags=["northwind"])
        del no_date["created_at"]
        instance.push("update", no_date)
        posted.append(instance.post("after the bad ones", tags=["northwind"]))
        await until(lambda: stored(db) == ids(host, posted), "live statuses")

        # The stream is cut mid-event and the streaming server is away for a while:
        # 45 statuses (more than one 40-status page) are posted meanwhile.
        streams = 2 if transport == "sse" else 1
        await until(lambda: instance.open_streams == streams, "the streams")
        instance.streams_down = True
        assert instance.cut_streams() == streams
        await until(lambda: instance.open_streams == 0, "the cut")
        posted += [instance.post(f"Northwind gap {i}", tags=["northwind"]) for i in range(45)]
        posted.append(instance.post("Aero 14 gap", tags=["aero14"]))
        # The feed retries against the dead streaming server.
        await until(lambda: any(code == 503 for _, code in instance.answers), "a refused retry")
        instance.streams_down = False
        await until(lambda: stored(db) == ids(host, posted), "the backfilled gap")
        newest = max(int(s["id"]) for s in posted if "northwind" in s["content"].lower())
        await until(
            lambda: feed.cursor().get("tags", {}).get("northwind") == str(newest), "the cursor"
        )
        assert any("failed" in e and "reconnecting" in e for e in feed.events)
        gap_pages = [
            q for _, q in instance.timeline_requests("northwind") if q.get("min_id") is not None
        ]
        assert len(gap_pages) >= 3  # 40 + 6 statuses, then an empty page
    finally:
        await feed.stop()

    # Posted while the feed is stopped: the restart resumes from the saved cursor.
    saved = feed.cursor()["tags"]
    posted += [instance.post(f"Northwind while down {i}", tags=["northwind"]) for i in range(5)]
    seen = {tag: len(instance.timeline_requests(tag)) for tag in tags}
    feed = Feed(settings, port, state)
    try:
        await until(lambda: stored(db) == ids(host, posted), "statuses posted while stopped")
        posted.append(instance.post("live after restart", tags=["aero14"]))
        await until(lambda: stored(db) == ids(host, posted), "live after restart")
    finally:
        await feed.stop()
    for tag in tags:
        assert "min_id" not in instance.timeline_requests(tag)[0][1]  # first run: newest page
        assert instance.timeline_requests(tag)[seen[tag]][1]["min_id"] == saved[tag]
    got = stored(db)
    assert got == ids(host, posted)
    assert len(got) == len(set(got))
    reasons = dead_reasons(db)
    assert any(r.startswith("feed: update: not JSON") for r in reasons), reasons
    assert "feed: status: no status id" in reasons
    assert "feed: status: no created_at" in reasons
    assert hub_.counters.duplicates >= 1  # the tag both streams carried, and the overlaps


async def test_edits_and_deletes_go_to_the_hub(
    fake: tuple[FakeMastodon, str],
    hub: tuple[Hub, int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance, endpoint = fake
    _, port, db = hub
    host = endpoint.removeprefix("http://")
    sent: list[tuple[list[Mention], list[Mention], list[Retraction]]] = []
    submit = IngestClient.submit

    async def spy(
        self: IngestClient,
        mentions: list[Mention],
        *,
        edits: list[Mention] | None = None,
        deleted: list[Retraction] | None = None,
    ) -> int:
        sent.append((mentions, edits or [], deleted or []))
        return await submit(self, mentions, edits=edits, deleted=deleted)

    monkeypatch.setattr(IngestClient, "submit", spy)
    settings = Settings(tags=["northwind"], endpoint=endpoint, transport="sse")
    feed = Feed(settings, port, tmp_path / "state")
    try:
        await until(lambda: instance.subscribed("northwind") == 1, "the subscription")
        kept = instance.post("Northwind charger died", tags=["northwind"])
        gone = instance.post("Northwind is a scam", tags=["northwind"])
        await until(lambda: len(stored(db)) == 2, "two statuses")
        instance.edit(kept, "Northwind charger replaced under warranty")
        instance.delete(gone)
        await until(lambda: any(d for _, _, d in sent), "the deletion")
    finally:
        await feed.stop()
    edits = [m for _, e, _ in sent for m in e]
    deleted = [r for _, _, d in sent for r in d]
    assert [(m.source_id, m.text) for m in edits] == [
        (f"{host}/{kept['id']}", "Northwind charger replaced under warranty #northwind")
    ]
    assert deleted == [Retraction(source="mastodon", source_id=f"{host}/{gone['id']}")]


async def test_hub_applies_edits_and_deletes(
    fake: tuple[FakeMastodon, str], hub: tuple[Hub, int, Path], tmp_path: Path
) -> None:
    instance, endpoint = fake
    _, port, db = hub
    host = endpoint.removeprefix("http://")
    settings = Settings(tags=["northwind"], endpoint=endpoint, transport="websocket")
    feed = Feed(settings, port, tmp_path / "state")
    try:
        await until(lambda: instance.subscribed("northwind") == 1, "the subscription")
        kept = instance.post("Northwind charger died", tags=["northwind"])
        gone = instance.post("Northwind is a scam", tags=["northwind"])
        await until(lambda: len(stored(db)) == 2, "two statuses")
        instance.edit(kept, "Northwind charger replaced under warranty")
        instance.delete(gone)
        await until(lambda: len(stored(db)) == 1, "the deletion")
        await until(lambda: "warranty" in texts(db)[f"{host}/{kept['id']}"], "the edit")
    finally:
        await feed.stop()


@pytest.mark.parametrize("transport", ["sse", "websocket"])
async def test_a_refused_token_is_a_clear_error_naming_the_variable(
    transport: str, fake: tuple[FakeMastodon, str], tmp_path: Path
) -> None:
    instance, endpoint = fake
    port = 1  # no hub needed: the feed stops before it has anything to send
    settings = Settings(
        tags=["northwind"], endpoint=endpoint, transport=transport, token_env="MY_MASTO"
    )
    feed = Feed(settings, port, tmp_path / "state", env={"MY_MASTO": "wrong-token-secret"})
    with pytest.raises(FeedConfigError, match="refused the access token in MY_MASTO") as err:
        await asyncio.wait_for(feed.task, SAFETY)
    assert "401" in str(err.value) and "read:statuses" in str(err.value)
    assert ("/api/v1/streaming" + ("/hashtag" if transport == "sse" else ""), 401) in (
        instance.answers
    )
    assert not any("wrong-token-secret" in e for e in feed.events)  # never logged
    assert "wrong-token-secret" not in str(err.value)

    missing = Feed(settings, port, tmp_path / "state", env={})
    with pytest.raises(FeedConfigError, match=r"MY_MASTO .* is not set"):
        await asyncio.wait_for(missing.task, SAFETY)


async def test_rate_limit_and_a_cut_timeline_response_are_retried(
    fake: tuple[FakeMastodon, str], hub: tuple[Hub, int, Path], tmp_path: Path
) -> None:
    instance, endpoint = fake
    _, port, db = hub
    host = endpoint.removeprefix("http://")
    posted = [instance.post(f"Northwind {i}", tags=["northwind"]) for i in range(3)]
    instance.cut_timeline_next = 1
    instance.rate_limit_next = 1
    instance.reset_in = 0.4
    settings = Settings(tags=["northwind"], endpoint=endpoint)
    feed = Feed(settings, port, tmp_path / "state")
    try:
        await until(lambda: stored(db) == ids(host, posted), "the first page")
    finally:
        await feed.stop()
    times = [t for t, _ in instance.timeline_requests("northwind")]
    assert len(times) == 3  # rate-limited, cut, served
    assert instance.answers[0] == ("/api/v1/timelines/tag/northwind", 429)
    assert times[1] - times[0] >= 0.3  # waited for X-RateLimit-Reset, not the 0.05s backoff
    assert any("429" in e and "waiting" in e for e in feed.events), feed.events
    assert any("failed" in e for e in feed.events), feed.events  # the cut, said why


async def test_query_keeps_only_matching_statuses(
    fake: tuple[FakeMastodon, str], hub: tuple[Hub, int, Path], tmp_path: Path
) -> None:
    instance, endpoint = fake
    _, port, db = hub
    host = endpoint.removeprefix("http://")
    settings = Settings(tags=["laptops"], endpoint=endpoint, query="northwind OR aero")
    feed = Feed(settings, port, tmp_path / "state")
    try:
        await until(lambda: instance.subscribed("laptops") == 1, "the subscription")
        keep = instance.post("My Northwind laptop", tags=["laptops"])
        instance.post("Some other brand", tags=["laptops"])
        last = instance.post("The Aero is great", tags=["laptops"])
        await until(
            lambda: feed.cursor().get("tags", {}).get("laptops") == last["id"], "the cursor"
        )
    finally:
        await feed.stop()
    assert stored(db) == ids(host, [keep, last])
