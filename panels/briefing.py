"""The briefing banner: what the room is told to say, right under the status bar.

One line, high contrast, across the whole width: "BRIEFING  <text>  · by alice · 12m
left", the newest briefing on the wall (:meth:`panels.state.WallState.briefing`), in
the warning colour for a warning. The text is cut with an ellipsis to fit, never the
"by" and the time left. The banner hides itself when there is no briefing, and a
briefing leaves the wall when it runs out by the wall's own clock, hub or no hub.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Label

from groundcontrol.protocol import Briefing
from panels.base import set_content
from panels.format import fit
from panels.state import WallState

LABEL = "BRIEFING"


def time_left(seconds: float) -> str:
    """ "45s left", "12m left", "3h05m left", "2d04h left" (minutes rounded up, so a
    fresh 15-minute briefing says 15m)."""
    s = max(0, math.ceil(seconds))
    if s < 60:
        return f"{s}s left"
    if s < 3600:
        return f"{math.ceil(s / 60)}m left"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m left"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h left"


def banner_line(briefing: Briefing, *, hub_now: float, width: int) -> Text:
    """The banner's text for ``width`` cells (the label, the briefing cut to fit, who
    and how long)."""
    one_line = " ".join(briefing.text.split())
    tail = f"  · by {briefing.by} · {time_left(briefing.until - hub_now)}"
    head = f"{LABEL}  "
    room = width - len(head) - len(tail)
    if room < 12:  # very narrow: the text matters more than who
        tail = f"  · {time_left(briefing.until - hub_now)}"
        room = width - len(head) - len(tail)
    line = Text()
    line.append(head, "bold")
    line.append(fit(one_line, max(room, 1)), "bold")
    line.append(tail)
    return line


class BriefingBanner(Label):
    """The newest briefing on the wall, or nothing."""

    def show(self, state: WallState, now: float) -> None:
        """Redraw from the state; runs on every refresh (the time left counts down)."""
        briefing = state.briefing(now)
        self.display = briefing is not None
        if briefing is None:
            return
        self.set_class(briefing.severity == "warning", "-warning")
        # Its own width once laid out (a screen may be narrower than the terminal: a
        # drift margin, say), the terminal's before; the padding takes a cell a side.
        width = (self.size.width or self.app.size.width) - 2
        set_content(self, banner_line(briefing, hub_now=state.hub_now(now), width=width))
