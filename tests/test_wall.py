"""The wall (panels/): behaviour with Pilot, looks with SVG snapshots.

Every test runs the real ``WallApp`` on scripted stream events with a fixed clock and
UTC, so what is asserted (and what the snapshots show) does not depend on when or
where the tests run. Tests that check "at once" behaviour use a refresh interval of a
minute, so only the immediate redraw path can make them pass.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC
from typing import Any

import msgspec
import pytest
from rich.console import ConsoleRenderable
from rich.measure import Measurement
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Digits, Label

from groundcontrol.client import BadMessage, Connected, Disconnected, StreamEvent
from groundcontrol.protocol import AlertEvent, RiverItem, Snapshot, Tick
from panels.app import WallApp, WallScreen, hub_label_for, make_wall
from panels.base import Panel
from panels.bigtext import BigNumber, BigText, block_rows
from panels.format import abbreviate, bar, duration, signed, spark, split_widths
from panels.live import RiverView
from panels.sentiment import SharesBar
from panels.spikes import AlertList
from panels.state import RIVER_CAP, WallState
from panels.takeover import AlertTakeover
from panels.topics import TopicTable
from tests.wall_fixtures import (
    ENDED,
    FIXED_NOW,
    HUB_URL,
    INFO,
    SPIKE,
    QueueSource,
    demo_events,
    demo_hello,
    make_tick,
    scripted,
)

WIDE = (160, 48)
COMPACT = (80, 24)
#: Long enough that only the immediate redraw path can refresh the screen in a test.
NEVER = 60.0
PANEL_IDS = ("volume", "sentiment", "spikes", "topics", "live", "sources")


class Clock:
    """A wall clock tests move by hand."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wall(source: Callable[..., Any], **options: Any) -> WallApp:
    options.setdefault("clock", Clock())
    return WallApp(source, hub_label="127.0.0.1:8765", tz=UTC, **options)


def last_tick(events: list[StreamEvent]) -> Tick:
    ticks = [e.tick if isinstance(e, Snapshot) else e for e in events]
    return [t for t in ticks if isinstance(t, Tick)][-1]


async def applied(app: WallApp, pilot: Pilot[None], count: int) -> None:
    """Wait until the stream worker has applied ``count`` events in all."""
    for _ in range(500):
        if app.state.events >= count:
            await pilot.pause()
            return
        await pilot.pause(0.01)
    raise AssertionError(f"only {app.state.events} of {count} events applied")


async def settle(app: WallApp, pilot: Pilot[None], count: int) -> None:
    """Wait for ``count`` events, then redraw as the interval timer would."""
    await applied(app, pilot, count)
    app.refresh_now()
    await pilot.pause()


def on_wall(app: WallApp) -> bool:
    """True when the panels (not a takeover) have the screen."""
    return isinstance(app.screen, WallScreen)


def text_of(widget: Widget) -> str:
    """The plain text a widget shows."""
    return str(widget.render())


def river_lines(app: WallApp) -> list[str]:
    """The river's lines as drawn (it renders line by line, not as one renderable)."""
    river = app.wall.query_one(RiverView)
    return [river.render_line(y).text.rstrip() for y in range(river.size.height)]


def status_text(app: WallApp) -> str:
    labels = app.wall.query("StatusBar Label").results(Label)
    return " | ".join(text_of(label) for label in labels if label.display)


def panels(app: WallApp) -> list[Panel]:
    return list(app.wall.query(Panel))


# ---------------------------------------------------------------------- demo and numbers


async def test_demo_badge_shows_when_hello_says_demo() -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        badge = app.wall.query_one("#demo-badge", Label)
        assert badge.display
        assert text_of(badge) == "DEMO"
        # Each panel says so too, so a photo of one panel cannot pass for real data.
        assert all("DEMO" in str(panel.border_subtitle) for panel in panels(app))


async def test_no_demo_badge_for_real_data() -> None:
    hello = msgspec.structs.replace(demo_hello(), demo=False)
    events: list[StreamEvent] = [Connected(HUB_URL, FIXED_NOW), hello, make_tick(1, demo=False)]
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert not app.wall.query_one("#demo-badge").display
        assert not any(panel.border_subtitle for panel in panels(app))
        assert "LIVE" in status_text(app)


def test_demo_tick_from_a_real_hub_still_says_demo() -> None:
    state = WallState()
    state.apply(msgspec.structs.replace(demo_hello(), demo=False), FIXED_NOW)
    assert not state.demo
    state.apply(make_tick(1, demo=True), FIXED_NOW)
    assert state.demo  # the data shown is demo data, whatever the hub said first


