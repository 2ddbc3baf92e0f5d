"""A wall without data says so: no big 0s and no all-clears before the first tick.

A new user saw "No spikes" and big zeros on a wall that had no data yet, and on one
that was offline. These tests run the real ``WallApp`` on a scripted event source
(built here, not from ``tests.wall_fixtures``, so they depend on nothing but the
wire protocol's ``empty_tick``) with a fixed clock, and read what is on screen:

* before any tick, every number panel shows "waiting for data" and no big number;
* after a tick, the numbers show, and a 0 from a live hub shows as 0;
* after the link drops, the last numbers stay, dimmed and marked with their age, and
  an all-clear is not repeated from old data;
* a wall that never reached its hub waits, whatever else it knows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC

import msgspec
from textual.pilot import Pilot
from textual.widget import Widget

from groundcontrol.client.stream import Connected, Disconnected, StreamEvent
from groundcontrol.protocol import (
    FeedInfo,
    Influencer,
    KeyCount,
    RiverItem,
    SentimentView,
    SourceStat,
    StreamHello,
    Tick,
    Topic,
    TriageView,
    Volume,
    empty_tick,
)
from panels.app import WallApp
from panels.base import WAITING, Drawn, Panel
from panels.bigtext import BigNumber
from panels.live import RiverView
from tests.deadline import SAFETY

#: Hub time of the scripted ticks, and the wall's fixed clock just after them.
T0 = 1_749_736_980.0
NOW = T0 + 1.0
HUB_URL = "ws://127.0.0.1:8765/stream"
WIDE = (160, 48)
COMPACT = (80, 24)
#: Long enough that only the app's immediate redraws (and ``settle``) draw anything.
NEVER = 60.0
#: The number panels of each scene, whose empty state is owned here (the incidents
#: panel and the alert explained have their own).
OVERVIEW = ("volume", "sentiment", "topics", "live", "sources")
LISTENING = ("stories", "influencers", "triage", "compliance")
#: The drawn list of each list panel, which must say it is waiting.
LISTS = {
    "topics": "#topics-table",
    "sources": "#sources-table",
    "stories": "#stories-table",
    "influencers": "#influencers-table",
    "triage": "#triage-table",
    "compliance": "#compliance-list",
}


class Clock:
    """A wall clock tests move by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Script:
    """An event source tests push events into while the wall runs."""

    def __init__(self, events: Sequence[StreamEvent] = ()) -> None:
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self.push(*events)

    def push(self, *events: StreamEvent) -> None:
        for event in events:
            self.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            yield await self.queue.get()


def hello() -> StreamHello:
    return StreamHello(
        protocol=1,
        hub="groundcontrol",
        demo=False,
        brands=["Northwind"],
        tick_interval=1.0,
        bucket_seconds=10,
        window_seconds=300,
    )


def connected() -> list[StreamEvent]:
    return [Connected(HUB_URL, NOW), hello()]


def dropped() -> Disconnected:
    return Disconnected(HUB_URL, "connection refused", 4.0, NOW, 1)


def quiet_tick() -> Tick:
    """A live hub's tick for a window without a single mention: true zeros."""
    return msgspec.structs.replace(empty_tick(at=T0), seq=1)


def busy_tick(last_minute: int = 8_867, per_minute: float = 1_482.0) -> Tick:
    """A live hub's tick with real numbers in every panel this file checks."""
    return msgspec.structs.replace(
        empty_tick(at=T0),
        seq=2,
        volume=Volume(
            last_minute=last_minute,
            window=round(per_minute * 5),
            per_minute=per_minute,
            series=[120, 140, 180, 150],
            by_source={"x": [80, 90, 120, 100], "reddit": [40, 50, 60, 50]},
        ),
        sentiment=SentimentView(
            positive=2_000,
            neutral=3_000,
            negative=2_410,
            net=-0.06,
            negative_share=0.33,
            series_net=[0.1, 0.0, -0.06],
            series_negative_share=[0.2, 0.3, 0.33],
        ),
        sources=[
            SourceStat(source="x", count=5_000, share=0.67, net=-0.1, negative_share=0.35),
            SourceStat(source="reddit", count=2_410, share=0.33, net=0.0, negative_share=0.3),
        ],
        languages=[KeyCount(key="en", count=7_410)],
        topics=[Topic(term="battery", count=412, previous=61, score=7.4, trend="up")],
        influencers=[
            Influencer(
                author="@techwire",
                source="news",
                reach=2_400_000,
                mentions=6,
                engagement=18_400,
                net=-0.38,
                score=9.1,
            )
        ],
        triage=TriageView(categories=[KeyCount(key="support", count=12)], review=3, pending=0),
        river=[
            RiverItem(
                id="x:1",
                source="x",
                author="@gadgetgrrl",
                reach=48_200,
                text="Northwind X2 battery swelled overnight",
                lang="en",
                sentiment=-0.7,
                label="negative",
                brands=["Northwind"],
                created_at=T0 - 0.5,
            )
        ],
        feeds=[
            FeedInfo(
                name="x-stream",
                source="x",
                demo=False,
                connected=True,
                last_seen=T0,
                last_event_at=T0,
                events_per_min=60.0,
                errors=0,
            )
        ],
    )


