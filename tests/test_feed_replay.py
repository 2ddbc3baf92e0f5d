"""The replay adapter: NDJSON files (plain, gzip, stdin) replayed to a real hub."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import io
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import pytest

import feeds.replay as replay
from feeds.base import CursorFile, FeedConfigError, FeedContext
from feeds.registry import settings_from_table
from feeds.replay import (
    Settings,
    Start,
    file_identity,
    lap_prefix,
    parse_line,
    parse_lines,
    prepare,
    resume_point,
    retime,
    run,
)
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Engagement, Mention
from tests.deadline import SAFETY, until
from tests.fakes.netcut import NetCut
from tests.test_hub import small_config

#: Recorded a day ago, so the hub takes the original dates too.
T0 = float(int(time.time()) - 86_400)


def mention(i: int, at: float, *, enriched: bool = True, source: str = "bluesky") -> Mention:
    """A mention as ``export``/``tail`` write it (hub fields filled when ``enriched``)."""
    m = Mention(
        source=source,
        source_id=f"post{i}",
        text=f"Northwind Aero 14 battery report {i}",
        created_at=datetime.fromtimestamp(at, UTC),
        author=f"user{i}",
        lang="en",
        engagement=Engagement(likes=i),
    )
    if enriched:
        m = msgspec.structs.replace(
            m,
            id=f"{source}:post{i}",
            sentiment=-0.4,
            sentiment_label="negative",
            brands=["northwind"],
            queries=["battery"],
            terms=["battery"],
            received_at=at + 2.0,
        )
    return m


def ndjson(mentions: list[Mention], *extra: bytes) -> bytes:
    return b"".join(msgspec.json.encode(m) + b"\n" for m in mentions) + b"".join(extra)


def spaced(n: int, step: float = 1.0, start: int = 0) -> list[Mention]:
    return [mention(i, T0 + (i - start) * step) for i in range(start, start + n)]


# ------------------------------------------------------------------------ parse


def test_parse_line_strips_what_the_hub_fills() -> None:
    raw = msgspec.json.encode(mention(7, T0))
    p = parse_line(raw, 3)
    assert p is not None
    m = p.mention
    assert (m.id, m.sentiment, m.sentiment_label, m.received_at) == ("", 0.0, "", 0.0)
    assert (m.brands, m.queries, m.terms) == ([], [], [])
    assert (m.source, m.source_id, m.author, m.lang) == ("bluesky", "post7", "user7", "en")
    assert m.engagement.likes == 7
    assert m.created_at.timestamp() == T0
    assert p.at == T0 + 2.0  # paced on received_at when the file has it
    assert p.line == 3
    plain = parse_line(msgspec.json.encode(mention(8, T0 + 5, enriched=False)), 4)
    assert plain is not None and plain.at == T0 + 5  # else on created_at
    assert parse_line(b"  \n", 5) is None


def test_parse_lines_skips_malformed_lines_with_their_number() -> None:
    good = msgspec.json.encode(mention(1, T0))
    long_text = msgspec.json.encode(msgspec.structs.replace(mention(2, T0), text="x" * 20_001))
    lines = [
        (1, good + b"\n"),
        (2, b"{not json\n"),
        (3, b"[1, 2]\n"),
        (4, b'{"source": "bluesky", "text": "no id", "created_at": "2026-01-01T00:00:00Z"}\n'),
        (5, good.replace(b"Z", b"")),  # a naive created_at
        (6, long_text),
        (7, good.replace(b'"bluesky"', b'"Blue Sky"')),
        (8, b"\n"),
        (9, good[: len(good) // 2]),  # cut in the middle
    ]
    parsed, skipped = parse_lines(lines)
    assert [p.line for p in parsed] == [1]
    reasons = [r for r, _ in skipped]
    assert [r.split(":")[0] for r in reasons] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "line 9",
    ]
    assert reasons[0].startswith("line 2: not JSON")
    assert reasons[1].startswith("line 3: not a mention: Expected `object`")
    assert "source_id" in reasons[2]
    assert "created_at" in reasons[3]
    assert "length <= 20000" in reasons[4]
    assert "$.source" in reasons[5]
    assert skipped[0][1] == "{not json\n"


def test_prepare_overrides_source_and_prefixes_ids() -> None:
    m = parse_line(msgspec.json.encode(mention(1, T0)), 1)
    assert m is not None
    out = prepare(m.mention, source="replay", prefix="lt-")
    assert (out.source, out.source_id) == ("replay", "lt-post1")
    assert prepare(m.mention) is m.mention
    with pytest.raises(ValueError, match="longer than 512"):
        prepare(m.mention, prefix="x" * 510)
    assert lap_prefix("lt-", 1, 1) == "lt-"
    assert [lap_prefix("lt-", n, 3) for n in (1, 2, 3)] == ["lt-1.", "lt-2.", "lt-3."]
    assert lap_prefix("", 2, 2) == "2."


def test_retime_moves_dates_onto_the_replay_clock() -> None:
    m = mention(1, T0 + 10, enriched=False)
    now = T0 + 1_000_000.0
    shift = now - T0  # the first line (paced at T0) is "now"
    out = retime(m, shift=shift, speed=5.0, base=T0, latest=now + 100)
    assert out.created_at.timestamp() == pytest.approx(now + 2.0)  # 10 s / 5
    assert out.created_at.tzinfo is not None
    # Never in the future.
    assert retime(m, shift=shift, speed=1.0, base=T0, latest=now).created_at.timestamp() == now


def test_settings_are_checked() -> None:
    ok = settings_from_table("replay", {"file": "x.ndjson", "speed": 10, "loop": 2}).settings
    assert (ok.speed, ok.loop, ok.fast, ok.shift_time, ok.batch_size) == (10.0, 2, False, True, 500)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"file": ""}, "file is empty"),
        ({"file": "x", "speed": 0}, "speed must be above 0"),
        ({"file": "x", "source": "Not Valid"}, "source 'Not Valid'"),
        ({"file": "x", "loop": 0}, "loop must be 1 or more"),
        ({"file": "x", "batch_size": 6000}, "batch_size must be 1 to 5000"),
        ({"file": "-", "loop": 2}, "standard input can be read only once"),
        ({"speed": 2}, "file is required"),
    ]
    for bad, message in cases:
        with pytest.raises(FeedConfigError, match=message):
            settings_from_table("replay", bad)


def test_resume_point(tmp_path: Path) -> None:
    f = tmp_path / "m.ndjson"
    f.write_bytes(ndjson(spaced(3)))
    ident = file_identity(f)
    s = Settings(file=str(f), id_prefix="a-", loop=2)
    cur = {"file": ident, "source": "", "id_prefix": "a-", "lap": 1, "offset": 99, "line": 1}
    assert resume_point({}, ident, s) == Start()
    got = resume_point(cur, ident, s)
    assert (got.lap, got.offset, got.line, got.done) == (1, 99, 1, False)
    assert resume_point({**cur, "lap": 2, "done": True}, ident, s).done
    assert not resume_point({**cur, "done": True}, ident, s).done  # lap 2 still to go
    assert "changed" in resume_point({**cur, "id_prefix": "b-"}, ident, s).note
    assert resume_point({**cur, "offset": "x"}, ident, s).offset == 0
    f.write_bytes(ndjson(spaced(4)))
    changed = resume_point(cur, file_identity(f), s)
    assert changed.offset == 0 and "the file changed" in changed.note


# ------------------------------------------------------------------------ with a hub


class Env:
    def __init__(self, hub: Hub, url: str, db: Path, state: Path) -> None:
        self.hub, self.url, self.db, self.state = hub, url, db, state
        self.events: list[str] = []

    def ctx(self, name: str = "replay", url: str | None = None) -> FeedContext:
        return FeedContext(url or self.url, name, state_dir=self.state, on_event=self.events.append)

    def stored(self) -> list[tuple[str, str, float]]:
        with sqlite3.connect(self.db) as con:
            return list(
                con.execute("SELECT source, source_id, created_at FROM mentions ORDER BY rowid")
            )

    def ids(self) -> list[str]:
        return [sid for _, sid, _ in self.stored()]

    def dead(self) -> list[str]:
        with sqlite3.connect(self.db) as con:
            return [r[0] for r in con.execute("SELECT reason FROM dead_letters ORDER BY id")]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(enrich_workers=0), port=0, store_path=db)
    try:
        yield Env(hub, f"ws://127.0.0.1:{port}", db, tmp_path / "state")
    finally:
        await runner.cleanup()


def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every batch the replay emits."""
    sizes: list[int] = []
    original = replay._AckEmitter.emit

    async def emit(self: replay._AckEmitter, mentions: list[Mention], *a: Any, **k: Any) -> None:
        if mentions:
            sizes.append(len(mentions))
        await original(self, mentions, *a, **k)

    monkeypatch.setattr(replay._AckEmitter, "emit", emit)
    return sizes


