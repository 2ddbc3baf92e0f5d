"""Briefings: checked, kept, sent to every wall, shown as a banner, withdrawn, run out,
and back after a restart; the command line against a real hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from aiohttp import web

from groundcontrol.cli.main import main as cli_main
from groundcontrol.hub.auth import Role
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.protocol import (
    Briefing,
    BriefingEvent,
    Snapshot,
    briefing_problem,
    decode_stream,
)
from groundcontrol.store.database import Store
from panels.briefing import BriefingBanner, banner_line, time_left
from panels.state import WallState
from tests.deadline import SAFETY
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, auth, get, post, tokens
from tests.test_wall import HUGE, Clock, applied, live_wall, screen_text
from tests.wall_fixtures import FIXED_NOW, HUB_URL, T0

COMPACT = (80, 24)


class HubClock:
    """The hub's clock, moved by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def serve(hub: Hub) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(hub.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str, HubClock]]:
    clock = HubClock()
    h = Hub(small_config(), clock=clock, store_path=tmp_path / "gc.db", tokens=tokens())
    runner, base = await serve(h)
    yield h, base, clock
    await runner.cleanup()


async def next_briefing(ws: Any) -> BriefingEvent:
    """The next ``briefing`` message on a stream (ticks in between are skipped)."""
    while True:
        message = decode_stream(await asyncio.wait_for(ws.recv(), SAFETY))
        if isinstance(message, BriefingEvent):
            return message


async def connect(base: str) -> tuple[Any, Snapshot]:
    ws = await websockets.connect(
        base.replace("http://", "ws://") + "/stream", additional_headers=auth(Role.DISPLAY)
    )
    await ws.recv()  # hello
    snapshot = decode_stream(await ws.recv())
    assert isinstance(snapshot, Snapshot)
    return ws, snapshot


# ---------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("text", "seconds", "severity", "reason"),
    [
        ("", 900, "info", "empty"),
        ("   ", 900, "info", "empty"),
        ("x" * 281, 900, "info", "281 characters, at most 280"),
        ("line one\nline two", 900, "info", "control characters"),
        ("bell\x07", 900, "info", "control characters"),
        ("ok", 59, "info", "1 minute to 7 days"),
        ("ok", 7 * 86400 + 1, "info", "1 minute to 7 days"),
        ("ok", float("nan"), "info", "1 minute to 7 days"),
        ("ok", 900, "critical", 'no severity "critical"'),
    ],
)
def test_what_a_briefing_may_be(text: str, seconds: float, severity: str, reason: str) -> None:
    assert reason in briefing_problem(text, seconds, severity)


def test_a_good_briefing_has_no_problem() -> None:
    assert briefing_problem("x" * 280, 60, "info") == ""
    assert briefing_problem("Say the fix ships Friday", 7 * 86400, "warning") == ""


# ---------------------------------------------------------------------- HTTP


async def test_bad_briefings_are_refused_and_not_kept(hub: tuple[Hub, str, HubClock]) -> None:
    _h, base, _clock = hub
    for body, reason in (
        ({"text": "x" * 281, "seconds": 900}, "at most 280"),
        ({"text": "two\nlines", "seconds": 900}, "control characters"),
        ({"text": "ok", "seconds": 10}, "1 minute to 7 days"),
        ({"text": "ok", "seconds": "15m"}, "Expected `float`"),
        ({"text": "ok", "seconds": 900, "severity": "critical"}, "no severity"),
        ({"text": "ok", "seconds": 900, "colour": "red"}, "unknown field"),
        ({"seconds": 900}, "missing required field"),
    ):
        status, text = await post(base, "/briefings", Role.ANALYST, body)
        assert status == 400, (body, text)
        assert isinstance(text, str) and text.startswith("bad briefing: ") and reason in text
        assert text.count("\n") == 1
    status, listed = await get(base, "/briefings", Role.ANALYST)
    assert status == 200 and isinstance(listed, dict) and listed["briefings"] == []


