"""The spikes panel: alerts that are open now and those that ended recently.

Each alert shows its severity as a coloured badge, the series that moved, its
message, how long ago it started (on the hub's clock), whether it is still going,
its top terms, sources and authors, and one example. With room, an alert takes five
lines (six with an authors line of its own when the panel is tall); in the compact
layout, one. The full-screen takeover for a newly opened alert lives in
``panels.takeover``.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Alert
from panels.base import Drawn, Panel
from panels.format import duration
from panels.state import WallState

#: Below this many rows the list switches to one line per alert.
DETAIL_MIN_HEIGHT = 8
#: From this many rows, the authors get a line of their own under the terms.
AUTHORS_MIN_HEIGHT = 12
SEVERITY_LABEL = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}
SEVERITY_SHORT = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}


class AlertList(Drawn):
    """Alerts, most urgent first, drawn as text lines that fit the widget."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "alert-list--critical",
        "alert-list--warning",
        "alert-list--info",
        "alert-list--ended",
        "alert-list--ongoing",
        "alert-list--detail",
        "alert-list--quiet",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.alerts: list[Alert] = []
        self.hub_now = 0.0
        self._authors_line = False

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.alerts:
            style = self.get_component_rich_style("alert-list--quiet")
            return [Text("✔ No spikes: every series is within its baseline.", style)]
        detail = height >= DETAIL_MIN_HEIGHT
        self._authors_line = height >= AUTHORS_MIN_HEIGHT and any(
            a.top_authors for a in self.alerts
        )
        per_alert = (6 if self._authors_line else 5) if detail else 1
        room = max(height // per_alert, 1) if detail else height
        shown = self.alerts[:room]
        hidden = len(self.alerts) - len(shown)
        if hidden and not detail and room > 1:
            shown = shown[:-1]
            hidden += 1
        lines: list[Text] = []
        for alert in shown:
            lines.extend(self._detailed(alert) if detail else [self._line(alert)])
        if hidden:
            lines.append(
                Text(f"+ {hidden} more", self.get_component_rich_style("alert-list--detail"))
            )
        return lines

    def _badge(self, alert: Alert, short: bool) -> Text:
        label = (SEVERITY_SHORT if short else SEVERITY_LABEL).get(alert.severity, "ALERT")
        style = self.get_component_rich_style(f"alert-list--{alert.severity}")
        if alert.ended_at is not None:
            style = self.get_component_rich_style("alert-list--ended")
        # A badge, not a base style: only the label gets the severity colours.
        badge = Text()
        badge.append(f" {label} ", style)
        return badge

    def _when(self, alert: Alert) -> Text:
        started = duration(self.hub_now - alert.started_at)
        if alert.ended_at is None:
            return Text.assemble(
                f"started {started} ago · ",
                ("ONGOING", self.get_component_rich_style("alert-list--ongoing")),
            )
        return Text(f"started {started} ago · ended {duration(self.hub_now - alert.ended_at)} ago")

    def _line(self, alert: Alert) -> Text:
        line = self._badge(alert, short=True)
        line.append(" ")
        line.append(alert.message, "bold" if alert.ended_at is None else "")
        line.append(" · ")
        started = duration(self.hub_now - alert.started_at)
        if alert.ended_at is None:
            line.append(f"{started} · ")
            line.append("ongoing", self.get_component_rich_style("alert-list--ongoing"))
        else:
            line.append(f"ended {duration(self.hub_now - alert.ended_at)} ago")
        return line

    def _detailed(self, alert: Alert) -> list[Text]:
        detail = self.get_component_rich_style("alert-list--detail")
        head = self._badge(alert, short=False)
        head.append(" ")
        head.append(alert.message, "bold")
        when = Text.assemble("  ", (alert.series, "bold"), " · ", self._when(alert))
        terms = Text("  ", detail)
        if alert.top_terms:
            terms.append("terms ", "bold")
            terms.append("  ".join(alert.top_terms[:6]))
        if alert.top_sources:
            terms.append("  · sources ", "bold")
            terms.append(", ".join(alert.top_sources[:4]))
        authors = ", ".join(alert.top_authors[:4])
        lines = [head, when, terms]
        if self._authors_line:
            lines.append(Text.assemble("  ", ("authors ", "bold"), authors, style=detail))
        elif authors:
            # Last on the terms line: the first thing to go when the panel is narrow.
            terms.append("  · authors ", "bold")
            terms.append(authors)
        example = Text("  ", detail)
        if alert.examples:
            example.append(f"“{alert.examples[0]}”", "italic")
        return [*lines, example, Text()]


class SpikesPanel(Panel):
    """Open and recent alerts from the hub's spike detection."""

    TITLE = "SPIKES"
    TIME_DEPENDENT = True

    def compose(self) -> ComposeResult:
        yield AlertList(id="spikes-list")

    def show(self, state: WallState, now: float) -> None:
        alerts = self.query_one("#spikes-list", AlertList)
        alerts.alerts = state.alerts()
        alerts.hub_now = state.hub_now(now)
        alerts.refresh()
