"""The incidents panel: what is going on now and what just ended, with who is on it.

One incident is one story (a brand's surge and every signal that moved with it). Each
shows a badge (its severity; a green POSITIVE for good news, which never looks like a
crisis), its kind in words, its title, how big it is ("3.9x usual volume", "70%
negative vs 32% usually"), where it stands (OPEN, ACK by alice 14:03, SNOOZED until
15:00, RESOLVED by bob, ENDED by itself), its signals, top terms and one example.
With room, the most urgent get all of that; what does not fit gets one line each, as
every incident does on 80x24.

The small words and numbers (badges, status lines, rates) are pure functions here,
shared with the takeover (``panels.takeover``) and the listening scene's explanation
(``panels.explain``), so an incident reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Incident, Signal
from panels.base import Drawn, Panel
from panels.format import clock_time, duration, percent
from panels.state import WallState

#: From this many rows, the most urgent incidents get their details.
DETAIL_MIN_HEIGHT = 7
#: The component classes an incident's parts are styled with (wall.tcss, incidents.tcss).
INCIDENT_STYLES: set[str] = {
    "incident--critical",
    "incident--warning",
    "incident--info",
    "incident--positive",
    "incident--resolved",
    "incident--kind-negative",
    "incident--kind-positive",
    "incident--kind-neutral",
    "incident--open",
    "incident--acknowledged",
    "incident--snoozed",
    "incident--ended",
    "incident--detail",
    "incident--quiet",
    "incident--waiting",
}

SEVERITY_LABEL = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}
SEVERITY_SHORT = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}
KIND_WORDS = {
    "negative": "NEGATIVE SURGE",
    "positive": "POSITIVE SURGE",
    "neutral": "VOLUME SURGE",
}
KIND_SHORT = {"negative": "NEG", "positive": "POS", "neutral": "VOL"}
STATUS_WORD = {
    "open": "OPEN",
    "acknowledged": "ACK",
    "snoozed": "SNOOZED",
    "resolved": "RESOLVED",
}
QUIET = "✔ No incidents: every series within its usual range"
WAITING = "waiting for data"

StyleOf = Callable[[str], Style]


# --------------------------------------------------------------------------- words


def badge_label(incident: Incident, *, short: bool = False) -> str:
    """The badge's word: the severity, or POSITIVE for good news whatever its size."""
    if incident.kind == "positive":
        return "POS" if short else "POSITIVE"
    return (SEVERITY_SHORT if short else SEVERITY_LABEL).get(incident.severity, "INFO")


def badge_style(incident: Incident) -> str:
    """The badge's component class: severity colours, green for good news, grey once
    resolved. A positive incident never gets the critical (red) style."""
    if incident.status == "resolved":
        return "incident--resolved"
    if incident.kind == "positive":
        return "incident--positive"
    severity = incident.severity if incident.severity in SEVERITY_LABEL else "info"
    return f"incident--{severity}"


def kind_words(incident: Incident, *, short: bool = False) -> str:
    """NEGATIVE SURGE, POSITIVE SURGE or VOLUME SURGE (NEG, POS, VOL when short)."""
    return (KIND_SHORT if short else KIND_WORDS).get(incident.kind, "VOLUME SURGE")


def ratio_text(incident: Incident) -> str:
    """ "3.9x usual volume" """
    return f"{incident.ratio:.1f}x usual volume"


def negative_text(incident: Incident) -> str:
    """ "70% negative vs 32% usually" for a negative surge; "" for the others."""
    if incident.kind != "negative":
        return ""
    return (
        f"{percent(incident.negative_share)} negative vs "
        f"{percent(incident.baseline_negative_share)} usually"
    )


def numbers_text(incident: Incident) -> str:
    """The size of it in one line: ratio, negative (or positive) share, mentions."""
    parts = [ratio_text(incident)]
    if incident.kind == "negative":
        parts.append(negative_text(incident))
    elif incident.kind == "positive" and incident.positive_share > 0:
        parts.append(f"{percent(incident.positive_share)} positive")
    if incident.mentions:
        parts.append(f"{incident.mentions:,} mentions")
    return " · ".join(parts)


def snoozed_by(incident: Incident) -> str:
    """Who snoozed it last (from its history), or ""."""
    for action in reversed(incident.history):
        if action.action == "snoozed":
            return action.by
    return ""


