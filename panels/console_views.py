"""The analyst console's views: one table (or page) each, with its own keys.

Live views draw from the stream's :class:`~panels.state.WallState` (incidents,
topics, sources, brands, authors); the others fetch from the hub through
:class:`~groundcontrol.client.api.HubApi` in workers, so a slow hub never freezes a
key press (queue, search, history, detail). Every list is a :class:`ConsoleTable`:
a row cursor, clickable rows (click a row, click it again to open it), columns
fitted to the width, and the cursor kept on the same item when the rows change.

A view names its keys in ``BINDINGS`` (``?`` lists them); the app owns what is
shared: switching views, the back stack, drill-downs, triage and incident actions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowKey

from groundcontrol.client.api import ApiError, History, SearchPage
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    Incident,
    MentionDetail,
    TriageQueue,
    TriageQueueItem,
    TriageState,
)
from panels.console_chart import BrandChart, Series
from panels.console_model import (
    STATUS_WORD,
    Drill,
    TimeRange,
    author_drill,
    brand_drill,
    incident_drill,
    parse_range,
    response_clock,
    sentiment_glyph,
    short_duration,
    signal_drill,
    source_drill,
    topic_drill,
)
from panels.format import (
    MOOD_GLYPH,
    abbreviate,
    bar,
    clock_time,
    duration,
    fit,
    percent,
    signed,
    spark,
)
from panels.incidents import INCIDENT_STYLES, IncidentList, badge_label, badge_style, status_parts
from panels.listing import category_name, mood
from panels.topics import TREND_GLYPH, change

if TYPE_CHECKING:
    from panels.console import ConsoleApp

#: Mentions per search page.
PAGE_SIZE = 50
#: Most queue items fetched at once.
QUEUE_LIMIT = 200
#: Seconds between queue refreshes while it is on screen (triage messages refresh it
#: sooner).
QUEUE_REFRESH = 15.0
#: Columns a table keeps free for its vertical scrollbar.
SCROLLBAR = 1


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Col:
    """A table column: its header, its width (0: flexible, the flexible columns share
    what is left) and the least table width that shows it."""

    label: str
    width: int = 0
    min_total: int = 0


Cell = Text | str | Callable[[int], Text]
"""A cell: text, or a function of the column's width (a bar that fills it)."""
Row = tuple[str, list[Cell]]


def fitted(cols: Sequence[Col], total: int) -> list[tuple[int, int]]:
    """(column index, width) of the columns shown at ``total`` cells; the flexible
    columns share what the fixed ones and the cell padding leave."""
    shown = [(i, c) for i, c in enumerate(cols) if total >= c.min_total]
    fixed = sum(c.width for _, c in shown) + 2 * len(shown) + SCROLLBAR
    flexible = sum(1 for _, c in shown if not c.width) or 1
    share, extra = divmod(max(total - fixed, 8 * flexible), flexible)
    out = []
    for i, c in shown:
        width = c.width
        if not width:
            width, extra = share + extra, 0
        out.append((i, width))
    return out


class ConsoleTable(DataTable[Cell]):
    """A row-cursor table that fits its columns to its width and keeps its cursor on
    the same key across updates."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *DataTable.COMPONENT_CLASSES,
        *INCIDENT_STYLES,
        "console--muted",
        "console--breached",
        "console--ok",
        "console--positive",
        "console--neutral",
        "console--negative",
        "console--new",
        "console--bar",
        "console--status-new",
        "console--status-claimed",
        "console--status-escalated",
        "console--status-resolved",
        "console--status-ignored",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        # Rows, not columns: home and end go to the first and the last row.
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, cols: Sequence[Col], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.cols = list(cols)
        self._rows: list[Row] = []
        self._layout: list[tuple[int, int]] = []
        self._keys: list[str] = []
        self._looks: list[list[tuple[object, ...]]] = []

    def part(self, name: str) -> Style:
        """The style of a cell part (``console--<name>`` or an incident class)."""
        key = name if name.startswith("incident--") else f"console--{name}"
        return self.get_component_rich_style(key)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        except Exception:
            return None
        return key.value

    def fill(self, rows: list[Row]) -> None:
        """Show ``rows`` (key, cells for every column), if they differ from those shown."""
        self._rows = rows
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        width = self.size.width
        if width <= 0:
            return
        layout = fitted(self.cols, width)
        resolved = [
            (key, [_cut(cells[index], size) for index, size in layout]) for key, cells in self._rows
        ]
        looks = [[_look(cell) for cell in cells] for _, cells in resolved]
        keys = [key for key, _ in resolved]
        if layout == self._layout and keys == self._keys:
            # The same rows: change only the cells that changed (no flicker, the
            # scroll position and the cursor stay where they are).
            for (key, cells), old, new in zip(resolved, self._looks, looks, strict=True):
                for column, (cell, was, now) in enumerate(zip(cells, old, new, strict=True)):
                    if was != now:
                        self.update_cell(key, str(layout[column][0]), cell)
            self._looks = looks
            return
        self._layout, self._keys, self._looks = layout, keys, looks
        keep = self.selected_key
        keep_row = self.cursor_row
        self.clear(columns=True)
        for index, size in layout:
            self.add_column(self.cols[index].label, width=size, key=str(index))
        for key, cells in resolved:
            self.add_row(*cells, key=key)
        if not self._rows:
            return
        target = min(keep_row, len(self._rows) - 1)
        if keep is not None:
            with contextlib.suppress(Exception):
                target = self.get_row_index(RowKey(keep))
        self.move_cursor(row=target, animate=False, scroll=True)


def _look(cell: Text | str) -> tuple[object, ...]:
    """What a cell shows, to compare with what it showed."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return (cell,)


