"""The Bluesky adapter against a fake Jetstream on loopback, with a real hub."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zstandard
from aiohttp import web

from feeds.base import CursorFile, Emitter, FeedConfigError, FeedContext, SourceHealth
from feeds.bluesky import (
    OVERLAP_US,
    Change,
    Decoder,
    Frame,
    Remembered,
    Settings,
    collect,
    parse_frame,
    run,
    subscribe_url,
)
from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import start_hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Retraction
from groundcontrol.query import parse_query
from tests.deadline import SAFETY
from tests.fakes.bluesky import (
    FakeJetstream,
    account,
    delete,
    did_of,
    identity,
    like,
    post,
    train_dictionary,
)
from tests.test_hub import small_config

T0 = 1_795_000_000_000_000  # unix microseconds
STEP = 100_000  # 0.1 s between events
DID = did_of(7)


def matches(text: str) -> bool:
    return parse_query("northwind").matches_text(text)


# --------------------------------------------------------------------------- parsing


def test_parse_a_created_post() -> None:
    event = post(
        T0, DID, "3l3qo2vutsw2b", "My #Northwind Aero 14 died", langs=["pt-BR", "en"],
        created_at="2026-11-18T06:13:19.750+01:00",
        reply_to="at://did:plc:abc/app.bsky.feed.post/3l3qo2vutsw1a",
    )  # fmt: skip
    frame = parse_frame(json.dumps(event))
    assert frame.time_us == T0 and frame.skipped is None
    assert frame.change is not None
    assert frame.change.operation == "create"
    m = frame.change.mention()
    assert m.source == "bluesky"
    assert m.source_id == f"{DID}/3l3qo2vutsw2b"
    assert m.url == f"https://bsky.app/profile/{DID}/post/3l3qo2vutsw2b"
    assert m.author == DID
    assert m.text == "My #Northwind Aero 14 died"
    assert m.lang == "pt"
    assert m.created_at == datetime(2026, 11, 18, 5, 13, 19, 750_000, UTC)


@pytest.mark.parametrize(
    ("created_at", "expected_us"),
    [
        (None, T0 - 250_000),  # the fake's default: a quarter second before Jetstream saw it
        ("yesterday", T0),  # unparseable: Jetstream's time_us
        ("2026-11-18T05:13:19", T0),  # no zone
        ("2030-01-01T00:00:00Z", T0),  # in the future: a wrong clock
        ("2023-02-01T10:00:00Z", 1_675_245_600_000_000),  # old (an import): kept
    ],
)
def test_created_at_falls_back_to_time_us(created_at: str | None, expected_us: int) -> None:
    event = post(T0, DID, "r1", "northwind", created_at=created_at)
    change = parse_frame(json.dumps(event)).change
    assert change is not None
    assert change.mention().created_at == datetime.fromtimestamp(expected_us / 1e6, UTC)


@pytest.mark.parametrize(
    ("langs", "lang"),
    [(["en"], "en"), (["EN-us"], "en"), (["tlh"], ""), ([], ""), ("en", ""), ([7], "")],
)
def test_lang_is_the_first_two_letter_language(langs: object, lang: str) -> None:
    event = post(T0, DID, "r1", "northwind")
    event["commit"]["record"]["langs"] = langs
    change = parse_frame(json.dumps(event)).change
    assert change is not None and change.lang == lang


def test_update_delete_and_events_without_posts() -> None:
    update = parse_frame(json.dumps(post(T0, DID, "r1", "edited", operation="update"))).change
    assert update is not None and (update.operation, update.text) == ("update", "edited")
    gone = parse_frame(json.dumps(delete(T0 + 1, DID, "r1")))
    assert gone == Frame(time_us=T0 + 1, change=Change("delete", DID, "r1", T0 + 1))
    # identity, account and other collections carry no post, but still move time on
    for event in (identity(T0 + 2, DID), account(T0 + 3, DID), like(T0 + 4, DID, "l1")):
        assert parse_frame(json.dumps(event)) == Frame(time_us=event["time_us"])


def test_malformed_frames_are_skipped_items() -> None:
    no_rkey = post(T0, DID, "r1", "northwind")
    del no_rkey["commit"]["rkey"]
    no_text = post(T0 + 1, DID, "r2", "northwind")
    del no_text["commit"]["record"]["text"]
    bad_op = post(T0 + 2, DID, "r3", "northwind", operation="upsert")
    no_record = post(T0 + 3, DID, "r4", "x")
    del no_record["commit"]["record"]
    bad_did = post(T0 + 4, "alice", "r5", "northwind")
    no_time = post(T0, DID, "r6", "northwind")
    no_time["time_us"] = "soon"
    cases: list[tuple[str | bytes, int | None, str]] = [
        ("not json {", None, "not JSON: "),
        ("[1, 2]", None, "an event is a JSON object, not list"),
        (json.dumps(no_time), None, "bad time_us 'soon'"),
        (json.dumps(no_rkey), T0, "commit without rkey"),
        (json.dumps(no_text), T0 + 1, "record without text"),
        (json.dumps(bad_op), T0 + 2, "unknown commit operation 'upsert'"),
        (json.dumps(no_record), T0 + 3, "update without a record".replace("update", "create")),
        (json.dumps(bad_did), T0 + 4, "bad did 'alice'"),
        (b"\x00\x01not zstd", None, "binary frame is not zstd"),
    ]
    for raw, time_us, reason in cases:
        frame = parse_frame(raw)
        assert frame.change is None
        assert frame.time_us == time_us, raw
        assert frame.skipped is not None, raw
        assert frame.skipped[0].startswith(reason), frame.skipped
        payload = frame.skipped[1]
        assert payload == raw if isinstance(raw, str) else payload.startswith("base64:")


def test_zstd_frames_with_and_without_a_dictionary() -> None:
    dictionary = train_dictionary()
    event = json.dumps(post(T0, DID, "r1", "Northwind with a dictionary"))
    with_dict = zstandard.ZstdCompressor(dict_data=dictionary).compress(event.encode())
    plain = zstandard.ZstdCompressor().compress(event.encode())
    decoder = Decoder(dictionary.as_bytes())
    for frame in (with_dict, plain):
        change = parse_frame(frame, decoder).change
        assert change is not None and change.text == "Northwind with a dictionary"
    # Without the dictionary only plain zstd decodes; a dictionary frame is a setup error.
    change = parse_frame(plain).change
    assert change is not None and change.text == "Northwind with a dictionary"
    with pytest.raises(FeedConfigError, match=f"dictionary id {dictionary.dict_id()}"):
        parse_frame(with_dict)
    # Decompressed, not JSON: the payload is the text, not base64.
    junk = parse_frame(zstandard.ZstdCompressor().compress(b"<html>busy</html>"), decoder)
    assert junk.skipped is not None and junk.skipped[1] == "<html>busy</html>"


# --------------------------------------------------------------------------- collecting


def frames(*events: dict[str, object]) -> list[Frame]:
    return [parse_frame(json.dumps(e)) for e in events]


def test_collect_matches_locally_and_turns_changes_into_mentions_edits_deletions() -> None:
    a, b, c = did_of(1), did_of(2), did_of(3)
    got = collect(
        frames(
            post(T0, a, "p1", "Northwind Aero 14 battery swelled"),
            post(T0 + 1, a, "p2", "nothing to see"),
            post(T0 + 2, b, "p3", "#northwind support is slow"),
            post(T0 + 3, b, "p3", "#northwind support is fast now", operation="update"),
            post(T0 + 4, c, "old", "no longer about it", operation="update"),  # emitted before
            post(T0 + 5, c, "other", "now about Northwind", operation="update"),  # matches now
            post(T0 + 6, c, "quiet", "still nothing", operation="update"),  # neither
            delete(T0 + 7, c, "gone"),  # emitted before
            delete(T0 + 8, c, "never"),  # never emitted: not passed on
            post(T0 + 9, a, "brief", "northwind, deleted at once"),
            delete(T0 + 10, a, "brief"),
            post(T0 + 11, a, "blank", "   "),
            identity(T0 + 12, a),
        ),
        matches,
        {f"{c}/old", f"{c}/gone"},
    )
    assert [m.source_id for m in got.mentions] == [f"{a}/p1"]
    assert [(m.source_id, m.text) for m in got.edits] == [
        (f"{b}/p3", "#northwind support is fast now"),  # created and edited: the edit wins
        (f"{c}/old", "no longer about it"),
        (f"{c}/other", "now about Northwind"),
    ]
    assert got.deleted == [
        Retraction(source="bluesky", source_id=f"{c}/gone"),
        Retraction(source="bluesky", source_id=f"{a}/brief"),
    ]
    assert got.time_us == T0 + 12
    assert got.posts == 12
    assert got.sent_keys == [f"{a}/p1", f"{b}/p3", f"{c}/old", f"{c}/other"]


def test_collect_a_post_deleted_then_made_again_is_an_edit() -> None:
    got = collect(
        frames(delete(T0, DID, "r"), post(T0 + 1, DID, "r", "northwind again")),
        matches,
        {f"{DID}/r"},
    )
    assert (got.mentions, got.deleted) == ([], [])
    assert [m.text for m in got.edits] == ["northwind again"]


def test_remembered_is_bounded_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bluesky.emitted"
    said: list[str] = []
    keys = Remembered(path, 3, said.append)
    keys.add(["a", "b"])
    keys.add(["c", "d"])
    assert ("a" in keys, "b" in keys, "d" in keys, len(keys)) == (False, True, True, 3)
    keys.add(["e", "f", "g"])  # past twice the bound: the file is compacted
    assert path.read_text().split() == ["e", "f", "g"]
    again = Remembered(path, 3, said.append)
    assert [k for k in "abcdefg" if k in again] == ["e", "f", "g"]
    assert said == []
    (tmp_path / "a-file").write_text("")
    blocked = Remembered(tmp_path / "a-file" / "bluesky.emitted", 3, said.append)
    blocked.add(["x"])
    assert "x" in blocked and "will not be passed on" in said[0]


def test_settings_and_url() -> None:
    Settings(query="northwind").check()
    for bad in (
        Settings(query="  "),
        Settings(query='"unclosed'),
        Settings(query="x", endpoint="jetstream.example"),
        Settings(query="x", since_minutes=-1),
    ):
        with pytest.raises(FeedConfigError):
            bad.check()
    assert subscribe_url("wss://js.example/", None, False) == (
        "wss://js.example/subscribe?wantedCollections=app.bsky.feed.post"
        "&maxMessageSizeBytes=4194304"
    )
    assert subscribe_url("https://js.example/subscribe", 17, True).endswith(
        "&cursor=17&compress=true"
    )


# --------------------------------------------------------------------------- end to end


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeJetstream, str]]:
    jetstream = FakeJetstream()
    runner = web.AppRunner(jetstream.app(), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield jetstream, f"ws://127.0.0.1:{port}"
    await runner.cleanup()


def stored(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return list(con.execute("SELECT source_id, text FROM mentions ORDER BY source_id"))


def dead_reasons(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return sorted(r[0] for r in con.execute("SELECT reason FROM dead_letters"))


async def run_fast(settings: Settings, ctx: FeedContext, until_time_us: int | None = None) -> None:
    """run() with short backoffs and batches (a hang fails after SAFETY s)."""
    backoff = Backoff(initial=0.05, maximum=0.1)
    await asyncio.wait_for(
        run(settings, ctx, until_time_us=until_time_us, backoff=backoff, batch_seconds=0.05),
        SAFETY,
    )


def timeline(fake: FakeJetstream, first: int, last: int) -> None:
    """Posts ``first..last`` every STEP; every third one is about Northwind; with
    events that carry no post in between."""
    for i in range(first, last + 1):
        at = T0 + i * STEP
        about = "Northwind Aero 14" if i % 3 == 0 else "the weather"
        fake.add(post(at, did_of(i % 11), f"3l3q{i:06d}", f"{about}, post {i}"))
        if i % 10 == 5:
            fake.add(identity(at + 1, did_of(i)), like(at + 2, did_of(i), f"l{i}"))


def expected_ids(first: int, last: int) -> list[str]:
    return sorted(f"{did_of(i % 11)}/3l3q{i:06d}" for i in range(first, last + 1) if i % 3 == 0)


async def test_stream_survives_refusal_drop_and_cut_and_resumes_after_a_restart(
    fake: tuple[FakeJetstream, str], tmp_path: Path
) -> None:
    jetstream, endpoint = fake
    timeline(jetstream, 0, 149)
    no_rkey = post(T0 + 40 * STEP + 5, DID, "x", "northwind")
    del no_rkey["commit"]["rkey"]
    no_text = post(T0 + 120 * STEP + 5, DID, "y", "northwind")
    del no_text["commit"]["record"]["text"]
    jetstream.add(no_rkey, no_text)
    jetstream.add_raw(T0 + 80 * STEP + 5, "{not json")
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    state = tmp_path / "state"
    said: list[str] = []
    try:
        # First run, no cursor: replay 10 minutes, through a 503, a drop and a cut frame.
        settings = Settings(query="northwind", endpoint=endpoint, since_minutes=10)
        ctx = FeedContext(
            f"ws://127.0.0.1:{port}",
            "bluesky",
            state_dir=state,
            clock=lambda: T0 / 1e6 + 60,
            on_event=said.append,
        )
        jetstream.refuse_next, jetstream.retry_after = 1, "0.05"
        jetstream.plan = [("drop", 60), ("cut", 50)]
        await run_fast(settings, ctx, T0 + 149 * STEP)
        assert [r.get("cursor") for r in jetstream.requests][:2] == [str(T0 - 540_000_000)] * 2
        assert len(jetstream.requests) == 4  # 503, dropped, cut, good
        for r in jetstream.requests[2:]:  # reconnects replay 5 s before the last event seen
            assert int(r["cursor"]) < T0 + 149 * STEP - OVERLAP_US
        assert all(r["wantedCollections"] == "app.bsky.feed.post" for r in jetstream.requests)
        assert any("HTTP 503" in s for s in said) and any("connection lost" in s for s in said)
        assert [s for s, _ in stored(db)] == expected_ids(0, 149)
        saved = CursorFile(state / "bluesky.json").load()
        assert saved == {"time_us": T0 + 149 * STEP}

        # Posts made while the feed is down; the restarted feed resumes from its cursor.
        timeline(jetstream, 150, 199)
        await run_fast(settings, ctx, T0 + 199 * STEP)
        assert jetstream.requests[-1]["cursor"] == str(T0 + 149 * STEP - OVERLAP_US)
    finally:
        await runner.cleanup()
    ids = [s for s, _ in stored(db)]
    assert ids == expected_ids(0, 199)
    assert len(ids) == len(set(ids)) == 67
    assert hub.counters.duplicates >= 1  # the replayed overlaps, dropped by the hub
    # Each malformed frame is a dead letter once, though reconnects replayed it.
    assert dead_reasons(db) == [
        "feed: commit without rkey",
        "feed: not JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "feed: record without text",
    ]


async def test_a_rate_limit_answer_is_waited_out(
    fake: tuple[FakeJetstream, str], tmp_path: Path
) -> None:
    jetstream, endpoint = fake
    timeline(jetstream, 0, 9)
    jetstream.refuse_next, jetstream.refuse_status, jetstream.retry_after = 2, 429, "0.3"
    said: list[str] = []
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    try:
        ctx = FeedContext(
            f"ws://127.0.0.1:{port}", "bluesky", state_dir=tmp_path, on_event=said.append
        )
        (tmp_path / "bluesky.json").write_text(json.dumps({"time_us": T0 + OVERLAP_US}))
        settings = Settings(query="northwind", endpoint=endpoint)
        await run_fast(settings, ctx, T0 + 9 * STEP)
    finally:
        await runner.cleanup()
    assert said.count("Jetstream answered HTTP 429: waiting 0.3s") == 2
    times = jetstream.request_times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and min(gaps) >= 0.29
    assert jetstream.requests[-1]["cursor"] == str(T0)
    assert [s for s, _ in stored(db)] == expected_ids(0, 9)


async def test_compressed_frames_with_jetstream_style_dictionary(
    fake: tuple[FakeJetstream, str], tmp_path: Path
) -> None:
    jetstream, endpoint = fake
    timeline(jetstream, 0, 29)
    jetstream.add_raw(T0 + 5 * STEP + 9, "garbage")
    dictionary = tmp_path / "zstd_dictionary"
    dictionary.write_bytes(jetstream.dictionary.as_bytes())
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    try:
        ctx = FeedContext(
            f"ws://127.0.0.1:{port}",
            "bluesky",
            state_dir=tmp_path / "s",
            clock=lambda: T0 / 1e6 + 30,
        )
        # Without the dictionary the feed stops, saying which file it needs.
        bare = Settings(query="northwind", endpoint=endpoint, compress=True, since_minutes=1)
        with pytest.raises(FeedConfigError, match="zstd_dictionary"):
            await run_fast(bare, ctx)
        settings = Settings(
            query="northwind",
            endpoint=endpoint,
            compress=True,
            zstd_dictionary=str(dictionary),
            since_minutes=1,
        )
        await run_fast(settings, ctx, T0 + 29 * STEP)
    finally:
        await runner.cleanup()
    assert all(r.get("compress") == "true" for r in jetstream.requests)
    assert [s for s, _ in stored(db)] == expected_ids(0, 29)
    assert dead_reasons(db) == [
        "feed: not JSON: Expecting value: line 1 column 1 (char 0)",
    ]
    with pytest.raises(FeedConfigError, match=r"zstd_dictionary .*nope: No such file"):
        await run(Settings(query="x", zstd_dictionary=str(tmp_path / "nope")), ctx)


@dataclass
class Recorded:
    batches: list[tuple[list[Mention], list[Mention], list[Retraction]]] = field(
        default_factory=list
    )


@dataclass
class RecordingContext(FeedContext):
    """A FeedContext whose ingest client also records every batch it is given."""

    record: Recorded = field(default_factory=Recorded)

    def client(
        self, source: str, emitter: Emitter, health: SourceHealth | None = None
    ) -> IngestClient:
        client = super().client(source, emitter, health)
        submit = client.submit

        async def recording(
            mentions: list[Mention],
            *,
            edits: list[Mention] | None = None,
            deleted: list[Retraction] | None = None,
        ) -> int:
            self.record.batches.append((list(mentions), list(edits or []), list(deleted or [])))
            return await submit(mentions, edits=edits, deleted=deleted)

        client.submit = recording  # type: ignore[method-assign]
        return client


async def edits_and_deletes_across_a_restart(
    jetstream: FakeJetstream, endpoint: str, hub_url: str, state: Path
) -> Recorded:
    a, b = did_of(1), did_of(2)
    jetstream.add(
        post(T0, a, "keep", "Northwind Aero 14: love it"),
        post(T0 + STEP, a, "fix", "Northwind Aero 14 batery"),
        post(T0 + 2 * STEP, b, "bye", "Northwind support, never again"),
        post(T0 + 3 * STEP, b, "other", "unrelated"),
        identity(T0 + 100 * STEP, b),  # the cursor moves on past the 5 s replayed
    )
    ctx = RecordingContext(hub_url, "bluesky", state_dir=state, clock=lambda: T0 / 1e6 + 10)
    settings = Settings(query="northwind", endpoint=endpoint, since_minutes=1)
    await run_fast(settings, ctx, T0 + 100 * STEP)
    # Edited and deleted while the feed was down: the restart still knows they were sent.
    jetstream.add(
        post(T0 + 110 * STEP, a, "fix", "Northwind Aero 14 battery", operation="update"),
        delete(T0 + 111 * STEP, b, "bye"),
        delete(T0 + 112 * STEP, b, "other"),  # never sent: not passed on
    )
    await run_fast(settings, ctx, T0 + 112 * STEP)
    assert jetstream.requests[-1]["cursor"] == str(T0 + 100 * STEP - OVERLAP_US)
    return ctx.record


async def test_run_sends_edits_and_deletions_even_after_a_restart(
    fake: tuple[FakeJetstream, str], tmp_path: Path
) -> None:
    jetstream, endpoint = fake
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    try:
        record = await edits_and_deletes_across_a_restart(
            jetstream, endpoint, f"ws://127.0.0.1:{port}", tmp_path / "state"
        )
    finally:
        await runner.cleanup()
    a, b = did_of(1), did_of(2)
    mentions = sorted({m.source_id for ms, _, _ in record.batches for m in ms})
    edits = [(m.source_id, m.text) for _, es, _ in record.batches for m in es]
    deleted = [r for _, _, ds in record.batches for r in ds]
    assert mentions == [f"{a}/fix", f"{a}/keep", f"{b}/bye"]
    assert edits == [(f"{a}/fix", "Northwind Aero 14 battery")]
    assert deleted == [Retraction(source="bluesky", source_id=f"{b}/bye")]


async def test_the_store_applies_edits_and_deletions(
    fake: tuple[FakeJetstream, str], tmp_path: Path
) -> None:
    jetstream, endpoint = fake
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    try:
        await edits_and_deletes_across_a_restart(
            jetstream, endpoint, f"ws://127.0.0.1:{port}", tmp_path / "state"
        )
    finally:
        await runner.cleanup()
    a = did_of(1)
    assert stored(db) == [
        (f"{a}/fix", "Northwind Aero 14 battery"),
        (f"{a}/keep", "Northwind Aero 14: love it"),
    ]
