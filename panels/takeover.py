"""The alert takeover: a full-screen, high-contrast card for a newly opened alert.

When a warning or critical alert opens, the wall gives it the whole screen for a few
seconds so that people across the room look up, then goes back to the panels by
itself: a wall has nobody at its keyboard. Escape closes it early. A newer alert
arriving while the card is up replaces it and restarts the countdown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Label

from groundcontrol.protocol import Alert
from panels.bigtext import BigNumber, BigText
from panels.format import duration, percent

DEFAULT_SECONDS = 10.0


def headline_number(alert: Alert) -> str:
    """The one number worth printing huge: the multiple of baseline, or the share."""
    if alert.kind == "negative_share":
        return percent(alert.value).removesuffix("%")
    if alert.baseline > 0:
        return f"{alert.value / alert.baseline:.1f}x"
    return f"{alert.value:,.0f}"


def headline_caption(alert: Alert) -> str:
    """What the big number means, in words."""
    if alert.kind == "negative_share":
        return f"% negative, against {percent(alert.baseline)} normally"
    if alert.baseline > 0:
        return f"times the usual volume: {alert.value:,.0f} against {alert.baseline:,.1f}"
    return "mentions"


class AlertTakeover(ModalScreen[None]):
    """Full-screen card for one alert; dismisses itself after ``seconds``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back to the wall")]

    def __init__(self, alert: Alert, *, hub_now: float, demo: bool, seconds: float) -> None:
        super().__init__(id="takeover")
        self.alert = alert
        self.hub_now = hub_now
        self.demo = demo
        self.seconds = seconds
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="takeover-card"):
            yield Label("DEMO DATA", id="takeover-demo")
            yield Label("", id="takeover-severity")
            yield BigText("", id="takeover-message")
            yield BigNumber("", id="takeover-number")
            yield Label("", id="takeover-caption")
            yield Label("", id="takeover-terms")
            yield Label("", id="takeover-sources")
            yield Label("", id="takeover-authors")
            yield Label("", id="takeover-examples")
            yield Label(
                "back to the wall by itself · Esc closes now",
                id="takeover-footer",
            )

    def on_mount(self) -> None:
        self._fill()
        self._timer = self.set_timer(self.seconds, self.action_close)

    def show_alert(self, alert: Alert, *, hub_now: float, demo: bool) -> None:
        """Replace the alert on show and give the new one the full time."""
        self.alert, self.hub_now, self.demo = alert, hub_now, demo
        self._fill()
        if self._timer is not None:
            self._timer.reset()

    def action_close(self) -> None:
        if self.is_current:
            self.dismiss(None)

    def _fill(self) -> None:
        alert = self.alert
        card = self.query_one("#takeover-card")
        for severity in ("critical", "warning", "info"):
            card.set_class(alert.severity == severity, f"-{severity}")
        self.query_one("#takeover-demo").display = self.demo
        started = duration(self.hub_now - alert.started_at)
        # Alert text comes from posts: plain Text, never parsed as markup.
        self.query_one("#takeover-severity", Label).update(
            Text(f"▲ {alert.severity.upper()} SPIKE · {alert.series} · started {started} ago")
        )
        self.query_one("#takeover-message", BigText).update(alert.message)
        self.query_one("#takeover-number", BigNumber).update(headline_number(alert))
        self.query_one("#takeover-caption", Label).update(headline_caption(alert))
        terms = "   ".join(alert.top_terms[:6]) or "-"
        self.query_one("#takeover-terms", Label).update(
            Text.assemble(("TOP TERMS   ", "bold"), terms)
        )
        sources = "   ".join(alert.top_sources[:6]) or "-"
        self.query_one("#takeover-sources", Label).update(
            Text.assemble(("SOURCES   ", "bold"), sources)
        )
        authors = "   ".join(alert.top_authors[:4])
        authors_label = self.query_one("#takeover-authors", Label)
        authors_label.update(Text.assemble(("AUTHORS   ", "bold"), authors))
        authors_label.display = bool(authors)
        examples = "\n".join(f"“{example}”" for example in alert.examples[:3])
        examples_label = self.query_one("#takeover-examples", Label)
        examples_label.update(Text(examples))
        examples_label.display = bool(examples)