async def test_numbers_on_screen_match_the_tick() -> None:
    events = demo_events()
    tick = last_tick(events)
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        screen = app.wall
        assert screen.query_one("#volume-last-minute", Digits).value == (
            f"{tick.volume.last_minute:,}"
        )
        assert screen.query_one("#volume-per-minute", Digits).value == (
            f"{round(tick.volume.per_minute):,}"
        )
        assert screen.query_one("#sentiment-net", Digits).value == signed(tick.sentiment.net)
        view = tick.sentiment
        total = view.positive + view.neutral + view.negative
        shares = text_of(screen.query_one("#sentiment-bar", SharesBar))
        assert f"▲ {round(view.positive / total * 100)}%" in shares
        assert f"▼ {round(view.negative / total * 100)}%" in shares
        status = status_text(app)
        assert f"{tick.ingested_total:,} ingested" in status
        for brand in tick.brands:
            assert brand.brand in status
            assert f"{round(brand.share_of_voice * 100)}%" in status
        topics = text_of(screen.query_one(TopicTable)).splitlines()
        assert "★ #aerogate" in topics[0]
        assert str(tick.topics[0].count) in topics[0]
        assert "▲ recall: regulator" in topics[1]  # the story's label, not its lead term
        assert "NEW" in topics[0]
        alerts = text_of(screen.query_one(AlertList))
        assert "CRITICAL" in alerts
        assert "Northwind volume 5.2x baseline" in alerts
        assert "started 3m14s ago" in alerts  # T0 - 192 s, seen from the tick at T0 + 2 s
        assert "ONGOING" in alerts
        river = screen.query_one(RiverView)
        assert river.items[0].id == max(tick.river, key=lambda i: i.created_at).id
        sources = text_of(screen.query_one("#sources-table"))
        assert "language" in sources
        assert "en" in sources


# ---------------------------------------------------------------------- freshness


async def test_disconnect_says_unreachable_at_once_and_reconnect_clears_it() -> None:
    source = QueueSource(demo_events())
    count = len(demo_events())
    app = wall(source.events, takeover_seconds=0, refresh_interval=NEVER)
    async with app.run_test(size=COMPACT) as pilot:
        await applied(app, pilot, count)
        assert "LIVE" in status_text(app)
        assert not any(panel.has_class("stale") for panel in panels(app))

        source.push(Disconnected(HUB_URL, "connection refused", 4.0, FIXED_NOW, 1))
        await applied(app, pilot, count + 1)
        status = status_text(app)
        assert "HUB UNREACHABLE: connection refused - retrying in 4s" in status
        assert "OFFLINE" in status
        assert all(panel.has_class("stale") for panel in panels(app))
        # Stale, not blank: the last numbers are still there.
        last_minute = last_tick(demo_events()).volume.last_minute
        assert app.wall.query_one("#volume-last-minute", Digits).value == f"{last_minute:,}"

        source.push(Connected(HUB_URL, FIXED_NOW), Snapshot(tick=make_tick(5)))
        await applied(app, pilot, count + 3)
        status = status_text(app)
        assert "UNREACHABLE" not in status
        assert "LIVE" in status
        assert not any(panel.has_class("stale") for panel in panels(app))


async def test_connected_without_data_is_not_live() -> None:
    source = QueueSource([Connected(HUB_URL, FIXED_NOW), demo_hello()])
    app = wall(source.events, takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, 2)
        assert "WAITING" in status_text(app)
        assert all(panel.has_class("stale") for panel in panels(app))


