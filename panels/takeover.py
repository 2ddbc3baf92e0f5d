"""The incident takeover: a full-screen, high-contrast card for a new incident.

When an incident at or above the hub's ``takeover_severity`` opens, the wall gives it
the whole screen for a few seconds so that people across the room look up, then goes
back to the panels by itself: a wall has nobody at its keyboard. Escape closes it
early. The card says what kind of surge it is (a negative one in the severity's
colours, good news in green, never in red), its title, how many times the usual volume,
the negative share against the usual one, the signals, terms, sources, authors and
examples, and whether someone has acknowledged it.

A new incident arriving while the card is up replaces it only if it is at least as
urgent (:func:`replaces`), and restarts the countdown; a newer state of the incident
on show (escalated, acknowledged) updates the card in place.

The card is built from its incident in ``compose``, and later updates touch widgets
only once the screen is mounted: an update that arrives while the card is still
opening is kept and drawn on mount, never looked up in a half-built screen.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.visual import VisualType
from textual.widgets import Label

from groundcontrol.protocol import Incident
from panels.base import set_content
from panels.bigtext import BigNumber, BigText
from panels.format import clock_time, duration
from panels.incidents import (
    KIND_WORDS,
    SEVERITY_LABEL,
    negative_text,
    signal_text,
    status_parts,
)
from panels.state import takeover_rank

DEFAULT_SECONDS = 10.0
FOOTER = "back to the wall by itself · Esc closes now"
CARD_CLASSES = ("-critical", "-warning", "-info", "-positive")


def replaces(shown: Incident, new: Incident) -> bool:
    """May ``new`` take the card from ``shown``?

    A newer state of the same incident always may. Another incident must be at least
    as severe, and at equal severity at least as much of a problem: a milder one
    never replaces a more severe one, good news never replaces a problem.
    """
    return new.id == shown.id or takeover_rank(new) >= takeover_rank(shown)


def card_class(incident: Incident) -> str:
    """The card's colours: green for good news whatever its severity, else by severity."""
    if incident.kind == "positive":
        return "-positive"
    return f"-{incident.severity}" if incident.severity in SEVERITY_LABEL else "-info"


def title_parts(title: str) -> tuple[str, str]:
    """ "Northwind negative surge: #aerogate, battery" -> the part set in block
    capitals ("Northwind negative surge") and the rest, which the font cannot draw."""
    head, sep, rest = title.partition(": ")
    return (head, rest) if sep else (title, "")


def kind_line(incident: Incident, hub_now: float, tz: tzinfo | None) -> str:
    """ "▼ CRITICAL · NEGATIVE SURGE · Northwind · started 3m14s ago, 13:59" """
    kind = KIND_WORDS.get(incident.kind, "VOLUME SURGE")
    if incident.kind == "positive":
        # Good news gets no alarm word: its size is in the number below.
        parts = [f"▲ {kind}"]
    else:
        glyph = "▼" if incident.kind == "negative" else "●"
        parts = [f"{glyph} {SEVERITY_LABEL.get(incident.severity, 'INFO')}", kind]
    if incident.brand:
        parts.append(incident.brand)
    ago = duration(max(0.0, hub_now - incident.started_at))
    parts.append(f"started {ago} ago, {clock_time(incident.started_at, tz, seconds=False)}")
    return " · ".join(parts)


def caption(incident: Incident) -> str:
    """What the big number means, and the tone against the usual one."""
    parts = ["times the usual volume"]
    if incident.kind == "negative":
        parts.append(negative_text(incident))
    if incident.mentions:
        parts.append(f"{incident.mentions:,} mentions")
    return " · ".join(parts)


def ack_line(incident: Incident, hub_now: float, tz: tzinfo | None) -> str:
    """ "ACK by alice 14:03", or "OPEN · nobody has acknowledged it yet"."""
    word, rest, _ = status_parts(incident, hub_now, tz)
    if word == "OPEN":
        return "OPEN · nobody has acknowledged it yet"
    return f"{word} {rest}"


def _listed(label: str, values: list[str], joiner: str = "   ") -> Text:
    return Text.assemble((f"{label}   ", "bold"), joiner.join(values))


