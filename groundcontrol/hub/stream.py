"""Fan-out to clients on /stream: a fixed-rate tick, incident and triage messages, the
brand tiles when they change, and for the clients that ask, the enriched mentions
themselves.

Comes after ingest (ingest.py), which hands each committed batch to the windows
(``Analytics.add``) and to :meth:`Publisher.fan_out_mentions`. The publisher folds
the windows into one bounded tick a few times a second, whatever the event rate,
encodes it once and offers it to every :class:`StreamSubscriber`; each subscriber
sends from its own task, so a slow client never stalls the hub. Incident changes
found by the tick (or made by an analyst through api.py) are stored, sent to the
notifier and queued to every client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

from groundcontrol.config import Config
from groundcontrol.hub.access import Gate
from groundcontrol.hub.auth import Permission
from groundcontrol.hub.feeds import FeedRegistry
from groundcontrol.hub.metrics import STAGE_CPU
from groundcontrol.hub.state import HUB_NAME, Counters, CurrentWriter
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    PROTOCOL_VERSION,
    BrandTile,
    Briefing,
    BriefingEvent,
    IncidentEvent,
    MentionsEvent,
    StreamHello,
    Tick,
    TilesEvent,
    TriageEvent,
    encode,
)
from groundcontrol.query import Query, QuerySyntaxError, parse_query
from groundcontrol.signals.analytics import RANK_SECONDS, Analytics
from groundcontrol.text import TextInfo, analyse

if TYPE_CHECKING:
    from groundcontrol.hub.notify import Notifier

log = logging.getLogger("groundcontrol.hub.stream")

#: Messages a slow /stream client may have queued before it is dropped.
MAX_CLIENT_BACKLOG = 256
#: Seconds between two saves of the detectors' states to the store.
DETECTOR_SAVE_SECONDS = 300.0


class StreamSubscriber:
    """One /stream client, with its own sender task so a slow one never stalls the hub.

    Ticks are coalesced: only the newest unsent tick is kept. Alerts and mention
    batches queue in order; a client that lets that queue grow past
    MAX_CLIENT_BACKLOG is closed with a reason (it will reconnect).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        query: Query | None,
        mentions: bool,
        request: web.Request | None = None,
    ) -> None:
        self.ws = ws
        self.query = query
        self.wants_mentions = mentions
        self.request = request
        self.latest_tick: bytes | None = None
        self.queue: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.dropped_reason = ""
        self.sender: asyncio.Task[None] | None = None
        self._dropper: asyncio.Task[None] | None = None

    def offer_tick(self, data: bytes) -> None:
        self.latest_tick = data
        self.wake.set()

    def offer(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.queue) >= MAX_CLIENT_BACKLOG:
            self.drop("too slow: fell too far behind the stream")
            return
        self.queue.append(data)
        self.wake.set()

    def drop(self, reason: str) -> None:
        """Close this client with ``reason``, even if its sender is stuck on a full socket."""
        self.dropped_reason = reason
        self.closed = True
        self.queue.clear()
        self.wake.set()
        if self._dropper is None:
            self._dropper = asyncio.create_task(self._drop_now(), name="stream-drop")

    async def _drop_now(self) -> None:
        if self.sender is not None:
            # A send blocked on a client that stopped reading would never return.
            self.sender.cancel()
        log.warning("dropping a /stream client: %s", self.dropped_reason)
        # aiohttp's close() waits on the same full socket and swallows cancellation,
        # so it runs on its own. Whether or not it finishes, a transport still holding
        # unsent bytes would never close (the peer does not read): cut it.
        closer = asyncio.create_task(
            self.ws.close(code=1008, message=self.dropped_reason.encode()), name="stream-close"
        )
        await asyncio.wait({closer}, timeout=2.0)
        transport = self.request.transport if self.request is not None else None
        if transport is not None and (not closer.done() or transport.get_write_buffer_size()):
            transport.abort()

    async def run(self) -> None:
        ws = self.ws
        while not self.closed and not ws.closed:
            await self.wake.wait()
            self.wake.clear()
            while self.queue and not ws.closed:
                await ws.send_bytes(self.queue.popleft())
            tick, self.latest_tick = self.latest_tick, None
            if tick is not None and not ws.closed:
                await ws.send_bytes(tick)