async def test_old_data_goes_stale_and_says_how_old() -> None:
    clock = Clock()
    events = demo_events()
    app = wall(scripted(events), clock=clock, takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert not app.wall.query_one("#volume", Panel).has_class("stale")
        clock.now += 12.0  # tick interval 0.5 s: stale after 3.5 s
        app.refresh_now()
        await pilot.pause()
        volume = app.wall.query_one("#volume", Panel)
        assert volume.has_class("stale")
        assert "12s ago" in str(volume.border_title)
        assert "STALE" in status_text(app)
        assert "updated 12s ago" in status_text(app)


async def test_bad_messages_are_counted_not_fatal() -> None:
    events = [*demo_events(), BadMessage("expected object"), BadMessage("truncated")]
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        assert "⚠ 2 bad messages" in status_text(app)
        assert app.is_running


async def test_a_failing_event_source_is_shown_and_does_not_crash() -> None:
    async def broken() -> Any:
        yield Connected(HUB_URL, FIXED_NOW)
        raise RuntimeError("boom")

    app = wall(broken, takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await applied(app, pilot, 1)
        await pilot.pause(0.05)
        assert "HUB UNREACHABLE: stream error: boom" in status_text(app)
        assert app.is_running


async def test_make_wall_reports_an_unreachable_hub() -> None:
    # A port that was free a moment ago: connecting is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_wall(f"http://127.0.0.1:{port}")
    assert app.hub_label == f"127.0.0.1:{port}"
    async with app.run_test(size=COMPACT) as pilot:
        for _ in range(300):
            if app.state.link == "down":
                break
            await pilot.pause(0.01)
        await pilot.pause()
        assert "HUB UNREACHABLE: connection refused" in status_text(app)


def test_hub_label() -> None:
    assert hub_label_for("ws://10.0.0.5:8765/stream") == "10.0.0.5:8765"
    assert hub_label_for("hub.example.org:443") == "hub.example.org:443"


# ---------------------------------------------------------------------- takeover


async def test_takeover_on_new_critical_alert_then_back_by_itself() -> None:
    source = QueueSource([Connected(HUB_URL, FIXED_NOW), demo_hello(), Snapshot(tick=make_tick(0))])
    app = wall(source.events, takeover_seconds=1.0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, 3)
        assert isinstance(app.screen, WallScreen)

        source.push(AlertEvent(alert=SPIKE))
        await applied(app, pilot, 4)
        assert isinstance(app.screen, AlertTakeover)
        card = app.screen
        assert card.query_one(BigText).text == SPIKE.message
        # 80 columns are too few for block capitals: plain text, upper case, not cut.
        assert text_of(card.query_one(BigText)) == "NORTHWIND VOLUME 5.2X BASELINE"
        assert "#aerogate" in text_of(card.query_one("#takeover-terms"))
        assert "reddit" in text_of(card.query_one("#takeover-sources"))
        assert card.query_one("#takeover-demo").display
        assert card.query_one("#takeover-number", Digits).value == "5.2x"

        # Nobody touches a wall: it must come back by itself.
        for _ in range(300):
            if on_wall(app):
                break
            await pilot.pause(0.02)
        assert on_wall(app)

        # The same alert again (an update) does not take the screen a second time.
        source.push(AlertEvent(alert=msgspec.structs.replace(SPIKE, value=190.0)))
        await applied(app, pilot, 5)
        assert on_wall(app)


async def test_escape_closes_the_takeover() -> None:
    events: list[StreamEvent] = [
        Connected(HUB_URL, FIXED_NOW),
        demo_hello(),
        AlertEvent(alert=SPIKE),
    ]
    app = wall(scripted(events), takeover_seconds=30)
    async with app.run_test(size=WIDE) as pilot:
        await applied(app, pilot, len(events))
        assert isinstance(app.screen, AlertTakeover)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WallScreen)


def test_takeover_rules() -> None:
    state = WallState()
    info = AlertEvent(alert=INFO)
    assert state.apply(info, FIXED_NOW).takeover is None  # info never takes over
    assert state.apply(AlertEvent(alert=ENDED), FIXED_NOW).takeover is None  # already ended
    assert state.apply(AlertEvent(alert=SPIKE), FIXED_NOW).takeover == SPIKE
    assert state.apply(AlertEvent(alert=SPIKE), FIXED_NOW).takeover is None  # seen
    warning = msgspec.structs.replace(SPIKE, id="alert-0050", severity="warning")
    assert state.apply(AlertEvent(alert=warning), FIXED_NOW).takeover == warning
    # Escalation from warning to critical deserves the screen again.
    critical = msgspec.structs.replace(warning, severity="critical")
    assert state.apply(AlertEvent(alert=critical), FIXED_NOW).takeover == critical
    # An info alert that escalates to warning takes over too.
    escalated = msgspec.structs.replace(INFO, severity="warning")
    assert state.apply(AlertEvent(alert=escalated), FIXED_NOW).takeover == escalated


# ---------------------------------------------------------------------- bounded work


def _tick_with_river(seq: int, size: int) -> Tick:
    tick = make_tick(seq % 8)
    at = tick.at + seq
    river = [
        RiverItem(
            id=f"x:{seq}-{k}",
            source="x",
            author="@load",
            reach=10,
            text=f"mention {seq}-{k}",
            lang="en",
            sentiment=0.0,
            label="neutral",
            brands=["Northwind"],
            created_at=at + k / 100,
        )
        for k in range(size)
    ]
    return msgspec.structs.replace(tick, seq=seq, at=at, river=river)


async def test_river_stays_capped_and_redraws_do_not_follow_the_event_rate() -> None:
    ticks = [_tick_with_river(seq, 12) for seq in range(1_000)]
    events: list[StreamEvent] = [Connected(HUB_URL, FIXED_NOW), demo_hello(), *ticks]
    app = wall(scripted(events), takeover_seconds=0)
    redraws = 0
    show = app.wall.show

    def counting_show(*args: Any, **kwargs: Any) -> None:
        nonlocal redraws
        redraws += 1
        show(*args, **kwargs)

    app.wall.show = counting_show  # type: ignore[method-assign]
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert len(app.state.river) == RIVER_CAP
        river = app.wall.query_one(RiverView)
        assert river.items[0].id == "x:999-11"  # newest on top
        assert river.items[-1].id == f"x:{999 - RIVER_CAP // 12}-{12 - RIVER_CAP % 12}"
        lines = river_lines(app)
        assert "mention 999-11" in lines[0]
        assert "mention 999-10" in lines[1]
        # 1,002 events, a handful of redraws: the screen does not follow the event rate.
        assert redraws < 10


def test_river_dedupes_repeated_mentions() -> None:
    state = WallState(river_cap=5)
    tick = _tick_with_river(1, 3)
    state.apply(tick, FIXED_NOW)
    state.apply(Snapshot(tick=tick), FIXED_NOW)  # a reconnect repeats the same items
    assert [i.id for i in state.river] == ["x:1-2", "x:1-1", "x:1-0"]
    state.apply(_tick_with_river(2, 12), FIXED_NOW)
    assert len(state.river) == 5
    assert state.river[0].id == "x:2-11"


# ---------------------------------------------------------------------- layouts


async def test_compact_layout_keeps_the_essentials() -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        assert app.wall.has_class("-compact")
        for panel_id in ("volume", "sentiment", "spikes", "topics", "live"):
            region = app.wall.query_one(f"#{panel_id}").region
            assert region.width > 0 and region.height > 0, panel_id
        assert not app.wall.query_one("#side").display
        assert app.wall.query_one("#volume-last-minute").region.height == 3
        assert app.wall.query_one("#demo-badge").region.width > 0
        river = app.wall.query_one(RiverView)
        assert river.region.height >= 5  # a few river lines even over SSH


async def test_wide_layout_shows_every_panel() -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert app.wall.has_class("-wide")
        regions = {pid: app.wall.query_one(f"#{pid}").region for pid in (*PANEL_IDS, "feeds")}
        # Sources and feeds share a column; the others have a full cell.
        assert all(r.width >= 30 for r in regions.values())
        assert all(regions[pid].height >= 15 for pid in PANEL_IDS if pid != "sources")
        assert regions["sources"].height >= 10 and regions["feeds"].height >= 8
        # Live is the widest panel of its row.
        live = app.wall.query_one("#live").region
        assert live.width > app.wall.query_one("#topics").region.width


# ---------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0"), (950, "950"), (1_234, "1.2k"), (12_345, "12k"), (1_250_000, "1.2M"), (2e9, "2B")],
)
def test_abbreviate(count: float, text: str) -> None:
    assert abbreviate(count) == text