def status_parts(incident: Incident, hub_now: float, tz: tzinfo | None) -> tuple[str, str, str]:
    """Where an incident stands: (word, the rest, component class).

    ("OPEN", "started 2m00s ago"), ("ACK", "by alice 14:03"), ("SNOOZED", "until
    15:00 (by bob)"), ("RESOLVED", "by bob 14:20"), ("ENDED", "by itself 14:12").
    Clock times are in the wall's zone; ages are on the hub's clock.
    """

    def at(moment: float | None) -> str:
        return clock_time(moment, tz, seconds=False) if moment is not None else "?"

    status = incident.status
    if status == "resolved":
        when = at(incident.resolved_at or incident.ended_at)
        if incident.resolved_by:
            return "RESOLVED", f"by {incident.resolved_by} {when}", "incident--ended"
        return "ENDED", f"by itself {when}", "incident--ended"
    if status == "snoozed":
        who = snoozed_by(incident)
        rest = f"until {at(incident.snoozed_until)}" + (f" (by {who})" if who else "")
        return "SNOOZED", rest, "incident--snoozed"
    if status == "acknowledged":
        who = incident.acked_by or "someone"
        return "ACK", f"by {who} {at(incident.acked_at)}", "incident--acknowledged"
    started = duration(max(0.0, hub_now - incident.started_at))
    return "OPEN", f"started {started} ago", "incident--open"


def status_line(
    incident: Incident,
    hub_now: float,
    tz: tzinfo | None,
    style_of: StyleOf,
    *,
    seconds: bool = False,
) -> Text:
    """The status as a line: the word in its colour, then who and when, and when it
    started: "OPEN · started 2m00s ago", "ACK by alice 14:03 · started 13:59".
    ``seconds``: clock times of the start to the second."""
    word, rest, style = status_parts(incident, hub_now, tz)
    started = clock_time(incident.started_at, tz, seconds=seconds)
    line = Text()
    line.append(word, style_of(style))
    if word == "OPEN":
        line.append(f" · {rest}" + (f", {started}" if seconds else ""))
        if incident.ended_at is not None:
            ago = duration(max(0.0, hub_now - incident.ended_at))
            line.append(f" · back to normal {ago} ago")
    else:
        line.append(f" {rest} · started {started}")
    return line


def rate(per_minute: float) -> str:
    """A rate in mentions a minute, as precise as it is worth: 1,519 / 47 / 0.6."""
    if per_minute >= 100:
        return f"{per_minute:,.0f}"
    if per_minute >= 10:
        return f"{per_minute:.0f}"
    return f"{per_minute:.1f}"


def signal_text(signal: Signal) -> str:
    """ "Northwind negative 1,020/min vs 129/min": the peak against the usual rate."""
    return f"{signal.label} {rate(signal.peak)}/min vs {rate(signal.baseline)}/min"


def badge(incident: Incident, style_of: StyleOf, *, short: bool = False) -> Text:
    """The badge alone: only the label gets the colours, not the line."""
    text = Text()
    text.append(f" {badge_label(incident, short=short)} ", style_of(badge_style(incident)))
    return text


def lead(incident: Incident, style_of: StyleOf, *, short: bool = False) -> Text:
    """Badge and kind in words: "[CRITICAL] NEGATIVE SURGE", "[WARN] VOL".

    Good news has one green badge that says it all, "[▲ POSITIVE SURGE]": no
    severity word, no red, and no "POSITIVE POSITIVE SURGE".
    """
    if incident.kind == "positive":
        text = Text()
        label = badge_label(incident, short=True) if short else KIND_WORDS["positive"]
        text.append(f" ▲ {label} ", style_of(badge_style(incident)))
        return text
    text = badge(incident, style_of, short=short)
    text.append(" ")
    text.append(kind_words(incident, short=short), style_of(f"incident--kind-{incident.kind}"))
    return text


def headline(incident: Incident, style_of: StyleOf, *, short: bool = False) -> Text:
    """Badge, kind in words and title: "[CRITICAL] NEGATIVE SURGE Northwind ..." """
    line = lead(incident, style_of, short=short)
    line.append(" ")
    # Titles quote terms people posted: plain Text, never markup.
    line.append(incident.title, "bold" if incident.status != "resolved" else "")
    return line


# --------------------------------------------------------------------------- widgets


