"""The triage panel: what the mentions are asking of us, and who must look at them.

First the line on-call staff need most: how many mentions the rules sent to review in
the window and how many wait in the store's queue. Then a row per category (support,
sales, product problem, praise, compliance risk, other) with its count and a bar of
its share; a short panel puts two categories on a line. Then, while rows remain, the
newest mentions waiting for review with the rules' guess and confidence, and, once
someone took one, its owner ("[alice]", "[ESC bob]" when escalated). When there is
room, the second line says what a person last did ("alice claimed x:123 · 14:02"):
a ``triage`` event changes it, the rows and the pending count at once
(:class:`~panels.state.WallState`). Before the first tick it says "waiting for data";
a hub without triage gets "no triage data yet".
"""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import KeyCount, ReviewItem, TriageEvent, TriageView
from panels.base import Panel
from panels.format import abbreviate, bar, clock_time, column, fit, percent
from panels.listing import Listing, category_name
from panels.state import WallState

#: Category names for two-to-a-line rows, where every cell counts.
SHORT_NAMES = {"product_problem": "problem", "compliance_risk": "compliance"}
RISK = "compliance_risk"
#: Panel rows from which the latest action gets a line of its own, under the count.
LATEST_FROM_ROWS = 5
#: Most characters of an owner's name on a queue row.
OWNER_CHARS = 16
#: How each action reads in the latest-action line.
_DID = {
    "claim": "claimed",
    "assign": "assigned",
    "label": "labelled",
    "escalate": "escalated",
    "resolve": "resolved",
    "ignore": "ignored",
    "note": "noted",
}


def has_data(view: TriageView) -> bool:
    """False for the default view an older hub (or an idle one) sends."""
    return bool(view.categories or view.queue or view.review or view.pending >= 0)


def latest_line(event: TriageEvent, tz: tzinfo | None) -> str:
    """ "alice claimed x:123 · 14:02", "bob assigned x:9 to carol · 14:05"."""
    a = event.action
    did = _DID.get(a.action, a.action)
    what = f"{a.actor or 'someone'} {did} {event.mention_id}"
    if a.action == "assign" and a.assignee:
        what += f" to {a.assignee}"
    elif a.action == "label" and a.label:
        what += f" {category_name(a.label)}"
    return " ".join(f"{what} · {clock_time(a.at, tz, seconds=False)}".split())


def owner_tag(item: ReviewItem) -> str:
    """ "[alice] " for a claimed mention, "[ESC bob] " for an escalated one, "" for a new
    one (a long name cut to OWNER_CHARS)."""
    owner = fit(" ".join(item.assignee.split()), OWNER_CHARS).rstrip()
    if item.status == "escalated":
        return f"[ESC {owner}] " if owner else "[ESC] "
    return f"[{owner}] " if owner else ""


def review_line(view: TriageView) -> str:
    """ "review: 14 in window, 37 pending" ("pending unknown" when the hub cannot say)."""
    pending = "pending unknown" if view.pending < 0 else f"{view.pending:,} pending"
    return f"review: {view.review:,} in window, {pending}"


class TriageTable(Listing):
    """The review count, the categories and the review queue, fitted to the panel."""

    def __init__(
        self, *, tz: tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.view = TriageView()
        self.latest: TriageEvent | None = None
        self.tz = tz

    def draw(self, width: int, height: int) -> list[Text]:
        view = self.view
        if not has_data(view):
            return [Text("no triage data yet", self.part("empty"))]
        waiting = view.review > 0 or view.pending > 0
        lines = [Text(review_line(view), self.part("warning" if waiting else "ok"))]
        if self.latest is not None and height >= LATEST_FROM_ROWS:
            # Names and ids come from people and sources: plain Text, never markup.
            lines.append(Text(fit(latest_line(self.latest, self.tz), width), self.part("info")))
        room = height - len(lines)
        categories = view.categories
        if len(categories) <= room:
            lines.extend(self._category(c, categories, width) for c in categories)
        else:
            half = (width - 1) // 2
            for i in range(0, len(categories), 2):
                line = Text()
                for n, count in enumerate(categories[i : i + 2]):
                    line.append(" " if n else "")
                    line.append_text(self._short_category(count, half))
                lines.append(line)
        lines = lines[:height]
        if view.queue and len(lines) + 2 <= height:
            lines.append(Text("waiting for review, newest first", self.part("heading")))
            room = height - len(lines)
            # The post on a line of its own under its guess while every item fits so.
            two = room >= 2 * len(view.queue)
            for item in view.queue[: room // 2 if two else room]:
                lines.extend(self._queued(item, width, two_lines=two))
        return lines

    def _category(self, count: KeyCount, categories: list[KeyCount], width: int) -> Text:
        total = sum(c.count for c in categories)
        share = count.count / total if total else 0.0
        name_style = self.part("flag") if count.key == RISK and count.count else ""
        line = Text()
        line.append(column(category_name(count.key), 16), name_style)
        line.append(f"{abbreviate(count.count):>6} ", self.part("count"))
        bar_width = max(min(width - 16 - 7 - 5, 40), 0)
        if bar_width >= 4:
            line.append(bar(share, bar_width), self.part("bar"))
        line.append(f"{percent(share):>5}", self.part("muted"))
        return line

    def _short_category(self, count: KeyCount, width: int) -> Text:
        name = SHORT_NAMES.get(count.key, category_name(count.key))
        number = abbreviate(count.count)
        name_style = self.part("flag") if count.key == RISK and count.count else ""
        line = Text()
        line.append(column(name, max(width - len(number) - 1, 1)), name_style)
        line.append(f" {number}", self.part("count"))
        return line

    def _queued(self, item: ReviewItem, width: int, *, two_lines: bool) -> list[Text]:
        guess = f"? {category_name(item.category)} {percent(item.confidence)} "
        line = Text()
        tag = owner_tag(item)
        if tag:
            line.append(tag, self.part("warning" if item.status == "escalated" else "info"))
        line.append(guess, "bold")
        line.append(f"{item.author}@{item.source} ", self.part("muted"))
        # Post text comes from strangers: plain Text, never markup.
        text = " ".join(item.text.split())
        if two_lines:
            return [line, Text("  " + fit(text, max(width - 2, 0)))]
        line.append(fit(text, max(width - line.cell_len, 0)))
        return [line]


class TriagePanel(Panel):
    """Triage over the window: categories, the review count and queue."""

    TITLE = "TRIAGE"

    def compose(self) -> ComposeResult:
        yield TriageTable(id="triage-table")

    def show(self, state: WallState, now: float) -> None:
        table = self.query_one("#triage-table", TriageTable)
        table.waiting = state.tick is None
        table.view = state.tick.triage if state.tick else TriageView()
        table.latest = state.last_triage
        # The wall's zone for clock times (WallApp.tz; None, the local zone, elsewhere).
        table.tz = getattr(self.app, "tz", None)
        table.refresh()
