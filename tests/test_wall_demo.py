"""The wall on the seeded demo: the real demo stream through the hub's real pipeline.

``simulate_demo`` runs the demo feed, enrichment and analytics in virtual time and
returns exactly what a connected wall would receive, so these tests and snapshots
show real numbers, alerts and topics while staying deterministic.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from textual.app import App

from groundcontrol.config import load_config
from groundcontrol.protocol import AlertEvent, StreamMessage, Tick
from groundcontrol.simulate import simulate_demo
from tests.test_wall import COMPACT, WIDE, _run_before, settle, status_text, wall
from tests.wall_fixtures import scripted

#: 2026-11-20 13:00 UTC: an afternoon, so the daily rhythm is near its average.
START = 1_795_179_600.0


@lru_cache(maxsize=4)
def seeded(minutes: float) -> tuple[StreamMessage, ...]:
    """What a wall connected at START receives during the first ``minutes``."""
    messages, _hub = simulate_demo(
        load_config(), seed=7, start=START, seconds=minutes * 60, tick_every=5.0
    )
    return tuple(messages)


def screen_text(app: App[None]) -> str:
    """Everything on screen as plain text (from the SVG export, tags stripped)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def test_the_quiet_start_raises_no_alert() -> None:
    # The first three minutes of the cycle are ordinary chatter.
    events = seeded(3.5)
    assert not [m for m in events if isinstance(m, AlertEvent)]


def test_the_defect_story_is_caught_within_minutes() -> None:
    events = seeded(6.0)
    opened = [m.alert for m in events if isinstance(m, AlertEvent)]
    northwind = [a for a in opened if a.series == "brand:Northwind"]
    assert northwind, "the Aero 14 defect did not raise a Northwind alert"
    first = min(a.started_at for a in northwind)
    assert first - START < 6 * 60  # the story starts at minute 4
    assert any(a.kind == "negative_share" for a in opened)
    assert any("#aerogate" in a.top_terms for a in opened)


async def test_the_wall_shows_the_incident() -> None:
    events = list(seeded(6.0))
    app = wall(scripted(events), takeover_seconds=0)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, len(events))
        assert "DEMO" in status_text(app)
        screen = screen_text(app)
        assert "#aerogate" in screen
        assert "Northwind volume" in screen or "Negative share for Northwind" in screen
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