def test_small_formatters() -> None:
    assert duration(4.9) == "4s"
    assert duration(192) == "3m12s"
    assert duration(3_840) == "1h04m"
    assert signed(0.42) == "+42"
    assert signed(-0.106) == "-11"
    assert signed(0.001) == "0"
    assert spark([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert len(spark(list(range(100)), 10)) == 10
    assert spark([5, 5, 5], 3) == "███"  # scaled from zero: steady is not "empty"
    assert bar(0.5, 4) == "██  "
    assert split_widths([27, 35, 38], 30) == [8, 11, 11]
    assert sum(split_widths([1, 1000, 1000], 10)) == 10
    assert split_widths([1, 1000, 1000], 10)[0] == 1


def test_block_font() -> None:
    rows = block_rows("1,2", 1)
    assert rows is not None
    assert len(rows) == 5
    assert len({len(row) for row in rows}) == 1  # every row of a line is as wide
    assert block_rows("1,2", 2) is not None
    assert len(block_rows("12", 2)[0]) == 2 * 3 * 2 + 1  # type: ignore[index]
    assert block_rows("🔥", 1) is None  # no glyph: callers fall back, nothing dropped


async def test_big_numbers_are_shortened_never_clipped() -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        number = app.wall.query_one("#volume-last-minute", BigNumber)
        number.update("12,345,678", short="12M")
        for width, height in (COMPACT, WIDE, (240, 67)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            drawn = number.render()
            assert isinstance(drawn, ConsoleRenderable)
            measured = Measurement.get(app.console, app.console.options, drawn)
            assert measured.maximum <= number.size.width, (width, height)
        assert number.value == "12,345,678"


async def test_big_text_falls_back_to_plain_text_when_it_cannot_fit() -> None:
    events: list[StreamEvent] = [Connected(HUB_URL, FIXED_NOW), demo_hello()]
    long = msgspec.structs.replace(SPIKE, message="Überhitzung 🔥 bei Northwind")
    app = wall(scripted([*events, AlertEvent(alert=long)]), takeover_seconds=30)
    async with app.run_test(size=WIDE) as pilot:
        await applied(app, pilot, 3)
        big = app.screen.query_one(BigText)
        assert big.layout_for(big.size.width) is None  # the emoji has no glyph
        assert text_of(big) == "ÜBERHITZUNG 🔥 BEI NORTHWIND"
        big.update("Überhitzung bei Northwind")
        await pilot.pause()
        assert big.layout_for(big.size.width) is not None  # Ü is drawn as U
        assert big.size.height >= 5


async def test_a_source_whose_feed_is_down_is_marked() -> None:
    tick = make_tick(1)
    feeds = [msgspec.structs.replace(f, connected=f.source != "reddit") for f in tick.feeds]
    events: list[StreamEvent] = [
        Connected(HUB_URL, FIXED_NOW),
        demo_hello(),
        msgspec.structs.replace(tick, feeds=feeds),
    ]
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        table = text_of(app.wall.query_one("#sources-table"))
        assert "✖ reddit" in table
        assert "✖ x" not in table


# ---------------------------------------------------------------------- snapshots


def _run_before(count: int) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, WallApp)
        await settle(app, pilot, count)

    return run_before


def test_snapshot_compact(snap_compare: Any) -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=COMPACT, run_before=_run_before(len(events)))


def test_snapshot_wide(snap_compare: Any) -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=WIDE, run_before=_run_before(len(events)))


