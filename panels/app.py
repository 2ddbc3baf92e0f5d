"""The wall: a Textual app that shows a hub's stream on a big screen or over SSH.

One worker reads the hub's stream and folds every event into a :class:`WallState`;
nothing is posted to the UI per event. A timer redraws the panels from the state a
couple of times a second inside ``batch_update``, so screen work is O(panels), not
O(mentions). Two moments do not wait for the timer: a dropped link (the wall must
say so at once) and the first data after (re)connecting.

The scenes come from a layout in the config (groundcontrol/config.py,
``[[layouts]]``; the shipped ``wall`` is the overview and listening: stories,
influencers, triage, compliance, the most urgent incident explained). Each scene is
a grid of panels built by name (:func:`make_panel`) and sized from the layout; the
shipped wall's grids are drawn by hand in wall.tcss for every screen width. The
scenes live in one ``ContentSwitcher`` on one screen under one status bar, so there
is one refresh path and one freshness check for all, and an incident takeover (a
modal screen) lies over whichever scene is up.

A wall is a kiosk: no footer, no key hints, no command palette. Only the on-call
view over SSH is interactive (``api`` given, ``wall --act``): an
:class:`panels.oncall.ActionBar` at its foot names the incident its keys act on. It can save its
rotation (:class:`panels.scenes.RotationStore`) so a restart resumes it, and drift
the picture a cell every few minutes against burn-in (:meth:`WallScreen.drift`).

The takeover is decided per event: the state names a new incident that deserves the
screen, and the app shows it unless a more urgent one is up
(:func:`panels.takeover.replaces`), ringing the terminal bell when a card opens. A card
on screen follows its incident (escalated, acknowledged) and goes away once someone
snoozes or resolves it. The wall rotates between
them on its clock (:class:`panels.scenes.SceneRotation`); a key picks one and holds it.

``make_wall(hub_url)`` is the one factory, used by the CLI; tests build
``WallApp`` with a scripted event source and a fixed clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import tzinfo
from typing import ClassVar
from urllib.parse import urlsplit

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.css.query import NoMatches
from textual.geometry import Spacing
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher

from groundcontrol.client.api import HubApi
from groundcontrol.client.stream import Access, StreamClient, StreamEvent, stream_url
from groundcontrol.config import LayoutConfig, SceneConfig, shipped_layouts
from groundcontrol.protocol import Incident
from panels.base import Panel
from panels.briefing import BriefingBanner
from panels.compliance import CompliancePanel
from panels.explain import IncidentExplanationPanel
from panels.feeds import FeedsPanel
from panels.incidents import IncidentsPanel
from panels.influencers import InfluencersPanel
from panels.live import LivePanel
from panels.oncall import ONCALL_KEYS, ActionBar
from panels.pacing import pace
from panels.palette import use_palette
from panels.scenes import DEFAULT_ROTATE_SECONDS, HOLD_SECONDS, RotationStore, SceneRotation
from panels.sentiment import SentimentPanel
from panels.sources import SourcesPanel
from panels.state import RIVER_CAP, Applied, WallState, follow_stream
from panels.status import StatusBar
from panels.stories import StoriesPanel
from panels.takeover import DEFAULT_SECONDS, IncidentTakeover, replaces
from panels.tiles import BrandTilesPanel
from panels.topics import TopicsPanel
from panels.triage import TriagePanel
from panels.volume import VolumePanel

log = logging.getLogger(__name__)

EventSource = Callable[[], AsyncIterator[StreamEvent]]

#: Seconds between redraws: twice a second is smooth on a wall and cheap over SSH.
REFRESH_INTERVAL = 0.5


#: The ids of the shipped wall layout's scene grids: wall.tcss arranges them by hand
#: for medium and compact screens (any other layout is laid out from its config).
TUNED_SCENE_IDS = {"overview": "panels", "listening": "listening"}
#: Seconds between the two positions of the wall's drift against burn-in.
DRIFT_SECONDS = 180.0


def shipped_wall() -> LayoutConfig:
    """The shipped ``wall`` layout (config/layouts.toml)."""
    return next(layout for layout in shipped_layouts() if layout.name == "wall")


def make_panel(name: str, tz: tzinfo | None) -> Panel:
    """The wall's panel called ``name`` (one of ``groundcontrol.config.WALL_PANELS``)."""
    makers: dict[str, Callable[[], Panel]] = {
        "volume": lambda: VolumePanel(id="volume"),
        "sentiment": lambda: SentimentPanel(id="sentiment"),
        "incidents": lambda: IncidentsPanel(tz=tz, id="incidents"),
        "topics": lambda: TopicsPanel(id="topics"),
        "live": lambda: LivePanel(tz=tz, id="live"),
        "sources": lambda: SourcesPanel(id="sources"),
        "feeds": lambda: FeedsPanel(id="feeds"),
        "stories": lambda: StoriesPanel(id="stories"),
        "explain": lambda: IncidentExplanationPanel(tz=tz, id="explain"),
        "influencers": lambda: InfluencersPanel(id="influencers"),
        "triage": lambda: TriagePanel(id="triage"),
        "compliance": lambda: CompliancePanel(tz=tz, id="compliance"),
        "tiles": lambda: BrandTilesPanel(id="tiles"),
    }
    return makers[name]()


