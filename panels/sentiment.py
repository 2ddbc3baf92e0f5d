"""The sentiment panel: how people feel, as shares, a net score and its trends.

Net sentiment is shown big as a signed score out of 100 ((positive - negative) /
total), next to a stacked bar of positive / neutral / negative shares with their
percentages, then the trends of the net score and of the negative share. Shares
carry a sign glyph as well as a colour so they read without colour vision.

Before the first tick the panel says "waiting for data", and with no mentions in the
window it says that: a net score of 0 and a 0% negative share would read as a calm,
neutral public, when there is nobody to measure.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from panels.base import WAITING, Drawn, Panel, waiting_note
from panels.bigtext import BigNumber
from panels.format import SENTIMENT_GLYPH, SENTIMENT_ORDER, percent, signed, split_widths
from panels.state import WallState

#: Net scores within this distance of zero are shown as neutral, not as good or bad.
NEUTRAL_BAND = 0.1
#: The widest each big number gets, which fixes its font for a panel size.
NET_RESERVE = "-100"
SHARE_RESERVE = "100%"
#: What the panel says for a window without mentions: shares of nothing are not 0%.
NO_MENTIONS = "no mentions in the window"


class SharesBar(Drawn):
    """A stacked bar of positive, neutral and negative shares over their percentages,
    in :data:`~panels.format.SENTIMENT_ORDER` (``counts`` too).

    Drawn at its own width so the percentages line picks the longest wording that
    fits: "▲ 58% positive", "▲ 58% pos" or "▲58%".
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "shares-bar--positive",
        "shares-bar--neutral",
        "shares-bar--negative",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.counts: tuple[int, int, int] = (0, 0, 0)

    def draw(self, width: int, height: int) -> list[Text]:
        # Always positive first and negative last, each with its glyph (panels/format.py).
        names = SENTIMENT_ORDER
        styles = [self.get_component_rich_style(f"shares-bar--{name}") for name in names]
        total = sum(self.counts)
        if total:
            row = Text()
            for cells, style in zip(split_widths(self.counts, width), styles, strict=True):
                row.append("█" * cells, style)
        else:
            row = Text("░" * width)
        shares = [count / total if total else 0.0 for count in self.counts]
        glyphs = tuple(SENTIMENT_GLYPH[name] for name in names)
        legend = Text()
        for words, gap in ((names, "  "), (("pos", "neu", "neg"), "  "), (("", "", ""), " ")):
            legend = Text(gap).join(
                Text.assemble((f"{glyph} {percent(share)}", style + Style(bold=True)), f" {word}")
                if word
                else Text(f"{glyph}{percent(share)}", style + Style(bold=True))
                for glyph, share, word, style in zip(glyphs, shares, words, styles, strict=True)
            )
            if legend.cell_len <= width:
                break
        bars = [row.copy() for _ in range(max(height - 1, 1))]
        return [*bars, legend] if height > 1 else bars


def mood_class(net: float) -> str:
    """The CSS class for a net score: -positive, -negative or -neutral."""
    if net > NEUTRAL_BAND:
        return "-positive"
    if net < -NEUTRAL_BAND:
        return "-negative"
    return "-neutral"


class SentimentPanel(Panel):
    """Positive / neutral / negative shares, net sentiment and their trends."""

    TITLE = "SENTIMENT"
    DEFAULT_CLASSES = "-waiting"

    def compose(self) -> ComposeResult:
        yield waiting_note()
        with Vertical(classes="readings"):
            with Horizontal(classes="bignums"):
                with Vertical(classes="bignum"):
                    yield BigNumber("", group="sentiment", reserve=NET_RESERVE, id="sentiment-net")
                    yield Label("net sentiment", classes="caption")
                with Vertical(classes="bignum wide-only"):
                    yield BigNumber(
                        "", group="sentiment", reserve=SHARE_RESERVE, id="sentiment-negative"
                    )
                    yield Label("negative share", classes="caption")
                with Vertical(id="sentiment-side", classes="compact-only"):
                    yield SharesBar(id="sentiment-bar-mini")
                    yield Sparkline([], id="sentiment-net-trend-mini")
            yield SharesBar(id="sentiment-bar", classes="wide-only")
            yield Label("net sentiment trend", classes="caption wide-only")
            yield Sparkline([], id="sentiment-net-trend", classes="wide-only")
            yield Label("negative share trend", classes="caption wide-only")
            yield Sparkline([], id="sentiment-negative-trend", classes="wide-only")

    def show(self, state: WallState, now: float) -> None:
        tick = state.tick
        if tick is None:
            self.show_waiting(WAITING)
            return
        view = tick.sentiment
        self.show_waiting(None if view.positive + view.neutral + view.negative else NO_MENTIONS)
        net = self.query_one("#sentiment-net", BigNumber)
        net.update(signed(view.net))
        for name in ("-positive", "-neutral", "-negative"):
            net.set_class(name == mood_class(view.net), name)
        self.query_one("#sentiment-negative", BigNumber).update(percent(view.negative_share))
        for bar in self.query(SharesBar):
            positive, neutral, negative = (getattr(view, name) for name in SENTIMENT_ORDER)
            bar.counts = (positive, neutral, negative)
            bar.refresh()
        for trend in self.query("#sentiment-net-trend, #sentiment-net-trend-mini").results(
            Sparkline
        ):
            trend.data = list(view.series_net)
        self.query_one("#sentiment-negative-trend", Sparkline).data = list(
            view.series_negative_share
        )