class IncidentList(Drawn):
    """Incidents, most urgent first, drawn as lines that fit the widget."""

    COMPONENT_CLASSES: ClassVar[set[str]] = INCIDENT_STYLES

    def __init__(
        self, *, tz: tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.incidents: list[Incident] = []
        self.hub_now = 0.0
        self.fresh = False
        """The wall has data it can vouch for: only then is "no incidents" said."""
        self.waiting_reason = ""

    def style_of(self, name: str) -> Style:
        return self.get_component_rich_style(name)

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.incidents:
            if self.fresh:
                return [Text(QUIET, self.style_of("incident--quiet"))]
            reason = f" ({self.waiting_reason})" if self.waiting_reason else ""
            return [Text(WAITING + reason, self.style_of("incident--waiting"))]
        detail = height >= DETAIL_MIN_HEIGHT
        lines: list[Text] = []
        shown = 0
        for index, incident in enumerate(self.incidents):
            # Keep the last row for "+ N more" while any incident would be left out.
            more_after = index < len(self.incidents) - 1
            room = height - len(lines) - (1 if more_after and height > 1 else 0)
            if detail:
                gap = [Text()] if lines else []
                # Roomy (a line per signal) while every later incident keeps a line.
                roomy = [*gap, *self.detailed(incident, width, roomy=True)]
                block = [*gap, *self.detailed(incident, width)]
                if len(roomy) <= room - (len(self.incidents) - index - 1):
                    block = roomy
                if len(block) <= room:
                    lines.extend(block)
                    shown += 1
                    continue
                # What does not fit in full gets one line each from here on.
                detail = False
            if room < 1:
                break
            lines.append(self.line(incident, width))
            shown += 1
        hidden = len(self.incidents) - shown
        if hidden:
            lines.append(Text(f"+ {hidden} more", self.style_of("incident--detail")))
        return lines

    def line(self, incident: Incident, width: int) -> Text:
        """One line, the title last so a narrow panel cuts the title, not the status:
        "CRIT NEG · 3.9x · ACK by alice 14:03 · Northwind negative surge: #aerogate"."""
        short = width < 100
        line = lead(incident, self.style_of, short=short)
        line.append(f" · {incident.ratio:.1f}x · ")
        word, rest, style = status_parts(incident, self.hub_now, self.tz)
        if word == "OPEN" and short:
            rest = rest.removeprefix("started ").removesuffix(" ago")
        line.append(word, self.style_of(style))
        line.append(f" {rest} · ")
        line.append(incident.title, "bold" if incident.status != "resolved" else "")
        return line

    def detailed(self, incident: Incident, width: int, *, roomy: bool = False) -> list[Text]:
        """Headline, numbers, status, signals, terms and sources, one example.

        ``roomy``: each signal on a line of its own, and the authors named.
        """
        detail = self.style_of("incident--detail")
        lines = [headline(incident, self.style_of)]
        lines.append(Text.assemble("  ", (numbers_text(incident), "bold")))
        lines.append(
            Text.assemble("  ", status_line(incident, self.hub_now, self.tz, self.style_of))
        )
        signals = [signal_text(s) for s in incident.signals[:4]]
        for index, text in enumerate(signals if roomy else [" · ".join(signals)] * bool(signals)):
            label = "signals " if index == 0 else " " * 8
            lines.append(Text.assemble("  ", (label, "bold"), text, style=detail))
        terms = Text("  ", detail)
        if incident.top_terms:
            terms.append("terms ", "bold")
            terms.append("  ".join(incident.top_terms[:6]))
        if incident.top_sources:
            terms.append("  · sources " if incident.top_terms else "sources ", "bold")
            terms.append(", ".join(incident.top_sources[:4]))
        if roomy and incident.top_authors:
            terms.append("  · authors " if len(terms) > 2 else "authors ", "bold")
            terms.append(", ".join(incident.top_authors[:4]))
        if len(terms) > 2:
            lines.append(terms)
        if incident.examples:
            example = " ".join(incident.examples[0].split())
            lines.append(Text.assemble("  ", (f"“{example}”", "italic"), style=detail))
        return lines


class IncidentsPanel(Panel):
    """Current and recent incidents from the hub, most urgent first."""

    TITLE = "INCIDENTS"
    TIME_DEPENDENT = True

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield IncidentList(tz=self.tz, id="incidents-list")

    def show(self, state: WallState, now: float) -> None:
        view = self.query_one("#incidents-list", IncidentList)
        view.incidents = state.incidents()
        view.hub_now = state.hub_now(now)
        view.fresh = not state.is_stale(now)
        view.waiting_reason = waiting_reason(state, now)
        # Nothing old to grey out: the note stays readable (incidents.tcss).
        view.set_class(not view.incidents and not view.fresh, "-no-data")
        view.refresh()


def waiting_reason(state: WallState, now: float) -> str:
    """Why the wall cannot vouch for its data, when it is more than "no data yet":
    "hub offline", "no fresh data"."""
    if state.link == "down":
        return "hub offline"
    if state.tick is not None and state.is_stale(now):
        return "no fresh data"
    return ""
