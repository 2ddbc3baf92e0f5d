"""The compliance panel: posts of the company's own accounts that compliance must see.

Newest first, each with a ⚑ glyph (so colour is not the only signal), when it was
posted, the account and source, and the rules' flags; then its text, on one or two
lines as room allows. Everything flagged is in the error colour. With nothing
flagged the panel says so plainly, with a ✔ only while the data is fresh: from stale
data it says how old that "nothing" is, and before the first tick it says "waiting
for data".
"""

from __future__ import annotations

import textwrap
from datetime import tzinfo

from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import FlaggedPost, TriageView
from panels.base import Panel
from panels.format import clock_time, duration
from panels.listing import Listing
from panels.state import WallState
from panels.triage import has_data

FLAG = "⚑"


class FlagList(Listing):
    """Flagged posts drawn newest first, as many as fit."""

    def __init__(
        self, *, tz: tzinfo | None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.view = TriageView()
        self.hub_now = 0.0
        self.stale_age: float | None = None
        """How old the data is when it is stale (None: fresh); no all-clear from it."""

    def draw(self, width: int, height: int) -> list[Text]:
        view = self.view
        posts = sorted(view.flags, key=lambda p: p.at, reverse=True)
        if not posts and view.flagged <= 0:
            if not has_data(view):
                # An older hub sends no triage at all: do not sound more sure than it is.
                return [Text("no flagged posts (no triage data yet)", self.part("empty"))]
            if self.stale_age is not None:
                as_of = f"no flagged posts as of {duration(self.stale_age)} ago"
                return [Text(as_of, self.part("muted"))]
            return [Text("✔ no flagged posts", self.part("ok"))]
        flag = self.part("flag")
        noun = "post" if view.flagged == 1 else "posts"
        lines = [Text(f"{FLAG} {view.flagged:,} flagged {noun} in the window", flag)]
        # Text under the head line: two lines each while every post fits that way.
        text_lines = 2 if len(posts) * 4 <= height - 1 else 1 if len(posts) * 2 < height else 0
        shown = 0
        for index, post in enumerate(posts):
            head = self._head(post, width)
            flags = Text(f"  [{' · '.join(post.flags) or 'flagged'}]", flag)
            # The flags on the head line when they fit there, else on their own line.
            own_line = text_lines > 0 and head.cell_len + flags.cell_len - 1 > width
            # Keep a line for "… N more flagged" unless this is the last post.
            last = index == len(posts) - 1
            if len(lines) + 1 + own_line + text_lines > height - (0 if last else 1):
                break
            if own_line:
                lines.extend([head, flags])
            else:
                head.append_text(flags[1:])
                lines.append(head)
            body = " ".join(post.text.split())
            if text_lines:
                for part in textwrap.wrap(body, max(width - 2, 10))[:text_lines]:
                    lines.append(Text("  " + part, flag))
            shown += 1
        hidden = len(posts) - shown
        if hidden and len(lines) < height:
            lines.append(Text(f"… {hidden} more flagged", flag))
        return lines

    def _head(self, post: FlaggedPost, width: int) -> Text:
        flag = self.part("flag")
        line = Text()
        line.append(f"{FLAG} {clock_time(post.at, self.tz, seconds=False)} ", flag)
        if width >= 60:
            line.append(f"{duration(max(0.0, self.hub_now - post.at))} ago ", self.part("muted"))
        line.append(post.author, flag + self.part("count"))
        line.append(f"@{post.source}", self.part("muted"))
        return line


class CompliancePanel(Panel):
    """Compliance-flagged posts of the company's own accounts."""

    TITLE = "COMPLIANCE"
    TIME_DEPENDENT = True

    def __init__(self, *, tz: tzinfo | None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield FlagList(tz=self.tz, id="compliance-list")

    def show(self, state: WallState, now: float) -> None:
        flags = self.query_one("#compliance-list", FlagList)
        flags.waiting = state.tick is None
        flags.stale_age = state.age(now) if state.is_stale(now) else None
        flags.view = state.tick.triage if state.tick else TriageView()
        flags.hub_now = state.hub_now(now)
        flags.refresh()
