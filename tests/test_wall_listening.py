"""The wall's listening scene and scene rotation: stories, influencers, triage,
compliance and the incident explained, on hand-made ticks with a fixed clock and UTC.
"""

from __future__ import annotations

import argparse
import html
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from textual.pilot import Pilot
from textual.widgets import ContentSwitcher

from groundcontrol.cli import main as cli
from groundcontrol.cli import wall as wall_cli
from groundcontrol.client.stream import Connected, Disconnected, StreamEvent
from groundcontrol.protocol import FlaggedPost, IncidentEvent, Snapshot, Topic, TriageView
from panels.app import WallApp, WallScreen, make_wall
from panels.base import Panel
from panels.explain import explained_incident
from panels.listing import category_name, mood
from panels.scenes import HOLD_SECONDS, SceneRotation
from panels.stories import story_name
from panels.takeover import IncidentTakeover
from panels.topics import TopicTable
from panels.triage import has_data, review_line
from tests.test_wall import COMPACT, WIDE, Clock, applied, settle, status_text, text_of, wall
from tests.wall_fixtures import (
    CRISIS,
    ENDED,
    FIXED_NOW,
    HUB_URL,
    INFO,
    LAUNCH,
    STORIES,
    T0,
    TRIAGE,
    QueueSource,
    acknowledged,
    demo_events,
    demo_hello,
    make_tick,
    opened,
    resolved,
    scripted,
)

HUGE = (240, 67)
MEDIUM = (120, 40)
LISTENING_IDS = ("stories", "explain", "influencers", "triage", "compliance")


