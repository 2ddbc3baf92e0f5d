"""The status bar: what this screen is, whether its data is real, live and fresh.

Two rows. The top row names the product, shows a DEMO badge whenever the hub or the
data says demo, a connection pill, the hub, which scene is up ("1/2 overview", with
⏸ while a key holds it), the age of the last update and the clock. The bottom row
says why the hub is unreachable when it is (at once, on the Disconnected event, with
the retry countdown), then the hub totals, the open incidents by severity ("1 CRIT ·
2 WARN", good news counted apart as POS), the share of voice of the watched brands
and a count of undecodable messages.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from groundcontrol.protocol import Incident
from panels.base import set_content
from panels.feeds import feeds_summary
from panels.format import abbreviate, bar, duration, percent
from panels.state import WallState

PRODUCT = "GROUND CONTROL"
COUNT_LABEL = {"critical": "CRIT", "warning": "WARN", "info": "INFO", "positive": "POS"}


def open_incident_counts(incidents: list[Incident]) -> list[tuple[str, int]]:
    """Open incidents (acknowledged ones too) by severity, most severe first, then
    the positive ones, whatever their severity: [("critical", 1), ("warning", 2)]."""
    counts = dict.fromkeys(COUNT_LABEL, 0)
    for incident in incidents:
        if incident.status in ("open", "acknowledged"):
            key = "positive" if incident.kind == "positive" else incident.severity
            counts[key if key in counts else "info"] += 1
    return [(key, n) for key, n in counts.items() if n]


def link_pill(state: WallState, now: float) -> tuple[str, str]:
    """The connection pill's text and CSS class for the current state."""
    if state.link == "down":
        return "✖ OFFLINE", "-down"
    if state.link == "connecting":
        return "◌ CONNECTING", "-waiting"
    if state.tick is None:
        return "◌ WAITING", "-waiting"
    if state.is_stale(now):
        return "● STALE", "-waiting"
    return "● LIVE", "-live"


def down_message(state: WallState, now: float) -> str:
    """The full "HUB UNREACHABLE" line, with the reason and the retry countdown."""
    retry = state.retry_in(now)
    when = f"retrying in {retry:.0f}s" if retry >= 0.5 else "retrying now"
    return f"HUB UNREACHABLE: {state.down_reason} - {when}"


class StatusBar(Vertical):
    """The wall's header: product, DEMO badge, link state, freshness, totals."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--share",
        "status-bar--critical",
        "status-bar--warning",
        "status-bar--info",
        "status-bar--positive",
        "status-bar--clear",
    }

    def __init__(self, *, hub_label: str, tz: tzinfo | None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hub_label = hub_label
        self.tz = tz
        self.scene_label = ""
        """Which scene is up, set by the app before each redraw."""
        self.scene_label_short = ""
        """The same for a narrow terminal."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-top"):
            yield Label(PRODUCT, id="product")
            yield Label("DEMO", id="demo-badge")
            yield Label("◌ CONNECTING", id="link-pill", classes="-waiting")
            yield Label(Text(self.hub_label), id="hub-label")
            yield Label("", id="scene")
            yield Label("", id="updated")
            yield Label("", id="clock")
        with Horizontal(id="status-bottom"):
            yield Label("", id="link-detail")
            yield Label("", id="totals")
            yield Label("", id="incident-count")
            yield Label("", id="share-of-voice")
            yield Label("", id="bad-messages")
            yield Label("", id="feeds-summary")

    def show(self, state: WallState, now: float) -> None:
        """Redraw from the state; runs every refresh and at once on a disconnect."""
        down = state.link == "down"
        self.set_class(down, "-down")
        self.query_one("#demo-badge").display = state.demo

        text, pill_class = link_pill(state, now)
        pill = self.query_one("#link-pill", Label)
        set_content(pill, text)
        for name in ("-down", "-waiting", "-live"):
            pill.set_class(name == pill_class, name)

        wide = self.size.width >= 120
        set_content(
            self.query_one("#scene", Label), self.scene_label if wide else self.scene_label_short
        )
        age = state.age(now)
        set_content(
            self.query_one("#updated", Label),
            "no data yet" if age is None else f"updated {duration(age)} ago",
        )
        self.query_one("#updated").set_class(state.is_stale(now), "-stale")
        moment = datetime.fromtimestamp(now, self.tz)
        set_content(self.query_one("#clock", Label), moment.strftime("%H:%M:%S %Z").strip())

        detail = self.query_one("#link-detail", Label)
        detail.display = down
        if down:
            # The reason may quote an exception ("[Errno 111] ..."): plain Text, no markup.
            set_content(detail, Text(down_message(state, now)))

        tick = state.tick
        totals = self.query_one("#totals", Label)
        if tick is not None:
            set_content(
                totals,
                f"[b]{tick.ingested_total:,}[/] ingested · [b]{tick.rate_per_s:,.1f}[/]/s",
            )
        count = self.query_one("#incident-count", Label)
        # Only data the wall can vouch for may say "no open incidents".
        count.display = not state.is_stale(now) or bool(state.incidents())
        if count.display:
            set_content(count, self._incident_count(state.incidents()))
        set_content(self.query_one("#share-of-voice", Label), self._share_of_voice(state))

        bad = self.query_one("#bad-messages", Label)
        bad.display = state.bad_messages > 0
        if state.bad_messages:
            noun = "bad message" if state.bad_messages == 1 else "bad messages"
            set_content(bad, Text(f"⚠ {abbreviate(state.bad_messages)} {noun}"))
            bad.tooltip = f"last: {state.last_bad}"

        summary = self.query_one("#feeds-summary", Label)
        feeds = list(tick.feeds) if tick is not None else []
        live, total, gone = feeds_summary(feeds, now)
        # Said here only when something is wrong: the feeds panel has the details,
        # and on 80x24 this is the only place that says a source went silent.
        summary.display = total > 0 and live < total
        if summary.display:
            names = ", ".join(gone[:3]) + (" …" if len(gone) > 3 else "")
            set_content(
                summary,
                Text(f"⚠ feeds {live}/{total} live" + (f" ✖ {names}" if names else "")),
            )

    def _incident_count(self, incidents: list[Incident]) -> Text:
        """ "1 CRIT · 2 WARN · 1 POS": incidents not resolved nor snoozed, each in its
        badge colour; good news apart, in green."""
        counts = open_incident_counts(incidents)
        if not counts:
            return Text("✔ no open incidents", self.get_component_rich_style("status-bar--clear"))
        line = Text()
        for key, count in counts:
            if line:
                line.append(" · ")
            style = self.get_component_rich_style(f"status-bar--{key}")
            line.append(f" {count} {COUNT_LABEL[key]} ", style)
        return line

    @property
    def _bar_style(self) -> Style:
        return self.get_component_rich_style("status-bar--share")

    def _share_of_voice(self, state: WallState) -> Text:
        tick = state.tick
        if tick is None or not tick.brands:
            return Text("")
        order = state.hello.brands if state.hello else []
        # The hub's brand order (config order) keeps brands from swapping places.
        rank = {name: i for i, name in enumerate(order)}
        brands = sorted(tick.brands, key=lambda b: (rank.get(b.brand, len(rank)), b.brand))
        width = self.size.width
        # Narrow terminals keep the brands and their shares, and drop the rest.
        line = Text.assemble(("share of voice ", "bold")) if width >= 100 else Text()
        for brand in brands:
            line.append(f" {brand.brand} ", "bold")
            if width >= 140:
                line.append(bar(brand.share_of_voice, 8), self._bar_style)
                line.append(" ")
            line.append(percent(brand.share_of_voice), "bold")
            line.append(" ")
        return line
