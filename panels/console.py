"""The analyst console: the wall's client, with a keyboard, for the people who act.

``groundcontrol console --hub URL`` with an analyst token. Where the wall is for a big
screen nobody touches, the console is k9s-like: views reached by ``:`` and a name
(tab completes it), by the command palette (ctrl+p) or by a number key; Enter drills
from an incident, a signal, a topic, a source, a brand or an author into the stored
mentions behind it (a search the analyst can read and edit), and from a mention into
everything known about it; keys triage the selected mention and act on incidents; Esc
goes back. ``?`` lists the keys of the view on screen. Everything has a mouse way too:
tabs and footer keys are clickable, a row opens on a second click.

Live data comes as on the wall: one worker folds the hub's stream into a
:class:`~panels.state.WallState` and a timer redraws the view on screen from it.
The stream's ``triage`` messages (any console's actions) go into a
:class:`~panels.console_model.TriageBook`, so an action shows at once on every
console. What is not in the stream (search, the queue, history, one mention) comes
from :class:`~groundcontrol.client.api.HubApi` in workers: a slow or gone hub shows in
the status line and in notifications, and never freezes a key.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import ClassVar, Literal, TypeVar, cast

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Input, LoadingIndicator

from groundcontrol.client.api import ApiError, HubApi
from groundcontrol.client.stream import Access, StreamClient, StreamEvent, stream_url
from groundcontrol.config import CONSOLE_LAYOUT, LayoutConfig, shipped_layouts
from groundcontrol.model import CATEGORIES
from groundcontrol.protocol import TriageActionName, TriageEvent
from groundcontrol.query import QuerySyntaxError, parse_search
from panels.app import WallScreen, hub_label_for
from panels.console_dialogs import (
    CommandLine,
    ConsoleCommands,
    KeysScreen,
    PickScreen,
    PromptScreen,
    SearchBar,
    ViewBar,
)
from panels.console_model import (
    VIEWS,
    Drill,
    TriageBook,
    parse_range,
    view_named,
)
from panels.console_views import (
    ALL_VIEWS,
    ConsoleView,
    DetailView,
    HistoryView,
    IncidentsView,
    QueueView,
    SearchView,
)
from panels.listing import category_name
from panels.oncall import act_on_incident
from panels.pacing import pace
from panels.palette import use_palette
from panels.state import Applied, WallState, follow_stream
from panels.status import StatusBar

log = logging.getLogger(__name__)

V = TypeVar("V", bound=ConsoleView)

EventSource = Callable[[], AsyncIterator[StreamEvent]]

#: Seconds between redraws of the view on screen.
REFRESH_INTERVAL = 0.5
#: Seconds between counts of the triage queue for its tab (triage messages count sooner).
QUEUE_COUNT_INTERVAL = 30.0
#: How many views Esc can go back through.
BACK_DEPTH = 20


def search_problem(query: str) -> str | None:
    """Why a search string is not valid (the search syntax's own parser, here, before the
    hub is asked); None when it is."""
    if not query.strip():
        return None
    try:
        parse_search(query)
    except QuerySyntaxError as exc:
        return str(exc)
    return None


class StillLoading(LoadingIndicator):
    """Textual's loading indicator, drawn once: with animations off it says
    "Loading..." but still repaints 16 times a second, which a slow link pays for."""

    def on_mount(self) -> None:
        # After LoadingIndicator's own mount handler (run after this one), which sets it.
        self.call_later(self._hold_still)

    def _hold_still(self) -> None:
        self.auto_refresh = None


class ConsoleScreen(Screen[None]):
    """Status line, tabs, the views, the command line and search bar, the footer."""

    def __init__(self, *, hub_label: str, tz: tzinfo | None) -> None:
        super().__init__(id="console")
        self.hub_label = hub_label
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield StatusBar(hub_label=self.hub_label, tz=self.tz, id="status")
        yield ViewBar(id="view-bar")
        with ContentSwitcher(initial="view-incidents", id="views"):
            for make in ALL_VIEWS:
                yield make()
        yield SearchBar(id="search-bar")
        yield CommandLine(id="command-line")
        yield Footer(id="footer")


class OverviewScreen(WallScreen):
    """``o``: the ``console`` layout's scenes (config/layouts.toml; a site may replace
    it), drawn by the wall's panels from the console's own state. Tab: next scene."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,o,q", "app.pop_screen", "Back"),
        Binding("tab", "next_scene", "Next scene", priority=True),
    ]

    def action_next_scene(self) -> None:
        names = [scene.name for scene in self.wall_layout.scenes]
        self.show_scene(names[(names.index(self.scene) + 1) % len(names)])
        app = self.app
        if isinstance(app, ConsoleApp):
            app.refresh_now(force=True)

    def label(self, *, short: bool = False) -> str:
        """Where the overview is, for the status line: ``overview brands 1/2``
        (short: ``1/2 brands``)."""
        names = [scene.name for scene in self.wall_layout.scenes]
        where = f"{names.index(self.scene) + 1}/{len(names)}"
        return f"{where} {self.scene}" if short else f"overview {self.scene} {where}"