def screen_text(app: WallApp) -> str:
    """Everything on screen as plain text (from the SVG export, tags stripped)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def scene_on_screen(app: WallApp) -> str:
    return str(app.wall.query_one(ContentSwitcher).current)


def listening_text(app: WallApp, panel_id: str) -> str:
    return text_of(app.wall.query_one(f"#{panel_id} Listing"))


def old_hub_events() -> list[StreamEvent]:
    """A session with a hub from before stories, influencers and triage."""
    return [
        Connected(HUB_URL, FIXED_NOW),
        demo_hello(),
        Snapshot(tick=make_tick(1, listening=False)),
        make_tick(2, listening=False),
    ]


# ---------------------------------------------------------------------- pure pieces


def test_rotation_switches_on_its_clock_and_a_choice_holds() -> None:
    rotation = SceneRotation(seconds=30.0, hold_seconds=300.0)
    rotation.start(1_000.0)
    assert rotation.label(1_000.0) == "1/2 overview"
    assert rotation.due(1_029.9) is None
    assert rotation.due(1_030.0) == "listening"
    assert rotation.due(1_059.0) is None
    assert rotation.due(1_060.0) == "overview"
    # A clock that jumped an hour switches once and counts afresh, no replay.
    assert rotation.due(4_660.0) == "listening"
    assert rotation.due(4_661.0) is None
    assert rotation.next_at == 4_690.0
    # A key picks a scene and holds it: no switch until the hold ends.
    assert rotation.choose("overview", 4_670.0) == "overview"
    assert rotation.label(4_670.0) == "1/2 overview · held 5m00s"
    assert rotation.label(4_670.0, short=True) == "1/2 overview"
    assert rotation.due(4_969.0) is None
    assert rotation.due(4_970.0) == "listening"
    assert rotation.label(4_970.0) == "2/2 listening"
    assert rotation.following() == "overview"
    with pytest.raises(ValueError, match="no scene named 'river'"):
        rotation.choose("river", 5_000.0)


def test_rotation_zero_stays_put_but_keys_still_work() -> None:
    rotation = SceneRotation(seconds=0.0)
    rotation.start(0.0)
    assert all(rotation.due(t) is None for t in (0.0, 30.0, 1e9))
    assert rotation.choose("listening", 10.0) == "listening"
    assert rotation.due(10.0 + HOLD_SECONDS + 1) is None  # no rotation to resume


def test_explained_incident_is_the_most_urgent_going_else_the_last_ended() -> None:
    # INFO started after the critical CRISIS: the worse one is explained first.
    assert CRISIS.severity == "critical" and INFO.severity == "info"
    assert explained_incident([CRISIS, ENDED, INFO]) == CRISIS
    assert explained_incident([ENDED, INFO]) == INFO
    newer = msgspec.structs.replace(CRISIS, id="b-2", started_at=CRISIS.started_at + 30)
    assert explained_incident([CRISIS, newer, INFO]) == newer
    # At equal severity a problem comes before good news, even older good news.
    warning = msgspec.structs.replace(CRISIS, id="c-3", severity="warning")
    assert explained_incident([LAUNCH, warning]) == warning
    # Acknowledged is still going; resolved is not.
    assert explained_incident([acknowledged(CRISIS), INFO]) == acknowledged(CRISIS)
    assert explained_incident([resolved(CRISIS), INFO]) == INFO
    older = msgspec.structs.replace(ENDED, id="a-1", resolved_at=ENDED.started_at)
    assert explained_incident([older, ENDED]) == ENDED  # none going: the last to end
    assert explained_incident([]) is None


def test_small_words() -> None:
    assert story_name(STORIES[0]) == "#aerogate: battery, swelling"
    assert story_name(Topic(term="x2", count=3, previous=1, score=1.0, trend="up")) == "x2"
    assert category_name("product_problem") == "product problem"
    assert category_name("") == "no guess"
    assert [mood(n) for n in (0.5, 0.05, -0.05, -0.5)] == [
        "positive",
        "neutral",
        "neutral",
        "negative",
    ]
    assert review_line(TRIAGE) == "review: 14 in window, 37 pending"
    assert review_line(TriageView(review=2)) == "review: 2 in window, pending unknown"
    assert not has_data(TriageView())
    assert has_data(TriageView(pending=0))


# ---------------------------------------------------------------------- rotation in the app


async def test_the_wall_rotates_on_its_clock() -> None:
    clock = Clock()
    events = demo_events()
    app = wall(scripted(events), clock=clock, takeover_seconds=0, rotate_seconds=30)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert scene_on_screen(app) == "panels"
        assert "1/2 overview" in status_text(app)
        clock.now += 29.0
        app.refresh_now()
        assert scene_on_screen(app) == "panels"
        clock.now += 1.0
        app.refresh_now()
        await pilot.pause()
        assert scene_on_screen(app) == "listening"
        assert "2/2 listening" in status_text(app)
        assert app.wall.query_one("#stories").region.height > 0
        assert app.wall.query_one("#volume").region.height == 0  # the overview is hidden
        # The scene that came up drew the data it had not drawn yet.
        assert "#aerogate: battery, swelling" in listening_text(app, "stories")
        clock.now += 30.0
        app.refresh_now()
        await pilot.pause()
        assert scene_on_screen(app) == "panels"


async def test_a_key_picks_a_scene_and_holds_it() -> None:
    clock = Clock()
    events = demo_events()
    app = wall(scripted(events), clock=clock, takeover_seconds=0, rotate_seconds=30)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        await pilot.press("2")
        assert scene_on_screen(app) == "listening"
        assert "2/2 listening · held 5m00s" in status_text(app)
        clock.now += 120.0  # four rotation periods: the key holds the scene
        app.refresh_now()
        await pilot.pause()
        assert scene_on_screen(app) == "listening"
        await pilot.press("1")
        assert scene_on_screen(app) == "panels"
        await pilot.press("tab")
        assert scene_on_screen(app) == "listening"
        clock.now += HOLD_SECONDS + 1.0  # the hold ends: rotation resumes
        app.refresh_now()
        await pilot.pause()
        assert scene_on_screen(app) == "panels"
        assert "held" not in status_text(app)


async def test_rotate_zero_stays_on_the_overview() -> None:
    clock = Clock()
    events = demo_events()
    app = wall(scripted(events), clock=clock, takeover_seconds=0, rotate_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        clock.now += 3_600.0
        app.refresh_now()
        await pilot.pause()
        assert scene_on_screen(app) == "panels"
        assert "1/2 overview" in status_text(app)


async def test_a_takeover_lies_over_the_listening_scene_which_goes_stale_too() -> None:
    source = QueueSource([Connected(HUB_URL, FIXED_NOW), demo_hello(), Snapshot(tick=make_tick(0))])
    app = wall(source.events, takeover_seconds=30, rotate_seconds=30, refresh_interval=60.0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, 3)
        await pilot.press("2")
        source.push(opened(CRISIS))
        await applied(app, pilot, 4)
        assert isinstance(app.screen, IncidentTakeover)
        assert "@gadgetgrrl" in text_of(app.screen.query_one("#takeover-authors"))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WallScreen)
        assert scene_on_screen(app) == "listening"

        listening = [app.wall.query_one(f"#{pid}", Panel) for pid in LISTENING_IDS]
        assert not any(panel.has_class("stale") for panel in listening)
        source.push(Disconnected(HUB_URL, "connection refused", 4.0, FIXED_NOW, 1))
        await applied(app, pilot, 5)
        assert all(panel.has_class("stale") for panel in listening)
        assert "HUB UNREACHABLE" in status_text(app)
        # Stale, not blank: the last stories are still there.
        assert "#aerogate" in listening_text(app, "stories")


# ---------------------------------------------------------------------- what it shows


async def test_listening_shows_the_tick() -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=HUGE) as pilot:
        await settle(app, pilot, len(events))
        await pilot.press("2")
        stories = listening_text(app, "stories").splitlines()
        assert "★ ⊖ #aerogate: battery, swelling" in stories[0]
        assert "412" in stories[1] and "Northwind" in stories[1]  # the line under it
        assert "#aerogate, battery, swelling, x2 · net -58" in stories[1]
        assert "⊕ inspection: free, psa" in "\n".join(stories)  # positive glyph too

        people = listening_text(app, "influencers").splitlines()
        assert "reach" in people[0]
        assert "@techwire@news" in people[1] and "NEW" not in people[1]
        assert "2.4M" in people[1] and "18k" in people[1]
        assert " 2 NEW @memelord@x" in people[2]
        assert sum("NEW" in line for line in people) == 3

        triage = listening_text(app, "triage")
        assert "review: 14 in window, 37 pending" in triage.splitlines()[0]
        assert re.search(r"product problem\s+341 ", triage)
        assert re.search(r"compliance risk\s+7 ", triage)
        assert "? product problem 48% @jonas_k@x" in triage
        assert "? no guess 0%" in triage

        flags = listening_text(app, "compliance").splitlines()
        assert flags[0] == "⚑ 3 flagged posts in the window"
        heads = [line for line in flags if line.startswith("⚑ ") and "@" in line]
        assert ["NorthwindHelp" in heads[0], "contoso" in heads[1]] == [True, True]
        assert "[absolute safety claim · asks for card details]" in flags[1]
        assert "card details for a replacement." in "\n".join(flags)

        why = listening_text(app, "explain").splitlines()
        # The critical incident is explained first; the other open one is named below.
        assert (
            why[0] == " CRITICAL  NEGATIVE SURGE Northwind negative surge: #aerogate, battery, x2"
        )
        assert why[1] == "OPEN · started 3m14s ago, 13:59:48"
        assert why[2] == "5.2x usual volume · 71% negative vs 28% usually · 1,140 mentions"
        text = "\n".join(why)
        assert "signals Northwind negative 96/min vs 10/min · 71% vs 28%" in text
        assert "        #aerogate 41/min vs 0.4/min" in text
        assert "authors @gadgetgrrl, @techwire, @memelord, u/commuter_dk" in text
        assert "history 13:59:50 opened: warning negative surge, 2.4x usual volume" in text
        assert "        14:00:30 escalated: critical negative surge, 4.1x usual volume" in text
        assert "“Northwind shares slip as regulators look into X2 battery reports”" in text
        assert why[-1] == "+ 1 more open: INFO Contoso volume surge: sync, rsync"


async def test_compact_listening_keeps_the_essentials() -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        await pilot.press("2")
        await pilot.pause()
        for panel_id in LISTENING_IDS:
            region = app.wall.query_one(f"#{panel_id}").region
            assert region.width >= 30 and region.height >= 5, panel_id
        screen = screen_text(app)
        assert "#aerogate: battery" in screen
        assert "review: 14 in window, 37 pending" in screen
        assert "⚑ 14:01" in screen and "@NorthwindHelp" in screen
        assert "2/2 listening" in screen
        assert "14:03:02 UTC" in screen  # the clock is not pushed off the status bar


async def test_the_scene_follows_new_ticks() -> None:
    """An ended incident explained, nothing flagged, then more flagged posts than fit."""
    tick = make_tick(1, incidents=(ENDED,))
    source = QueueSource([Connected(HUB_URL, FIXED_NOW), demo_hello(), tick])
    app = wall(source.events, takeover_seconds=0, refresh_interval=60.0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, 3)
        await pilot.press("2")
        why = listening_text(app, "explain").splitlines()
        assert why[0].startswith(" WARNING  NEGATIVE SURGE Contoso negat")
        assert why[1].startswith("ENDED by itself 13:52 · started 13:38")
        assert "more open" not in "\n".join(why)

        quiet = msgspec.structs.replace(TRIAGE, flagged=0, flags=[])
        source.push(msgspec.structs.replace(tick, seq=2, triage=quiet))
        await settle(app, pilot, 4)
        assert listening_text(app, "compliance") == "✔ no flagged posts"

        posts = [
            FlaggedPost(
                id=f"x:{n}",
                source="x",
                author="@NorthwindHelp",
                text=f"post {n}",
                flags=["claim"],
                at=tick.at - n * 60.0,
            )
            for n in range(12)
        ]
        busy = msgspec.structs.replace(TRIAGE, flagged=12, flags=posts[::-1])
        source.push(msgspec.structs.replace(tick, seq=3, triage=busy))
        await settle(app, pilot, 5)
        lines = listening_text(app, "compliance").splitlines()
        # Newest first, one line each on 24 rows: post 0 is 0 s old, post 1 a minute.
        assert lines[1] == "⚑ 14:03 0s ago @NorthwindHelp@x [claim]"
        assert lines[2] == "⚑ 14:02 1m00s ago @NorthwindHelp@x [claim]"
        assert re.fullmatch(r"… \d+ more flagged", lines[-1])


async def test_an_old_hub_renders_and_says_no_data_yet() -> None:
    events = old_hub_events()
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        # The overview's topics fall back to the lead term.
        topics = text_of(app.wall.query_one(TopicTable)).splitlines()
        assert "#aerogate" in topics[0] and ":" not in topics[0]
        await pilot.press("2")
        assert listening_text(app, "influencers") == "no influencers yet"
        assert listening_text(app, "triage") == "no triage data yet"
        assert listening_text(app, "compliance") == "no flagged posts (no triage data yet)"
        assert "★ ⊖ #aerogate" in listening_text(app, "stories").splitlines()[0]
        assert app.is_running


async def test_before_any_tick_every_listening_panel_says_so() -> None:
    events: list[StreamEvent] = [Connected(HUB_URL, FIXED_NOW), demo_hello()]
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=MEDIUM) as pilot:
        await settle(app, pilot, len(events))
        await pilot.press("2")
        # Never an all-clear ("no stories", "no incidents") that nothing measured.
        for panel_id in LISTENING_IDS:
            assert "waiting for data" in listening_text(app, panel_id), panel_id
        assert listening_text(app, "explain") == "waiting for data"
        for panel_id in LISTENING_IDS:
            panel = app.wall.query_one(f"#{panel_id}", Panel)
            assert panel.has_class("stale") and "no data" in str(panel.border_title)


async def test_the_explanation_keeps_who_did_what() -> None:
    """Who acknowledged, and when, survives a short panel; the hub's notes go first."""
    acked = acknowledged(CRISIS, by="alice", at=T0 + 1.8)
    events: list[StreamEvent] = [Connected(HUB_URL, FIXED_NOW), demo_hello()]
    events += [IncidentEvent(change="acknowledged", incident=acked), make_tick(4, incidents=())]
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        await pilot.press("2")
        why = listening_text(app, "explain").splitlines()
        assert why[1] == "ACK by alice 14:03 · started 13:59:48"
        assert "history 14:03:01 acknowledged by alice" in why
        assert not any("escalated" in line for line in why)  # no room: the older notes go


