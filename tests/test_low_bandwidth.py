"""Low-bandwidth mode: at most one redraw a second, the last state never lost, nothing moving.

Redraws are counted (the pacer's count of ``refresh_now`` calls), never timed: the
apps read a clock the tests hold still and move by hand, so "within the second" is
exact. The only real waiting is for the deferred redraw's timer, which is at most one
second away.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest
from textual.widgets import Input, Label

from groundcontrol.cli.bandwidth import (
    LOW_BANDWIDTH_ENV,
    LowBandwidthError,
    fewer_colours,
    flag_value,
    low_bandwidth,
)
from groundcontrol.client.api import HubApi
from groundcontrol.client.stream import Connected, Disconnected
from groundcontrol.protocol import Snapshot
from panels.app import WallApp
from panels.console import ConsoleApp, StillLoading
from panels.pacing import RedrawPacer
from panels.takeover import IncidentTakeover
from tests.deadline import until
from tests.wall_fixtures import (
    CRISIS,
    FIXED_NOW,
    HUB_URL,
    QueueSource,
    demo_hello,
    make_tick,
    opened,
)

COMPACT = (80, 24)


class Clock:
    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# The pacer alone


class Later:
    """``later`` for the pacer: remembers the callbacks; the test runs them."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, then: Callable[[], None]) -> None:
        self.calls.append((delay, then))

    def run(self) -> None:
        calls, self.calls = self.calls, []
        for _delay, then in calls:
            then()


def test_the_pacer_draws_once_a_gap_and_once_more_after_the_last_request() -> None:
    clock, later, drawn = Clock(100.0), Later(), []
    pacer = RedrawPacer(lambda: drawn.append(clock.now), gap=1.0, clock=clock, later=later)
    pacer.request()
    assert drawn == [100.0]
    for step in range(1, 10):  # nine requests within the second: one redraw owed
        clock.now = 100.0 + step / 10
        pacer.request()
    assert drawn == [100.0]
    assert pacer.owed and pacer.deferred == 9
    assert len(later.calls) == 1 and later.calls[0][0] == pytest.approx(0.9)
    clock.now = 101.0
    later.run()
    assert drawn == [100.0, 101.0] and not pacer.owed
    # A timer that fires early (another clock) owes the redraw still, and asks again.
    clock.now = 101.5
    pacer.request()
    later.run()
    assert drawn == [100.0, 101.0] and pacer.owed and len(later.calls) == 1
    clock.now = 102.0
    later.run()
    assert drawn == [100.0, 101.0, 102.0]
    # Nothing owed: a timer left over draws nothing.
    later(0.0, pacer._due)
    later.run()
    assert pacer.draws == 3


def test_a_clock_that_goes_back_never_holds_drawing_longer_than_a_gap() -> None:
    clock, later = Clock(1000.0), Later()
    pacer = RedrawPacer(lambda: None, gap=1.0, clock=clock, later=later)
    pacer.request()
    clock.now = 10.0  # an hour and more back
    pacer.request()
    assert [delay for delay, _ in later.calls] == [1.0]


def test_without_a_gap_every_request_draws() -> None:
    clock, later = Clock(), Later()
    pacer = RedrawPacer(lambda: None, gap=0.0, clock=clock, later=later)
    for _ in range(5):
        pacer.request()
    assert pacer.draws == 5 and not later.calls


# The wall


def live_wall(**options: object) -> tuple[WallApp, QueueSource, Clock]:
    clock = Clock()
    source = QueueSource([Connected(HUB_URL, FIXED_NOW), demo_hello(), Snapshot(tick=make_tick(0))])
    app = WallApp(source.events, hub_label="127.0.0.1:8765", clock=clock, **options)  # type: ignore[arg-type]
    return app, source, clock


def status(app: WallApp) -> str:
    return " | ".join(
        str(label.render()) for label in app.wall.query("StatusBar Label").results(Label)
    )


def flaps(n: int) -> list[Connected | Disconnected]:
    """The link going down and up ``n`` times in all, ending down: each going down
    (``(n + 1) // 2`` of them) is urgent, the wall says so at once."""
    events: list[Connected | Disconnected] = []
    for i in range(n):
        if i % 2 == 0:
            events.append(Disconnected(HUB_URL, f"flap {i}", 1.0, FIXED_NOW, i + 1))
        else:
            events.append(Connected(HUB_URL, FIXED_NOW))
    return events


