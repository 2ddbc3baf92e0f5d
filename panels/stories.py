"""The stories panel: what people are talking about, as readable story names, ranked.

Each row: rank, a trend glyph (★ new, ▲ up, ▼ down, ▶ flat), a sentiment glyph
(⊕ ⊙ ⊖) with the story's name coloured to match, its count, the change against the
window before, and the watched brand it is about. With room, a second line lists the
story's grouped terms and its net score. A hub older than stories sends no label:
the lead term stands in. Before the first tick it says "waiting for data": "nothing
is bursting" is a reading, said only once a hub has said so.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Topic
from panels.base import Panel
from panels.format import abbreviate, column, signed
from panels.listing import MOOD_GLYPH, Listing, mood
from panels.state import WallState
from panels.topics import TREND_GLYPH, change

#: Widest brand tag; longer names are cut with an ellipsis.
BRAND_WIDTH = 10


def story_name(topic: Topic) -> str:
    """The story's readable name, or its lead term from a hub that sends no label."""
    return topic.label or topic.term


class StoryTable(Listing):
    """Ranked stories drawn as aligned rows."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.topics: list[Topic] = []

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.topics:
            return [Text("no stories yet: nothing is bursting", self.part("empty"))]
        # Two lines a story while they all fit: the name gets the whole row, and the
        # numbers, brand and terms go under it. Else one aligned row each.
        if height >= 2 * len(self.topics):
            return [line for topic in self._ranked() for line in self._two_lines(*topic, width)]
        return [self._one_line(rank, topic, width) for rank, topic in self._ranked()][:height]

    def _ranked(self) -> list[tuple[int, Topic]]:
        return list(enumerate(self.topics, start=1))

    def _head(self, rank: int, topic: Topic, name_width: int) -> Text:
        feel = mood(topic.net)
        line = Text()
        line.append(f"{rank:>2} ", self.part("rank"))
        line.append(f"{TREND_GLYPH.get(topic.trend, ' ')} ", self.part(_trend_part(topic)))
        line.append(f"{MOOD_GLYPH[feel]} ", self.part(feel))
        line.append(column(story_name(topic), name_width), self.part(feel))
        return line

    def _one_line(self, rank: int, topic: Topic, width: int) -> Text:
        show_change = width >= 56
        brands = [t.brand for t in self.topics if t.brand]
        brand_width = min(BRAND_WIDTH, max((len(b) for b in brands), default=0))
        show_brand = brand_width > 0 and width >= 40
        tail = 6 + (7 if show_change else 0) + (brand_width + 1 if show_brand else 0)
        line = self._head(rank, topic, max(width - 7 - tail, 6))
        line.append(f" {abbreviate(topic.count):>5}", self.part("count"))
        if show_change:
            line.append(f" {change(topic):>6}", self.part(_trend_part(topic)))
        if show_brand:
            line.append(" ")
            line.append(column(topic.brand, brand_width), self.part("brand"))
        return line

    def _two_lines(self, rank: int, topic: Topic, width: int) -> list[Text]:
        head = self._head(rank, topic, max(width - 7, 6))
        under = Text("       ")
        under.append(f"{abbreviate(topic.count):>5}", self.part("count"))
        under.append(f" {change(topic):>5}", self.part(_trend_part(topic)))
        if topic.brand:
            under.append(f" {topic.brand}", self.part("brand"))
        terms = ", ".join(topic.terms) if topic.terms else topic.term
        under.append(f" · {terms} · net {signed(topic.net)}", self.part("muted"))
        return [head, under]


def _trend_part(topic: Topic) -> str:
    return "new" if topic.trend in ("new", "up") else "muted"


class StoriesPanel(Panel):
    """Hot stories over the window, ranked by the hub's score."""

    TITLE = "STORIES"

    def compose(self) -> ComposeResult:
        yield StoryTable(id="stories-table")

    def show(self, state: WallState, now: float) -> None:
        table = self.query_one("#stories-table", StoryTable)
        table.waiting = state.tick is None
        table.topics = list(state.tick.topics) if state.tick else []
        table.refresh()