class ConsoleApp(App[None]):
    """Ground Control's analyst console."""

    CSS_PATH = ["wall.tcss", "incidents.tcss", "console.tcss"]  # noqa: RUF012 (as App declares it)
    TITLE = "Ground Control console"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [  # noqa: RUF012 (as App declares it)
        (0, "-compact"),
        (120, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "keys", "Keys"),
        Binding("colon", "command_line", "View", show=False),
        Binding("slash", "search", "Search"),
        Binding("escape", "go_back", "Back", show=False),
        Binding("q", "quit", "Quit", show=False),
        Binding("o", "overview", "Overview"),
        *(
            Binding(view.key, f"show_view('{view.name}')", view.name.capitalize(), show=False)
            for view in VIEWS
        ),
    ]

    def __init__(
        self,
        events: EventSource,
        api: HubApi,
        *,
        hub_label: str,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        me: str = "",
        refresh_interval: float = REFRESH_INTERVAL,
        export_dir: Path | None = None,
        low_bandwidth: bool = False,
        overview: LayoutConfig | None = None,
    ) -> None:
        """Build a console.

        Args:
            events: Starts the stream (``StreamClient.events``): reconnects by itself.
            api: The hub's HTTP API, with the analyst's token.
            hub_label: Short name of the hub for the status line.
            clock: Wall-clock time source (tests fix it).
            tz: Zone for times shown and typed (None: the local zone).
            me: The analyst's name on the hub (their token's name), for "mine";
                learnt from the hub's answer to the first action when not given.
            refresh_interval: Seconds between redraws.
            export_dir: Where ``x`` writes CSV files (default: the working directory).
            low_bandwidth: For slow links (SSH): what the stream brings redraws at
                most once a second (the last state always), and nothing moves by
                itself (no Textual animations or loading spinners, no blinking
                cursor). Keys still answer at once.
            overview: The scenes ``o`` shows (None: the shipped ``console`` layout).
        """
        super().__init__()
        self.events = events
        self.api = api
        self.hub_label = hub_label
        self.clock = clock
        self.tz = tz
        self.me = me
        self.low_bandwidth = low_bandwidth
        self.pacer, self.refresh_interval = pace(
            self,
            self._paced_redraw,
            low_bandwidth=low_bandwidth,
            clock=clock,
            refresh_interval=refresh_interval,
            name="console-paced",
        )
        """Every redraw the stream or the timer asks for goes through the pacer."""
        self._force_owed = False
        self.export_dir = export_dir or Path.cwd()
        self.state = WallState()
        self.triage = TriageBook()
        self.current = "incidents"
        self.back: list[str] = []
        self.main = ConsoleScreen(hub_label=hub_label, tz=tz)
        self.overview_layout = overview or next(
            layout for layout in shipped_layouts() if layout.name == CONSOLE_LAYOUT
        )
        self._overview_version = -1
        self._shown: tuple[int, int, str] = (-1, -1, "")
        self.triage_events = 0
        """Triage messages folded from the stream (tests wait on it)."""
        self.actions_done = 0
        """Triage and incident actions the hub answered, refused ones included."""

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def on_ready(self) -> None:
        self.show_view("incidents", remember=False)
        self.pacer.request()
        self.set_interval(self.refresh_interval, self.pacer.request, name="console-refresh")
        self.run_worker(self._consume(), name="stream", exclusive=True, exit_on_error=False)
        self._count_queue()
        self.set_interval(QUEUE_COUNT_INTERVAL, self._count_queue, name="queue-count")

    def _count_queue(self) -> None:
        """What waits, for the queue's tab: its length and how many are past the target."""

        async def count() -> None:
            try:
                queue = await self.api.queue(limit=1)
            except ApiError:
                return  # the status line and the views say what is wrong
            self.triage.pending = queue.pending
            self.triage.breached = queue.breached

        self.background(count, group="queue-count", exclusive=True)

    async def on_unmount(self) -> None:
        await self.api.close()

    # ------------------------------------------------------------------ the stream

    async def _consume(self) -> None:
        await follow_stream(self.events, self.state, self.clock, self._on_event, self.pacer.request)

    def _on_event(self, event: StreamEvent, applied: Applied) -> None:
        if isinstance(event, TriageEvent):
            self._fold_triage(event)
        elif applied.urgent:
            self.pacer.request()

    def _fold_triage(self, event: TriageEvent) -> None:
        """Someone (here or on another console) acted on a mention: show it now."""
        self.triage_events += 1
        self.triage.take(event.state)
        if event.pending >= 0:
            self.triage.pending = event.pending
        if self.current == "queue":
            self.view_of(QueueView).soon()
        detail = self.view_of(DetailView)
        if self.current == "detail" and detail.mention_id == event.mention_id:
            detail.load(event.mention_id)
        self._force_owed = True
        self.pacer.request()

    def _paced_redraw(self) -> None:
        force, self._force_owed = self._force_owed, False
        self.refresh_now(force=force)

    def get_loading_widget(self) -> Widget:
        # A view fetching (the queue, a search) shows this over itself.
        return StillLoading() if self.low_bandwidth else super().get_loading_widget()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # A blinking cursor repaints twice a second: not on a low-bandwidth link.
        if self.low_bandwidth and isinstance(event.widget, Input):
            event.widget.cursor_blink = False

    def background(
        self,
        work: Callable[[], Coroutine[None, None, None]],
        *,
        group: str,
        exclusive: bool = False,
    ) -> None:
        """Run ``work`` in a worker: a request never blocks a key. Given as a function,
        not a coroutine, so one cancelled before it started leaves nothing behind."""
        # Textual's WorkType unions a coroutine function with any callable, which mypy
        # cannot solve for the result type.
        self.run_worker(work, group=group, exclusive=exclusive, exit_on_error=False)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ drawing

    def view(self, name: str) -> ConsoleView:
        """The view called ``name``."""
        return self.main.query_one(f"#view-{name}", ConsoleView)

    def view_of(self, kind: type[V]) -> V:
        """The one view of class ``kind``."""
        return self.main.query_one(f"#view-{kind.NAME}", kind)

    def refresh_now(self, *, force: bool = False) -> None:
        """Redraw the status line, the tabs and the view on screen."""
        if not self.main.is_mounted:
            return
        now = self.clock()
        if isinstance(self.screen, OverviewScreen):
            self._show_overview(self.screen, now, force=force)
            return
        try:
            with self.batch_update():
                status = self.main.query_one(StatusBar)
                status.scene_label = f":{self.current}"
                status.scene_label_short = f":{self.current}"
                status.show(self.state, now)
                badges: dict[str, str] = {}
                pending = self.triage.pending
                if pending is not None and pending >= 0:
                    late = self.triage.breached
                    badges["queue"] = f"{pending}" + (f" ⚠{late}" if late else "")
                live = sum(
                    1 for i in self.state.incidents() if i.status in ("open", "acknowledged")
                )
                if live:
                    badges["incidents"] = str(live)
                compact = self.size.width < 120
                self.main.query_one(ViewBar).show(self.current, compact=compact, badges=badges)
                view = self.view(self.current)
                shown = (self.state.version, self.triage.version, self.current)
                if force or shown != self._shown or view.TIME_DEPENDENT:
                    view.show_data(now)
                self._shown = shown
        except NoMatches:
            return

    # ------------------------------------------------------------------ views

    def show_view(self, name: str, *, remember: bool = True) -> None:
        """Put view ``name`` on screen (Esc comes back here when ``remember``)."""
        if remember and name != self.current:
            self.back = [*self.back, self.current][-BACK_DEPTH:]
        self.current = name
        self.main.query_one("#views", ContentSwitcher).current = f"view-{name}"
        view = self.view(name)
        view.entered()
        self.refresh_now(force=True)
        self.focus_view()

    def focus_view(self) -> None:
        with contextlib.suppress(NoMatches):
            self.view(self.current).focus_target.focus()

    def action_show_view(self, name: str) -> None:
        self.show_view(name)

    def action_go_back(self) -> None:
        """Esc: back to the view before (a drill-down's origin)."""
        if self.back:
            previous = self.back.pop()
            self.show_view(previous, remember=False)

    def action_command_line(self) -> None:
        self.main.query_one(SearchBar).display = False
        self.main.query_one(CommandLine).open()

    @on(CommandLine.Run)
    def _command(self, event: CommandLine.Run) -> None:
        text = event.text.strip().lstrip(":").strip()
        if text in ("q", "quit"):
            self.exit()
            return
        if text in ("keys", "help", "?"):
            self.action_keys()
            return
        if text == "back":
            self.action_go_back()
            return
        view = view_named(text)
        if view is None:
            self.notify(
                f"no view {text!r}: try " + ", ".join(v.name for v in VIEWS), severity="warning"
            )
            self.focus_view()
            return
        self.show_view(view.name)

    # ------------------------------------------------------------------ search

    def action_search(self) -> None:
        """/ : a search string and a time range."""
        search = self.view_of(SearchView)
        self.main.query_one(CommandLine).display = False
        self.main.query_one(SearchBar).open(search.query_text, search.range.text or "24h")

    @on(SearchBar.Run)
    def _search(self, event: SearchBar.Run) -> None:
        bar = self.main.query_one(SearchBar)
        problem = self.search(event.query, event.range_text)
        if problem:
            bar.show_error(problem)
            return
        bar.display = False
        self.focus_view()

    def search(self, query: str, range_text: str, *, origin: str = "") -> str | None:
        """Search, on the search view; the reason when the query or range is bad
        (checked here first, so a typo costs no round trip)."""
        try:
            time_range = parse_range(range_text, self.clock(), self.tz)
        except ValueError as exc:
            return f"time range: {exc}"
        problem = search_problem(query)
        if problem:
            return f"query: {problem}"
        search = self.view_of(SearchView)
        search.start(query.strip(), time_range, origin)
        if self.current != "search":
            self.show_view("search")
        return None

    def search_refused(self, query: str, range_text: str, reason: str) -> None:
        """The hub refused a search (400): reopen the bar with its reason."""
        self.notify(f"search refused: {reason}", severity="error")
        self.main.query_one(SearchBar).open(query, range_text, reason)

    def drill(self, drill: Drill) -> None:
        """Open the mentions behind something (Esc comes back)."""
        problem = self.search(drill.query, drill.range, origin=drill.origin)
        if problem:
            self.notify(problem, severity="error")

    def open_detail(self, mention_id: str) -> None:
        detail = self.view_of(DetailView)
        detail.load(mention_id)
        self.show_view("detail")

    # ------------------------------------------------------------------ triage

    def selected_mention(self) -> str | None:
        return self.view(self.current).selected_mention()

    def triage_selected(self, action: str) -> None:
        """A triage key: act on the selected mention (asking first where it needs to)."""
        mention_id = self.selected_mention()
        if mention_id is None:
            self.notify("select a mention first (queue, search or detail)", severity="warning")
            return
        if action == "assign":
            self.push_screen(
                PromptScreen(f"Assign {mention_id} to", placeholder="a name"),
                lambda name: self._triage_with(mention_id, "assign", assignee=name),
            )
        elif action == "note":
            self.push_screen(
                PromptScreen(f"Note on {mention_id}", placeholder="what you found or did"),
                lambda note: self._triage_with(mention_id, "note", note=note),
            )
        elif action == "label":
            state = self.triage.get(mention_id)
            options = [(c, category_name(c)) for c in CATEGORIES]
            self.push_screen(
                PickScreen(f"Class of {mention_id}", options, state.category if state else ""),
                lambda label: self._triage_with(mention_id, "label", label=label),
            )
        elif action in ("claim", "escalate", "resolve", "ignore"):
            self.triage_action(mention_id, cast(TriageActionName, action))
        else:
            self.notify(f"no triage action {action!r}", severity="error")

    def _triage_with(
        self,
        mention_id: str,
        action: TriageActionName,
        *,
        assignee: str | None = None,
        note: str | None = None,
        label: str | None = None,
    ) -> None:
        if assignee is None and note is None and label is None:
            return  # cancelled
        self.triage_action(
            mention_id, action, assignee=assignee or "", note=note or "", label=label or ""
        )

    def triage_action(
        self,
        mention_id: str,
        action: TriageActionName,
        *,
        assignee: str = "",
        note: str = "",
        label: str = "",
    ) -> None:
        """Send one triage action; the answer's state shows at once."""

        async def act() -> None:
            try:
                receipt = await self.api.triage(
                    mention_id, action, assignee=assignee, note=note, label=label
                )
            except ApiError as exc:
                self.actions_done += 1
                self.notify(f"{action} refused: {exc.reason}", severity="error", title="hub")
                return
            self.actions_done += 1
            if receipt.actor and not self.me:
                self.me = receipt.actor
            self.triage.take(receipt.state)
            self.notify(f"{action}: {mention_id} is {receipt.state.status}", timeout=3)
            if self.current == "detail":
                self.view_of(DetailView).load(mention_id)
            if self.current == "queue":
                self.view_of(QueueView).soon()
            self.refresh_now(force=True)

        self.background(act, group="triage")

    def incident_action(
        self, incident_id: str, action: Literal["ack", "snooze", "resolve"]
    ) -> None:
        """Acknowledge, snooze or resolve an incident; the stream shows it everywhere."""

        async def act() -> None:
            outcome = await act_on_incident(self.api, incident_id, action)
            self.actions_done += 1
            if outcome.ok:
                self.notify(outcome.line, timeout=3)
            else:
                self.notify(outcome.line, severity="error", title="hub")

        self.background(act, group="incident")

    # ------------------------------------------------------------------ history

    def ask_history_range(self, current: str) -> None:
        history = self.view_of(HistoryView)

        def check(text: str) -> str | None:
            try:
                parse_range(text, self.clock(), self.tz)
            except ValueError as exc:
                return str(exc)
            return None

        def chosen(text: str | None) -> None:
            if text:
                history.set_range(text)

        self.push_screen(
            PromptScreen(
                "History range", placeholder="48h, 30d, 26w, from..to", value=current, check=check
            ),
            chosen,
        )

    # ------------------------------------------------------------------ keys and palette

    def view_keys(self, name: str) -> list[tuple[str, str]]:
        """The keys of one view, as ``?`` lists them."""
        view = self.view(name)
        keys: list[tuple[str, str]] = []
        for binding in view._bindings.key_to_bindings.values():
            for b in binding:
                keys.append((b.key_display or self.get_key_display(b), b.tooltip or b.description))
        if name in ("incidents", "topics", "sources", "brands", "authors"):
            keys.append(("↑ ↓", "move; click a row, click it again to open it"))
        return keys

    def action_overview(self) -> None:
        """o: the overview (the ``console`` layout) over the views; Esc comes back."""
        if isinstance(self.screen, OverviewScreen):
            return
        self._overview_version = -1
        self.push_screen(
            OverviewScreen(hub_label=self.hub_label, tz=self.tz, layout=self.overview_layout),
            lambda _: self.refresh_now(force=True),
        )
        self.call_after_refresh(self.refresh_now, force=True)

    def _show_overview(self, overview: OverviewScreen, now: float, *, force: bool) -> None:
        version = self.state.version
        try:
            with self.batch_update():
                status = overview.query_one(StatusBar)
                status.scene_label = overview.label()
                status.scene_label_short = overview.label(short=True)
                changed = force or version != self._overview_version
                overview.show(self.state, now, data_changed=changed)
        except NoMatches:
            return
        self._overview_version = version

    def action_keys(self) -> None:
        """?: every key of the view on screen, then those that work everywhere."""
        everywhere = [
            (": name", "show a view (tab completes): " + " ".join(v.name for v in VIEWS)),
            ("1 … 9", " · ".join(f"{v.key} {v.name}" for v in VIEWS)),
            ("/", "search mentions: a search string and a time range (15m, 2h, 7d, from..to)"),
            ("o", "overview: brand tiles, incidents, volume, stories (tab: next scene)"),
            ("esc", "back to where you came from"),
            ("ctrl+p", "command palette: every view and action by name"),
            ("tab", "next table or field"),
            ("?", "these keys"),
            ("q", "quit"),
        ]
        sections = [
            (f"{self.current} view", self.view_keys(self.current)),
            ("everywhere", everywhere),
        ]
        self.push_screen(KeysScreen(f"Keys · {self.current}", sections))

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """Every view and action by name, for the command palette."""
        commands: list[tuple[str, str, Callable[[], object]]] = []
        for view in VIEWS:
            commands.append(
                (
                    f"view: {view.name}",
                    f"{view.about} (key {view.key})",
                    partial(self.show_view, view.name),
                )
            )
        commands += [
            ("search mentions", "a search string and a time range (/)", self.action_search),
            ("keys of this view", "every key of the view on screen (?)", self.action_keys),
            ("back", "to the view before (esc)", self.action_go_back),
        ]
        for action in ("claim", "assign", "label", "escalate", "resolve", "ignore", "note"):
            commands.append(
                (
                    f"triage: {action}",
                    f"{action} the selected mention (key {action[0]})",
                    partial(self.triage_selected, action),
                )
            )
        for action, key in (("ack", "k"), ("snooze", "s"), ("resolve", "R")):
            commands.append(
                (
                    f"incident: {action}",
                    f"{action} the selected incident (key {key}, incidents view)",
                    partial(self._incident_from_palette, action),
                )
            )
        for by in ("hour", "day", "week"):
            commands.append(
                (
                    f"history: by {by}",
                    f"share of voice by {by} (key {by[0]})",
                    partial(self._history_by, by),
                )
            )
        commands += [
            ("history: export CSV", "the shown table to a CSV file (x)", self._history_export),
            (
                "queue: mine",
                "only mentions assigned to you (m)",
                lambda: self._queue_filter("mine"),
            ),
            (
                "queue: unassigned",
                "only mentions nobody owns (u)",
                lambda: self._queue_filter("unassigned"),
            ),
            (
                "search: more",
                "the next page of results (m)",
                lambda: self.view_of(SearchView).action_more(),
            ),
        ]
        return commands

    def _incident_from_palette(self, action: str) -> None:
        if self.current != "incidents":
            self.show_view("incidents")
        self.view_of(IncidentsView).action_incident(
            cast(Literal["ack", "snooze", "resolve"], action)
        )

    def _history_by(self, by: str) -> None:
        self.show_view("history")
        self.view_of(HistoryView).action_by(cast(Literal["hour", "day", "week"], by))

    def _history_export(self) -> None:
        self.show_view("history")
        self.view_of(HistoryView).action_export()

    def _queue_filter(self, which: str) -> None:
        self.show_view("queue")
        self.view_of(QueueView).action_filter(cast(Literal["mine", "unassigned"], which))


def make_console(
    hub_url: str,
    *,
    access: Access | None = None,
    me: str = "",
    low_bandwidth: bool = False,
    theme: str = "default",
    overview: LayoutConfig | None = None,
) -> ConsoleApp:
    """The console for the hub at ``hub_url`` (http(s):// or ws(s)://), as the CLI runs it;
    ``low_bandwidth``: one redraw a second at most and no animation; ``theme``: its
    colours (panels/palette.py: "default" or "colourblind")."""
    client = StreamClient(stream_url(hub_url), access=access)
    api = HubApi(hub_url, access)
    app = ConsoleApp(
        client.events,
        api,
        hub_label=hub_label_for(hub_url),
        me=me,
        low_bandwidth=low_bandwidth,
        overview=overview,
    )
    use_palette(app, theme)
    return app