class Publisher:
    """The /stream endpoint and the tick loop that feeds it."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float],
        gate: Gate,
        analytics: Analytics,
        counters: Counters,
        feeds: FeedRegistry,
        writer: CurrentWriter,
        notifier: Notifier | None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.gate = gate
        self.analytics = analytics
        self.counters = counters
        self.feeds = feeds
        self.writer = writer
        self.notifier = notifier
        self.subscribers: set[StreamSubscriber] = set()
        self.tick_seq = 0
        self.last_tick: Tick | None = None
        self.tick_seconds = 0.0
        """Time the last tick took to fold mentions into the windows."""
        self.tick_seconds_total = 0.0
        self.states_saved_at = 0.0
        """When the detectors' states last went to the store (the hub sets it when
        it opens the store and takes them back)."""
        self._ticking: asyncio.Task[None] | None = None
        self.current_briefings: Callable[[], list[Briefing]] = list
        """The briefings on the walls now, for a new client's snapshot (briefings.py
        sets it)."""
        self.brand_tiles: Callable[[], list[BrandTile]] = list
        """The latest per-brand tiles from the store (tiles.py sets it)."""
        self._tiles_seen: list[BrandTile] | None = None
        """The tiles last sent (None: none yet), to send them again only on a change."""
        self._tiles_data = b""
        """They, encoded as a :class:`TilesEvent`, for each new client."""
        self.shared: Callable[[IncidentEvent], None] | None = None
        """With ``[bus]``: puts an incident change made here on the bus for the other
        hubs (groundcontrol/bus/hub.py)."""
        self.on_tick: list[Callable[[float], None]] = []
        """Called with the hub's clock on every tick (briefings run out there)."""

    # ------------------------------------------------------------------ clients

    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        """A client: hello, a snapshot so it is full at once, then whatever comes."""
        self.gate.authorize(request, Permission.READ)
        query: Query | None = None
        q = request.query.get("query")
        if q:
            try:
                query = parse_query(q)
            except QuerySyntaxError as exc:
                raise web.HTTPBadRequest(text=f"bad query: {exc}\n") from exc
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        sub = StreamSubscriber(ws, query, request.query.get("mentions") == "all", request)
        hello = StreamHello(
            protocol=PROTOCOL_VERSION,
            hub=HUB_NAME,
            demo=self.feeds.demo,
            brands=[b.name for b in self.config.brands],
            tick_interval=self.config.hub.tick_interval,
            bucket_seconds=self.config.analytics.bucket_seconds,
            window_seconds=self.config.analytics.window_seconds,
            takeover_severity=self.config.spikes.takeover_severity,
        )
        await ws.send_bytes(encode(hello))
        snapshot = self.analytics.snapshot(self.clock())
        snapshot.tick = self.stamp(snapshot.tick)
        snapshot.briefings = self.current_briefings()
        await ws.send_bytes(encode(snapshot))
        # The tiles are not in the ticks: a new client gets them now, and later only
        # when they change. Queued, then added with no await between, so a change
        # fanned out meanwhile cannot be missed.
        self.offer_tiles()
        sub.offer(self._tiles_data)
        self.subscribers.add(sub)
        sender = sub.sender = asyncio.create_task(sub.run(), name="stream-sender")
        try:
            async for _msg in ws:
                pass  # clients have nothing to say yet; reading keeps pings answered
        finally:
            sub.closed = True
            sub.wake.set()
            self.subscribers.discard(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
        return ws

    def fan_out_mentions(self, fresh: list[Mention]) -> None:
        """Offer a batch just taken to the clients that asked for mentions."""
        # Encoded once for every unfiltered subscriber, tokenised once for all queries.
        everything: bytes | None = None
        infos: list[TextInfo] | None = None
        for sub in self.subscribers:
            if not sub.wants_mentions or sub.closed:
                continue
            if sub.query is None:
                if everything is None:
                    everything = encode(MentionsEvent(mentions=fresh))
                sub.offer(everything)
                continue
            if infos is None:
                infos = [analyse(m.text) for m in fresh]
            matches = sub.query.matches
            chosen = [m for m, info in zip(fresh, infos, strict=True) if matches(info)]
            if chosen:
                sub.offer(encode(MentionsEvent(mentions=chosen)))

    # ------------------------------------------------------------------ ticks

    def start(self) -> None:
        """Start ticking every ``hub.tick_interval`` seconds."""
        self._ticking = asyncio.create_task(self._run(), name="hub-publisher")

    async def stop(self) -> None:
        """Stop ticking and say goodbye to every client."""
        if self._ticking is not None:
            self._ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticking
        for sub in list(self.subscribers):
            sub.closed = True
            sub.wake.set()
            await sub.ws.close(code=1001, message=b"hub shutting down")

    async def _run(self) -> None:
        interval = self.config.hub.tick_interval
        next_at = time.monotonic()
        while True:
            next_at += interval
            try:
                self.publish_once()
            except Exception:  # the wall must keep ticking; log and carry on
                log.exception("tick failed")
            delay = next_at - time.monotonic()
            if delay < 0:  # overloaded: do not try to catch up with a burst of ticks
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)

    def publish_once(self) -> tuple[Tick, list[IncidentEvent]]:
        """Fold buffered mentions into the windows and send every client a tick."""
        for hook in self.on_tick:
            hook(self.clock())
        started, cpu = time.perf_counter(), time.thread_time()
        tick, events = self.analytics.tick(self.clock(), rank_every=RANK_SECONDS)
        self.tick_seconds = time.perf_counter() - started
        STAGE_CPU.add("analytics tick", time.thread_time() - cpu)
        self.tick_seconds_total += self.tick_seconds
        self.tick_seq += 1
        tick = self.stamp(tick)
        self.last_tick = tick
        data = encode(tick)
        for ev in events:
            self.incident_changed(ev)
        self.save_detector_states()
        self.offer_tiles()
        for sub in self.subscribers:
            sub.offer_tick(data)
        return tick, events

    def offer_tiles(self) -> bool:
        """Send every client the brand tiles if they changed since last sent; True if
        they did. Ticks no longer carry them: they change about once a minute."""
        tiles = list(self.brand_tiles())  # a copy: what was sent, whatever the source does
        if tiles == self._tiles_seen:  # a few structs compared field by field, in C
            return False
        self._tiles_seen = tiles
        self._tiles_data = encode(TilesEvent(tiles=tiles))
        for sub in self.subscribers:
            sub.offer(self._tiles_data)
        return True

    def stamp(self, tick: Tick) -> Tick:
        """Add to a tick of the windows what the hub itself knows: counts and feeds."""
        now = self.clock()
        return msgspec.structs.replace(
            tick,
            seq=self.tick_seq,
            demo=self.feeds.demo,
            ingested_total=self.counters.ingested_before + self.counters.ingested,
            rejected_total=self.counters.rejected,
            duplicates_total=self.counters.duplicates,
            feeds=self.feeds.infos(now),
            triage=msgspec.structs.replace(tick.triage, pending=self.review_pending()),
        )

    def review_pending(self) -> int:
        """The store's review queue length as last counted (never a read on the loop);
        -1 with no store or before the first count."""
        writer = self.writer()
        return -1 if writer is None else writer.review_pending

    def incident_changed(self, event: IncidentEvent) -> None:
        """Store an incident's change, tell every client and the notifier."""
        self.counters.incident_events[event.change] = (
            self.counters.incident_events.get(event.change, 0) + 1
        )
        writer = self.writer()
        if writer is not None:
            writer.incident(event)
        if self.shared is not None:
            self.shared(event)
        if self.notifier is not None:
            self.notifier.submit(event)
        data = encode(event)
        for sub in self.subscribers:
            sub.offer(data)

    def triage_changed(self, event: TriageEvent) -> None:
        """Tell every client a person acted on a mention (committed already: triage.py)."""
        data = encode(event)
        for sub in self.subscribers:
            sub.offer(data)

    def briefing_changed(self, event: BriefingEvent) -> None:
        """Tell every client a briefing started, was withdrawn or ran out."""
        data = encode(event)
        for sub in self.subscribers:
            sub.offer(data)

    def save_detector_states(self, *, force: bool = False) -> None:
        """Hand the detectors' states to the store every DETECTOR_SAVE_SECONDS."""
        now = self.clock()
        writer = self.writer()
        if writer is None or (not force and now - self.states_saved_at < DETECTOR_SAVE_SECONDS):
            return
        self.states_saved_at = now
        writer.detector_states(self.analytics.detector_states(), now)
