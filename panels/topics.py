"""The topics panel: the hottest terms and hashtags, ranked, with where they are going.

Each row: rank, a trend glyph (★ new, ▲ up, ▼ down, ▶ flat), a mood glyph (⊕ ⊙ ⊖)
and the story's readable label (its lead term from a hub that sends none), both
coloured by the sentiment of the mentions that carry it, its count, and the change
against the window before. Glyphs, not only colours, carry the trend and the mood.
Before the first tick it says "waiting for data", not that nothing is hot.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Topic
from panels.base import Drawn, Panel
from panels.format import MOOD_GLYPH, abbreviate, column
from panels.sentiment import NEUTRAL_BAND
from panels.state import WallState

TREND_GLYPH = {"new": "★", "up": "▲", "down": "▼", "flat": "▶"}


def change(topic: Topic) -> str:
    """The change against the previous window: "NEW", "+240%", "-12%", "±0%"."""
    if topic.trend == "new" or topic.previous <= 0:
        return "NEW"
    delta = round((topic.count - topic.previous) / topic.previous * 100)
    if delta == 0:
        return "±0%"
    return f"{delta:+d}%"


class TopicTable(Drawn):
    """Ranked topics drawn as aligned text rows."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "topic-table--new",
        "topic-table--up",
        "topic-table--down",
        "topic-table--flat",
        "topic-table--positive",
        "topic-table--negative",
        "topic-table--neutral",
        "topic-table--count",
        "topic-table--rank",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.topics: list[Topic] = []

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.topics:
            return [Text("no hot topics yet", style="italic")]
        style = self.get_component_rich_style
        # Narrow panels drop the change column first, then the rank.
        show_change = width >= 30
        show_rank = width >= 22
        lines = []
        for rank, topic in enumerate(self.topics[:height], start=1):
            count = abbreviate(topic.count)
            tail = f" {count:>5}" + (f" {change(topic):>6}" if show_change else "")
            head = (5 if show_rank else 2) + 2
            term_width = max(width - head - len(tail), 4)
            mood = "neutral"
            if topic.net > NEUTRAL_BAND:
                mood = "positive"
            elif topic.net < -NEUTRAL_BAND:
                mood = "negative"
            line = Text()
            if show_rank:
                line.append(f"{rank:>2} ", style("topic-table--rank"))
            line.append(
                f"{TREND_GLYPH.get(topic.trend, ' ')} ", style(f"topic-table--{topic.trend}")
            )
            line.append(f"{MOOD_GLYPH[mood]} ", style(f"topic-table--{mood}"))
            name = topic.label or topic.term
            line.append(column(name, term_width), style(f"topic-table--{mood}"))
            line.append(f" {count:>5}", style("topic-table--count"))
            if show_change:
                line.append(f" {change(topic):>6}", style(f"topic-table--{topic.trend}"))
            lines.append(line)
        return lines


class TopicsPanel(Panel):
    """Hot topics over the window, ranked by the hub's score."""

    TITLE = "HOT TOPICS"

    def compose(self) -> ComposeResult:
        yield TopicTable(id="topics-table")

    def show(self, state: WallState, now: float) -> None:
        table = self.query_one("#topics-table", TopicTable)
        table.waiting = state.tick is None
        table.topics = list(state.tick.topics) if state.tick else []
        table.refresh()
