"""The wall on the seeded demo: the real demo stream through the hub's real pipeline.

``simulate_demo`` runs the demo feed, enrichment and analytics in virtual time and
returns exactly what a connected wall would receive, so these tests and snapshots
show real numbers, incidents and topics while staying deterministic.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

from textual.app import App

from feeds.demo import DemoStream
from groundcontrol.client.stream import StreamEvent
from groundcontrol.config import load_config
from groundcontrol.lab.simulate import simulate_demo
from groundcontrol.protocol import IncidentEvent, StreamMessage, Tick
from panels.takeover import IncidentTakeover
from tests.test_wall import COMPACT, WIDE, _run_before, settle, status_text, wall
from tests.wall_fixtures import scripted

#: 2026-11-20 13:00 UTC: an afternoon, so the daily rhythm is near its average.
START = 1_795_179_600.0


@lru_cache(maxsize=4)
def seeded(minutes: float) -> tuple[StreamMessage, ...]:
    """What a wall connected at START receives during the first ``minutes``."""
    config = load_config()
    stream = DemoStream(seed=7, rate=config.demo.rate, start=START)
    messages, _hub = simulate_demo(
        config, stream, start=START, seconds=minutes * 60, tick_every=5.0
    )
    return tuple(messages)


def screen_text(app: App[None]) -> str:
    """Everything on screen as plain text (from the SVG export, tags stripped)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def test_the_quiet_start_opens_no_incident() -> None:
    # The first three minutes of the cycle are ordinary chatter.
    events = seeded(3.5)
    assert not [m for m in events if isinstance(m, IncidentEvent)]


def test_the_defect_story_is_caught_within_minutes() -> None:
    events = seeded(6.0)
    incidents = [m.incident for m in events if isinstance(m, IncidentEvent)]
    northwind = [i for i in incidents if i.brand == "Northwind"]
    assert northwind, "the Aero 14 defect did not open a Northwind incident"
    first = min(i.started_at for i in northwind)
    assert first - START < 6 * 60  # the story starts at minute 4
    assert any(i.kind == "negative" for i in northwind)
    assert any("#aerogate" in i.top_terms for i in northwind)


async def test_the_live_incident_takes_over_without_breaking_the_stream() -> None:
    """What crashed every live run: the incident opens, escalates and changes while
    its card is coming up. The stream must carry on and the card show its latest state."""
    events = list(seeded(6.0))
    source = scripted(events)
    starts = 0

    def counted() -> AsyncIterator[StreamEvent]:
        nonlocal starts
        starts += 1
        return source()

    app = wall(counted, takeover_seconds=60)
    async with app.run_test(size=COMPACT) as pilot:
        await settle(app, pilot, len(events))
        # A failing handler restarts the source, which replays the whole session.
        await pilot.pause(0.1)
        assert starts == 1 and app.state.events == len(events)
        assert app.state.link == "connected", app.state.down_reason
        assert "UNREACHABLE" not in status_text(app)
        card = app.screen
        assert isinstance(card, IncidentTakeover)
        latest = app.state.incident(card.incident.id)
        assert latest is not None and card.incident == latest
        assert card.incident.brand == "Northwind" and card.incident.kind == "negative"
        assert card.query_one("#takeover-card").has_class(f"-{latest.severity}")


async def test_the_wall_shows_the_incident() -> None:
    events = list(seeded(6.0))
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert "DEMO" in status_text(app)
        screen = screen_text(app)
        assert "#aerogate" in screen
        assert "NEGATIVE SURGE" in screen or "NEG" in screen
        assert "Northwind negative surge" in screen
        last = [m for m in events if isinstance(m, Tick)][-1]
        assert last.sentiment.negative_share > 0.3


def test_snapshot_seeded_demo_compact(snap_compare: Any) -> None:
    events = list(seeded(6.0))
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=COMPACT, run_before=_run_before(len(events)))


def test_snapshot_seeded_demo_wide(snap_compare: Any) -> None:
    events = list(seeded(6.0))
    app = wall(scripted(events), takeover_seconds=0)
    assert snap_compare(app, terminal_size=WIDE, run_before=_run_before(len(events)))