# ---------------------------------------------------------------------- the CLI


def test_wall_rotate_option(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["wall"]).rotate is None  # each scene's dwell
    assert parser.parse_args(["wall", "--rotate", "0"]).rotate == 0.0
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["wall", "--rotate", bad])
        assert exc.value.code == 2
        assert "--rotate" in capsys.readouterr().err
    built: dict[str, Any] = {}

    def fake_make_wall(hub: str, **options: Any) -> Any:
        built.update(options, hub=hub)
        return SimpleNamespace(run=lambda: None)

    monkeypatch.setattr(wall_cli, "wall_module", lambda: SimpleNamespace(make_wall=fake_make_wall))
    assert cli.main(["wall", "--hub", "ws://127.0.0.1:9", "--rotate", "12.5"]) == 0
    assert built["hub"] == "ws://127.0.0.1:9" and built["rotate_seconds"] == 12.5
    assert isinstance(parser, argparse.ArgumentParser)


def test_make_wall_rotates_by_default() -> None:
    # The embedded demo (``groundcontrol`` with no arguments) builds its wall this way.
    assert make_wall("ws://127.0.0.1:9").rotation.seconds == 30.0
    assert make_wall("ws://127.0.0.1:9", rotate_seconds=0).rotation.seconds == 0.0


# ---------------------------------------------------------------------- snapshots


def _listening_before(count: int) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, WallApp)
        await settle(app, pilot, count)
        await pilot.press("2")
        app.refresh_now()
        await pilot.pause()

    return run_before


@pytest.mark.slow
def test_snapshot_listening_compact(snap_compare: Any) -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=COMPACT, run_before=_listening_before(len(events)))


@pytest.mark.slow
def test_snapshot_listening_huge(snap_compare: Any) -> None:
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=HUGE, run_before=_listening_before(len(events)))
