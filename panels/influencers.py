"""The influencers panel: the authors who matter right now, best first.

Each row: rank, a NEW badge for a voice first seen in this window (the word, not only
a colour), author@source, reach (followers, abbreviated), their mentions in the
window and the engagement those got, and a sentiment glyph. With room, the brands
they talk about. Before the first tick it says "waiting for data".
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import Influencer
from panels.base import Panel
from panels.format import abbreviate, column, fit
from panels.listing import MOOD_GLYPH, Listing, mood
from panels.state import WallState

NEW_BADGE = "NEW"


class InfluencerTable(Listing):
    """Influencers drawn as aligned rows under a heading."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.influencers: list[Influencer] = []

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.influencers:
            return [Text("no influencers yet", self.part("empty"))]
        part = self.part
        show_brands = width >= 70
        # rank 3, badge 4, who, reach 6, mentions 4, engagement 5, glyph 2, brands 20
        tail = 6 + 4 + 5 + 2 + (20 if show_brands else 0)
        who_width = max(width - 7 - tail, 8)
        heading = " " * 7 + column("who", who_width) + f"{'reach':>6}{'men':>4}{'eng':>5}"
        lines = [Text(heading + ("   brands" if show_brands else ""), part("heading"))]
        for rank, person in enumerate(self.influencers[: max(height - 1, 0)], start=1):
            feel = mood(person.net)
            line = Text()
            line.append(f"{rank:>2} ", part("rank"))
            if person.new:
                line.append(NEW_BADGE, part("new") + part("count"))
                line.append(" ")
            else:
                line.append(" " * (len(NEW_BADGE) + 1))
            # The author in bold, "@source" muted after it: textually author@source.
            name = fit(person.author, who_width)
            line.append(name, "bold")
            line.append(column(f"@{person.source}", who_width - cell_len(name)), part("muted"))
            line.append(f"{abbreviate(person.reach):>6}", part("count"))
            line.append(f"{abbreviate(person.mentions):>4}")
            line.append(f"{abbreviate(person.engagement):>5}")
            line.append(f" {MOOD_GLYPH[feel]}", part(feel))
            if show_brands:
                line.append("   ")
                line.append(column(", ".join(person.brands), 17), part("brand"))
            lines.append(line)
        return lines


class InfluencersPanel(Panel):
    """Top authors over the window, as the hub ranks them."""

    TITLE = "INFLUENCERS"

    def compose(self) -> ComposeResult:
        yield InfluencerTable(id="influencers-table")

    def show(self, state: WallState, now: float) -> None:
        table = self.query_one("#influencers-table", InfluencerTable)
        table.waiting = state.tick is None
        table.influencers = list(state.tick.influencers) if state.tick else []
        table.refresh()
