"""``groundcontrol store-writer``: the one durable consumer that writes the store.

It pulls enriched batches (and incident changes) from JetStream, commits them with
the store's writer thread (group commit, as in the single-process hub) and acks each
message once its transaction is on disk. Inserting is idempotent (a mention's id is
the store's unique key), so a message delivered twice, after a crash between commit
and ack, is stored once. A restart resumes where the durable consumer stopped.

It also answers the hubs' requests (``<prefix>.store.*``, NATS request/reply): triage
actions, the review queue, a mention's detail, briefings, search and history, run with
the same code as a single-process hub's (store/requests.py). A committed triage action
or briefing change goes on the events stream before the answer, for every hub's walls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from groundcontrol.bus.connection import connect, ensure_streams, until_stopped
from groundcontrol.bus.wire import ORIGIN_HEADER, Names, decode_batch, decode_incident
from groundcontrol.config import Config
from groundcontrol.protocol import BriefingEvent, IncidentEvent, TriageEvent, encode
from groundcontrol.store.database import Store
from groundcontrol.store.requests import decode_request, encode_answer
from groundcontrol.store.writer import StoreWriter

log = logging.getLogger("groundcontrol.bus.storage")

#: Enriched batches one fetch asks for: committed together in one group.
FETCH = 64


@dataclass
class StorageStats:
    """What the store writer has done."""

    batches: int = 0
    mentions_new: int = 0
    mentions_repeated: int = 0
    """Delivered again (or resent past the duplicate window) and already stored."""
    incidents: int = 0
    requests: int = 0
    """Hubs' requests answered (triage, briefings, search, history)."""
    cpu_seconds: float = 0.0


