"""The sources panel: where the conversations are, and in which languages.

One row per source with its share of the window as a bar, its count and its net
sentiment; a source whose feed the hub reports as disconnected is marked so a quiet
row is not mistaken for a quiet public. Below, the languages with their shares.
Before the first tick it says "waiting for data", not that there are no sources.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import FeedInfo, KeyCount, SourceStat
from panels.base import Drawn, Panel
from panels.format import abbreviate, bar, column, percent, signed
from panels.sentiment import NEUTRAL_BAND
from panels.state import WallState

#: Languages listed at most; the rest are summed into "other".
MAX_LANGUAGES = 6


class SourceTable(Drawn):
    """Sources then languages, drawn as aligned rows with share bars."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "source-table--heading",
        "source-table--name",
        "source-table--bar",
        "source-table--count",
        "source-table--positive",
        "source-table--negative",
        "source-table--neutral",
        "source-table--down",
        "source-table--lang-bar",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sources: list[SourceStat] = []
        self.languages: list[KeyCount] = []
        self.feeds: list[FeedInfo] = []

    def draw(self, width: int, height: int) -> list[Text]:
        style = self.get_component_rich_style
        if not self.sources:
            return [Text("no sources yet", style="italic")]
        # A source is down when it has feeds and none of them is connected.
        down = {f.source for f in self.feeds if not f.connected} - {
            f.source for f in self.feeds if f.connected
        }
        tail = 17  # "  100%  1.2k  +42"
        name_width = 11
        bar_width = max(width - name_width - tail, 0)
        heading = column("source", name_width + bar_width) + f"{'share':>6}{'n':>6}{'net':>5}"
        lines = [Text(heading, style("source-table--heading"))]
        # Bars are scaled to the biggest source so the ranking reads at a glance.
        top_share = max(s.share for s in self.sources) or 1.0
        for stat in self.sources:
            mood = "neutral"
            if stat.net > NEUTRAL_BAND:
                mood = "positive"
            elif stat.net < -NEUTRAL_BAND:
                mood = "negative"
            line = Text()
            name = ("✖ " if stat.source in down else "") + stat.source
            name_style = style(
                "source-table--down" if stat.source in down else "source-table--name"
            )
            line.append(column(name, name_width - 1) + " ", name_style)
            line.append(bar(stat.share / top_share, bar_width), style("source-table--bar"))
            line.append(f" {percent(stat.share):>5}", "bold")
            line.append(f" {abbreviate(stat.count):>5}", style("source-table--count"))
            line.append(f" {signed(stat.net):>4}", style(f"source-table--{mood}"))
            lines.append(line)
        if self.languages and len(lines) + 2 < height:
            lines.append(Text())
            lines.append(Text("language", style("source-table--heading")))
            total = sum(k.count for k in self.languages) or 1
            top_count = max(k.count for k in self.languages) or 1
            ranked = sorted(self.languages, key=lambda k: k.count, reverse=True)
            shown, rest = ranked[:MAX_LANGUAGES], ranked[MAX_LANGUAGES:]
            rows = [(k.key or "??", k.count) for k in shown]
            if rest:
                rows.append(("other", sum(k.count for k in rest)))
            for key, count in rows:
                share = count / total
                line = Text()
                line.append(column(key, name_width - 1) + " ", style("source-table--name"))
                line.append(bar(count / top_count, bar_width), style("source-table--lang-bar"))
                line.append(f" {percent(share):>5}", "bold")
                line.append(f" {abbreviate(count):>5}", style("source-table--count"))
                lines.append(line)
        return lines


class SourcesPanel(Panel):
    """Per-source volume, share and sentiment, and the language mix."""

    TITLE = "SOURCES"

    def compose(self) -> ComposeResult:
        yield SourceTable(id="sources-table")

    def show(self, state: WallState, now: float) -> None:
        table = self.query_one("#sources-table", SourceTable)
        tick = state.tick
        table.waiting = tick is None
        if tick is not None:
            table.sources = sorted(tick.sources, key=lambda s: s.count, reverse=True)
            table.languages = list(tick.languages)
            table.feeds = list(tick.feeds)
        table.refresh()