async def test_create_list_and_withdraw_over_http(hub: tuple[Hub, str, HubClock]) -> None:
    h, base, clock = hub
    # A display token may read the briefings, not give one.
    status, text = await post(base, "/briefings", Role.DISPLAY, {"text": "hi", "seconds": 900})
    assert status == 403
    status, body = await post(
        base, "/briefings", Role.ANALYST, {"text": " Say the fix ships Friday ", "seconds": 900}
    )
    assert status == 200 and isinstance(body, dict)
    assert body["text"] == "Say the fix ships Friday" and body["by"] == "alice"
    assert body["severity"] == "info" and body["until"] == clock.now + 900
    first = body["id"]
    clock.now += 10
    status, body = await post(
        base,
        "/briefings",
        Role.ADMIN,
        {"text": "No comment on the recall", "seconds": 3600, "severity": "warning"},
    )
    assert status == 200 and isinstance(body, dict) and body["severity"] == "warning"
    second = body["id"]

    status, listed = await get(base, "/briefings", Role.DISPLAY)
    assert status == 200 and isinstance(listed, dict)
    assert [b["id"] for b in listed["briefings"]] == [second, first]  # newest first
    assert [b.id for b in h.briefings.current()] == [first, second]

    status, text = await post(base, f"/briefings/{first}/withdraw", Role.DISPLAY)
    assert status == 403
    status, body = await post(base, f"/briefings/{first}/withdraw", Role.ANALYST)
    assert status == 200 and isinstance(body, dict)
    assert body["withdrawn_by"] == "alice" and body["withdrawn_at"] == clock.now
    assert [b.id for b in h.briefings.current()] == [second]
    status, text = await post(base, f"/briefings/{first}/withdraw", Role.ANALYST)
    assert status == 409 and "withdrawn already" in str(text)
    for unknown in ("999", "abc", "1e3"):
        status, text = await post(base, f"/briefings/{unknown}/withdraw", Role.ANALYST)
        assert status == 404 and f'no briefing "{unknown}"' in str(text)
    status, listed = await get(base, "/briefings", Role.ANALYST)
    assert isinstance(listed, dict)
    assert [b["withdrawn_by"] for b in listed["briefings"]] == ["", "alice"]


async def test_a_hub_without_a_store_refuses_briefings() -> None:
    _h, runner, port = await start_hub(small_config(), port=0, tokens=tokens())
    try:
        base = f"http://127.0.0.1:{port}"
        status, text = await post(base, "/briefings", Role.ANALYST, {"text": "a", "seconds": 90})
        assert status == 503 and "briefings need a store" in str(text)
        status, text = await get(base, "/briefings", Role.ANALYST)
        assert status == 503
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------- stream


async def test_every_client_hears_of_a_briefing_and_a_new_one_gets_it_in_its_snapshot(
    hub: tuple[Hub, str, HubClock],
) -> None:
    _h, base, _clock = hub
    ws, snapshot = await connect(base)
    assert snapshot.briefings == []
    async with ws:
        status, body = await post(
            base, "/briefings", Role.ANALYST, {"text": "Say it ships Friday", "seconds": 900}
        )
        assert status == 200 and isinstance(body, dict)
        event = await next_briefing(ws)
        assert event.change == "started" and event.briefing.text == "Say it ships Friday"
        assert event.briefing.by == "alice"

        late, snapshot = await connect(base)
        async with late:
            assert [b.id for b in snapshot.briefings] == [body["id"]]

        await post(base, f"/briefings/{body['id']}/withdraw", Role.ANALYST)
        event = await next_briefing(ws)
        assert event.change == "withdrawn" and event.briefing.withdrawn_by == "alice"
    late, snapshot = await connect(base)
    async with late:
        assert snapshot.briefings == []


async def test_a_briefing_runs_out_on_the_hubs_clock(hub: tuple[Hub, str, HubClock]) -> None:
    h, base, clock = hub
    ws, _snapshot = await connect(base)
    async with ws:
        status, body = await post(base, "/briefings", Role.ANALYST, {"text": "x", "seconds": 60})
        assert status == 200 and isinstance(body, dict)
        assert (await next_briefing(ws)).change == "started"
        clock.now += 59
        h.publish_once()
        assert [b.id for b in h.briefings.current()] == [body["id"]]
        clock.now += 1
        event = await next_briefing(ws)  # the hub's own ticks find it over
        assert event.change == "expired" and event.briefing.id == body["id"]
        assert h.briefings.current() == []
        status, text = await post(base, f"/briefings/{body['id']}/withdraw", Role.ANALYST)
        assert status == 409 and "over already" in str(text)


