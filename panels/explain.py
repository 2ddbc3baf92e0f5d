"""The incident explained: why the most urgent incident is one, in the hub's evidence.

The panel picks the most urgent incident still going (else the one that ended last)
and shows its badge, kind and title, where it stands and since when, how big it is
(times the usual volume, negative share against the usual one), each signal with its
numbers, the top terms, sources and authors, its history (who acknowledged, snoozed
or resolved it, and when), and example posts. Lines are kept by importance, so a
short panel drops the examples and the older history before the signals.
"""

from __future__ import annotations

import textwrap
from datetime import tzinfo
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Incident, IncidentAction, Signal
from panels.base import Panel
from panels.format import clock_time, percent
from panels.incidents import (
    INCIDENT_STYLES,
    WAITING,
    badge_label,
    headline,
    numbers_text,
    rate,
    status_line,
    waiting_reason,
)
from panels.listing import Listing
from panels.state import WallState, urgency

#: Most signals and history steps listed (the panel keeps what fits of them).
MAX_SIGNALS = 6
MAX_HISTORY = 6
ACTION_WORDS = {
    "opened": "opened",
    "updated": "updated",
    "escalated": "escalated",
    "acknowledged": "acknowledged",
    "snoozed": "snoozed",
    "reopened": "reopened",
    "resolved": "resolved",
}


def explained_incident(incidents: list[Incident]) -> Incident | None:
    """The most urgent incident not yet resolved, else the one resolved last; None
    when there is none."""
    live = [i for i in incidents if i.status != "resolved"]
    if live:
        return min(live, key=urgency)
    return max(
        incidents,
        key=lambda i: (i.resolved_at or i.ended_at or i.updated_at, i.started_at),
        default=None,
    )


def signal_line(signal: Signal) -> str:
    """ "Northwind negative 1,020/min vs 129/min · 67% vs 28%" (", ended" once over)."""
    text = f"{signal.label} {rate(signal.peak)}/min vs {rate(signal.baseline)}/min"
    if signal.share is not None and signal.baseline_share is not None:
        text += f" · {percent(signal.share)} vs {percent(signal.baseline_share)}"
    return text if signal.active else f"{text} (ended)"


def action_line(action: IncidentAction, tz: tzinfo | None) -> str:
    """ "14:03:10 acknowledged by alice", "13:59:50 opened: warning negative surge" """
    text = f"{clock_time(action.at, tz)} {ACTION_WORDS.get(action.action, action.action)}"
    if action.by:
        text += f" by {action.by}"
    if action.detail:
        text += f": {action.detail}"
    return text


class IncidentExplanation(Listing):
    """One incident's evidence, fitted to the panel's height."""

    COMPONENT_CLASSES: ClassVar[set[str]] = INCIDENT_STYLES

    def __init__(
        self, *, tz: tzinfo | None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.incidents: list[Incident] = []
        self.hub_now = 0.0
        self.fresh = False
        self.waiting_reason = ""

    def draw(self, width: int, height: int) -> list[Text]:
        incident = explained_incident(self.incidents)
        if incident is None:
            if self.fresh:
                return [Text("✔ No incidents: nothing to explain", self.part("ok"))]
            reason = f" ({self.waiting_reason})" if self.waiting_reason else ""
            return [Text(WAITING + reason, self.part("empty"))]
        # (priority, section, line): the lowest priorities are kept, in list order;
        # a section's name labels the first of its lines that is kept.
        rows: list[tuple[int, str, Text]] = []
        style_of = self.get_component_rich_style
        rows.append((0, "", headline(incident, style_of)))
        status = status_line(incident, self.hub_now, self.tz, style_of, seconds=True)
        rows.append((0, "", status))
        rows.append((1, "", Text(numbers_text(incident), self.part("count"))))
        for index, signal in enumerate(incident.signals[:MAX_SIGNALS]):
            rows.append((2 if index == 0 else 3, "signals", Text(signal_line(signal))))
        for key, values, joiner, priority in (
            ("terms", incident.top_terms[:6], "  ", 2),
            ("sources", incident.top_sources[:4], ", ", 3),
            ("authors", incident.top_authors[:4], ", ", 4),
        ):
            if values:
                rows.append((priority, key, Text(joiner.join(values))))
        history = incident.history[-MAX_HISTORY:]
        for index, action in enumerate(history):
            # What people did, and the latest step, matter more than the hub's notes.
            priority = 2 if action.by or index == len(history) - 1 else 4
            rows.append((priority, "history", Text(action_line(action, self.tz))))
        for example in incident.examples[:3]:
            wrapped = textwrap.wrap(f"“{' '.join(example.split())}”", max(width - 2, 10))
            for i, part in enumerate(wrapped[:2]):
                line = Text(("  " if i else "› ") + part, "italic")
                rows.append((5 if i == 0 else 6, "", line))
        more = self._more(incident)
        if more is not None:
            rows.append((1, "", more))
        keep = sorted(range(len(rows)), key=lambda i: (rows[i][0], i))[: max(height, 0)]
        lines: list[Text] = []
        labelled: set[str] = set()
        for i in sorted(keep):
            _, section, line = rows[i]
            if section:
                label = " " * 8 if section in labelled else f"{section:<8}"
                labelled.add(section)
                line = Text.assemble((label, "bold"), line)
            lines.append(line)
        return lines

    def _more(self, shown: Incident) -> Text | None:
        """ "+ 1 more open: WARNING Contoso volume surge: sync", the most urgent first."""
        others = [i for i in self.incidents if i.status != "resolved" and i.id != shown.id]
        if not others:
            return None
        worst = min(others, key=urgency)
        return Text(
            f"+ {len(others)} more open: {badge_label(worst)} {worst.title}", self.part("muted")
        )


class IncidentExplanationPanel(Panel):
    """The most urgent incident and the evidence behind it."""

    TITLE = "WHY THIS INCIDENT"
    TIME_DEPENDENT = True

    def __init__(self, *, tz: tzinfo | None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield IncidentExplanation(tz=self.tz, id="explain-incident")

    def show(self, state: WallState, now: float) -> None:
        explanation = self.query_one("#explain-incident", IncidentExplanation)
        explanation.incidents = state.incidents()
        explanation.hub_now = state.hub_now(now)
        explanation.fresh = not state.is_stale(now)
        explanation.waiting_reason = waiting_reason(state, now)
        no_data = not explanation.incidents and not explanation.fresh
        explanation.set_class(no_data, "-no-data")
        explanation.refresh()