class BusStoreWriter:
    """Writes the enriched stream and the incident changes into the store at ``path``."""

    def __init__(self, config: Config, path: Path, *, name: str = "store-writer") -> None:
        self.config = config
        self.path = path
        self.name = name
        self.names = Names(config.bus.prefix)
        self.stats = StorageStats()
        self.writer: StoreWriter | None = None
        self.nc: Client | None = None
        self._stop = asyncio.Event()
        self._answering: set[asyncio.Task[None]] = set()

    def open(self) -> None:
        """Open the store (StoreError if it cannot be used)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        store = Store(self.path)
        self.writer = StoreWriter(
            store,
            retention_seconds=self.config.store.retention_days * 86400.0,
            prune_interval=self.config.store.prune_interval_seconds,
            synchronous=self.config.store.synchronous,
        )

    async def run(self, *, wait: float = 30.0) -> None:
        """Write until :meth:`stop`; reconnects by itself while the bus is away."""
        if self.writer is None:
            await asyncio.to_thread(self.open)
        assert self.writer is not None
        self.writer.start()
        bus = self.config.bus
        try:
            connected = await until_stopped(connect(bus, name=self.name, wait=wait), self._stop)
            if connected is None:
                return
            self.nc = nc = connected
            js = nc.jetstream()
            await ensure_streams(js, bus, self.names)
            durable = ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, ack_wait=bus.seconds("ack_wait"), max_ack_pending=-1
            )
            batches = await js.pull_subscribe(
                self.names.enriched_subject,
                durable=self.names.store_writer,
                stream=self.names.enriched_stream,
                config=durable,
            )
            events = await js.pull_subscribe(
                self.names.events_subjects,
                durable=self.names.store_events,
                stream=self.names.events_stream,
                config=durable,
            )
            await nc.subscribe(
                self.names.store_requests, queue=self.names.store_writer, cb=self._on_request
            )
            log.info("store writer: %s into %s", self.names.enriched_stream, self.path)
            await asyncio.gather(self._follow(batches, self._write_batches), self._events(events))
        finally:
            for task in list(self._answering):
                task.cancel()
            if self.nc is not None:
                with contextlib.suppress(Exception):
                    await self.nc.close()
            await asyncio.to_thread(self.writer.close)

    def stop(self) -> None:
        self._stop.set()

    async def _follow(
        self,
        sub: JetStreamContext.PullSubscription,
        write: Callable[[list[Msg]], Awaitable[None]],
    ) -> None:
        while not self._stop.is_set():
            try:
                msgs = await sub.fetch(FETCH, timeout=1.0)
            except (NatsTimeout, TimeoutError):
                continue
            except Exception as exc:  # the bus is away: the client reconnects
                log.warning("store writer: fetch failed: %s", str(exc) or type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            await write(msgs)

    async def _write_batches(self, msgs: list[Msg]) -> None:
        writer = self.writer
        assert writer is not None
        started = time.process_time()
        jobs = []
        taken: list[Msg] = []
        for msg in msgs:
            try:
                batch = decode_batch(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("store writer: dropping an unreadable batch: %s", exc)
                await msg.term()
                continue
            jobs.append(
                writer.write_mentions(
                    batch.mentions,
                    [d.to_store() for d in batch.dead_letters],
                    edits=batch.edits,
                    deleted=batch.deleted,
                )
            )
            taken.append(msg)
        self.stats.cpu_seconds += time.process_time() - started
        # One group commit for all of them: the writer thread takes every queued job.
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for msg, result in zip(taken, results, strict=True):
            if isinstance(result, BaseException):
                # Not acked: JetStream delivers it again after ack_wait.
                log.error("store writer: commit failed: %s", result)
                continue
            new = sum(result)
            self.stats.batches += 1
            self.stats.mentions_new += new
            self.stats.mentions_repeated += len(result) - new
            with contextlib.suppress(Exception):
                await msg.ack()

    # ------------------------------------------------------------------ requests

    async def _on_request(self, msg: Msg) -> None:
        # Each on its own task: a long search does not hold up a triage action.
        task = asyncio.create_task(self._answer(msg), name="store-request")
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, msg: Msg) -> None:
        writer = self.writer
        assert writer is not None and self.nc is not None
        try:
            request = decode_request(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("store writer: an unreadable request on %s: %s", msg.subject, exc)
            with contextlib.suppress(Exception):
                await msg.respond(encode_answer(error=f"an unreadable request: {exc}"))
            return
        try:
            result = await request.run(writer)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            log.error("store writer: %s failed: %s", msg.subject, reason)
            with contextlib.suppress(Exception):
                await msg.respond(encode_answer(error=reason))
            return
        origin = (msg.headers or {}).get(ORIGIN_HEADER, "")
        for change in request.changes(result):
            await self._announce(change, origin)
        self.stats.requests += 1
        answer = encode_answer(result)
        if len(answer) > self.nc.max_payload:
            # Stored already if it was a change; the hub must not wait 5 s to hear it.
            answer = encode_answer(
                error=f"the answer ({len(answer)} bytes) is larger than the bus takes "
                f"({self.nc.max_payload}): ask for fewer"
            )
        with contextlib.suppress(Exception):  # the hub gave up waiting: it said 503
            await msg.respond(answer)

    async def _announce(self, change: TriageEvent | BriefingEvent, origin: str) -> None:
        """Put a committed change on the events stream, naming the hub that asked (it
        has shown it already)."""
        assert self.nc is not None
        if isinstance(change, TriageEvent):
            subject = self.names.triage_subject(change.mention_id)
        else:
            subject = self.names.briefing_subject(change.briefing.id)
        try:
            await self.nc.jetstream().publish(
                subject,
                encode(change),
                stream=self.names.events_stream,
                headers={ORIGIN_HEADER: origin} if origin else None,
                timeout=5.0,
            )
        except Exception as exc:  # stored, and shown by the hub that asked; logged for the rest
            log.error("store writer: could not put %s on the bus: %s", subject, exc)

    # ------------------------------------------------------------------ incidents

    async def _events(self, sub: JetStreamContext.PullSubscription) -> None:
        await self._follow(sub, self._write_events)

    async def _write_events(self, msgs: list[Msg]) -> None:
        writer = self.writer
        assert writer is not None
        for msg in msgs:
            if not self.names.is_incident(msg.subject):
                # Triage and briefing changes: this process stored them before it
                # put them on the bus.
                with contextlib.suppress(Exception):
                    await msg.ack()
                continue
            try:
                event = decode_incident(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("store writer: dropping an unreadable event: %s", exc)
                await msg.term()
                continue
            try:
                await writer.call(_put_incident(event))
            except Exception as exc:
                log.error("store writer: storing incident %s failed: %s", event.incident.id, exc)
                continue
            self.stats.incidents += 1
            with contextlib.suppress(Exception):
                await msg.ack()


def _put_incident(event: IncidentEvent) -> Callable[[Store], None]:
    def put(store: Store) -> None:
        store.put_incident(event)

    return put