async def test_fast_mode_sends_everything_and_dead_letters_bad_lines(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = batches(monkeypatch)
    f = tmp_path / "export.ndjson"
    # 10 s apart: at recorded pace this would take 40 minutes.
    good = spaced(240, step=10.0)
    f.write_bytes(
        ndjson(good[:100], b"{oops\n", b"\n")
        + ndjson(good[100:], b'{"source": "bluesky"}\n', b"not json at the end")
    )
    settings = Settings(file=str(f), fast=True, batch_size=50, shift_time=False)
    _clock, sleep, sleeps = await fake_time()
    await asyncio.wait_for(run(settings, env.ctx(), sleep=sleep, progress_every=0.05), SAFETY)
    assert sleeps == []  # never paced: as fast as the hub acks
    assert sorted(env.ids()) == sorted(m.source_id for m in good)
    assert max(sizes) == 50 and sum(sizes) == 240
    # Original dates kept, hub fields refilled by the hub, not copied.
    first = env.stored()[0]
    assert first[2] == pytest.approx(T0)
    cursor = CursorFile(env.state / "replay.json").load()
    assert cursor["done"] and cursor["line"] == 244 and cursor["offset"] == f.stat().st_size
    assert any(
        e.startswith("done: 244 lines") and "240 mentions sent, 3 skipped" in e for e in env.events
    )
    # Run again: the cursor says it is done, nothing is sent twice.
    await asyncio.wait_for(run(settings, env.ctx()), SAFETY)
    assert "replayed already" in env.events[-1]
    assert env.hub.counters.duplicates == 0
    # Dead letters go with the status report, stored by the writer.
    await until(lambda: len(env.dead()) >= 3, "the dead letters in the store")
    dead = env.dead()
    assert {d.split(":")[1].strip() for d in dead} == {"line 101", "line 243", "line 244"}
    assert all(d.startswith("feed: line ") for d in dead)


async def fake_time(
    oversleep: float = 0.0,
) -> tuple[Callable[[], float], Callable[[float], Awaitable[None]], list[float]]:
    """A clock that moves only when the replay sleeps (plus ``oversleep`` each time)."""
    t = [1000.0]
    sleeps: list[float] = []

    def clock() -> float:
        return t[0]

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        t[0] += seconds + oversleep
        await asyncio.sleep(0)

    return clock, sleep, sleeps


@pytest.mark.parametrize("oversleep", [0.0, 0.004])
async def test_pacing_follows_a_schedule_without_drift(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oversleep: float
) -> None:
    sizes = batches(monkeypatch)
    f = tmp_path / "incident.ndjson"
    f.write_bytes(ndjson(spaced(21, step=1.0)))  # 20 s recorded
    clock, sleep, sleeps = await fake_time(oversleep)
    settings = Settings(file=str(f), speed=50.0, shift_time=False)
    await asyncio.wait_for(run(settings, env.ctx(), clock=clock, sleep=sleep), SAFETY)
    # 20 s at 50x: 0.4 s of schedule. Each sleep aims at the schedule, so sleeping
    # late does not add up (20 sleeps of +4 ms would be +80 ms).
    assert 0.4 - 1e-9 <= clock() - 1000.0 <= 0.4 + oversleep + 0.001
    assert len(sleeps) == 20
    # Batches hold what is due within 100 ms: about 5 mentions 20 ms apart each.
    assert sum(sizes) == 21 and 4 <= len(sizes) <= 6 and max(sizes) <= 6
    assert len(env.ids()) == 21


async def test_pacing_in_real_time_and_time_shift(env: Env, tmp_path: Path) -> None:
    f = tmp_path / "incident.ndjson"
    f.write_bytes(ndjson(spaced(11, step=1.0)))  # 10 s recorded, received 2 s after
    settings = Settings(file=str(f), speed=50.0, source="replay")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    wall = time.time()
    started = time.monotonic()
    await asyncio.wait_for(run(settings, env.ctx(), sleep=sleep, progress_every=0.05), SAFETY)
    took = time.monotonic() - started
    # 10 s at 50x: it waits 0.2 s for real, and never asks for more (a busy machine
    # may oversleep; the schedule then does not wait again for what it lost).
    assert took >= 0.18
    assert slept and sum(slept) <= 0.2 + 1e-6, slept
    rows = env.stored()
    assert {src for src, _, _ in rows} == {"replay"}
    created = [c for _, _, c in sorted(rows, key=lambda r: int(r[1][4:]))]
    # Paced on received_at (2 s after created_at): the first one is 2 s / 50 old now.
    assert wall - 1 <= created[0] + 0.04 <= wall + took + 1
    gaps = [b - a for a, b in itertools.pairwise(created)]
    assert all(g == pytest.approx(0.02, abs=0.005) for g in gaps)
    assert any("lines/s" in e and "ETA" in e for e in env.events)


async def test_id_prefix_and_laps(env: Env, tmp_path: Path) -> None:
    f = tmp_path / "load.ndjson"
    f.write_bytes(ndjson(spaced(30)))
    settings = Settings(file=str(f), fast=True, id_prefix="lt-", loop=3, batch_size=7)
    await asyncio.wait_for(run(settings, env.ctx("load")), SAFETY)
    ids = env.ids()
    assert len(ids) == 90 == len(set(ids))
    assert {i.split(".")[0] for i in ids} == {"lt-1", "lt-2", "lt-3"}
    assert "lt-2.post29" in ids
    cursor = CursorFile(env.state / "load.json").load()
    assert (cursor["lap"], cursor["done"]) == (3, True)
    # Replaying the same file under a new prefix: the hub takes them all again.
    again = Settings(file=str(f), fast=True, id_prefix="lt2-")
    await asyncio.wait_for(run(again, env.ctx("load")), SAFETY)
    assert any("source or id_prefix changed" in e for e in env.events)
    assert len(env.ids()) == 120


async def test_restart_resumes_after_what_the_hub_acked(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "incident.ndjson"
    f.write_bytes(ndjson(spaced(200, step=1.0)))  # 200 s recorded, 2 s at 100x
    settings = Settings(file=str(f), speed=100.0, batch_size=10, shift_time=False)
    cursor = CursorFile(env.state / "replay.json")
    far = asyncio.Event()
    save = replay._AckEmitter._save

    def saved(self: replay._AckEmitter, at: dict[str, Any]) -> None:
        save(self, at)
        if at["line"] >= 40:
            far.set()

    monkeypatch.setattr(replay._AckEmitter, "_save", saved)
    task = asyncio.create_task(run(settings, env.ctx()))
    await asyncio.wait_for(far.wait(), SAFETY)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # What was in flight lands (or not) at the hub: it has seen the feed go, after
    # its last batch, and has nothing left to commit.
    await until(
        lambda: not any(i.connected for i in env.hub.feed_infos(0)) and not env.hub._inflight,
        "the hub to be done with the stopped replay",
    )
    line = cursor.load()["line"]
    before = env.hub.counters.ingested
    assert 40 <= line < 200 and before >= line and env.hub.counters.duplicates == 0
    # The rest flat out: the cursor does not depend on the pace.
    rest = dataclasses.replace(settings, fast=True)
    await asyncio.wait_for(run(rest, env.ctx()), SAFETY)
    assert any(f"resuming lap 1 after line {line}" in e for e in env.events)
    ids = env.ids()
    assert sorted(ids) == sorted(f"post{i}" for i in range(200))
    # The second run started right after the cursor: it repeated only what was in
    # flight when the first was stopped, nothing before it.
    assert env.hub.counters.duplicates == before - line
    assert env.hub.counters.ingested == 200


async def test_a_changed_file_starts_over(env: Env, tmp_path: Path) -> None:
    f = tmp_path / "m.ndjson"
    f.write_bytes(ndjson(spaced(20)))
    settings = Settings(file=str(f), fast=True, shift_time=False)
    await asyncio.wait_for(run(settings, env.ctx()), SAFETY)
    f.write_bytes(ndjson(spaced(30)))
    await asyncio.wait_for(run(settings, env.ctx()), SAFETY)
    assert any("the file changed since the saved cursor: starting over" in e for e in env.events)
    assert len(env.ids()) == 30
    assert env.hub.counters.duplicates == 20  # started over: the first 20 again


async def test_gzip_input_and_a_cut_gzip_file(env: Env, tmp_path: Path) -> None:
    f = tmp_path / "export.ndjson.gz"
    f.write_bytes(gzip.compress(ndjson(spaced(50))))
    await asyncio.wait_for(run(Settings(file=str(f), fast=True), env.ctx("gz")), SAFETY)
    assert len(env.ids()) == 50
    # A gzip file cut short: what decompresses is sent, then the replay says so and ends.
    data = gzip.compress(ndjson(spaced(2000, start=1000)))
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    await asyncio.wait_for(run(Settings(file=str(cut), fast=True), env.ctx("cut")), SAFETY)
    assert any("is cut after line" in e for e in env.events)
    got = len(env.ids()) - 50
    assert 500 < got < 2000
    assert CursorFile(env.state / "cut.json").load()["done"]


async def test_stdin_cannot_resume_but_replays(env: Env) -> None:
    data = io.BufferedReader(io.BytesIO(ndjson(spaced(25), b"junk\n")))
    stdin: BinaryIO = data
    await asyncio.wait_for(run(Settings(file="-", fast=True), env.ctx(), stdin=stdin), SAFETY)
    assert len(env.ids()) == 25
    assert not (env.state / "replay.json").exists()
    assert any("standard input (it cannot resume)" in e for e in env.events)


async def test_a_read_error_is_retried_with_backoff(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "m.ndjson"
    f.write_bytes(ndjson(spaced(40)))
    real_open = replay._open
    calls = [0]

    def flaky(path: Path | None, stdin: BinaryIO | None) -> Any:
        calls[0] += 1
        if calls[0] <= 2:
            raise OSError(5, "Input/output error")
        return real_open(path, stdin)

    monkeypatch.setattr(replay, "_open", flaky)
    backoff = Backoff(initial=0.02, maximum=0.05)
    await asyncio.wait_for(
        run(Settings(file=str(f), fast=True), env.ctx(), backoff=backoff), SAFETY
    )
    assert calls[0] == 3
    assert sum("Input/output error; retrying in" in e for e in env.events) == 2
    assert len(env.ids()) == 40


async def test_the_hub_connection_is_cut_mid_replay(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "m.ndjson"
    f.write_bytes(ndjson(spaced(150, step=1.0)))
    port = int(env.url.rsplit(":", 1)[1])
    proxy = await NetCut.start("127.0.0.1", port)
    original = replay._AckEmitter.emit
    emitted = [0]

    async def emit(self: replay._AckEmitter, mentions: list[Mention], *a: Any, **k: Any) -> None:
        emitted[0] += bool(mentions)
        if emitted[0] == 10 and mentions:  # mid-replay, with batches on the wire
            proxy.reset_all()
        await original(self, mentions, *a, **k)

    monkeypatch.setattr(replay._AckEmitter, "emit", emit)
    try:
        settings = Settings(file=str(f), speed=300.0, batch_size=5, shift_time=False)
        await asyncio.wait_for(run(settings, env.ctx(url=proxy.url("ws"))), SAFETY)
    finally:
        await proxy.close()
    assert emitted[0] >= 20  # the cut came with a good part of the file still to go
    assert sorted(env.ids()) == sorted(f"post{i}" for i in range(150))
    assert any("unreachable" in e for e in env.events)


async def test_a_missing_file_is_a_config_error(env: Env, tmp_path: Path) -> None:
    with pytest.raises(FeedConfigError, match="cannot read"):
        await run(Settings(file=str(tmp_path / "nope.ndjson")), env.ctx())


def test_created_at_older_than_received_is_shifted_alike() -> None:
    # A mention written long before the hub got it stays that old on the replay clock.
    m = mention(1, T0)  # received 2 s after
    p = parse_line(msgspec.json.encode(m), 1)
    assert p is not None
    now = T0 + timedelta(days=1).total_seconds()
    out = retime(p.mention, shift=now - p.at, speed=1.0, base=p.at, latest=now)
    assert out.created_at.timestamp() == pytest.approx(now - 2.0)