def _cut(cell: Cell, width: int) -> Text | str:
    if callable(cell):
        cell = cell(width)
    if isinstance(cell, Text):
        cell = cell.copy()
        cell.no_wrap = True
        cell.truncate(width, overflow="ellipsis")
        return cell
    return fit(cell, width)


def one_line(text: str) -> str:
    return " ".join(text.split())


def when(at: float, tz: tzinfo | None, now: float) -> str:
    """A moment in a table: "14:03" today, "06-12 14:03" before."""
    moment = datetime.fromtimestamp(at, tz)
    today = datetime.fromtimestamp(now, tz).date()
    return moment.strftime("%H:%M" if moment.date() == today else "%m-%d %H:%M")


def created(mention: Mention) -> float:
    return mention.created_at.timestamp()


def status_cell(table: ConsoleTable, state: TriageState | None) -> Text:
    status = state.status if state is not None else "new"
    return Text(STATUS_WORD.get(status, status.upper()), table.part(f"status-{status}"))


def share_cell(table: ConsoleTable, share: float, width: int) -> Text:
    """ "73% ███████▍   ": the share, then a bar that fills the rest of the column."""
    cell = Text(f"{percent(share):>4} ", "bold")
    cell.append(bar(share, min(max(width - 5, 1), 40)), table.part("bar"))
    return cell


def mood_cell(table: ConsoleTable, net: float) -> Text:
    feeling = mood(net)
    glyph = MOOD_GLYPH[feeling]
    return Text(f"{glyph} {signed(net)}", table.part(feeling))


# --------------------------------------------------------------------------- base


class ConsoleView(Vertical):
    """One view: a caption line and a body; ``show_data`` redraws it."""

    NAME: ClassVar[str] = ""
    TIME_DEPENDENT: ClassVar[bool] = False
    """Redraw on every refresh, not only on new data."""

    def __init__(self) -> None:
        super().__init__(id=f"view-{self.NAME}", classes="console-view")

    @property
    def console(self) -> ConsoleApp:
        return cast("ConsoleApp", self.app)

    def caption(self) -> Static:
        return Static("", id=f"{self.NAME}-caption", classes="view-caption")

    def set_caption(self, text: Text | str) -> None:
        caption = self.query_one(f"#{self.NAME}-caption", Static)
        if caption.content != text:
            caption.update(text)

    @property
    def focus_target(self) -> Any:
        """What takes the focus when the view comes up."""
        return self.query(ConsoleTable).first() if self.query(ConsoleTable) else self

    def entered(self) -> None:
        """The view came on screen (fetching views fetch here)."""

    def show_data(self, now: float) -> None:
        """Redraw from the console's state."""

    def selected_mention(self) -> str | None:
        """The mention a triage key acts on here (None: this view has none)."""
        return None


#: The triage keys of views that show mentions (queue, search, detail).
MENTION_KEYS: list[BindingType] = [
    Binding("c", "triage('claim')", "Claim", tooltip="claim the mention: you own it now"),
    Binding(
        "a", "triage('assign')", "Assign", show=False, tooltip="assign it to someone (a prompt)"
    ),
    Binding("l", "triage('label')", "Label", show=False, tooltip="give it a class (a list)"),
    Binding("e", "triage('escalate')", "Escalate", show=False, tooltip="escalate it"),
    Binding("r", "triage('resolve')", "Resolve", tooltip="resolve it: done"),
    Binding("i", "triage('ignore')", "Ignore", show=False, tooltip="ignore it: nothing to do"),
    Binding("n", "triage('note')", "Note", show=False, tooltip="add a note (a prompt)"),
]


# --------------------------------------------------------------------------- live views