def wall(script: Script, clock: Clock | None = None) -> WallApp:
    return WallApp(
        script.events,
        hub_label="127.0.0.1:8765",
        clock=clock or Clock(),
        tz=UTC,
        takeover_seconds=0,
        refresh_interval=NEVER,
        rotate_seconds=0,
    )


async def settle(app: WallApp, pilot: Pilot[None], count: int) -> None:
    """Wait until ``count`` events are applied, then redraw as the timer would."""
    end = time.monotonic() + SAFETY
    while app.state.events < count:
        assert time.monotonic() < end, f"only {app.state.events} of {count} events applied"
        await pilot.pause(0.01)
    app.refresh_now()
    await pilot.pause()


def on_screen(widget: Widget) -> bool:
    """True when the widget takes room on screen (not hidden, nor inside a hidden one)."""
    return widget.region.area > 0


def screen_text(app: WallApp, widget: Widget) -> str:
    """The characters the screen shows in ``widget``'s region (what a person sees)."""
    # Private, but it is the composited screen itself: hidden widgets cannot leak in.
    strips = app.screen._compositor.render_strips()
    region = widget.region
    rows = strips[region.y : region.bottom]
    return "\n".join(strip.text[region.x : region.right].rstrip() for strip in rows)


def shown_numbers(app: WallApp, panel_id: str) -> list[BigNumber]:
    return [n for n in app.wall.query_one(f"#{panel_id}").query(BigNumber) if on_screen(n)]


def list_text(app: WallApp, panel_id: str) -> str:
    """What a list panel draws (its drawn widget renders its lines as one Text)."""
    if panel_id == "live":
        river = app.wall.query_one(RiverView)
        return river.render_line(0).text.strip()
    return str(app.wall.query_one(LISTS[panel_id], Drawn).render())


async def show_scene(app: WallApp, pilot: Pilot[None], scene: str) -> None:
    app.action_scene(scene)
    await pilot.pause()


def assert_waiting(app: WallApp, panel_ids: Sequence[str]) -> None:
    for panel_id in panel_ids:
        panel = app.wall.query_one(f"#{panel_id}", Panel)
        assert not shown_numbers(app, panel_id), f"{panel_id} shows a number before any data"
        text = screen_text(app, panel)
        assert WAITING in text, f"{panel_id} does not say it is waiting:\n{text}"
        for word in ("0%", "no sources", "no hot topics", "nothing is bursting", "✔"):
            assert word not in text, f"{panel_id} shows {word!r} before any data"
        if panel_id in LISTS or panel_id == "live":
            assert list_text(app, panel_id) == WAITING


# ---------------------------------------------------------------------- before any data


async def test_a_new_wall_waits_for_data_and_shows_no_zero() -> None:
    script = Script(connected())
    app = wall(script)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 2)
        assert_waiting(app, OVERVIEW)
        # The volume panel's big numbers are not on screen at all, so no 0 is.
        volume = app.wall.query_one("#volume", Panel)
        assert volume.has_class("-waiting")
        assert all(not on_screen(n) for n in volume.query(BigNumber))
        await show_scene(app, pilot, "listening")
        assert_waiting(app, LISTENING)


async def test_a_compact_wall_waits_too() -> None:
    app = wall(Script(connected()))
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, 2)
        assert_waiting(app, ("volume", "sentiment", "topics", "live"))