class WallScreen(Screen[None]):
    """The layout's scenes under the status bar."""

    def __init__(
        self, *, hub_label: str, tz: tzinfo | None, layout: LayoutConfig | None = None
    ) -> None:
        super().__init__(id="wall")
        self.hub_label = hub_label
        self.tz = tz
        self.wall_layout = layout if layout is not None else shipped_wall()
        self.tuned = self.wall_layout == shipped_wall()
        self.scene_ids = {
            scene.name: TUNED_SCENE_IDS[scene.name] if self.tuned else f"scene-{i}"
            for i, scene in enumerate(self.wall_layout.scenes)
        }
        self.scene = self.wall_layout.scenes[0].name

    def compose(self) -> ComposeResult:
        yield StatusBar(hub_label=self.hub_label, tz=self.tz, id="status")
        yield BriefingBanner("", id="briefing")
        first = self.wall_layout.scenes[0].name
        with ContentSwitcher(initial=self.scene_ids[first], id="scenes"):
            for scene in self.wall_layout.scenes:
                yield self._scene_grid(scene)

    def _scene_grid(self, scene: SceneConfig) -> Grid:
        """A scene's grid: its cells in order, sized from the config unless the
        stylesheet arranges it (the shipped wall)."""
        cells: list[Widget] = []
        for cell in scene.panels:
            widget: Widget = make_panel(cell.name, self.tz)
            if cell.below:
                stack_id = "side" if self.tuned else f"stack-{cell.name}"
                under = [make_panel(name, self.tz) for name in cell.below]
                widget = Vertical(widget, *under, id=stack_id, classes="stack")
            if not self.tuned:
                widget.styles.column_span = cell.width
                widget.styles.row_span = cell.height
            cells.append(widget)
        grid = Grid(*cells, id=self.scene_ids[scene.name], classes="scene")
        if not self.tuned:
            cells_used = sum(c.width * c.height for c in scene.panels)
            rows = scene.rows or -(-cells_used // scene.columns)
            grid.styles.grid_size_columns = scene.columns
            grid.styles.grid_size_rows = rows
            grid.styles.grid_columns = " ".join(["1fr"] * scene.columns)
            grid.styles.grid_rows = " ".join(["1fr"] * rows)
        return grid

    def show_scene(self, scene: str) -> None:
        """Put ``scene`` on screen (the caller redraws it: its data may be old)."""
        self.scene = scene
        self.query_one(ContentSwitcher).current = self.scene_ids[scene]

    def show(self, state: WallState, now: float, *, data_changed: bool) -> None:
        """Redraw from the state; the caller batches the repaint.

        Every panel's freshness is kept current (cheap, and a scene comes up already
        saying how old its data is); only the scene on screen redraws its data.
        """
        self.query_one(StatusBar).show(state, now)
        self.query_one(BriefingBanner).show(state, now)
        for panel in self.query(Panel):
            panel.show_freshness(state, now)
        for bar in self.query(ActionBar):  # an interactive wall's (panels/oncall.py)
            bar.show(state, now)
        for panel in self.query_one(f"#{self.scene_ids[self.scene]}").query(Panel):
            if data_changed or panel.TIME_DEPENDENT:
                panel.show(state, now)

    def drift(self, now: float) -> None:
        """Shift the picture one cell left or right every :data:`DRIFT_SECONDS`
        against burn-in: one column of padding that changes sides, so nothing is cut."""
        left = int(now // DRIFT_SECONDS) % 2 == 0
        padding = (0, 0, 0, 1) if left else (0, 1, 0, 0)
        if self.styles.padding != Spacing(*padding):
            self.styles.padding = padding


class WallApp(App[None]):
    """Ground Control's wall: status, volume, sentiment, incidents, topics, river, sources."""

    # The incidents and the takeover have their own sheets, after the wall's.
    CSS_PATH = ["wall.tcss", "incidents.tcss", "takeover.tcss"]  # noqa: RUF012 (as App declares it)
    TITLE = "Ground Control"
    # A kiosk: nothing on a wall hints at keys or opens a palette.
    ENABLE_COMMAND_PALETTE = False
    # The screen gets one of these classes by width; wall.tcss lays out each.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [  # noqa: RUF012 (as App declares it)
        (0, "-compact"),
        (120, "-medium"),
        (160, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", show=False),
        Binding("escape", "close_takeover", "Back to the wall", show=False),
        # The layout's scenes by number (the shipped wall: 1 overview, 2 listening).
        *(Binding(str(n), f"scene_number({n})", f"Scene {n}", show=False) for n in range(1, 10)),
        # Priority: the screen binds tab to focus, and nothing on a wall takes focus.
        Binding("tab", "next_scene", "Next scene", show=False, priority=True),
        # Only an interactive wall (on call: ``api`` given) does anything with these;
        # priority, so they work under a takeover card too (panels/oncall.py).
        *(
            Binding(key, f"oncall('{name}')", show=False, priority=True)
            for key, name in ONCALL_KEYS.items()
        ),
    ]

    def __init__(
        self,
        events: EventSource,
        *,
        hub_label: str,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        takeover_seconds: float = DEFAULT_SECONDS,
        refresh_interval: float = REFRESH_INTERVAL,
        river_cap: int = RIVER_CAP,
        rotate_seconds: float | None = DEFAULT_ROTATE_SECONDS,
        hold_seconds: float = HOLD_SECONDS,
        layout: LayoutConfig | None = None,
        rotation_store: RotationStore | None = None,
        drift: bool = False,
        low_bandwidth: bool = False,
        api: HubApi | None = None,
        console_key: bool = False,
    ) -> None:
        """Build a wall.

        Args:
            events: Starts the stream: an async iterator of stream events that
                reconnects by itself (``StreamClient.events``) and never ends.
            hub_label: Short name of the hub for the status bar.
            clock: Wall-clock time source; tests fix it so ages and the clock
                are deterministic.
            tz: Zone for clock times (None: the local zone).
            takeover_seconds: How long an incident takeover stays up; 0 disables it.
            refresh_interval: Seconds between redraws.
            river_cap: Most mentions kept in the river.
            rotate_seconds: Seconds each scene stays up; 0 stays on the first
                scene; None: each scene's dwell from the layout.
            hold_seconds: How long a key press holds the scene it picked.
            layout: The scenes and their panels (None: the shipped ``wall``).
            rotation_store: Where the rotation is saved so a restart resumes it
                (None: not saved).
            drift: Shift the picture a cell every few minutes against burn-in.
            low_bandwidth: For slow links (SSH): at most one redraw a second, urgent
                ones and takeovers included (the last state is always drawn), and
                nothing that moves by itself (no drift, no Textual animations).
            api: Makes the wall interactive (on call over SSH): k, s and R act on
                incidents through this API, and a key hint line names them
                (panels/oncall.py). None: a kiosk, no key hints.
            console_key: With ``api``: ``c`` quits with the status that asks the
                SSH server for the console.
        """
        super().__init__()
        self.api = api
        self.console_key = console_key
        self.actions: ActionBar | None = None
        """The interactive wall's action bar (mounted when ready)."""
        self.events = events
        self.hub_label = hub_label
        self.clock = clock
        self.tz = tz
        self.takeover_seconds = takeover_seconds
        self.low_bandwidth = low_bandwidth
        self.pacer, self.refresh_interval = pace(
            self,
            self._paced_redraw,
            low_bandwidth=low_bandwidth,
            clock=clock,
            refresh_interval=refresh_interval,
            name="wall-paced",
        )
        """Every redraw the stream or the timer asks for goes through the pacer."""
        self._waiting_takeovers: list[Incident] = []
        self.state = WallState(river_cap=river_cap)
        self.wall = WallScreen(hub_label=hub_label, tz=tz, layout=layout)
        scenes = self.wall.wall_layout.scenes
        dwells = tuple(scene.dwell_seconds for scene in scenes)
        self.rotation = SceneRotation(
            seconds=dwells[0] if rotate_seconds is None else rotate_seconds,
            hold_seconds=hold_seconds,
            scenes=tuple(scene.name for scene in scenes),
            dwells=dwells if rotate_seconds is None else (),
        )
        self.rotation_store = rotation_store
        self.drift = drift and not low_bandwidth
        self._shown_version = -1
        self._takeover: IncidentTakeover | None = None

    def get_default_screen(self) -> Screen[None]:
        return self.wall

    def on_ready(self) -> None:
        # Start once the panels are on screen, so the first events' immediate
        # redraws have widgets to draw into.
        now = self.clock()
        saved = self.rotation_store.load() if self.rotation_store is not None else None
        if saved is None:
            self.rotation.start(now)
        else:
            self.rotation.resume(*saved, now)
        self._switch(self.rotation.scene)
        self._save_rotation()
        if self.api is not None:
            self.actions = ActionBar(
                self.api, clock=self.clock, console_key=self.console_key, id="actions"
            )
            self.wall.mount(self.actions)
        self.pacer.request()
        self.set_interval(self.refresh_interval, self.pacer.request, name="wall-refresh")
        self.run_worker(self._consume(), name="stream", exclusive=True, exit_on_error=False)

    async def _consume(self) -> None:
        """Fold stream events into the state; restart the source if it ever raises."""
        await follow_stream(self.events, self.state, self.clock, self._on_event, self.pacer.request)

    def _on_event(self, _event: StreamEvent, applied: Applied) -> None:
        if self.low_bandwidth:
            # Takeovers wait for the next paced redraw too; the card keeps up there.
            if applied.takeover is not None:
                self._waiting_takeovers.append(applied.takeover)
            if applied.urgent or applied.takeover is not None:
                self.pacer.request()
            return
        if applied.urgent:
            self.pacer.request()
        if applied.takeover is not None:
            self.take_over(applied.takeover)
        if self._takeover is not None:
            self._follow_takeover()

    def _paced_redraw(self) -> None:
        """What a paced redraw does: in low-bandwidth mode the takeovers that waited
        and the card's own updates first, then the wall."""
        waiting, self._waiting_takeovers = self._waiting_takeovers, []
        for incident in waiting:
            self.take_over(incident)
        if self.low_bandwidth and self._takeover is not None:
            self._follow_takeover()
        self.refresh_now()

    def refresh_now(self) -> None:
        """Redraw the wall from the state in one batched repaint."""
        if not self.wall.is_mounted:
            return
        now = self.clock()
        scene = self.rotation.due(now)
        if scene is not None:
            self._switch(scene)
            self._save_rotation()
        if self.drift:
            self.wall.drift(now)
        version = self.state.version
        try:
            with self.batch_update():
                status = self.wall.query_one(StatusBar)
                status.scene_label = self.rotation.label(now)
                status.scene_label_short = self.rotation.label(now, short=True)
                self.wall.show(self.state, now, data_changed=version != self._shown_version)
        except NoMatches:
            # A timer can fire while the app is shutting down and the panels are
            # already gone; there is nothing left to draw then.
            return
        self._shown_version = version

    def _switch(self, scene: str) -> None:
        if scene != self.wall.scene:
            self.wall.show_scene(scene)
            self._shown_version = -1  # the scene's panels have not drawn this data yet

    def _save_rotation(self) -> None:
        if self.rotation_store is not None:
            self.rotation_store.save(self.rotation)

    def action_scene(self, scene: str) -> None:
        """A key picked a scene: show it now and hold it for a while."""
        self._switch(self.rotation.choose(scene, self.clock()))
        self._save_rotation()
        self.refresh_now()

    def action_scene_number(self, number: int) -> None:
        """A digit picked the layout's scene of that number, if it has one."""
        if 1 <= number <= len(self.rotation.scenes):
            self.action_scene(self.rotation.scenes[number - 1])

    def action_next_scene(self) -> None:
        self.action_scene(self.rotation.following())

    @property
    def takeover(self) -> IncidentTakeover | None:
        """The takeover card on show (not one already on its way out), if any."""
        card = self._takeover
        if card is None or card.closing or (card.is_mounted and not card.is_attached):
            return None
        return card

    def take_over(self, incident: Incident) -> None:
        """Give the screen to a new incident for ``takeover_seconds``.

        A card already up keeps the screen unless ``incident`` is at least as urgent
        (:func:`panels.takeover.replaces`); then the card shows it from the start.
        The bell rings whenever a card opens on a new incident.
        """
        if self.takeover_seconds <= 0:
            return
        hub_now = self.state.hub_now(self.clock())
        card = self.takeover
        if card is not None:
            if card.incident.id == incident.id:
                card.show_incident(incident, hub_now=hub_now, demo=self.state.demo, restart=False)
            elif replaces(card.incident, incident):
                card.show_incident(incident, hub_now=hub_now, demo=self.state.demo)
                self.bell()
            return
        card = IncidentTakeover(
            incident,
            hub_now=hub_now,
            demo=self.state.demo,
            seconds=self.takeover_seconds,
            tz=self.tz,
        )
        self._takeover = card
        self.push_screen(card, callback=lambda _: self._takeover_closed(card))
        self.bell()

    def _takeover_closed(self, card: IncidentTakeover) -> None:
        if self._takeover is card:
            self._takeover = None

    def _follow_takeover(self) -> None:
        """Keep the card on show in step with its incident: an escalation or an ack
        shows at once; once someone snoozes or resolves it, the wall goes back."""
        card = self.takeover
        if card is None:
            return
        latest = self.state.incident(card.incident.id)
        # Every tick carries a copy: only a change of state redraws the card.
        if latest is None or latest == card.incident:
            return
        if latest.status in ("snoozed", "resolved"):
            card.action_close()
            return
        hub_now = self.state.hub_now(self.clock())
        card.show_incident(latest, hub_now=hub_now, demo=self.state.demo, restart=False)

    def action_close_takeover(self) -> None:
        card = self.takeover
        if card is not None:
            card.action_close()

    def action_oncall(self, name: str) -> None:
        """An on-call key: act on the incident on the takeover card if one is up,
        else on the action bar's target; nothing on a kiosk."""
        if self.actions is not None:
            card = self.takeover
            self.actions.key(name, card.incident if card is not None else None)


def hub_label_for(hub_url: str) -> str:
    """The host:port of a hub URL, which is what people call a hub."""
    parts = urlsplit(hub_url if "://" in hub_url else f"ws://{hub_url}")
    return parts.netloc or hub_url


def make_wall(
    hub_url: str,
    *,
    clock: Callable[[], float] = time.time,
    access: Access | None = None,
    rotate_seconds: float | None = None,
    layout: LayoutConfig | None = None,
    drift: bool = True,
    keep_rotation: bool = True,
    low_bandwidth: bool = False,
    theme: str = "default",
    act: bool = False,
    console_key: bool = False,
) -> WallApp:
    """The wall for the hub at ``hub_url`` (http(s):// or ws(s)://), as the CLI runs it.

    ``access``: the token to send and the CA to trust (``Access.from_env()`` in the CLI).
    ``rotate_seconds``: seconds per scene (0: stay on the first; None: the layout's dwells).
    ``layout``: its scenes (None: the shipped ``wall``). ``drift``: shift against
    burn-in. ``keep_rotation``: save the rotation under ``$XDG_STATE_HOME`` so a
    restarted wall resumes it. ``low_bandwidth``: one redraw a second at most and no
    animation (see :class:`WallApp`). ``theme``: its colours (panels/palette.py:
    "default" or "colourblind"). ``act``: interactive, on call: keys act on
    incidents over the hub's HTTP API with the same access. ``console_key``: with
    ``act``, ``c`` asks the SSH server for the console.
    """
    client = StreamClient(stream_url(hub_url), access=access)
    chosen = layout if layout is not None else shipped_wall()
    app = WallApp(
        client.events,
        hub_label=hub_label_for(hub_url),
        clock=clock,
        rotate_seconds=rotate_seconds,
        layout=chosen,
        rotation_store=RotationStore.for_layout(chosen.name) if keep_rotation else None,
        drift=drift,
        low_bandwidth=low_bandwidth,
        api=HubApi(hub_url, access) if act else None,
        console_key=console_key,
    )
    use_palette(app, theme)
    return app
