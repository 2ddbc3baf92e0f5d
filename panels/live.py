"""The live panel: the river of mentions, newest on top.

The river is drawn, not mounted: one widget renders only the lines that fit on
screen from the app's bounded deque, with each rendered line cached by (mention,
width) so that as items slide down the screen they are not formatted again. Cost per
refresh is O(visible rows) whatever the mention rate. Before the first tick it says
"waiting for data"; a live hub with nothing to show yet gets "waiting for mentions…".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from groundcontrol.protocol import RiverItem
from panels.base import WAITING, Panel
from panels.format import SENTIMENT_GLYPH, abbreviate, clock_time, column, fit
from panels.state import WallState

#: Short source names for narrow terminals, where every cell counts.
SHORT_SOURCE = {
    "bluesky": "bsky",
    "mastodon": "mstdn",
    "hackernews": "hn",
    "reddit": "reddit",
    "news": "news",
}
#: The mark before each mention: ▲ positive, ● neutral, ▼ negative (panels/format.py).
LABEL_GLYPH = SENTIMENT_GLYPH


class RiverView(Widget):
    """Draws the newest mentions, one line each, from a shared bounded sequence."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "river--time",
        "river--source",
        "river--author",
        "river--reach",
        "river--lang",
        "river--positive",
        "river--neutral",
        "river--negative",
        "river--empty",
    }

    DEFAULT_CSS = """
    RiverView {
        height: 1fr;
    }
    """

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: Sequence[RiverItem] = ()
        self.tz = tz
        self._strips: LRUCache[tuple[str, int], Strip] = LRUCache(512)

    @property
    def waiting(self) -> bool:
        """No data yet: say so, rather than that no mentions came."""
        return self.has_class("-waiting")

    @waiting.setter
    def waiting(self, waiting: bool) -> None:
        self.set_class(waiting, "-waiting")

    def notify_style_update(self) -> None:
        # Cached lines carry colours; a theme or class change must redraw them.
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y >= len(self.items):
            if y == 0:
                note = WAITING if self.waiting else "waiting for mentions…"
                empty = Text(note, self.get_component_rich_style("river--empty"))
                return self._strip(empty, width, base)
            return Strip.blank(width, base)
        item = self.items[y]
        key = (item.id, width)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strip(self._line(item, width), width, base)
            self._strips[key] = strip
        return strip

    def _strip(self, text: Text, width: int, base: Style) -> Strip:
        text.no_wrap = True
        text.truncate(width, overflow="ellipsis", pad=True)
        text.stylize_before(base)
        segments: list[Segment] = list(text.render(self.app.console))
        return Strip(segments, width).crop_extend(0, width, base)

    def _line(self, item: RiverItem, width: int) -> Text:
        style = self.get_component_rich_style
        label = item.label if item.label in ("positive", "negative") else "neutral"
        # The text is what matters: narrower panels drop seconds, then the author.
        wide = width >= 70
        line = Text()
        line.append(clock_time(item.created_at, self.tz, seconds=wide), style("river--time"))
        line.append(f" {LABEL_GLYPH[label]} ", style(f"river--{label}"))
        source = item.source if wide else SHORT_SOURCE.get(item.source, item.source)
        line.append(column(source, 10 if wide else 6), style("river--source"))
        line.append(" ")
        if width >= 60:
            author = item.author if item.author.startswith(("@", "u/")) else f"@{item.author}"
            reach = f" {abbreviate(item.reach)}" if item.reach and wide else ""
            author_width = 17 if width >= 100 else 14
            who = fit(author, author_width - len(reach))
            line.append(who, style("river--author"))
            line.append(reach, style("river--reach"))
            line.append(" " * (author_width - cell_len(who) - len(reach) + 1))
        if width >= 110:
            line.append(f"{item.lang or '--':2} ", style("river--lang"))
        # One line per mention: newlines and tabs in posts would break the grid.
        line.append(" ".join(item.text.split()), style(f"river--{label}"))
        return line


class LivePanel(Panel):
    """The river: newest mentions first, capped, coloured by sentiment."""

    TITLE = "LIVE"

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield RiverView(tz=self.tz, id="river")

    def show(self, state: WallState, now: float) -> None:
        river = self.query_one("#river", RiverView)
        river.waiting = state.tick is None
        # The deque itself, not a copy: the view reads only the rows it draws.
        river.items = state.river
        river.refresh()
