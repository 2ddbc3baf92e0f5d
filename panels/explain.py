"""The alert explained: why the newest alert fired, in the hub's own evidence.

The panel picks the newest open alert (else the newest alert of all) and shows its
severity and message, what moved, when it started (clock time and how long ago),
whether it has ended, the number behind it against its baseline, then the top
terms, sources and authors, and two or three example posts as room allows.
"""

from __future__ import annotations

import textwrap
from datetime import tzinfo

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Alert
from panels.base import Panel
from panels.format import clock_time, duration
from panels.listing import Listing
from panels.spikes import SEVERITY_LABEL
from panels.state import SEVERITY_RANK, WallState
from panels.takeover import headline_caption, headline_number

#: From this many rows, the number behind the alert gets a line.
NUMBER_MIN_HEIGHT = 10


def explained_alert(alerts: list[Alert]) -> Alert | None:
    """The most severe open alert (the newest of those), else the newest alert; None
    when there is none."""
    rank = {"info": 0, "warning": 1, "critical": 2}
    open_ = [a for a in alerts if a.ended_at is None]
    if open_:
        return max(open_, key=lambda a: (rank.get(a.severity, 0), a.started_at, a.updated_at))
    return max(alerts, key=lambda a: (a.started_at, a.updated_at), default=None)


class AlertExplanation(Listing):
    """One alert's evidence, fitted to the panel's height."""

    def __init__(
        self, *, tz: tzinfo | None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.alerts: list[Alert] = []
        self.hub_now = 0.0

    def draw(self, width: int, height: int) -> list[Text]:
        alert = explained_alert(self.alerts)
        if alert is None:
            return [Text("✔ no alerts yet: nothing to explain", self.part("ok"))]
        muted = self.part("muted")
        head = Text()
        badge: str = "ended" if alert.ended_at is not None else alert.severity
        badge = "warning-badge" if badge == "warning" else badge
        head.append(f" {SEVERITY_LABEL.get(alert.severity, 'ALERT')} ", self.part(badge))
        head.append(" ")
        # Messages and examples quote posts: plain Text, never markup.
        head.append(alert.message, "bold")
        lines = [head, self._when(alert)]
        if height >= NUMBER_MIN_HEIGHT:
            number = Text(f"{headline_number(alert)} ", self.part("count"))
            number.append(headline_caption(alert), muted)
            lines.append(number)
        for key, values, joiner in (
            ("terms", alert.top_terms[:6], "  "),
            ("sources", alert.top_sources[:4], ", "),
            ("authors", alert.top_authors[:4], ", "),
        ):
            if values:
                lines.append(Text.assemble((f"{key:<8}", "bold"), joiner.join(values)))
        more = self._more(alert)
        room = height - len(lines) - (1 if more else 0)
        examples = alert.examples[:3]
        # Each example on up to two lines while all fit that way, else one line each.
        per = 2 if len(examples) * 2 <= room else 1
        for example in examples:
            if room <= 0:
                break
            wrapped = textwrap.wrap(f"“{' '.join(example.split())}”", max(width - 2, 10))
            for i, part in enumerate(wrapped[: min(per, room)]):
                lines.append(Text(("  " if i else "› ") + part, "italic"))
                room -= 1
        if more is not None:
            lines.append(more)
        return lines

    def _when(self, alert: Alert) -> Text:
        """Whether it is still going first: a narrow panel cuts the end of the line."""
        started = clock_time(alert.started_at, self.tz)
        ago = duration(max(0.0, self.hub_now - alert.started_at))
        line = Text()
        if alert.ended_at is None:
            line.append("ONGOING", self.part("flag"))
            line.append(f" · started {ago} ago, {started}")
        else:
            lasted = duration(max(0.0, alert.ended_at - alert.started_at))
            ended = duration(max(0.0, self.hub_now - alert.ended_at))
            line.append(f"ENDED {ended} ago", self.part("muted") + self.part("count"))
            line.append(f" after {lasted} · started {started}")
        line.append(" · ")
        line.append(alert.series, "bold")
        return line

    def _more(self, shown: Alert) -> Text | None:
        """ "+ 1 more open: CRITICAL Northwind volume 5.2x baseline", the worst first."""
        others = [a for a in self.alerts if a.ended_at is None and a.id != shown.id]
        if not others:
            return None
        worst = max(others, key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.started_at))
        label = SEVERITY_LABEL.get(worst.severity, "ALERT")
        return Text(f"+ {len(others)} more open: {label} {worst.message}", self.part("muted"))


class AlertExplanationPanel(Panel):
    """The newest alert and the evidence behind it."""

    TITLE = "WHY THIS ALERT"
    TIME_DEPENDENT = True

    def __init__(self, *, tz: tzinfo | None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield AlertExplanation(tz=self.tz, id="explain-alert")

    def show(self, state: WallState, now: float) -> None:
        explanation = self.query_one("#explain-alert", AlertExplanation)
        explanation.alerts = state.alerts()
        explanation.hub_now = state.hub_now(now)
        explanation.refresh()
