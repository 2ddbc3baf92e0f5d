"""The feeds panel: is every source we listen to actually talking to us?

One row per feed: a glyph and a word for its state (LIVE, WAIT for a rate limit,
ERROR when it reports one, QUIET when its source has said nothing for a while, DOWN
when it is gone), its name,
how long ago its source last sent something, mentions per minute, errors, and its
own last word (the error or the wait) when there is room. Glyphs and words carry the
state, colour only repeats it. A down feed sorts first: it is what someone must fix.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import FeedInfo
from panels.base import Drawn, Panel
from panels.format import abbreviate, column, duration
from panels.state import WallState

#: Seconds without a word from its source after which a connected feed is QUIET.
QUIET_AFTER = 900.0


@dataclass(frozen=True)
class FeedState:
    """How one feed reads on the wall."""

    glyph: str
    word: str
    mood: str
    """ok, warn or bad: the row's colour."""
    rank: int
    """Sort order: what needs a person first."""


def feed_state(feed: FeedInfo, now: float) -> FeedState:
    if not feed.connected:
        return FeedState("✖", "DOWN", "bad", 0)
    if feed.rate_limit_wait > 0:
        return FeedState("◷", "WAIT", "warn", 1)
    heard = feed.last_event_at
    if feed.detail:
        return FeedState("▲", "ERROR", "warn", 1)
    if not heard or now - heard > QUIET_AFTER:
        return FeedState("○", "QUIET", "warn", 2)
    return FeedState("●", "LIVE", "ok", 3)


def feeds_summary(feeds: list[FeedInfo], now: float) -> tuple[int, int, list[str]]:
    """(live, total, names of the down ones) for the compact status line."""
    states = [feed_state(f, now) for f in feeds]
    down = [f.name for f, s in zip(feeds, states, strict=True) if s.word == "DOWN"]
    live = sum(1 for s in states if s.word == "LIVE")
    return live, len(feeds), down


class FeedTable(Drawn):
    """The feeds, most in need of attention first."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "feed-table--heading",
        "feed-table--ok",
        "feed-table--warn",
        "feed-table--bad",
        "feed-table--detail",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.feeds: list[FeedInfo] = []
        self.now = 0.0

    def draw(self, width: int, height: int) -> list[Text]:
        style = self.get_component_rich_style
        if not self.feeds:
            return [Text("no feeds connected", style="italic")]
        now = self.now
        rows = sorted(
            ((feed_state(f, now), f) for f in self.feeds), key=lambda r: (r[0].rank, r[1].name)
        )
        # glyph and word 8, name, heard 6, per minute 6, errors 5 (dropped when narrow)
        show_errors = width >= 44
        room = width - 8 - 1 - 6 - 6 - (5 if show_errors else 0)
        name_width = max(6, min(16, max(len(f.name) for f in self.feeds), room))
        heading = column("feed", 8 + name_width + 1) + f"{'heard':>6}{'/min':>6}"
        lines = [
            Text(heading + (f"{'err':>5}" if show_errors else ""), style("feed-table--heading"))
        ]
        hidden = 0
        for index, (state, feed) in enumerate(rows):
            detail = feed_detail(feed, state, now)
            need = 1 + min(2, len(textwrap.wrap(detail, max(width - 4, 20))))
            # Keep a line for "… N more" unless this is the last row.
            last = index == len(rows) - 1
            if hidden or len(lines) + need > height - (0 if last else 1):
                hidden += 1
                continue
            mood = style(f"feed-table--{state.mood}")
            line = Text()
            line.append(f"{state.glyph} {state.word:<5} ", mood)
            line.append(column(feed.name, name_width) + " ", "bold")
            at = feed.last_event_at
            heard = duration(max(0.0, now - at)) if at else "never"
            line.append(f"{heard:>6}")
            line.append(f"{abbreviate(feed.events_per_min):>6}", "bold")
            if show_errors:
                line.append(f"{abbreviate(feed.errors):>5}", mood if feed.errors else "")
            lines.append(line)
            if detail:
                # Under the row, where it has the panel's width, on up to two lines:
                # what someone must read to fix it.
                parts = textwrap.wrap(detail, max(width - 4, 20))[:2] or [""]
                for i, part in enumerate(parts):
                    lead = "  └ " if i == 0 else "    "
                    lines.append(Text(lead + part, style("feed-table--detail")))
        if hidden:
            lines.append(Text(f"… {hidden} more", style("feed-table--heading")))
        return lines


def feed_detail(feed: FeedInfo, state: FeedState, now: float) -> str:
    """What a feed that is not LIVE has to say: the wait, how long it has been down,
    its last error."""
    if state.word == "LIVE":
        return ""
    detail = feed.detail
    if state.word == "WAIT":
        return f"rate limited, {feed.rate_limit_wait:.0f}s left" + (f": {detail}" if detail else "")
    if state.word == "DOWN" and feed.down_since:
        gone = f"down {duration(max(0.0, now - feed.down_since))}"
        return f"{gone}: {detail}" if detail else gone
    if state.word == "QUIET" and not detail:
        if not feed.last_event_at:
            return "nothing from the source yet"
        return f"nothing from the source for over {duration(QUIET_AFTER)}"
    return detail


class FeedsPanel(Panel):
    """Each feed's health as the hub sees it and as the feed reports it."""

    TITLE = "FEEDS"
    TIME_DEPENDENT = True

    def compose(self) -> ComposeResult:
        yield FeedTable(id="feeds-table")

    def show(self, state: WallState, now: float) -> None:
        table = self.query_one("#feeds-table", FeedTable)
        tick = state.tick
        table.feeds = list(tick.feeds) if tick is not None else []
        table.now = now
        # As tall as its lines (a heading, a row per feed, a line under each one in
        # trouble, the border); the rest of the column is the sources'.
        rows = len(table.draw(table.size.width or 60, 10_000))
        if self.styles.height is None or self.styles.height.value != rows + 2:
            self.styles.height = rows + 2
        table.refresh()