async def test_a_normal_wall_redraws_on_every_urgent_event() -> None:
    """The baseline the next test is measured against: the same burst, one redraw each."""
    app, source, _clock = live_wall(takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await until(lambda: app.state.events >= 3, "the snapshot")
        before = app.pacer.draws
        source.push(*flaps(9))
        await until(lambda: app.state.events >= 12, "the burst")
        await pilot.pause()
        assert app.pacer.draws - before >= 5
        assert app.animation_level != "none"


async def test_low_bandwidth_folds_a_burst_into_one_redraw_and_draws_the_last_state() -> None:
    app, source, clock = live_wall(low_bandwidth=True, drift=True)
    assert app.animation_level == "none" and not app.drift and app.refresh_interval >= 1.0
    async with app.run_test(size=COMPACT) as pilot:
        await until(lambda: app.state.events >= 3, "the snapshot")
        clock.now += 1.0
        app.pacer.request()
        await pilot.pause()
        assert "LIVE" in status(app)
        draws = app.pacer.draws
        # A takeover and nine link changes within the same second of the app's clock.
        source.push(opened(CRISIS), *flaps(9))
        await until(lambda: app.state.events >= 13, "the burst")
        await pilot.pause()
        assert app.pacer.draws == draws, "a redraw within the second"
        assert app.pacer.owed
        assert "OFFLINE" not in status(app)  # not drawn yet: it waits for the second
        assert not isinstance(app.screen, IncidentTakeover)
        # A second later the owed redraw shows the last state: down, and the takeover.
        clock.now += 1.0
        await until(lambda: app.pacer.draws > draws, "the owed redraw")
        await pilot.pause()
        assert app.pacer.draws == draws + 1
        assert isinstance(app.screen, IncidentTakeover)
        assert app.state.link == "down"
        app.pop_screen()
        await pilot.pause()
        assert "OFFLINE" in status(app) and "flap 8" in status(app)


# The console


async def test_a_low_bandwidth_console_animates_nothing_and_its_cursor_does_not_blink() -> None:
    source = QueueSource([Connected(HUB_URL, FIXED_NOW), demo_hello()])
    app = ConsoleApp(
        source.events,
        HubApi("http://127.0.0.1:9"),
        hub_label="127.0.0.1",
        clock=Clock(),
        low_bandwidth=True,
    )
    assert app.animation_level == "none" and app.refresh_interval >= 1.0
    async with app.run_test(size=COMPACT) as pilot:
        await pilot.press("slash")
        query = app.main.query_one("#search-query", Input)
        await until(lambda: query.has_focus, "the search box")
        await pilot.pause()
        assert query.cursor_blink is False
        draws = app.pacer.draws
        source.push(*flaps(5))
        await until(lambda: app.state.events >= 7, "the burst")
        await pilot.pause()
        assert app.pacer.draws == draws  # the clock stands still: no redraw yet
        # A view that fetches is covered by an indicator that does not repaint itself.
        view = app.view(app.current)
        view.loading = True
        await until(lambda: isinstance(view._cover_widget, StillLoading), "the indicator")
        indicator = view._cover_widget
        assert indicator is not None
        await until(lambda: indicator.auto_refresh is None, "the indicator to hold still")


# The command line's switch


def test_the_flag_or_the_environment_turns_it_on_and_a_bad_value_is_named() -> None:
    on = argparse.Namespace(low_bandwidth=True)
    off = argparse.Namespace(low_bandwidth=False)
    assert low_bandwidth(on, {})
    assert not low_bandwidth(off, {})
    assert low_bandwidth(off, {LOW_BANDWIDTH_ENV: "1"})
    assert not low_bandwidth(off, {LOW_BANDWIDTH_ENV: "off"})
    assert flag_value("X", " Yes ") and not flag_value("X", "")
    with pytest.raises(LowBandwidthError, match=r"GROUNDCONTROL_LOW_BANDWIDTH='maybe': expected 1"):
        low_bandwidth(off, {LOW_BANDWIDTH_ENV: "maybe"})
    env: dict[str, str] = {}
    fewer_colours(env)
    assert env == {"TEXTUAL_COLOR_SYSTEM": "256"}
    mine = {"TEXTUAL_COLOR_SYSTEM": "truecolor"}
    fewer_colours(mine)
    assert mine == {"TEXTUAL_COLOR_SYSTEM": "truecolor"}
