"""Redraw pacing for low-bandwidth sessions: at most one redraw a gap, the last state kept.

Over a slow SSH link every repaint costs bytes, and a burst of stream events (a
reconnect, a flurry of incidents) would otherwise repaint once per event. A
:class:`RedrawPacer` stands between "something changed, redraw" and the redraw:
the first request after a quiet gap draws at once; requests within the gap are
folded into one redraw at the end of it, which draws the state as it is then, so
nothing that arrived in the gap is lost.

The pacer reads the app's clock (tests give it a fixed one and move it by hand) and
asks for a callback later through ``later`` (``App.set_timer`` in the apps). A clock
that goes back never stalls drawing for longer than one gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["LOW_BANDWIDTH_GAP", "RedrawPacer", "pace"]

#: Seconds between redraws in low-bandwidth mode: one screen update a second.
LOW_BANDWIDTH_GAP = 1.0


class RedrawPacer:
    """Calls ``draw`` at most once per ``gap`` seconds of ``clock``, and always once
    after the last request."""

    def __init__(
        self,
        draw: Callable[[], None],
        *,
        gap: float,
        clock: Callable[[], float],
        later: Callable[[float, Callable[[], None]], object],
    ) -> None:
        self._draw = draw
        self.gap = gap
        self._clock = clock
        self._later = later
        self._last = -math.inf
        self._owed = False
        self._armed = False
        self.draws = 0
        """Redraws done so far (tests count them)."""
        self.deferred = 0
        """Requests that came within a gap and were folded into a later redraw."""

    @property
    def owed(self) -> bool:
        """A request is waiting for the end of the gap."""
        return self._owed

    def request(self) -> None:
        """Redraw now if the last redraw is a gap old, else once the gap is over."""
        if not self._draw_if_due():
            self.deferred += 1

    def _draw_if_due(self) -> bool:
        """Draw if a gap has passed since the last redraw; else owe one, with a
        callback armed for the end of the gap. True if it drew."""
        now = self._clock()
        wait = min(self._last + self.gap - now, self.gap)
        if wait <= 0:
            self._owed = False
            self._last = now
            self.draws += 1
            self._draw()
            return True
        self._owed = True
        if not self._armed:
            self._armed = True
            self._later(wait, self._due)
        return False

    def _due(self) -> None:
        self._armed = False
        if self._owed:
            self._draw_if_due()


class _App(Protocol):
    """What :func:`pace` needs of a Textual app (no import of textual here)."""

    animation_level: Any

    def set_timer(self, delay: float, callback: Callable[[], None], *, name: str) -> object: ...


def pace(
    app: _App,
    draw: Callable[[], None],
    *,
    low_bandwidth: bool,
    clock: Callable[[], float],
    refresh_interval: float,
    name: str,
) -> tuple[RedrawPacer, float]:
    """The pacer every redraw of ``app`` goes through, and its refresh interval: as
    given, or for a low-bandwidth session one redraw a gap at most and no animation."""
    if low_bandwidth:
        app.animation_level = "none"
        refresh_interval = max(refresh_interval, LOW_BANDWIDTH_GAP)
    pacer = RedrawPacer(
        draw,
        gap=LOW_BANDWIDTH_GAP if low_bandwidth else 0.0,
        clock=clock,
        later=lambda delay, then: app.set_timer(delay, then, name=name),
    )
    return pacer, refresh_interval
