"""What the wall knows: the latest tick, the connection, the river, the incidents.

The app feeds every stream event to :meth:`WallState.apply`, which only updates plain
data (no widgets), so a burst of events costs a few attribute writes each. Panels read
the state on the app's refresh interval. Times here are of two kinds and never mixed:
``now`` is the wall's own clock (the injected ``clock``), ``at`` fields in ticks and
incidents are the hub's clock; :meth:`WallState.hub_now` bridges them.

Incidents come two ways: ``incident`` events as they open and change, and the list in
every tick (the hub's word on which are current). They are folded by id, the newest
state of each winning, so an event that arrived after a tick was built is not undone
by that tick, and a tick that caught up replaces the event's copy.

Triage comes two ways as well: ``triage`` events the moment a person acts on a
mention, and the triage view in every tick. An event changes the shown review queue
at once (the mention's status and owner, or its leaving the queue, and the pending
count); it is applied again over the ticks that follow for a few tick intervals, so
a tick the hub built before the action (and sent after it) does not undo it. The
latest event is kept for the triage panel's "who did what" line.

Brand tiles come in their own ``tiles`` message, on connect and when one changes;
the latest is kept (an older hub's ticks carry them instead).

Briefings come from the snapshot (the hub's word on which are up) and ``briefing``
events; one leaves the wall when it is withdrawn, or once it runs out on the hub's
clock as this wall reckons it (:meth:`WallState.hub_now`), hub or no hub.

Which incident deserves the whole screen is decided here too (:meth:`WallState.apply`
returns it): one the wall has not taken over for before, at or above the hub's
``takeover_severity``, and neither snoozed nor resolved. Whether it may replace a
takeover already on screen is the app's call (``panels.takeover.replaces``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

import msgspec

from groundcontrol.client.stream import BadMessage, Connected, Disconnected, StreamEvent
from groundcontrol.protocol import (
    CLOSED_STATUSES,
    SEVERITY_RANK,
    BrandTile,
    Briefing,
    BriefingEvent,
    Incident,
    IncidentEvent,
    RiverItem,
    Snapshot,
    StreamHello,
    Tick,
    TilesEvent,
    TriageEvent,
    TriageView,
)

Link = Literal["connecting", "connected", "down"]

#: Most mentions the river keeps; the screen never shows more than a screenful.
RIVER_CAP = 200
#: Incident ids remembered as taken over (old ones are forgotten first).
TAKEN_OVER_CAP = 1_000
#: Most incident states kept from events the ticks have not caught up with.
UPDATES_CAP = 200
#: Most triage events kept to apply again over the ticks that follow them.
TRIAGE_KEPT = 50
#: Tick intervals a triage event is applied again over newer ticks (a tick built
#: while the action was being committed may not carry it yet).
TRIAGE_OVERLAP_TICKS = 5
#: Tick interval assumed until the hub's hello says otherwise, in seconds.
DEFAULT_TICK_INTERVAL = 1.0
#: The takeover threshold until the hub's hello says otherwise (the hub's default).
DEFAULT_TAKEOVER_SEVERITY = "warning"

#: The messages that only a hub sends (proof that the link is up).
FROM_HUB = (
    StreamHello,
    Tick,
    Snapshot,
    IncidentEvent,
    TriageEvent,
    BriefingEvent,
    TilesEvent,
)

#: At equal severity, a problem comes before plain volume, and both before good news.
KIND_URGENCY: dict[str, int] = {"negative": 2, "neutral": 1, "positive": 0}
_STATUS_ORDER: dict[str, int] = {"open": 0, "acknowledged": 0, "snoozed": 1, "resolved": 2}


def urgency(incident: Incident) -> tuple[int, int, int, float, str]:
    """Sort key, most urgent first: live before snoozed before resolved, then the
    most severe, problems before good news, the newest, and the id (a stable order)."""
    return (
        _STATUS_ORDER.get(incident.status, 0),
        -SEVERITY_RANK.get(incident.severity, 0),
        -KIND_URGENCY.get(incident.kind, 1),
        -incident.started_at,
        incident.id,
    )


def takeover_rank(incident: Incident) -> tuple[int, int]:
    """How strongly an incident claims the screen: severity, then a problem first."""
    return (SEVERITY_RANK.get(incident.severity, 0), KIND_URGENCY.get(incident.kind, 1))


def freshness(incident: Incident) -> tuple[float, float, int]:
    """Which of two states of one incident is newer: the hub bumps ``updated_at`` on
    every change; the history breaks ties between changes in the same second."""
    last = incident.history[-1].at if incident.history else 0.0
    return (incident.updated_at, last, len(incident.history))


def takeover_threshold(hello: StreamHello | None) -> int | None:
    """The least severity rank that takes over the screen; None when it is "off".

    A value this wall does not know (a newer hub) counts as the default, "warning".
    """
    name = hello.takeover_severity if hello is not None else DEFAULT_TAKEOVER_SEVERITY
    if name == "off":
        return None
    return SEVERITY_RANK.get(name, SEVERITY_RANK[DEFAULT_TAKEOVER_SEVERITY])


@dataclass(frozen=True)
class Applied:
    """What one event changed that the app must act on at once, not on its interval."""

    urgent: bool = False
    """Redraw now: the link went down, the first data arrived after (re)connecting, or
    a person acted on a mention."""
    takeover: Incident | None = None
    """A new incident (or one just escalated to the threshold) that deserves the whole
    screen: the most urgent such one when an event brought several."""


class WallState:
    """The wall's model: updated per event, read by panels per refresh."""

    def __init__(self, *, river_cap: int = RIVER_CAP) -> None:
        self.hello: StreamHello | None = None
        self.tick: Tick | None = None
        self.received_at: float | None = None
        """Wall clock when the latest tick or snapshot arrived."""
        self.link: Link = "connecting"
        self.link_since: float | None = None
        self.down_reason = ""
        self.retry_at = 0.0
        """Wall clock when the client will try to reconnect."""
        self.attempt = 0
        self.bad_messages = 0
        self.last_bad = ""
        self.events = 0
        """Events applied so far (tests wait on it)."""
        self.version = 0
        """Bumped whenever shown data changes, so panels redraw only then."""
        self.river: deque[RiverItem] = deque()
        self.river_cap = river_cap
        self._river_ids: set[str] = set()
        self._updates: dict[str, Incident] = {}
        """Incident states from events, kept until a tick carries a state as new."""
        self._incidents: dict[str, Incident] = {}
        """The tick's incidents and the newer states from events, by id."""
        self._sorted: list[Incident] = []
        self._taken_over: OrderedDict[str, None] = OrderedDict()
        self._fresh_after_connect = True
        self.last_triage: TriageEvent | None = None
        """The latest thing a person did with a mention, for the triage panel."""
        self._triage: OrderedDict[str, TriageEvent] = OrderedDict()
        """The newest triage event per mention, applied again over newer ticks."""
        self._briefings: dict[int, Briefing] = {}
        """The briefings the hub says are on the walls, by id (snapshot and events)."""
        self._tiles: list[BrandTile] | None = None
        """The brand tiles of the latest ``tiles`` message (None: none came yet)."""

    # ------------------------------------------------------------------ reading

    @property
    def demo(self) -> bool:
        """True while anything shown came from a demo hub or demo data."""
        return bool((self.hello and self.hello.demo) or (self.tick and self.tick.demo))

    @property
    def brand_tiles(self) -> list[BrandTile]:
        """Per brand, the last hour against yesterday and last week (ours first, as the
        hub sends them): the latest ``tiles`` message's; from an older hub that sends
        none, the latest tick's; empty before either or from a storeless hub."""
        if self._tiles is not None:
            return self._tiles
        return [] if self.tick is None else self.tick.brand_tiles

    @property
    def tick_interval(self) -> float:
        return self.hello.tick_interval if self.hello else DEFAULT_TICK_INTERVAL

    @property
    def stale_after(self) -> float:
        """Seconds without a tick after which the data is called stale."""
        return 3 * self.tick_interval + 2.0

    def age(self, now: float) -> float | None:
        """Seconds since the latest data arrived, or None before any."""
        return None if self.received_at is None else max(0.0, now - self.received_at)

    def is_stale(self, now: float) -> bool:
        """Stale: the link is not up, or no data yet, or the data is too old."""
        age = self.age(now)
        return self.link != "connected" or age is None or age > self.stale_after

    def hub_now(self, now: float) -> float:
        """The hub's clock now, estimated from the last tick.

        Incident ages are measured on the hub's clock (started_at is hub time) so a
        wall whose own clock is off by minutes still says "started 12s ago" correctly.
        """
        if self.tick is None or self.received_at is None:
            return now
        return self.tick.at + (now - self.received_at)

    def retry_in(self, now: float) -> float:
        return max(0.0, self.retry_at - now)

    def incidents(self) -> list[Incident]:
        """Every current incident, most urgent first (see :func:`urgency`)."""
        return self._sorted

    def incident(self, incident_id: str) -> Incident | None:
        """The newest known state of one incident, or None if the wall has none."""
        return self._incidents.get(incident_id)

    def briefings(self, now: float) -> list[Briefing]:
        """The briefings on the wall at ``now`` (wall clock), newest first: those the
        hub sent and did not withdraw, that have not run out on the hub's clock as
        this wall reckons it (so one runs out even while the hub is unreachable)."""
        hub_now = self.hub_now(now)
        live = [b for b in self._briefings.values() if b.active(hub_now)]
        return sorted(live, key=lambda b: (b.created_at, b.id), reverse=True)

    def briefing(self, now: float) -> Briefing | None:
        """The newest briefing on the wall at ``now``, for the banner."""
        live = self.briefings(now)
        return live[0] if live else None

    def was_taken_over(self, incident_id: str) -> bool:
        """True once the wall has decided on a takeover for this incident."""
        return incident_id in self._taken_over

    # ------------------------------------------------------------------ writing

    def apply(self, event: StreamEvent, now: float) -> Applied:
        """Take one stream event into the state; say what needs doing at once."""
        self.events += 1
        from_hub = isinstance(event, FROM_HUB)
        if from_hub and self.link != "connected":
            # A message from the hub proves the link is up, even from a source
            # (a replay, a test script) that never says Connected.
            self.link = "connected"
            self.link_since = now
            self.down_reason = ""
        if isinstance(event, Tick):
            return self._take_tick(event, now)
        if isinstance(event, Snapshot):
            # The hub's word on which briefings are up: one withdrawn while this wall
            # was away goes.
            self._briefings = {b.id: b for b in event.briefings}
            return self._take_tick(event.tick, now)
        if isinstance(event, TilesEvent):
            # Sent on connect and when one changes (not with every tick): kept until
            # the next, across reconnects.
            self._tiles = event.tiles
            self.version += 1
            return Applied()
        if isinstance(event, BriefingEvent):
            if event.change == "started":
                self._briefings[event.briefing.id] = event.briefing
            else:
                self._briefings.pop(event.briefing.id, None)
            self.version += 1
            return Applied(urgent=True)
        if isinstance(event, IncidentEvent):
            return self._take_incident(event.incident)
        if isinstance(event, TriageEvent):
            return self._take_triage(event)
        if isinstance(event, StreamHello):
            self.hello = event
            self.version += 1
        elif isinstance(event, Connected):
            self.link = "connected"
            self.link_since = now
            self.down_reason = ""
            self._fresh_after_connect = True
            self.version += 1
        elif isinstance(event, Disconnected):
            self.link = "down"
            self.link_since = now
            self.down_reason = event.reason or "connection lost"
            self.retry_at = now + event.retry_in
            self.attempt = event.attempt
            self.version += 1
            return Applied(urgent=True)
        elif isinstance(event, BadMessage):
            self.bad_messages += 1
            self.last_bad = event.error
        # MentionsEvent and anything newer are not for the wall: ignored, not fatal.
        return Applied()

    def stream_failed(self, reason: str, now: float, retry_in: float) -> None:
        """The event source itself raised: show it as a dropped link."""
        self.link = "down"
        self.link_since = now
        self.down_reason = reason
        self.retry_at = now + retry_in
        self.version += 1

    def _take_tick(self, tick: Tick, now: float) -> Applied:
        self.tick = self._with_triage(tick)
        self.received_at = now
        self.version += 1
        self._add_river(tick.river)
        # The tick is the hub's word on incidents; keep only event states that are
        # newer than its copy, or recent ones it does not carry (yet).
        in_tick = {i.id: i for i in tick.incidents}
        recent = tick.at - 5 * self.tick_interval
        kept: dict[str, Incident] = {}
        for key, incident in self._updates.items():
            carried = in_tick.get(key)
            if carried is None:
                if incident.updated_at >= recent:
                    kept[key] = incident
            elif freshness(incident) > freshness(carried):
                kept[key] = incident
        self._updates = kept
        self._merge()
        urgent = self._fresh_after_connect
        self._fresh_after_connect = False
        return Applied(urgent=urgent, takeover=self._takeover_among(tick.incidents))

    def _take_triage(self, event: TriageEvent) -> Applied:
        self.last_triage = event
        self._triage.pop(event.mention_id, None)
        self._triage[event.mention_id] = event
        while len(self._triage) > TRIAGE_KEPT:
            self._triage.popitem(last=False)
        if self.tick is not None:
            self.tick = self._with_triage(self.tick)
        self.version += 1
        return Applied(urgent=True)

    def _with_triage(self, tick: Tick) -> Tick:
        """``tick`` with the triage events it may not carry yet applied to its view."""
        if not self._triage:
            return tick
        recent = tick.at - TRIAGE_OVERLAP_TICKS * self.tick_interval
        for key in [k for k, e in self._triage.items() if e.state.updated_at < recent]:
            del self._triage[key]
        if not self._triage:
            return tick
        view = tick.triage
        queue = list(view.queue)
        pending = view.pending
        for event in self._triage.values():
            state = event.state
            if state.status in CLOSED_STATUSES:
                queue = [item for item in queue if item.id != event.mention_id]
            else:
                queue = [
                    msgspec.structs.replace(
                        item,
                        status=state.status,
                        assignee=state.assignee,
                        category=state.category,
                    )
                    if item.id == event.mention_id
                    else item
                    for item in queue
                ]
            # A count the hub made after the action includes it; an older one does not.
            if event.pending >= 0 and tick.at < state.updated_at:
                pending = event.pending
        triage: TriageView = msgspec.structs.replace(view, queue=queue, pending=pending)
        return msgspec.structs.replace(tick, triage=triage)

    def _add_river(self, items: list[RiverItem]) -> None:
        # Only the newest river_cap items of a huge tick can ever be shown.
        newest = sorted(items, key=lambda i: i.created_at)[-self.river_cap :]
        for item in newest:
            if item.id in self._river_ids:
                continue  # a snapshot after a reconnect repeats what we already have
            if len(self.river) >= self.river_cap:
                self._river_ids.discard(self.river.pop().id)
            self.river.appendleft(item)
            self._river_ids.add(item.id)

    def _take_incident(self, incident: Incident) -> Applied:
        known = self._incidents.get(incident.id)
        if known is not None and freshness(incident) < freshness(known):
            # An older state arriving late (a reordered replay): it changes nothing.
            return Applied()
        self._updates[incident.id] = incident
        if len(self._updates) > UPDATES_CAP:
            oldest = min(self._updates.values(), key=lambda i: i.updated_at)
            del self._updates[oldest.id]
        self._merge()
        self.version += 1
        return Applied(takeover=self._takeover_among([incident]))

    def _merge(self) -> None:
        merged = {i.id: i for i in (self.tick.incidents if self.tick else [])}
        for incident in self._updates.values():
            known = merged.get(incident.id)
            if known is None or freshness(incident) >= freshness(known):
                merged[incident.id] = incident
        self._incidents = merged
        self._sorted = sorted(merged.values(), key=urgency)

    def _takeover_among(self, candidates: list[Incident]) -> Incident | None:
        """The most urgent of ``candidates`` that deserves a takeover, if any.

        Every one that qualifies is marked as taken over, shown or not: a milder
        incident that arrived with a worse one (or while a worse one had the screen)
        is on the incidents panel, and does not take the screen minutes later.
        """
        threshold = takeover_threshold(self.hello)
        if threshold is None:
            return None
        chosen: Incident | None = None
        for candidate in candidates:
            incident = self._incidents.get(candidate.id, candidate)
            if (
                incident.id in self._taken_over
                or incident.status in ("snoozed", "resolved")
                or SEVERITY_RANK.get(incident.severity, 0) < threshold
            ):
                continue
            self._taken_over[incident.id] = None
            if chosen is None or takeover_rank(incident) > takeover_rank(chosen):
                chosen = incident
        while len(self._taken_over) > TAKEN_OVER_CAP:
            self._taken_over.popitem(last=False)
        return chosen


#: Wait before restarting an event source that raised (it should never raise).
SOURCE_RESTART_DELAY = 2.0

_log = logging.getLogger(__name__)


async def follow_stream(
    events: Callable[[], AsyncIterator[StreamEvent]],
    state: WallState,
    clock: Callable[[], float],
    on_event: Callable[[StreamEvent, Applied], None],
    on_failure: Callable[[], None],
) -> None:
    """Fold every event of ``events()`` into ``state`` and hand it to ``on_event``,
    for as long as the source runs: the wall's and the console's reading loop.

    The client is built never to raise; if it does, the state says so as a dropped
    link (``on_failure`` redraws) and the source starts again after
    :data:`SOURCE_RESTART_DELAY`, rather than a screen going down. A finite source (a
    script, a replay) that ends ends this: its data stays on screen.
    """
    while True:
        try:
            async for event in events():
                on_event(event, state.apply(event, clock()))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.exception("stream source failed")
            reason = f"stream error: {exc}" if str(exc) else type(exc).__name__
            state.stream_failed(reason, clock(), SOURCE_RESTART_DELAY)
            on_failure()
            await asyncio.sleep(SOURCE_RESTART_DELAY)
        else:
            return
