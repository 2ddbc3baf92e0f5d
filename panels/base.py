"""The common base of the wall's panels: a bordered box that says how old its data is.

Every panel shows its name and the age of its data in its border title ("VOLUME
12s ago"). The age is measured on the wall's own clock from when the last tick
arrived, not from the hub's timestamps, so a hub with a wrong clock cannot make old
data look fresh. When the link is down or the data is older than the state's
threshold, the panel gets the ``stale`` class: the stylesheet greys its contents out
(the last data stays readable) and the age turns amber, then red.

Before the first data there is nothing to grey out: a panel then says "waiting for
data" instead of its readings, never a 0 or an all-clear it has not measured. A
panel of widgets (big numbers, trends) shows :func:`waiting_note` in place of its
``.readings`` through :meth:`Panel.show_waiting`; a drawn list draws the same words
when its ``waiting`` is set. A 0 from a live hub is a reading, and is shown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.containers import Vertical
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Label, Static

from panels.format import duration
from panels.state import WallState

#: Age past which a stale panel's age turns from amber to red, in seconds.
RED_AFTER = 60.0
#: What a panel shows before its first data, in place of numbers it does not have.
WAITING = "waiting for data"


def waiting_note() -> Label:
    """The line a panel of widgets shows instead of its ``.readings`` while waiting.

    The stylesheet shows it, and hides the readings, while the panel has the
    ``-waiting`` class (see :meth:`Panel.show_waiting`).
    """
    return Label(WAITING, classes="waiting-note")


def set_content(widget: Static, content: VisualType) -> None:
    """Update a Static only when its content changed.

    ``Static.update`` always asks for a layout; the status line and captions are
    refreshed twice a second mostly with the same text, so skip the no-op ones.
    """
    if widget.content != content:
        widget.update(content)


class Panel(Vertical):
    """A titled wall panel; subclasses fill ``show`` from the state."""

    TITLE: ClassVar[str] = ""
    TIME_DEPENDENT: ClassVar[bool] = False
    """Redraw on every refresh, not only on new data (it shows relative times)."""

    _title_markup = ""
    _subtitle_markup = ""

    def on_mount(self) -> None:
        self.border_title = self.TITLE

    def show_freshness(self, state: WallState, now: float) -> None:
        """Update the title's age and the ``stale`` class; cheap, runs every refresh."""
        age = state.age(now)
        stale = state.is_stale(now)
        self.set_class(stale, "stale")
        if age is None:
            label = "[$warning]no data[/]"
        else:
            text = f"{duration(age)} ago"
            if not stale:
                label = f"[$foreground-muted]{text}[/]"
            elif age < RED_AFTER and state.link == "connected":
                label = f"[$warning]{text}[/]"
            else:
                label = f"[$error]{text}[/]"
        # Every panel, not only the status bar, says DEMO: a photo of one panel
        # must not pass for real data.
        subtitle = "[b $warning] DEMO DATA [/]" if state.demo else ""
        # Setting a title refreshes the border even when unchanged; skip no-ops.
        if (title := f"[b]{self.TITLE}[/b] {label}") != self._title_markup:
            self._title_markup = title
            self.border_title = title
        if subtitle != self._subtitle_markup:
            self._subtitle_markup = subtitle
            self.border_subtitle = subtitle

    def show_waiting(self, note: str | None) -> None:
        """Show ``note`` in place of the ``.readings`` (None: show the readings).

        For panels that compose a :func:`waiting_note`: before the first data they
        show :data:`WAITING` rather than widgets that would read as zeros.
        """
        self.set_class(note is not None, "-waiting")
        if note is not None:
            for label in self.query(".waiting-note").results(Label):
                set_content(label, note)

    def show(self, state: WallState, now: float) -> None:
        """Redraw from the state (called inside the app's batch update)."""


class Drawn(Widget):
    """A widget that draws its lines from data at its current size.

    Panels with lists (alerts, topics, sources) hand their data to one of these
    instead of mounting a widget per row: drawing a screenful is O(rows), and it
    re-fits itself on resize with no layout work.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"drawn--waiting"}

    DEFAULT_CSS = """
    Drawn {
        height: 1fr;
    }
    """

    @property
    def waiting(self) -> bool:
        """No data yet: draw :data:`WAITING` instead of an empty (all-clear) list."""
        return self.has_class("-waiting")

    @waiting.setter
    def waiting(self, waiting: bool) -> None:
        self.set_class(waiting, "-waiting")

    def draw(self, width: int, height: int) -> list[Text]:
        """The lines to show; each is cut to ``width`` by the caller."""
        return []

    def render(self) -> RenderResult:
        width, height = self.size
        if self.waiting:
            lines = [Text(WAITING, self.get_component_rich_style("drawn--waiting"))]
        else:
            lines = self.draw(width, height)[: max(height, 0)]
        for line in lines:
            line.no_wrap = True
            line.truncate(width, overflow="ellipsis")
        return Text("\n").join(lines)