async def test_a_restarted_hub_brings_its_briefings_back(tmp_path: Path) -> None:
    clock = HubClock()
    path = tmp_path / "gc.db"
    h = Hub(small_config(), clock=clock, store_path=path, tokens=tokens())
    runner, base = await serve(h)
    try:
        _, kept = await post(base, "/briefings", Role.ANALYST, {"text": "kept", "seconds": 900})
        _, gone = await post(base, "/briefings", Role.ANALYST, {"text": "gone", "seconds": 900})
        assert isinstance(kept, dict) and isinstance(gone, dict)
        await post(base, f"/briefings/{gone['id']}/withdraw", Role.ANALYST)
    finally:
        await runner.cleanup()
    clock.now += 60
    again = Hub(small_config(), clock=clock, store_path=path, tokens=tokens())
    runner, base = await serve(again)
    try:
        ws, snapshot = await connect(base)
        async with ws:
            assert [b.text for b in snapshot.briefings] == ["kept"]
    finally:
        await runner.cleanup()


def test_the_store_keeps_briefings(tmp_path: Path) -> None:
    with Store(tmp_path / "gc.db") as store:
        b = store.add_briefing("hello", "warning", by="alice", created_at=100.0, until=200.0)
        assert store.active_briefings(150.0) == [b]
        assert store.active_briefings(200.0) == []
        # Over already: a withdrawal changes nothing.
        assert store.withdraw_briefing(b.id, by="bob", at=250.0) == b
        assert store.withdraw_briefing(b.id + 1, by="bob", at=150.0) is None
        assert store.briefings(since=150.0) == [b]
        assert store.briefings(since=201.0) == []


# ---------------------------------------------------------------------- the wall


def briefing(
    text: str = "Say the fix ships Friday", severity: str = "info", minutes: float = 12
) -> Briefing:
    return Briefing(
        id=7,
        text=text,
        severity="warning" if severity == "warning" else "info",
        by="alice",
        created_at=T0 - 60,
        until=T0 + minutes * 60,
    )


def banner(app: Any) -> BriefingBanner:
    return app.wall.query_one(BriefingBanner)


def test_time_left_and_the_banner_line() -> None:
    assert time_left(12 * 60) == "12m left"
    assert time_left(11 * 60 + 1) == "12m left"
    assert time_left(45) == "45s left"
    assert time_left(3 * 3600 + 300) == "3h05m left"
    assert time_left(2 * 86400 + 4 * 3600) == "2d04h left"
    line = banner_line(briefing("word " * 60), hub_now=T0, width=78)
    assert len(line.plain) == 78
    assert line.plain.startswith("BRIEFING  word")
    assert line.plain.endswith("…  · by alice · 12m left")


def test_the_wall_folds_briefings() -> None:
    state = WallState()
    b = briefing()
    state.apply(BriefingEvent(change="started", briefing=b), FIXED_NOW)
    assert state.briefing(FIXED_NOW) == b
    newer = Briefing(id=8, text="newer", by="bob", created_at=T0, until=T0 + 60)
    state.apply(BriefingEvent(change="started", briefing=newer), FIXED_NOW)
    assert state.briefing(FIXED_NOW) == newer
    state.apply(BriefingEvent(change="expired", briefing=newer), FIXED_NOW)
    assert state.briefing(FIXED_NOW) == b
    # A snapshot is the hub's word: one withdrawn while the wall was away goes.
    from tests.wall_fixtures import make_tick

    state.apply(Snapshot(tick=make_tick(0)), FIXED_NOW)
    assert state.briefing(FIXED_NOW) is None