def test_snapshot_takeover(snap_compare: Any) -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=60)
    assert snap_compare(app, terminal_size=COMPACT, run_before=_run_before(len(events)))


def test_snapshot_takeover_wide(snap_compare: Any) -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=60)
    assert snap_compare(app, terminal_size=WIDE, run_before=_run_before(len(events)))


def test_snapshot_hub_unreachable(snap_compare: Any) -> None:
    events = [*demo_events(), Disconnected(HUB_URL, "connection refused", 4.0, FIXED_NOW, 3)]
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=COMPACT, run_before=_run_before(len(events)))


async def test_posts_and_errors_are_shown_verbatim_not_as_markup() -> None:
    tick = _tick_with_river(1, 1)
    item = msgspec.structs.replace(tick.river[0], text="[b]not bold[/b] [link=x]")
    events: list[StreamEvent] = [
        Connected(HUB_URL, FIXED_NOW),
        demo_hello(),
        msgspec.structs.replace(tick, river=[item]),
        Disconnected(HUB_URL, "[Errno 111] Connect call failed", 2.0, FIXED_NOW, 1),
    ]
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert "[Errno 111] Connect call failed" in status_text(app)
        assert "[b]not bold[/b] [link=x]" in river_lines(app)[0]


def test_feed_states_and_what_they_say() -> None:
    from groundcontrol.protocol import FeedInfo
    from panels.feeds import QUIET_AFTER, feed_detail, feed_state, feeds_summary

    now = 1_800_000_000.0

    def info(**kw: Any) -> FeedInfo:
        base: dict[str, Any] = dict(
            name="f",
            source="x",
            demo=False,
            connected=True,
            last_seen=now - 1,
            events_per_min=10.0,
            errors=0,
        )
        return FeedInfo(**(base | kw))

    live = info(last_event_at=now - 5)
    down = info(name="x-stream", connected=False, down_since=now - 90, detail="stalled")
    wait = info(rate_limit_wait=42.0, detail="429 from oauth.reddit.com")
    quiet = info(last_event_at=now - QUIET_AFTER - 1)
    broken = info(detail="HTTP 500 from the source")
    words = [feed_state(f, now).word for f in (live, down, wait, quiet, broken)]
    assert words == ["LIVE", "DOWN", "WAIT", "QUIET", "ERROR"]
    assert feed_detail(down, feed_state(down, now), now) == "down 1m30s: stalled"
    assert feed_detail(wait, feed_state(wait, now), now) == (
        "rate limited, 42s left: 429 from oauth.reddit.com"
    )
    assert feed_detail(live, feed_state(live, now), now) == ""
    assert feeds_summary([live, down, wait], now) == (1, 3, ["x-stream"])
