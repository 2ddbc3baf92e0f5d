"""A hub's side of the bus: publish what it accepts, serve its walls from the enriched
stream, share incidents, and take turns at detecting them.

- **Ingest.** :meth:`HubBus.publish` puts a screened batch on the raw stream under
  its id (``wire.batch_id``) and returns once JetStream has it: only then is the
  feed acked. A resend within the duplicate window is kept once.
- **Walls.** At start the hub replays the last ``[bus] replay`` of the enriched
  stream into its windows, one tick per bucket as a restart from the store does
  (``hub/rebuild.py``); then it follows the stream (an ordered consumer) and hands
  each batch to its windows and its /stream clients, every mention once.
- **Incidents.** Each incident's latest change is one message of the events stream
  (one subject per incident, the last kept). Every hub applies the others'; a new hub
  starts from the latest of each.
- **The store.** The hub has none: triage, briefings, search and history go to the
  store writer as requests (:meth:`HubBus.ask_store`, store/requests.py), which
  answers and puts each committed triage action and briefing change on the events
  stream (one subject per mention or briefing, the last kept). Every hub shows the
  others'; a new hub starts from the latest of each, so it knows the running briefings.
- **One detector.** Only the leader's incident book opens, grows and ends incidents;
  the others learn the same baselines and mirror the leader's. Leadership is a key in
  a key-value bucket whose entries live ``[bus] lease`` seconds: the leader renews it
  every third of that; when it dies, the key expires and another hub creates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from groundcontrol.bus.connection import connect, ensure_streams
from groundcontrol.bus.wire import (
    MSG_ID_HEADER,
    ORIGIN_HEADER,
    BusBatch,
    BusDeadLetter,
    Names,
    batch_id,
    decode_batch,
    decode_change,
    decode_incident,
    encode_batch,
)
from groundcontrol.config import Config
from groundcontrol.model import Mention, utc
from groundcontrol.protocol import BriefingEvent, IncidentEvent, TriageEvent, encode
from groundcontrol.signals.analytics import Analytics
from groundcontrol.signals.incidents import IncidentBook, SeriesPoint
from groundcontrol.store.database import DeadLetter
from groundcontrol.store.requests import (
    StoreRequest,
    StoreUnavailable,
    decode_answer,
    encode_request,
    request_name,
)

log = logging.getLogger("groundcontrol.bus.hub")

LEADER_KEY = "detector"
#: Seconds between the server's heartbeats on the hub's consumers: two missed, and the
#: consumer is made again after the last message it had (a server restart).
HEARTBEAT = 1.0
#: Incident changes waiting to go on the bus while it is away; older ones are dropped.
MAX_UNSHARED = 10_000
#: Seconds a request to the store writer may take before the hub answers 503.
STORE_TIMEOUT = 5.0

T = TypeVar("T")


class LeaderBook(IncidentBook):
    """An incident book that makes incidents only while its hub leads; otherwise it
    learns the same baselines and holds the leader's incidents (``restore``)."""

    leading = False

    def observe(
        self,
        bucket_end: float,
        points: Sequence[SeriesPoint],
        explain: Callable[..., object] | None = None,
    ) -> list[IncidentEvent]:
        if self.leading:
            return super().observe(bucket_end, points, explain)  # type: ignore[arg-type]
        self._learn_baselines(points)
        return []

    def expire_snoozes(self, now: float) -> list[IncidentEvent]:
        return super().expire_snoozes(now) if self.leading else []