@pytest.mark.parametrize("size", [COMPACT, HUGE])
async def test_the_wall_shows_the_briefing_under_the_status_bar(size: tuple[int, int]) -> None:
    clock = Clock()
    app, source = live_wall(clock=clock, takeover_seconds=0, refresh_interval=60.0)
    async with app.run_test(size=size) as pilot:
        await applied(app, pilot, 3)
        assert not banner(app).display
        long = "Say the battery fix ships Friday and point people to the support page. " * 2
        source.push(BriefingEvent(change="started", briefing=briefing(long.strip())))
        await applied(app, pilot, 4)
        await pilot.pause()
        shown = banner(app)
        assert shown.display and not shown.has_class("-warning")
        assert shown.region.y == 2 and shown.region.width == size[0]  # right under the bar
        lines = screen_text(app).splitlines()
        row = next(line for line in lines if "BRIEFING" in line)
        assert "· by alice · 12m left" in row
        assert ("…" in row) == (size == COMPACT)  # cut to fit on 80 columns only
        assert (long.strip() in row) == (size == HUGE)
        assert len(row.rstrip()) <= size[0]

        # A warning, in the warning colour.
        source.push(
            BriefingEvent(
                change="started",
                briefing=Briefing(
                    id=9,
                    text="No comment on the recall",
                    severity="warning",
                    by="bob",
                    created_at=T0,
                    until=T0 + 3600,
                ),
            )
        )
        await applied(app, pilot, 5)
        await pilot.pause()
        assert banner(app).has_class("-warning")
        assert "No comment on the recall  · by bob · 1h00m left" in screen_text(app)

        # Withdrawn: the one before shows again; then gone at once.
        source.push(BriefingEvent(change="withdrawn", briefing=briefing()))
        source.push(
            BriefingEvent(
                change="withdrawn",
                briefing=Briefing(id=9, text="", created_at=T0, until=T0 + 3600),
            )
        )
        await applied(app, pilot, 7)
        await pilot.pause()
        assert not banner(app).display
        assert "BRIEFING" not in screen_text(app)


async def test_a_briefing_runs_out_on_the_walls_clock_without_the_hub() -> None:
    from groundcontrol.client.stream import Disconnected

    clock = Clock()
    app, source = live_wall(clock=clock, takeover_seconds=0, refresh_interval=60.0)
    async with app.run_test(size=COMPACT) as pilot:
        source.push(BriefingEvent(change="started", briefing=briefing(minutes=2)))
        source.push(Disconnected(HUB_URL, "connection refused", 5.0, FIXED_NOW, 1))
        await applied(app, pilot, 5)
        await pilot.pause()
        assert banner(app).display and "2m left" in screen_text(app)
        clock.now += 60
        app.refresh_now()
        await pilot.pause()
        assert "1m left" in screen_text(app)
        clock.now += 61
        app.refresh_now()
        await pilot.pause()
        assert not banner(app).display


# ---------------------------------------------------------------------- the command line


async def test_the_command_line(
    hub: tuple[Hub, str, HubClock],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _h, base, _clock = hub
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.ANALYST])

    async def run(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(cli_main, ["brief", *argv, "--hub", base])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await run("Say it ships Friday", "--for", "15m", "--severity", "warning")
    assert code == 0, err
    assert "briefing 1" in out and "15m" in out
    code, out, err = await run("--list")
    assert code == 0 and "Say it ships Friday" in out and "WARNING" in out
    code, out, err = await run("--list", "--json")
    assert code == 0 and json.loads(out)["briefings"][0]["id"] == 1
    code, out, err = await run("--withdraw", "1")
    assert code == 0 and "withdrawn" in out
    code, out, err = await run("--withdraw", "1")
    assert code == 2 and "withdrawn already" in err
    code, out, err = await run("x" * 281, "--for", "15m")
    assert code == 2 and "at most 280" in err
    code, out, err = await run("hello", "--for", "soon")
    assert code == 2 and "duration" in err
    code, out, err = await run("hello")
    assert code == 2 and "--for" in err
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.DISPLAY])
    code, out, err = await run("hello", "--for", "15m")
    assert code == 2 and "403" in err


def test_a_v5_store_gets_the_briefings_table(tmp_path: Path) -> None:
    import sqlite3

    from groundcontrol.store.database import SCHEMA_VERSION

    path = tmp_path / "v5.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE briefings")
        db.execute("PRAGMA user_version = 5")
    with Store(path) as store:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        b = store.add_briefing("after the upgrade", "info", by="a", created_at=1.0, until=99.0)
        assert store.active_briefings(2.0) == [b]