async def test_a_wall_that_never_reached_its_hub_waits() -> None:
    app = wall(Script([dropped()]))
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 1)
        assert_waiting(app, OVERVIEW)
        await show_scene(app, pilot, "listening")
        assert_waiting(app, LISTENING)


# ---------------------------------------------------------------------- with data


async def test_numbers_show_once_a_tick_arrives() -> None:
    script = Script(connected())
    app = wall(script)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 2)
        script.push(busy_tick())
        await settle(app, pilot, 3)
        volume = app.wall.query_one("#volume", Panel)
        assert not volume.has_class("-waiting")
        numbers = {n.id: n.value for n in shown_numbers(app, "volume")}
        assert numbers == {"volume-last-minute": "8,867", "volume-per-minute": "1,482"}
        assert {n.value for n in shown_numbers(app, "sentiment")} == {"-6", "33%"}
        for panel_id in OVERVIEW:
            panel = app.wall.query_one(f"#{panel_id}", Panel)
            assert WAITING not in screen_text(app, panel), panel_id
        assert "battery" in list_text(app, "topics")
        assert "reddit" in list_text(app, "sources")
        assert "swelled" in list_text(app, "live")
        await show_scene(app, pilot, "listening")
        assert "@techwire" in list_text(app, "influencers")
        assert "review: 3 in window, 0 pending" in list_text(app, "triage")
        assert list_text(app, "compliance") == "✔ no flagged posts"  # fresh: an all-clear


async def test_a_true_zero_from_a_live_hub_is_shown_as_zero() -> None:
    app = wall(Script([*connected(), quiet_tick()]))
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 3)
        numbers = {n.id: n.value for n in shown_numbers(app, "volume")}
        assert numbers == {"volume-last-minute": "0", "volume-per-minute": "0"}
        volume = app.wall.query_one("#volume", Panel)
        assert WAITING not in screen_text(app, volume)
        assert not volume.has_class("stale")
        # No mentions means no sentiment to speak of: not a neutral 0 and 0%.
        sentiment = app.wall.query_one("#sentiment", Panel)
        assert not shown_numbers(app, "sentiment")
        assert "no mentions in the window" in screen_text(app, sentiment)
        # The lists now report what the hub said: nothing, not "waiting".
        assert list_text(app, "topics") == "no hot topics yet"
        assert list_text(app, "live") == "waiting for mentions…"


# ---------------------------------------------------------------------- offline


async def test_after_the_link_drops_no_panel_shows_a_fresh_looking_number() -> None:
    for tick in (busy_tick(), busy_tick(last_minute=0, per_minute=0.0)):
        script = Script([*connected(), tick])
        clock = Clock()
        app = wall(script, clock)
        async with app.run_test(size=WIDE) as pilot:
            await settle(app, pilot, 3)
            await show_scene(app, pilot, "overview")
            clock.now += 30.0
            script.push(dropped())
            await settle(app, pilot, 4)
            last = f"{tick.volume.last_minute:,}"
            for panel_id in ("volume", "sentiment"):
                panel = app.wall.query_one(f"#{panel_id}", Panel)
                assert panel.has_class("stale"), panel_id
                # The age is in the title, in the error colour while the link is down.
                title = str(panel.border_title)
                assert "30s ago" in title and "$error" in title, (panel_id, title)
                numbers = shown_numbers(app, panel_id)
                assert numbers, f"{panel_id}: the last numbers should stay readable"
                for number in numbers:
                    # Dimmed through the panel's stale style: never a fresh-looking 0.
                    assert number.opacity < 0.5, (panel_id, number.id, number.opacity)
            assert app.wall.query_one("#volume-last-minute", BigNumber).value == last


async def test_old_data_gives_no_all_clear() -> None:
    script = Script([*connected(), busy_tick()])
    clock = Clock()
    app = wall(script, clock)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 3)
        await show_scene(app, pilot, "listening")
        assert list_text(app, "compliance") == "✔ no flagged posts"
        clock.now += 75.0
        script.push(dropped())
        await settle(app, pilot, 4)
        compliance = list_text(app, "compliance")
        assert "✔" not in compliance
        assert compliance == "no flagged posts as of 1m15s ago"
        for panel_id in LISTENING:
            assert app.wall.query_one(f"#{panel_id}", Panel).has_class("stale"), panel_id