class IncidentTakeover(ModalScreen[None]):
    """Full-screen card for one incident; dismisses itself after ``seconds``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back to the wall")]

    def __init__(
        self,
        incident: Incident,
        *,
        hub_now: float,
        demo: bool,
        seconds: float,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__(id="takeover")
        self.incident = incident
        self.hub_now = hub_now
        self.demo = demo
        self.seconds = seconds
        self.tz = tz
        self.closing = False
        """Set once the card is on its way out: a new incident needs a new card."""
        self._timer: Timer | None = None

    def _parts(self) -> dict[str, VisualType]:
        """Every label's content for the incident on show, by widget id."""
        incident = self.incident
        _, rest = title_parts(incident.title)
        signals = [signal_text(s) for s in incident.signals[:4]]
        examples = "\n".join(f"“{' '.join(e.split())}”" for e in incident.examples[:3])
        # Titles, terms and examples quote posts: plain Text, never markup.
        return {
            "takeover-kind": Text(kind_line(incident, self.hub_now, self.tz)),
            "takeover-subtitle": Text(rest),
            "takeover-caption": Text(caption(incident)),
            "takeover-signals": _listed("SIGNALS", signals, " · ") if signals else Text(""),
            "takeover-terms": _listed("TOP TERMS", incident.top_terms[:6] or ["-"]),
            "takeover-sources": _listed("SOURCES", incident.top_sources[:6] or ["-"]),
            "takeover-authors": _listed("AUTHORS", incident.top_authors[:4]),
            "takeover-examples": Text(examples),
            "takeover-status": Text(ack_line(incident, self.hub_now, self.tz)),
        }

    def compose(self) -> ComposeResult:
        incident = self.incident
        parts = self._parts()
        with Vertical(id="takeover-card", classes=card_class(incident)):
            yield Label("DEMO DATA", id="takeover-demo")
            yield Label(parts["takeover-kind"], id="takeover-kind")
            yield BigText(title_parts(incident.title)[0], id="takeover-title")
            yield Label(parts["takeover-subtitle"], id="takeover-subtitle")
            yield BigNumber(f"{incident.ratio:.1f}x", id="takeover-number")
            for name in (
                "takeover-caption",
                "takeover-signals",
                "takeover-terms",
                "takeover-sources",
                "takeover-authors",
                "takeover-examples",
                "takeover-status",
            ):
                yield Label(parts[name], id=name)
            yield Label(FOOTER, id="takeover-footer")

    def on_mount(self) -> None:
        # Draw what is current now: an update may have come while the card opened.
        self._fill()
        self._timer = self.set_timer(self.seconds, self.action_close)

    def show_incident(
        self, incident: Incident, *, hub_now: float, demo: bool, restart: bool = True
    ) -> None:
        """Put ``incident`` on the card; ``restart`` gives it the full time again.

        Safe to call at any moment: before the card is mounted the new data waits for
        ``on_mount``.
        """
        self.incident, self.hub_now, self.demo = incident, hub_now, demo
        if not self.is_mounted:
            return
        self._fill()
        if restart and self._timer is not None:
            self._timer.reset()

    def action_close(self) -> None:
        if self.is_current and not self.closing:
            self.closing = True
            self.dismiss(None)

    def _fill(self) -> None:
        incident = self.incident
        card = self.query_one("#takeover-card")
        for name in CARD_CLASSES:
            card.set_class(name == card_class(incident), name)
        self.query_one("#takeover-demo").display = self.demo
        # Both ask for a layout on every update: only when the words change.
        title = self.query_one("#takeover-title", BigText)
        if title.text != (head := title_parts(incident.title)[0]):
            title.update(head)
        number = self.query_one("#takeover-number", BigNumber)
        if number.value != (ratio := f"{incident.ratio:.1f}x"):
            number.update(ratio)
        for name, content in self._parts().items():
            label = self.query_one(f"#{name}", Label)
            set_content(label, content)
            # An empty line costs a row the terms and examples need on 80x24.
            label.set_class(not str(content), "-empty")
