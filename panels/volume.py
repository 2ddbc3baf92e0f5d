"""The volume panel: how much is being said, as big numbers and trends.

Two big numbers (mentions in the last minute, average per minute over the window),
the total trend as a Sparkline, and one drawn row per source with its own block
sparkline. The per-source rows are drawn by one widget, so a new source appearing
costs no mounting and a hundred sources cost one widget.

Before the first tick the panel says "waiting for data" instead of its numbers: a
big 0 would read as a quiet minute. A 0 from a live hub is a quiet minute, and shows.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from panels.base import WAITING, Drawn, Panel, set_content, waiting_note
from panels.bigtext import BigNumber
from panels.format import abbreviate, span, spark
from panels.state import WallState

#: The widest a volume number is drawn, which fixes its font for a panel size: a
#: count up to seven digits whose full form does not fit is shortened to at most
#: four glyphs ("999k", "9.9M"), and "888k" is as wide as any of them.
RESERVE = "888k"


class SourceTrends(Drawn):
    """One row per source: name, a block sparkline of its buckets, its window count."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "source-trends--name",
        "source-trends--spark",
        "source-trends--count",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[tuple[str, list[int]]] = []

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.rows:
            return [Text("no sources yet", style="italic")]
        name_style = self.get_component_rich_style("source-trends--name")
        spark_style = self.get_component_rich_style("source-trends--spark")
        count_style = self.get_component_rich_style("source-trends--count")
        name_width = min(max(len(name) for name, _ in self.rows), 12)
        lines = []
        for name, series in self.rows[:height]:
            count = abbreviate(sum(series))
            spark_width = max(width - name_width - 8, 0)
            line = Text()
            line.append(name[:name_width].ljust(name_width), name_style)
            line.append(" ")
            line.append(spark(series, spark_width).rjust(spark_width), spark_style)
            line.append(f" {count:>6}", count_style)
            lines.append(line)
        return lines


class VolumePanel(Panel):
    """Mentions per minute now and over the window, in total and per source."""

    TITLE = "VOLUME"
    DEFAULT_CLASSES = "-waiting"

    def compose(self) -> ComposeResult:
        yield waiting_note()
        with Vertical(classes="readings"):
            with Horizontal(classes="bignums"):
                with Vertical(classes="bignum -main"):
                    yield BigNumber("", group="volume", reserve=RESERVE, id="volume-last-minute")
                    yield Label("last minute", classes="caption wide-only")
                    yield Label("", id="volume-compact-caption", classes="caption compact-only")
                with Vertical(classes="bignum wide-only"):
                    yield BigNumber("", group="volume", reserve=RESERVE, id="volume-per-minute")
                    yield Label("per minute", id="volume-per-minute-caption", classes="caption")
            yield Label("trend", id="volume-trend-caption", classes="caption wide-only")
            yield Sparkline([], id="volume-trend")
            yield Label("by source", classes="caption wide-only")
            yield SourceTrends(id="volume-sources", classes="wide-only")

    def show(self, state: WallState, now: float) -> None:
        tick = state.tick
        self.show_waiting(WAITING if tick is None else None)
        if tick is None:
            return
        volume = tick.volume
        self.query_one("#volume-last-minute", BigNumber).update(
            f"{volume.last_minute:,}", short=abbreviate(volume.last_minute)
        )
        self.query_one("#volume-per-minute", BigNumber).update(
            f"{round(volume.per_minute):,}", short=abbreviate(volume.per_minute)
        )
        # The compact layout hides the second number, so its caption carries it.
        set_content(
            self.query_one("#volume-compact-caption", Label),
            f"last min · avg {abbreviate(volume.per_minute)}/min",
        )
        window = span(tick.window_seconds)
        set_content(self.query_one("#volume-per-minute-caption", Label), "avg per min")
        set_content(
            self.query_one("#volume-trend-caption", Label),
            f"trend: last {window}, {tick.bucket_seconds} s buckets",
        )
        self.query_one("#volume-trend", Sparkline).data = list(volume.series)
        by_source = sorted(volume.by_source.items(), key=lambda kv: sum(kv[1]), reverse=True)
        trends = self.query_one("#volume-sources", SourceTrends)
        trends.rows = [(name, list(series)) for name, series in by_source]
        trends.refresh()