class LiveView(ConsoleView):
    """A view of the stream's state; Enter drills into the mentions behind a row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "drill", "Mentions", tooltip="the stored mentions behind the row"),
    ]
    COLS: ClassVar[list[Col]] = []
    HINT: ClassVar[str] = "enter: the mentions behind a row"

    def compose(self) -> ComposeResult:
        yield self.caption()
        yield ConsoleTable(self.COLS, id=f"{self.NAME}-table")

    @property
    def table(self) -> ConsoleTable:
        return self.query_one(f"#{self.NAME}-table", ConsoleTable)

    def show_data(self, now: float) -> None:
        state = self.console.state
        tick = state.tick
        if tick is None:
            self.set_caption(Text("waiting for data", "italic"))
            self.table.fill([])
            return
        self.table.fill(self.rows(now))
        stale = " · [b $warning]STALE[/]" if state.is_stale(now) else ""
        window = f"window {short_duration(tick.window_seconds)}"
        hint = f" · [$foreground-muted]{self.HINT}[/]" if self.HINT else ""
        self.set_caption(f"{self.summary()} · {window}{stale}{hint}")

    def rows(self, now: float) -> list[Row]:
        return []

    def summary(self) -> str:
        return self.NAME

    def action_drill(self) -> None:
        key = self.table.selected_key
        drill = self.drill_for(key) if key is not None else None
        if drill is not None:
            self.console.drill(drill)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

    def drill_for(self, key: str) -> Drill | None:
        return None

    @property
    def window(self) -> float:
        tick = self.console.state.tick
        return float(tick.window_seconds) if tick is not None else 300.0


class TopicsView(LiveView):
    NAME = "topics"
    COLS: ClassVar[list[Col]] = [
        Col("#", 3),
        Col("", 1),
        Col("story"),
        Col("brand", 12, 100),
        Col("count", 6),
        Col("change", 7),
        Col("mood", 6, 60),
        Col("terms", 0, 120),
    ]

    def summary(self) -> str:
        tick = self.console.state.tick
        n = len(tick.topics) if tick else 0
        return f"[b]{n}[/] hot topics"

    def rows(self, now: float) -> list[Row]:
        tick = self.console.state.tick
        table = self.table
        rows: list[Row] = []
        for rank, topic in enumerate(tick.topics if tick else [], start=1):
            glyph = TREND_GLYPH.get(topic.trend, " ")
            rows.append(
                (
                    topic.term,
                    [
                        Text(f"{rank:>2}", table.part("muted")),
                        Text(glyph, "bold"),
                        Text(topic.label or topic.term, "bold"),
                        topic.brand,
                        f"{abbreviate(topic.count):>5}",
                        f"{change(topic):>6}",
                        mood_cell(table, topic.net),
                        " ".join(topic.terms[1:6]),
                    ],
                )
            )
        return rows

    def drill_for(self, key: str) -> Drill | None:
        tick = self.console.state.tick
        for topic in tick.topics if tick else []:
            if topic.term == key:
                return topic_drill(topic, self.window)
        return None


class SourcesView(LiveView):
    NAME = "sources"
    COLS: ClassVar[list[Col]] = [
        Col("source", 14),
        Col("count", 7),
        Col("share"),
        Col("mood", 6),
        Col("negative", 8, 70),
    ]

    def summary(self) -> str:
        tick = self.console.state.tick
        return f"[b]{len(tick.sources) if tick else 0}[/] sources"

    def rows(self, now: float) -> list[Row]:
        tick = self.console.state.tick
        table = self.table
        rows: list[Row] = []
        for source in sorted(tick.sources if tick else [], key=lambda s: -s.count):
            share = partial(share_cell, table, source.share)
            rows.append(
                (
                    source.source,
                    [
                        Text(source.source, "bold"),
                        f"{abbreviate(source.count):>6}",
                        share,
                        mood_cell(table, source.net),
                        f"{percent(source.negative_share):>6}",
                    ],
                )
            )
        return rows

    def drill_for(self, key: str) -> Drill | None:
        tick = self.console.state.tick
        for source in tick.sources if tick else []:
            if source.source == key:
                return source_drill(source, self.window)
        return None


class BrandsView(LiveView):
    NAME = "brands"
    COLS: ClassVar[list[Col]] = [
        Col("brand", 14),
        Col("count", 7),
        Col("share of voice"),
        Col("mood", 6),
        Col("negative", 8),
        Col("trend", 24, 110),
    ]

    def summary(self) -> str:
        tick = self.console.state.tick
        return f"[b]{len(tick.brands) if tick else 0}[/] brands"

    def rows(self, now: float) -> list[Row]:
        state = self.console.state
        tick = state.tick
        table = self.table
        order = state.hello.brands if state.hello else []
        rank = {name: i for i, name in enumerate(order)}
        rows: list[Row] = []
        brands = sorted(tick.brands if tick else [], key=lambda b: (rank.get(b.brand, 99), b.brand))
        for brand in brands:
            share = partial(share_cell, table, brand.share_of_voice)
            rows.append(
                (
                    brand.brand,
                    [
                        Text(brand.brand, "bold"),
                        f"{abbreviate(brand.count):>6}",
                        share,
                        mood_cell(table, brand.net),
                        f"{percent(brand.negative_share):>6}",
                        Text(spark([float(v) for v in brand.series], 24), table.part("bar")),
                    ],
                )
            )
        return rows

    def drill_for(self, key: str) -> Drill | None:
        return brand_drill(key, self.window)


class AuthorsView(LiveView):
    NAME = "authors"
    COLS: ClassVar[list[Col]] = [
        Col("author"),
        Col("source", 9, 70),
        Col("reach", 6),
        Col("ment.", 5),
        Col("engage", 6, 76),
        Col("mood", 6),
        Col("new", 3, 60),
        Col("brands", 24, 110),
    ]

    def summary(self) -> str:
        tick = self.console.state.tick
        return f"[b]{len(tick.influencers) if tick else 0}[/] authors who matter now"

    def rows(self, now: float) -> list[Row]:
        tick = self.console.state.tick
        table = self.table
        rows: list[Row] = []
        for author in tick.influencers if tick else []:
            rows.append(
                (
                    f"{author.source}\t{author.author}",
                    [
                        Text(author.author, "bold"),
                        author.source,
                        f"{abbreviate(author.reach):>5}",
                        f"{author.mentions:>4}",
                        f"{abbreviate(author.engagement):>5}",
                        mood_cell(table, author.net),
                        Text("NEW", table.part("new")) if author.new else "",
                        ", ".join(author.brands),
                    ],
                )
            )
        return rows

    def drill_for(self, key: str) -> Drill | None:
        tick = self.console.state.tick
        for author in tick.influencers if tick else []:
            if f"{author.source}\t{author.author}" == key:
                return author_drill(author, self.window)
        return None


class IncidentsView(LiveView):
    """Incidents, most urgent first; below, the selected one in full and its signals."""

    NAME = "incidents"
    HINT = "enter: its mentions · tab: its signals"
    TIME_DEPENDENT = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "drill",
            "Mentions",
            tooltip="the mentions behind the incident (or the signal, in the signals table)",
        ),
        Binding("k", "incident('ack')", "Ack", tooltip="acknowledge the incident: you are on it"),
        Binding("s", "incident('snooze')", "Snooze", tooltip="snooze the incident for an hour"),
        Binding("R", "incident('resolve')", "Resolve", tooltip="resolve the incident"),
    ]
    COLS: ClassVar[list[Col]] = [
        Col("sev", 6),
        Col("kind", 4),
        Col("size", 5),
        Col("status", 18),
        Col("brand", 10, 120),
        Col("title"),
    ]
    SIGNAL_COLS: ClassVar[list[Col]] = [
        Col("signal"),
        Col("kind", 8),
        Col("peak/min", 9),
        Col("usual", 7),
        Col("since", 8),
        Col("now", 6, 70),
    ]

    def compose(self) -> ComposeResult:
        yield self.caption()
        # Stacked on a narrow screen, side by side on a wide one (console.tcss).
        with Horizontal(id="incidents-split"):
            yield ConsoleTable(self.COLS, id="incidents-table")
            with Vertical(id="incident-side"):
                yield IncidentList(tz=self.console.tz, id="incident-detail")
                yield ConsoleTable(self.SIGNAL_COLS, id="signals-table")

    @property
    def signals(self) -> ConsoleTable:
        return self.query_one("#signals-table", ConsoleTable)

    def summary(self) -> str:
        incidents = self.console.state.incidents()
        live = sum(1 for i in incidents if i.status in ("open", "acknowledged"))
        return f"[b]{live}[/] open · {len(incidents)} shown"

    def selected(self) -> Incident | None:
        key = self.table.selected_key
        return self.console.state.incident(key) if key is not None else None

    def rows(self, now: float) -> list[Row]:
        state = self.console.state
        hub_now = state.hub_now(now)
        tz = self.console.tz
        table = self.table
        rows: list[Row] = []
        for incident in state.incidents():
            word, rest, style = status_parts(incident, hub_now, tz)
            if word == "OPEN":
                rest = rest.removeprefix("started ")
            status = Text(word, table.part(style))
            status.append(f" {rest}")
            rows.append(
                (
                    incident.id,
                    [
                        Text(
                            f" {badge_label(incident, short=True)} ",
                            table.part(badge_style(incident)),
                        ),
                        Text(
                            {"negative": "NEG", "positive": "POS"}.get(incident.kind, "VOL"),
                            table.part(f"incident--kind-{incident.kind}"),
                        ),
                        f"{incident.ratio:.1f}x",
                        status,
                        incident.brand,
                        Text(incident.title, "bold" if incident.status != "resolved" else ""),
                    ],
                )
            )
        return rows

    def show_data(self, now: float) -> None:
        super().show_data(now)
        self._show_selected(now)

    def _show_selected(self, now: float) -> None:
        incident = self.selected()
        detail = self.query_one("#incident-detail", IncidentList)
        detail.incidents = [incident] if incident is not None else []
        detail.hub_now = self.console.state.hub_now(now)
        detail.fresh = not self.console.state.is_stale(now)
        detail.display = incident is not None
        detail.refresh()
        rows: list[Row] = []
        tz = self.console.tz
        for index, signal in enumerate(incident.signals if incident else []):
            state = "active" if signal.active else "ended"
            rows.append(
                (
                    str(index),
                    [
                        Text(signal.label, "bold"),
                        signal.kind,
                        f"{signal.peak:>8.1f}",
                        f"{signal.baseline:>6.1f}",
                        clock_time(signal.started_at, tz),
                        state,
                    ],
                )
            )
        self.signals.fill(rows)
        self.signals.display = bool(rows)

    @on(DataTable.RowHighlighted, "#incidents-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_selected(self.console.clock())

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "signals-table":
            self.drill_signal()
        else:
            self.action_drill()

    def action_drill(self) -> None:
        if self.signals.has_focus:
            self.drill_signal()
            return
        incident = self.selected()
        if incident is not None:
            self.console.drill(incident_drill(incident, self.console.tz))

    def drill_signal(self) -> None:
        incident = self.selected()
        key = self.signals.selected_key
        if incident is None or key is None:
            return
        index = int(key)
        if index < len(incident.signals):
            self.console.drill(signal_drill(incident.signals[index], incident, self.console.tz))

    def action_incident(self, action: Literal["ack", "snooze", "resolve"]) -> None:
        incident = self.selected()
        if incident is None:
            self.console.notify("no incident selected", severity="warning")
            return
        self.console.incident_action(incident.id, action)


# --------------------------------------------------------------------------- queue


class QueueView(ConsoleView):
    """What waits for a person, oldest first, against the response-time target."""

    NAME = "queue"
    TIME_DEPENDENT = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Detail", show=False, tooltip="the mention in full"),
        *MENTION_KEYS,
        Binding("m", "filter('mine')", "Mine", tooltip="only yours (again: all)"),
        Binding("u", "filter('unassigned')", "Unassigned", tooltip="only nobody's (again: all)"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="fetch it again"),
    ]
    COLS: ClassVar[list[Col]] = [
        Col("", 2),
        Col("waiting", 15),
        Col("status", 9),
        Col("owner", 10),
        Col("class", 15, 100),
        Col("source", 9, 120),
        Col("author", 16, 130),
        Col("mention"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: TriageQueue | None = None
        self.fetched_at = 0.0
        self.filter: Literal["all", "mine", "unassigned"] = "all"
        self.error = ""
        self.loading = False
        self._soon = False

    def compose(self) -> ComposeResult:
        yield self.caption()
        yield ConsoleTable(self.COLS, id="queue-table")

    @property
    def table(self) -> ConsoleTable:
        return self.query_one("#queue-table", ConsoleTable)

    def on_mount(self) -> None:
        self.set_interval(QUEUE_REFRESH, self._periodic)

    def entered(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.console.background(self._fetch, group="queue", exclusive=True)

    def _periodic(self) -> None:
        if self.console.current == self.NAME and not self.loading:
            self.action_reload()

    def soon(self) -> None:
        """Fetch again shortly (a triage message came): several in a burst, once."""
        if self._soon:
            return
        self._soon = True

        def reload() -> None:
            self._soon = False
            self.action_reload()

        self.set_timer(0.2, reload)

    async def _fetch(self) -> None:
        console = self.console
        # The hub reads "me" as the token's own name, "none" as nobody.
        assignee = {"all": None, "mine": "me", "unassigned": "none"}[self.filter]
        self.loading = True
        try:
            queue = await console.api.queue(limit=QUEUE_LIMIT, assignee=assignee)
        except ApiError as exc:
            self.error = exc.reason
            self.loading = False
            self.show_data(console.clock())
            return
        self.loading = False
        self.error = ""
        self.queue = queue
        self.fetched_at = console.clock()
        console.triage.take_all(item.state for item in queue.items)
        if self.filter == "all":
            console.triage.pending = queue.pending
            console.triage.breached = queue.breached
        self.show_data(console.clock())

    def action_filter(self, which: Literal["mine", "unassigned"]) -> None:
        self.filter = "all" if self.filter == which else which
        self.action_reload()

    def waiting(self, item: TriageQueueItem, now: float) -> float:
        """Seconds it has waited: the hub's count, and the time since it was fetched
        while nobody has responded."""
        if item.state.first_response_at is not None:
            return item.waiting_seconds
        return item.waiting_seconds + max(0.0, now - self.fetched_at)

    def show_data(self, now: float) -> None:
        console = self.console
        table = self.table
        queue = self.queue
        filt = {"all": "all", "mine": "mine", "unassigned": "unassigned"}[self.filter]
        if queue is None:
            note = self.error or ("loading…" if self.loading else "")
            self.set_caption(Text(f"queue · {filt} · {note}"))
            table.fill([])
            return
        rows: list[Row] = []
        target = queue.target_seconds
        breached = 0
        for item in queue.items:
            mention = item.mention
            state = console.triage.state_of(mention.id, item.state)
            waited = self.waiting(item, now)
            late = item.breached or (
                target > 0
                and waited > target
                and state is not None
                and state.first_response_at is None
            )
            breached += late
            clock = Text(response_clock(waited, target), table.part("breached" if late else "ok"))
            owner = state.assignee if state is not None and state.assignee else "—"
            category = state.category if state is not None else mention.category
            rows.append(
                (
                    mention.id,
                    [
                        Text("⚠", table.part("breached"))
                        if late
                        else Text("·", table.part("muted")),
                        clock,
                        status_cell(table, state),
                        Text(owner, "bold" if owner == console.me else ""),
                        category_name(category),
                        mention.source,
                        mention.author,
                        one_line(mention.text),
                    ],
                )
            )
        table.fill(rows)
        caption = Text()
        caption.append(f"{queue.pending:,}", "bold")
        caption.append(" waiting · ")
        if breached or queue.breached:
            caption.append(f" ⚠ {max(breached, queue.breached)} BREACHED ", table.part("breached"))
            caption.append(" · ")
        caption.append(f"target {short_duration(target)} · showing {filt}")
        if self.error:
            caption.append(f" · ✖ {self.error}", table.part("breached"))
        self.set_caption(caption)

    def selected_mention(self) -> str | None:
        return self.table.selected_key

    def action_open(self) -> None:
        key = self.table.selected_key
        if key is not None:
            self.console.open_detail(key)

    def action_triage(self, action: str) -> None:
        self.console.triage_selected(action)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()


# --------------------------------------------------------------------------- search


class SearchView(ConsoleView):
    """Stored mentions matching a search, newest first, a page at a time."""

    NAME = "search"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Detail", show=False, tooltip="the mention in full"),
        *MENTION_KEYS,
        Binding("m", "more", "More", tooltip="the next page (also: scroll to the end)"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="fetch it again"),
    ]
    COLS: ClassVar[list[Col]] = [
        Col("time", 11),
        Col("source", 9, 90),
        Col("author", 14),
        Col("", 1),
        Col("reach", 5, 110),
        Col("brands", 12, 120),
        Col("class", 15, 140),
        Col("status", 9, 100),
        Col("mention"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.range = TimeRange()
        self.origin = ""
        self.items: list[Mention] = []
        self.next: str | None = None
        self.scanned = 0
        self.took_ms = 0.0
        self.loading = False
        self.error = ""
        self.searches = 0
        """Searches answered (tests wait on it)."""
        self.page_size = PAGE_SIZE

    def compose(self) -> ComposeResult:
        yield self.caption()
        yield ConsoleTable(self.COLS, id="search-table")

    @property
    def table(self) -> ConsoleTable:
        return self.query_one("#search-table", ConsoleTable)

    def start(self, query: str, time_range: TimeRange, origin: str = "") -> None:
        """Run a new search (the caller has checked the query and range)."""
        self.query_text = query
        self.range = time_range
        self.origin = origin
        self.items = []
        self.next = None
        self.error = ""
        self.loading = True
        self.show_data(self.console.clock())
        self.console.background(partial(self._fetch, None), group="search", exclusive=True)

    def action_reload(self) -> None:
        if self.query_text or self.range.text:
            self.start(self.query_text, self.range, self.origin)

    def action_more(self) -> None:
        if self.next is None or self.loading:
            if not self.loading and self.items:
                self.console.notify("no more mentions", timeout=2)
            return
        self.loading = True
        self.show_data(self.console.clock())
        self.console.background(partial(self._fetch, self.next), group="search", exclusive=True)

    async def _fetch(self, before: str | None) -> None:
        console = self.console
        try:
            page: SearchPage = await console.api.search(
                self.query_text,
                since=self.range.since,
                until=self.range.until,
                before=before,
                limit=self.page_size,
            )
        except ApiError as exc:
            self.loading = False
            self.error = exc.reason
            self.show_data(console.clock())
            if exc.status == 400:
                console.search_refused(self.query_text, self.range.text, exc.reason)
            else:
                console.notify(f"search failed: {exc.reason}", severity="error")
            self.searches += 1
            return
        self.loading = False
        self.items = [*self.items, *page.items] if before is not None else list(page.items)
        self.next = page.next
        self.scanned = page.scanned
        self.took_ms = page.took_ms
        self.searches += 1
        self.show_data(console.clock())

    def show_data(self, now: float) -> None:
        console = self.console
        table = self.table
        rows: list[Row] = []
        for mention in self.items:
            state = console.triage.get(mention.id)
            rows.append(
                (
                    mention.id,
                    [
                        when(created(mention), console.tz, now),
                        mention.source,
                        Text(mention.author, "bold"),
                        Text(
                            sentiment_glyph(mention.sentiment_label),
                            table.part(mention.sentiment_label or "neutral"),
                        ),
                        f"{abbreviate(mention.author_reach):>5}",
                        ", ".join(mention.brands),
                        category_name(state.category if state else mention.category),
                        # A mention nobody must look at, and nobody did, has no status.
                        status_cell(table, state)
                        if state is not None or mention.needs_review
                        else Text("—", table.part("muted")),
                        one_line(mention.text),
                    ],
                )
            )
        table.fill(rows)
        caption = Text()
        caption.append("/ ", table.part("muted"))
        caption.append(self.query_text or "(everything)", "bold")
        caption.append(f"  {self.range.text or 'all'}", table.part("muted"))
        caption.append(" · ")
        if self.error:
            caption.append(f"✖ {self.error}", table.part("breached"))
        elif self.loading:
            caption.append("searching…")
        elif not self.items and not self.query_text and not self.range.text:
            caption.append("press / to search")
        else:
            more = " · m: more" if self.next else " · all shown"
            caption.append(f"{len(self.items):,} mentions{more}")
            if self.scanned:
                caption.append(
                    f" · scanned {self.scanned:,} in {self.took_ms:.0f} ms", table.part("muted")
                )
        self.set_caption(caption)

    def selected_mention(self) -> str | None:
        return self.table.selected_key

    def action_open(self) -> None:
        key = self.table.selected_key
        if key is not None:
            self.console.open_detail(key)

    def action_triage(self, action: str) -> None:
        self.console.triage_selected(action)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Scrolling onto the last row pages in the next ones.
        if event.cursor_row >= len(self.items) - 1 and self.next is not None and not self.loading:
            self.action_more()


# --------------------------------------------------------------------------- detail


class DetailView(ConsoleView):
    """One mention in full: text, author, numbers, enrichment, copies, triage history."""

    NAME = "detail"
    BINDINGS: ClassVar[list[BindingType]] = [
        *MENTION_KEYS,
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="fetch it again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.mention_id: str | None = None
        self.detail: MentionDetail | None = None
        self.error = ""
        self.loads = 0
        """Details answered (tests wait on it)."""
        self._shown: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield self.caption()
        with VerticalScroll(id="detail-scroll"):
            yield Static("", id="detail-body")

    @property
    def focus_target(self) -> Any:
        return self.query_one("#detail-scroll")

    def load(self, mention_id: str) -> None:
        if mention_id != self.mention_id:
            self.detail = None
        self.mention_id = mention_id
        self.error = ""
        self.show_data(self.console.clock())
        self.console.background(partial(self._fetch, mention_id), group="detail", exclusive=True)

    def action_reload(self) -> None:
        if self.mention_id is not None:
            self.load(self.mention_id)

    async def _fetch(self, mention_id: str) -> None:
        console = self.console
        try:
            detail = await console.api.mention(mention_id)
        except ApiError as exc:
            self.error = exc.reason
            self.loads += 1
            self.show_data(console.clock())
            return
        if mention_id != self.mention_id:
            return
        self.detail = detail
        console.triage.take(detail.state)
        self.loads += 1
        self.show_data(console.clock())

    def selected_mention(self) -> str | None:
        return self.mention_id

    def action_triage(self, action: str) -> None:
        self.console.triage_selected(action)

    def show_data(self, now: float) -> None:
        known = self.console.triage.get(self.mention_id) if self.mention_id else None
        # Drawn again only when what it shows changed, not on every tick.
        shown = (self.mention_id, id(self.detail), self.error, known)
        if shown == self._shown:
            return
        self._shown = shown
        body = self.query_one("#detail-body", Static)
        if self.mention_id is None:
            self.set_caption("no mention chosen: press enter on one in the queue or a search")
            body.update("")
            return
        if self.detail is None:
            self.set_caption(
                Text(f"{self.mention_id} · {('✖ ' + self.error) if self.error else 'loading…'}")
            )
            body.update("")
            return
        self.set_caption(Text.assemble((self.mention_id, "bold"), ("  esc: back", "dim")))
        body.update(render_detail(self.detail, known, self.console.tz, now))


def render_detail(
    detail: MentionDetail, known: TriageState | None, tz: tzinfo | None, now: float
) -> RenderableType:
    """A mention and everything known about it, as one renderable."""
    m = detail.mention
    state = known or detail.state
    head = Text()
    head.append(m.author or "(no author)", "bold")
    head.append(f" on {m.source}", "dim")
    if m.author_reach:
        head.append(f" · {abbreviate(m.author_reach)} followers")
    head.append(f" · {datetime.fromtimestamp(created(m), tz).strftime('%Y-%m-%d %H:%M:%S')}")
    text = Text(m.text)
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")

    def add(name: str, value: RenderableType | str) -> None:
        if value:
            fields.add_row(name, value)

    e = m.engagement
    add("link", Text(m.url, style=Style(link=m.url) if m.url else ""))
    add("language", m.lang or "unknown")
    glyph = sentiment_glyph(m.sentiment_label)
    add("sentiment", f"{glyph} {m.sentiment_label or 'neutral'} ({m.sentiment:+.2f})")
    add(
        "engagement",
        f"{e.likes:,} likes · {e.reposts:,} reposts · {e.replies:,} replies · {e.quotes:,} quotes",
    )
    add("brands", ", ".join(m.brands) or "—")
    add("queries", ", ".join(m.queries) or "—")
    confidence = f" ({percent(m.category_confidence)} sure)" if m.category else ""
    review = " · needs review" if m.needs_review else ""
    add("class", f"{category_name(m.category)}{confidence}{review}")
    add("flags", Text(" · ".join(m.flags), "bold") if m.flags else "—")
    add("terms", " ".join(m.terms[:12]))
    if detail.original is not None:
        o = detail.original
        add("copy of", f"{o.id} by {o.author}: {fit(one_line(o.text), 120)}")
    elif m.copy_of:
        add("copy of", m.copy_of)
    if detail.copies_total:
        shown = ", ".join(f"{c.author or c.id} ({c.source})" for c in detail.copies[:8])
        more = f" and {detail.copies_total - 8} more" if detail.copies_total > 8 else ""
        add("copies", f"{detail.copies_total:,}: {shown}{more}")
    else:
        add("copies", "none")
    triage = Table.grid(padding=(0, 2))
    triage.add_column(style="bold", no_wrap=True)
    triage.add_column(overflow="fold")
    if state is not None:
        word = STATUS_WORD.get(state.status, state.status.upper())
        owner = f" · owner {state.assignee}" if state.assignee else " · no owner"
        by = "rules" if state.category_by == "rules" else "a person"
        triage.add_row("status", Text.assemble((word, "bold reverse"), owner))
        triage.add_row("class", f"{category_name(state.category)} (by {by})")
        if state.first_response_at is not None:
            waited = max(0.0, state.first_response_at - m.received_at) if m.received_at else None
            after = f" (after {duration(waited)})" if waited is not None else ""
            triage.add_row("first response", clock_time(state.first_response_at, tz) + after)
    history = Table.grid(padding=(0, 2))
    history.add_column(no_wrap=True, style="dim")
    history.add_column(no_wrap=True, style="bold")
    history.add_column(overflow="fold")
    for step in detail.history:
        what = step.action
        extra = step.label or step.assignee or ""
        history.add_row(
            when(step.at, tz, now),
            step.actor or "?",
            f"{what}{(' ' + extra) if extra else ''}{(': ' + step.note) if step.note else ''}",
        )
    parts: list[RenderableType] = [
        head,
        Text(""),
        text,
        Text(""),
        fields,
        Text(""),
        Text("TRIAGE", "bold underline"),
        triage,
    ]
    if detail.history:
        parts += [Text(""), Text("HISTORY", "bold underline"), history]
    else:
        parts += [Text("no one has acted on it yet", "italic")]
    return Group(*parts)


# --------------------------------------------------------------------------- history

Bucket = Literal["hour", "day", "week"]
#: The range each bucket shows until one is chosen.
DEFAULT_RANGE: dict[str, str] = {"hour": "48h", "day": "30d", "week": "26w"}


def bucket_label(at: float, by: str, tz: tzinfo | None) -> str:
    moment = datetime.fromtimestamp(at, tz)
    return moment.strftime("%m-%d %H:00" if by == "hour" else "%m-%d")


def history_series(history: History) -> tuple[list[str], list[float], list[Series], list[Series]]:
    """(brands, bucket times, share-of-voice series, negative-share series)."""
    times = sorted({r.at for r in history.rows})
    brands = list(history.brands) or sorted({r.brand for r in history.rows})
    for row in history.rows:
        if row.brand not in brands:
            brands.append(row.brand)
    index = {t: i for i, t in enumerate(times)}
    # A bucket nobody spoke in has no share of voice (a gap, not a fall to 0%); a
    # brand nobody spoke of has no negative share.
    sov: dict[str, list[float | None]] = {b: [None] * len(times) for b in brands}
    neg: dict[str, list[float | None]] = {b: [None] * len(times) for b in brands}
    spoken = {r.at for r in history.rows if r.mentions}
    for row in history.rows:
        at = row.at
        i = index[at]
        sov[row.brand][i] = row.share_of_voice if at in spoken else None
        neg[row.brand][i] = row.negative_share if row.mentions else None
    return (
        brands,
        times,
        [Series(b, sov[b]) for b in brands],
        [Series(b, neg[b]) for b in brands],
    )


class HistoryView(ConsoleView):
    """Share of voice against the competitors, and negative share per brand, over time."""

    NAME = "history"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "by('hour')", "Hour", tooltip="by hour"),
        Binding("d", "by('day')", "Day", tooltip="by day"),
        Binding("w", "by('week')", "Week", tooltip="by week"),
        Binding("t", "range", "Range", tooltip="the time range (48h, 30d, 26w, from..to)"),
        Binding("x", "export", "CSV", tooltip="export the shown table to a CSV file here"),
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="fetch it again"),
    ]
    COLS: ClassVar[list[Col]] = [
        Col("bucket", 11),
        Col("brand", 12),
        Col("mentions", 9),
        Col("negative", 9),
        Col("neg. share", 10),
        Col("share of voice"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.by: Bucket = "day"
        self.range_choice = ""
        """The range someone chose (t); empty: the bucket's default."""
        self.range = TimeRange()
        self.history: History | None = None
        self.error = ""
        self.loads = 0
        self.exported: str | None = None

    def compose(self) -> ComposeResult:
        yield self.caption()
        with Horizontal(id="history-charts"):
            yield BrandChart("SHARE OF VOICE", id="chart-sov")
            yield BrandChart("NEGATIVE SHARE", id="chart-negative")
        yield ConsoleTable(self.COLS, id="history-table")

    @property
    def table(self) -> ConsoleTable:
        return self.query_one("#history-table", ConsoleTable)

    def entered(self) -> None:
        if self.history is None:
            self.action_reload()

    def current_range(self) -> TimeRange:
        text = self.range_choice or DEFAULT_RANGE[self.by]
        return parse_range(text, self.console.clock(), self.console.tz)

    def set_range(self, text: str) -> str | None:
        """Choose a range; the reason it is bad, or None once it is fetching."""
        try:
            parse_range(text, self.console.clock(), self.console.tz)
        except ValueError as exc:
            return str(exc)
        self.range_choice = text.strip()
        self.action_reload()
        return None

    def action_by(self, by: Bucket) -> None:
        self.by = by
        self.action_reload()

    def action_range(self) -> None:
        self.console.ask_history_range(self.range_choice or DEFAULT_RANGE[self.by])

    def action_reload(self) -> None:
        self.range = self.current_range()
        self.console.background(self._fetch, group="history", exclusive=True)

    async def _fetch(self) -> None:
        console = self.console
        try:
            history = await console.api.history(
                self.by, since=self.range.since, until=self.range.until
            )
        except ApiError as exc:
            self.error = exc.reason
            self.loads += 1
            console.notify(f"history: {exc.reason}", severity="error")
            self.show_data(console.clock())
            return
        self.error = ""
        self.loads += 1
        if history != self.history:
            self.history = history
            self._draw_charts()
        self.show_data(console.clock())

    def _draw_charts(self) -> None:
        history = self.history
        if history is None:
            return
        _brands, times, sov, neg = history_series(history)
        tz = self.console.tz
        first = bucket_label(times[0], history.by, tz) if times else ""
        last = bucket_label(times[-1], history.by, tz) if len(times) > 1 else ""
        note = "no mentions in this range"
        top_sov = max((v or 0.0 for s in sov for v in s.values), default=0.0)
        top_neg = max((v or 0.0 for s in neg for v in s.values), default=0.0)
        self.query_one("#chart-sov", BrandChart).show(
            sov, first=first, last=last, top=_nice_top(top_sov), note=note
        )
        self.query_one("#chart-negative", BrandChart).show(
            neg, first=first, last=last, top=_nice_top(top_neg), note=note
        )

    def show_data(self, now: float) -> None:
        history = self.history
        table = self.table
        caption = Text()
        caption.append(f"by {self.by}", "bold")
        text = self.range_choice or DEFAULT_RANGE[self.by]
        caption.append(f" · {text}")
        since, until = self.range.since, self.range.until
        if since is not None:
            tz = self.console.tz
            start = datetime.fromtimestamp(since, tz).strftime("%Y-%m-%d %H:%M")
            end = datetime.fromtimestamp(until, tz).strftime("%Y-%m-%d %H:%M") if until else "now"
            caption.append(f" ({start} → {end})", table.part("muted"))
        if self.error:
            caption.append(f" · ✖ {self.error}", table.part("breached"))
        elif history is None:
            caption.append(" · loading…")
        else:
            buckets = len({r.at for r in history.rows})
            caption.append(f" · {buckets} buckets")
        self.set_caption(caption)
        rows: list[Row] = []
        if history is not None:
            tz = self.console.tz
            order = {brand: i for i, brand in enumerate(history.brands)}
            newest_first = sorted(
                history.rows, key=lambda r: (-r.at, order.get(r.brand, 99), r.brand)
            )
            # A share of nothing is not 0%: buckets (or brands) without mentions say "-".
            spoken = {r.at for r in history.rows if r.mentions}
            for row in newest_first:
                rows.append(
                    (
                        f"{history.by}\t{row.at}\t{row.brand}",
                        [
                            bucket_label(row.at, history.by, tz),
                            Text(row.brand, "bold"),
                            f"{row.mentions:>8,}",
                            f"{row.negative:>8,}",
                            f"{percent(row.negative_share) if row.mentions else '-':>6}",
                            partial(share_cell, table, row.share_of_voice)
                            if row.at in spoken
                            else f"{'-':>4}",
                        ],
                    )
                )
        table.fill(rows)

    def action_export(self) -> None:
        self.console.background(self._export, group="export")

    async def _export(self) -> None:
        console = self.console
        try:
            csv = await console.api.history_csv(
                self.by, since=self.range.since, until=self.range.until
            )
        except ApiError as exc:
            console.notify(f"export failed: {exc.reason}", severity="error")
            return
        stamp = datetime.fromtimestamp(console.clock(), console.tz).strftime("%Y%m%d-%H%M%S")
        path = console.export_dir / f"groundcontrol-history-{self.by}-{stamp}.csv"
        try:
            path.write_text(csv, encoding="utf-8")
        except OSError as exc:
            console.notify(f"export failed: {exc.strerror or exc}", severity="error")
            return
        self.exported = str(path)
        console.notify(f"exported {len(csv.splitlines()) - 1} rows to {path}", title="CSV")


def _nice_top(value: float) -> float:
    """A round top for a share axis: 10%, 20%, 50% or 100% (halves read well too)."""
    for top in (0.1, 0.2, 0.5):
        if value <= top:
            return top
    return 1.0


ALL_VIEWS: tuple[Callable[[], ConsoleView], ...] = (
    IncidentsView,
    TopicsView,
    SourcesView,
    BrandsView,
    AuthorsView,
    QueueView,
    SearchView,
    HistoryView,
    DetailView,
)
