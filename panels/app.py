"""The wall: a Textual app that shows a hub's stream on a big screen or over SSH.

One worker reads the hub's stream and folds every event into a :class:`WallState`;
nothing is posted to the UI per event. A timer redraws the panels from the state a
couple of times a second inside ``batch_update``, so screen work is O(panels), not
O(mentions). Two moments do not wait for the timer: a dropped link (the wall must
say so at once) and the first data after (re)connecting.

Two scenes share the screen under one status bar: the overview and listening
(stories, influencers, triage, compliance, the most urgent incident explained). They
live in one ``ContentSwitcher`` on one screen rather than on two screens, so there is
one status bar, one refresh path and one freshness check for both, and an incident
takeover (a modal screen) lies over whichever scene is up.

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

import asyncio
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
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from groundcontrol.client.stream import Access, StreamClient, StreamEvent, stream_url
from groundcontrol.protocol import Incident
from panels.base import Panel
from panels.briefing import BriefingBanner
from panels.compliance import CompliancePanel
from panels.explain import IncidentExplanationPanel
from panels.feeds import FeedsPanel
from panels.incidents import IncidentsPanel
from panels.influencers import InfluencersPanel
from panels.live import LivePanel
from panels.scenes import DEFAULT_ROTATE_SECONDS, HOLD_SECONDS, SceneRotation
from panels.sentiment import SentimentPanel
from panels.sources import SourcesPanel
from panels.state import RIVER_CAP, WallState
from panels.status import StatusBar
from panels.stories import StoriesPanel
from panels.takeover import DEFAULT_SECONDS, IncidentTakeover, replaces
from panels.topics import TopicsPanel
from panels.triage import TriagePanel
from panels.volume import VolumePanel

log = logging.getLogger(__name__)

EventSource = Callable[[], AsyncIterator[StreamEvent]]

#: Seconds between redraws: twice a second is smooth on a wall and cheap over SSH.
REFRESH_INTERVAL = 0.5
#: Wait before restarting an event source that raised (it should never raise).
SOURCE_RESTART_DELAY = 2.0


#: The id of each scene's grid, by scene name.
SCENE_IDS = {"overview": "panels", "listening": "listening"}


class WallScreen(Screen[None]):
    """The scenes under the status bar; the layout follows the terminal size."""

    def __init__(self, *, hub_label: str, tz: tzinfo | None) -> None:
        super().__init__(id="wall")
        self.hub_label = hub_label
        self.tz = tz
        self.scene = "overview"

    def compose(self) -> ComposeResult:
        yield StatusBar(hub_label=self.hub_label, tz=self.tz, id="status")
        yield BriefingBanner("", id="briefing")
        with ContentSwitcher(initial=SCENE_IDS["overview"], id="scenes"):
            # DOM order matters: the grids in wall.tcss place panels in this order.
            with Grid(id=SCENE_IDS["overview"]):
                yield VolumePanel(id="volume")
                yield SentimentPanel(id="sentiment")
                yield IncidentsPanel(tz=self.tz, id="incidents")
                yield TopicsPanel(id="topics")
                yield LivePanel(tz=self.tz, id="live")
                with Vertical(id="side"):
                    yield SourcesPanel(id="sources")
                    yield FeedsPanel(id="feeds")
            with Grid(id=SCENE_IDS["listening"]):
                yield StoriesPanel(id="stories")
                yield IncidentExplanationPanel(tz=self.tz, id="explain")
                yield InfluencersPanel(id="influencers")
                yield TriagePanel(id="triage")
                yield CompliancePanel(tz=self.tz, id="compliance")

    def show_scene(self, scene: str) -> None:
        """Put ``scene`` on screen (the caller redraws it: its data may be old)."""
        self.scene = scene
        self.query_one(ContentSwitcher).current = SCENE_IDS[scene]

    def show(self, state: WallState, now: float, *, data_changed: bool) -> None:
        """Redraw from the state; the caller batches the repaint.

        Every panel's freshness is kept current (cheap, and a scene comes up already
        saying how old its data is); only the scene on screen redraws its data.
        """
        self.query_one(StatusBar).show(state, now)
        self.query_one(BriefingBanner).show(state, now)
        for panel in self.query(Panel):
            panel.show_freshness(state, now)
        for panel in self.query_one(f"#{SCENE_IDS[self.scene]}").query(Panel):
            if data_changed or panel.TIME_DEPENDENT:
                panel.show(state, now)


class WallApp(App[None]):
    """Ground Control's wall: status, volume, sentiment, incidents, topics, river, sources."""

    # The incidents and the takeover have their own sheets, after the wall's.
    CSS_PATH = ["wall.tcss", "incidents.tcss", "takeover.tcss"]  # noqa: RUF012 (as App declares it)
    TITLE = "Ground Control"
    # The screen gets one of these classes by width; wall.tcss lays out each.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [  # noqa: RUF012 (as App declares it)
        (0, "-compact"),
        (120, "-medium"),
        (160, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("escape", "close_takeover", "Back to the wall", show=False),
        Binding("1", "scene('overview')", "Overview", show=False),
        Binding("2", "scene('listening')", "Listening", show=False),
        # Priority: the screen binds tab to focus, and nothing on a wall takes focus.
        Binding("tab", "next_scene", "Next scene", show=False, priority=True),
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
        rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
        hold_seconds: float = HOLD_SECONDS,
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
            rotate_seconds: Seconds each scene stays up; 0 stays on the overview.
            hold_seconds: How long a key press holds the scene it picked.
        """
        super().__init__()
        self.events = events
        self.hub_label = hub_label
        self.clock = clock
        self.tz = tz
        self.takeover_seconds = takeover_seconds
        self.refresh_interval = refresh_interval
        self.state = WallState(river_cap=river_cap)
        self.wall = WallScreen(hub_label=hub_label, tz=tz)
        self.rotation = SceneRotation(seconds=rotate_seconds, hold_seconds=hold_seconds)
        self._shown_version = -1
        self._takeover: IncidentTakeover | None = None

    def get_default_screen(self) -> Screen[None]:
        return self.wall

    def on_ready(self) -> None:
        # Start once the panels are on screen, so the first events' immediate
        # redraws have widgets to draw into.
        self.rotation.start(self.clock())
        self.refresh_now()
        self.set_interval(self.refresh_interval, self.refresh_now, name="wall-refresh")
        self.run_worker(self._consume(), name="stream", exclusive=True, exit_on_error=False)

    async def _consume(self) -> None:
        """Fold stream events into the state; restart the source if it ever raises."""
        while True:
            try:
                async for event in self.events():
                    applied = self.state.apply(event, self.clock())
                    if applied.urgent:
                        self.refresh_now()
                    if applied.takeover is not None:
                        self.take_over(applied.takeover)
                    if self._takeover is not None:
                        self._follow_takeover()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The client is built never to raise; if it does, say so on screen
                # and keep the wall up rather than exit on someone's big screen.
                log.exception("stream source failed")
                reason = f"stream error: {exc}" if str(exc) else type(exc).__name__
                self.state.stream_failed(reason, self.clock(), SOURCE_RESTART_DELAY)
                self.refresh_now()
                await asyncio.sleep(SOURCE_RESTART_DELAY)
            else:
                # A finite source (a script, a replay) ended: keep showing its data.
                return

    def refresh_now(self) -> None:
        """Redraw the wall from the state in one batched repaint."""
        if not self.wall.is_mounted:
            return
        now = self.clock()
        scene = self.rotation.due(now)
        if scene is not None:
            self._switch(scene)
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

    def action_scene(self, scene: str) -> None:
        """A key picked a scene: show it now and hold it for a while."""
        self._switch(self.rotation.choose(scene, self.clock()))
        self.refresh_now()

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


def hub_label_for(hub_url: str) -> str:
    """The host:port of a hub URL, which is what people call a hub."""
    parts = urlsplit(hub_url if "://" in hub_url else f"ws://{hub_url}")
    return parts.netloc or hub_url


def make_wall(
    hub_url: str,
    *,
    clock: Callable[[], float] = time.time,
    access: Access | None = None,
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
) -> WallApp:
    """The wall for the hub at ``hub_url`` (http(s):// or ws(s)://), as the CLI runs it.

    ``access``: the token to send and the CA to trust (``Access.from_env()`` in the CLI).
    ``rotate_seconds``: seconds per scene (0: stay on the overview).
    """
    client = StreamClient(stream_url(hub_url), access=access)
    return WallApp(
        client.events,
        hub_label=hub_label_for(hub_url),
        clock=clock,
        rotate_seconds=rotate_seconds,
    )