class HubBus:
    """One hub's connection to the bus (see the module docstring).

    ``take``: hand enriched mentions to the windows and clients (the hub dedupes
    them on their ids and returns how many were new); ``incident_arrived``: another
    hub's incident change, already applied to the book, for the hub's clients;
    ``change_arrived``: a triage action or briefing change committed through another
    hub, for the hub's windows, briefings and clients.
    """

    def __init__(
        self,
        config: Config,
        analytics: Analytics,
        *,
        take: Callable[[list[Mention]], int],
        incident_arrived: Callable[[IncidentEvent], None],
        change_arrived: Callable[[TriageEvent | BriefingEvent], None] = lambda _e: None,
        on_demo: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.analytics = analytics
        self.take = take
        self.incident_arrived = incident_arrived
        self.change_arrived = change_arrived
        self.on_demo = on_demo
        """A feed of demo data is on the bus (through any hub)."""
        self.demo_seen = False
        self.clock = clock
        self.names = Names(config.bus.prefix)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        """This hub on the bus (the leader key's value, events' origin)."""
        self.book = LeaderBook(config.spikes, bucket_seconds=analytics.bucket_seconds)
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.replayed = 0
        """Mentions replayed from the enriched stream at start."""
        self.leadership_changes = 0
        self._last_seq = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[object] = []
        self._unshared: asyncio.Queue[IncidentEvent] = asyncio.Queue(MAX_UNSHARED)
        self._events_until = 0
        """The events stream's last message when the hub started (0: none)."""
        self._events_caught_up = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.book.leading

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, wait: float = 10.0) -> None:
        """Connect, replay the last hour into the windows, follow the streams and
        start competing for the detector. BusError if the bus cannot be reached."""
        self.nc = nc = await connect(self.config.bus, name=f"hub {self.id}", wait=wait)
        self.js = js = nc.jetstream()
        await ensure_streams(js, self.config.bus, self.names)
        started = time.perf_counter()
        since = self.clock() - self.config.bus.seconds("replay")
        self.replayed = await self._replay(js, since)
        log.info(
            "replayed %d mentions of the last %.0f s from %s in %.1f s",
            self.replayed,
            self.config.bus.seconds("replay"),
            self.names.enriched_stream,
            time.perf_counter() - started,
        )
        # What the replay made of incidents goes: the shared ones come from the bus.
        self.analytics.incidents = self.book
        # Live from just after the replay, by sequence: an ordered consumer that lost
        # the server (a restart) starts again after the last message it had.
        self._subs.append(
            await js.subscribe(
                self.names.enriched_subject,
                stream=self.names.enriched_stream,
                cb=self._on_batch,
                ordered_consumer=True,
                idle_heartbeat=HEARTBEAT,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=self._last_seq + 1,
                ),
            )
        )
        # The latest of each incident, triage action and briefing, before the hub
        # serves: its first walls get the running briefings and the open incidents.
        events = (await js.stream_info(self.names.events_stream)).state
        self._events_until = events.last_seq if events.messages else 0
        if not self._events_until:
            self._events_caught_up.set()
        self._subs.append(
            await js.subscribe(
                self.names.events_subjects,
                stream=self.names.events_stream,
                cb=self._on_event,
                ordered_consumer=True,
                idle_heartbeat=HEARTBEAT,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT),
            )
        )
        try:
            await asyncio.wait_for(self._events_caught_up.wait(), max(wait, 2.0))
        except TimeoutError:
            log.warning("the latest incidents and briefings are still on their way")
        self._tasks = [
            asyncio.create_task(self._lead(js), name="bus-leader"),
            asyncio.create_task(self._share(js), name="bus-share"),
        ]

    async def close(self) -> None:
        """Stop leading (so another hub takes over at once) and disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.nc is not None:
            if self.book.leading:
                with contextlib.suppress(Exception):
                    kv = await self._bucket()
                    await kv.delete(LEADER_KEY)
                self.book.leading = False
            with contextlib.suppress(Exception):
                await self.nc.close()
            self.nc = None

    # ------------------------------------------------------------------ ingest

    async def publish(
        self,
        *,
        feed: str,
        demo: bool = False,
        seq: int,
        mentions: list[Mention],
        edits: list[Mention],
        deleted: list[str],
        dead_letters: list[DeadLetter],
        queued: float,
    ) -> tuple[int, int]:
        """Put a screened batch on the raw stream; (accepted, duplicates) once
        JetStream has it. Raises if it could not (the feed then resends)."""
        arrived = self.clock()
        if queued > 0:
            arrived -= min(queued, self.analytics.history_buckets * self.analytics.bucket_seconds)
        for m in mentions:
            m.id = f"{m.source}:{m.source_id}"
            if m.created_at.utcoffset():
                m.created_at = utc(m.created_at)
            m.received_at = arrived
        for m in edits:
            m.id = f"{m.source}:{m.source_id}"
            if m.created_at.utcoffset():
                m.created_at = utc(m.created_at)
        if not (mentions or edits or deleted or dead_letters):
            return 0, 0
        batch = BusBatch(
            id=batch_id(feed, seq, mentions, edits, deleted),
            feed=feed,
            demo=demo,
            hub=self.id,
            mentions=mentions,
            edits=edits,
            deleted=deleted,
            dead_letters=[
                BusDeadLetter(
                    received_at=d.received_at, feed=d.feed, reason=d.reason, payload=d.payload
                )
                for d in dead_letters
            ],
        )
        if self.js is None:
            raise ConnectionError("the hub is not connected to the bus")
        ack = await self.js.publish(
            self.names.raw_subject,
            encode_batch(batch),
            stream=self.names.raw_stream,
            headers={MSG_ID_HEADER: batch.id},
            timeout=5.0,
        )
        if ack.duplicate:
            return 0, len(mentions)
        return len(mentions), 0

    # ------------------------------------------------------------------ the store

    async def ask_store(self, request: StoreRequest[T]) -> T:
        """Have the store writer run ``request`` (store/requests.py) and return its
        result; StoreUnavailable, saying why in one line, if it does not answer."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            raise StoreUnavailable("the hub is not connected to the bus; try again shortly")
        try:
            msg = await nc.request(
                self.names.store_request(request_name(request)),
                encode_request(request),
                timeout=STORE_TIMEOUT,
                headers={ORIGIN_HEADER: self.id},
            )
        except NoRespondersError:
            raise StoreUnavailable(
                "no store writer on the bus (is groundcontrol store-writer running?)"
            ) from None
        except (NatsTimeout, TimeoutError):
            raise StoreUnavailable(
                f"the store writer did not answer in {STORE_TIMEOUT:g} s"
            ) from None
        except Exception as exc:  # the connection went away meanwhile
            raise StoreUnavailable(
                f"cannot reach the store writer: {str(exc) or type(exc).__name__}"
            ) from None
        return decode_answer(request, msg.data)

    # ------------------------------------------------------------------ walls

    async def _replay(self, js: JetStreamContext, since: float) -> int:
        """Fold the enriched stream since ``since`` into the windows, a tick per bucket."""
        # Everything up to here is older than ``since`` unless the replay says otherwise.
        self._last_seq = (await js.stream_info(self.names.enriched_stream)).state.last_seq
        sub = await js.pull_subscribe(
            self.names.enriched_subject,
            stream=self.names.enriched_stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=datetime.fromtimestamp(since, UTC),
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30.0,
            ),
        )
        # At most the newest ``rebuild_max_mentions``, as a restart from the store.
        kept: deque[Mention] = deque(maxlen=max(1, self.config.store.rebuild_max_mentions))
        try:
            while True:
                try:
                    msgs = await sub.fetch(512, timeout=1.0)
                except (NatsTimeout, TimeoutError):
                    break
                done = False
                for msg in msgs:
                    self._last_seq = msg.metadata.sequence.stream
                    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                        batch = decode_batch(msg.data)
                        kept.extend(batch.mentions)
                        if batch.demo and not self.demo_seen:
                            self.demo_seen = True
                            self.on_demo()
                    done = msg.metadata.num_pending == 0
                if done:
                    break
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if not kept:
            return 0
        mentions = sorted(kept, key=lambda m: m.received_at)
        bs = self.analytics.bucket_seconds
        current: int | None = None
        pending: list[Mention] = []
        replayed = 0
        for m in mentions:
            bucket = int(m.received_at // bs)
            if current is None:
                self.analytics.tick(bucket * bs)
                current = bucket
            elif bucket > current:
                replayed += self.take(pending)
                pending = []
                self.analytics.tick(bucket * bs)
                current = bucket
            pending.append(m)
        replayed += self.take(pending)
        self.analytics.tick(max(self.clock(), (current or 0) * bs))
        return replayed

    async def _on_batch(self, msg: Msg) -> None:
        try:
            batch = decode_batch(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("an unreadable enriched batch: %s", exc)
            return
        self._last_seq = msg.metadata.sequence.stream
        if batch.demo and not self.demo_seen:
            self.demo_seen = True
            self.on_demo()
        if batch.mentions:
            self.take(batch.mentions)

    # ------------------------------------------------------------------ incidents

    def share(self, event: IncidentEvent) -> None:
        """Put an incident change this hub made on the bus (in the background)."""
        try:
            self._unshared.put_nowait(event)
        except asyncio.QueueFull:
            log.error("the bus has been away too long: incident change %s not shared", event)

    async def _share(self, js: JetStreamContext) -> None:
        while True:
            event = await self._unshared.get()
            while True:
                try:
                    await js.publish(
                        self.names.incident_subject(event.incident.id),
                        encode(event),
                        stream=self.names.events_stream,
                        headers={ORIGIN_HEADER: self.id},
                        timeout=5.0,
                    )
                    break
                except Exception as exc:  # the bus is away: try again
                    log.warning("sharing incident %s: %s", event.incident.id, exc)
                    await asyncio.sleep(0.5)

    async def _on_event(self, msg: Msg) -> None:
        try:
            self._apply_event(msg)
        finally:
            if msg.metadata.sequence.stream >= self._events_until:
                self._events_caught_up.set()

    def _apply_event(self, msg: Msg) -> None:
        if (msg.headers or {}).get(ORIGIN_HEADER) == self.id:
            return  # already applied here
        if not self.names.is_incident(msg.subject):
            try:
                change = decode_change(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("an unreadable change on %s: %s", msg.subject, exc)
                return
            self.change_arrived(change)
            return
        try:
            event = decode_incident(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("an unreadable incident change: %s", exc)
            return
        self.book.restore([event.incident])
        self.incident_arrived(event)

    # ------------------------------------------------------------------ leadership

    async def _bucket(self) -> KeyValue:
        assert self.js is not None
        try:
            return await self.js.key_value(self.names.leader_bucket)
        except Exception:
            return await self.js.create_key_value(
                bucket=self.names.leader_bucket,
                ttl=self.config.bus.seconds("lease"),
                history=1,
                replicas=self.config.bus.replicas,
            )

    async def _lead(self, js: JetStreamContext) -> None:
        lease = self.config.bus.seconds("lease")
        kv: KeyValue | None = None
        revision = 0
        renewed = 0.0
        while True:
            now = time.monotonic()
            try:
                if kv is None:
                    kv = await self._bucket()
                if self.book.leading:
                    revision = await kv.update(LEADER_KEY, self.id.encode(), last=revision)
                    renewed = now
                else:
                    revision = await kv.create(LEADER_KEY, self.id.encode())
                    renewed = now
                    self._set_leading(True)
            except Exception as exc:
                if self.book.leading and (
                    time.monotonic() - renewed > lease * 0.8
                    or isinstance(exc, KeyWrongLastSequenceError)
                ):
                    self._set_leading(False)
            await asyncio.sleep(lease / 3)

    def _set_leading(self, leading: bool) -> None:
        if leading == self.book.leading:
            return
        self.book.leading = leading
        self.leadership_changes += 1
        log.warning(
            "hub %s %s incident detection", self.id, "takes over" if leading else "gives up"
        )
