"""The on-call wall in someone's hands (``wall --act``): k, s and R act on incidents
through a real hub, and every wall, this one and a kiosk beside it, shows it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from groundcontrol.client.actor import OPEN_CONSOLE_STATUS
from groundcontrol.client.api import HubApi
from groundcontrol.client.stream import Access, StreamClient, stream_url
from groundcontrol.config import find_layout, load_config
from groundcontrol.hub.auth import Role
from groundcontrol.hub.server import Hub, start_hub
from panels.app import WallApp
from panels.oncall import SNOOZE_SECONDS, ActionBar
from tests.deadline import SAFETY
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, open_incident, tokens


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    h, runner, port = await start_hub(
        small_config(), port=0, tokens=tokens(), store_path=tmp_path / "gc.db"
    )
    yield h, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def wall(
    base: str, role: Role, *, act: bool, console_key: bool = False, takeover: float = 0
) -> WallApp:
    access = Access(token=TOKENS[role])
    return WallApp(
        StreamClient(stream_url(base), access=access).events,
        hub_label="hub",
        layout=find_layout(load_config(None), "oncall"),
        takeover_seconds=takeover,
        api=HubApi(base, access, actor="") if act else None,
        console_key=console_key,
    )


async def wait(pilot: Pilot[None], check: Callable[[], object], what: str) -> None:
    end = time.monotonic() + SAFETY
    while not check():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        await pilot.pause(0.02)
    await pilot.pause()


def acked_by(app: WallApp, incident_id: str) -> str:
    incident = app.state.incident(incident_id)
    return incident.acked_by if incident is not None else ""


def bar_text(app: WallApp) -> str:
    return app.query_one(ActionBar).render().plain


async def test_k_s_and_r_act_on_the_target_and_every_wall_shows_it(
    hub: tuple[Hub, str],
) -> None:
    h, base = hub
    first = open_incident(h)
    on_call = wall(base, Role.ANALYST, act=True)
    kiosk = wall(base, Role.DISPLAY, act=False)
    async with (
        on_call.run_test(size=(80, 24)) as pilot,
        kiosk.run_test(size=(80, 24)) as kiosk_pilot,
    ):
        await wait(pilot, lambda: on_call.actions is not None, "the action bar")
        bar = on_call.query_one(ActionBar)
        await wait(pilot, lambda: bar.target is not None, "the incident on the on-call wall")
        assert bar.target is not None and bar.target.id == first
        text = bar_text(on_call)
        assert "▸ 1/1" in text and "k ack" in text and "s snooze 30m" in text
        assert "c console" not in text  # only with the console key
        assert not kiosk.query(ActionBar)  # a kiosk shows no keys

        await pilot.press("k")
        await wait(pilot, lambda: bar.actions_done == 1, "the hub's answer")
        assert "✔ ack:" in bar_text(on_call) and "is acknowledged" in bar_text(on_call)
        # The hub's stream brings it to both walls: alice (the analyst token) did it.
        for app, p in ((on_call, pilot), (kiosk, kiosk_pilot)):
            await wait(p, lambda app=app: acked_by(app, first) == "alice", "the ack on the wall")
        await pilot.press("s")
        await wait(pilot, lambda: bar.actions_done == 2, "the snooze")
        snoozed = h.analytics.incidents.get(first)
        assert snoozed is not None and snoozed.status == "snoozed"
        assert snoozed.snoozed_until is not None
        assert snoozed.snoozed_until - time.time() == pytest.approx(SNOOZE_SECONDS, abs=60)

        await pilot.press("R")
        await wait(pilot, lambda: bar.actions_done == 3, "the resolve")
        await wait(pilot, lambda: bar.target is None, "nothing left to act on")
        assert h.analytics.incidents.get(first).resolved_by == "alice"  # type: ignore[union-attr]


async def test_a_refusal_is_said_and_c_asks_for_the_console(hub: tuple[Hub, str]) -> None:
    h, base = hub
    open_incident(h)
    # A display token may watch but not act: the hub's reason is on the bar.
    app = wall(base, Role.DISPLAY, act=True, console_key=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait(pilot, lambda: app.actions is not None, "the action bar")
        bar = app.query_one(ActionBar)
        await wait(pilot, lambda: bar.target is not None, "the incident")
        assert "c console" in bar_text(app)
        await pilot.press("down")  # one incident: down comes back to it
        assert "▸ 1/1" in bar_text(app)
        await pilot.press("k")
        await wait(pilot, lambda: bar.actions_done == 1, "the refusal")
        assert "✖ ack refused: a display token may not acknowledge" in bar_text(app)
        await pilot.press("c")
        await wait(pilot, lambda: app.return_code is not None, "the app to quit")
    assert app.return_code == OPEN_CONSOLE_STATUS


async def test_the_keys_act_on_the_incident_that_took_over_the_screen(
    hub: tuple[Hub, str],
) -> None:
    h, base = hub
    app = wall(base, Role.ANALYST, act=True, takeover=600)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait(pilot, lambda: app.actions is not None, "the action bar")
        incident_id = open_incident(h)
        await wait(pilot, lambda: app.takeover is not None, "the takeover card")
        await pilot.press("k")
        await wait(pilot, lambda: acked_by(app, incident_id) == "alice", "the ack from the card")
