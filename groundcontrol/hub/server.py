"""The hub: takes batches from feeds on /ingest, enriches and aggregates them, and
publishes bounded ticks to walls on /stream.

One aiohttp application, one event loop. Work is batched: a feed's batch is
decoded in one call, deduped, enriched and handed to the analytics buffer; the
publisher folds the buffer into windows once per tick and sends every client one
pre-encoded message, so the cost of the screen does not grow with the event rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from multidict import MultiMapping

from groundcontrol import __version__
from groundcontrol.config import Config
from groundcontrol.hub.auth import Denied, Permission, Principal, Role, Tokens
from groundcontrol.hub.metrics import (
    CONTENT_TYPE,
    Metric,
    process_rss_bytes,
    render,
    sqlite_memory_bytes,
)
from groundcontrol.hub.rebuild import rebuild
from groundcontrol.hub.workers import EnrichPool
from groundcontrol.listen.copies import CopyIndex
from groundcontrol.model import CATEGORIES, Mention, utc
from groundcontrol.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Batch,
    DeadItems,
    ErrorReply,
    FeedHello,
    FeedInfo,
    FeedStatus,
    IncidentEvent,
    ItemError,
    MentionsEvent,
    RawBatch,
    StreamHello,
    Tick,
    Welcome,
    decode_ingest,
    encode,
)
from groundcontrol.query import Query, QuerySyntaxError, parse_query
from groundcontrol.signals.analytics import Analytics
from groundcontrol.signals.incidents import IncidentError
from groundcontrol.store.database import DeadLetter, Store, StoreError
from groundcontrol.store.writer import StoreWriter
from groundcontrol.text import TextInfo, analyse

if TYPE_CHECKING:
    from groundcontrol.hub.notify import Notifier

log = logging.getLogger("groundcontrol.hub.server")

HUB_NAME = f"groundcontrol/{__version__}"
#: Past this size aiohttp drops the connection (close code 1009); between the soft
#: limit (config) and this one the hub answers with an error and keeps the socket.
HARD_LIMIT_FACTOR = 4
#: Messages a slow /stream client may have queued before it is dropped.
MAX_CLIENT_BACKLOG = 256
#: Batches of one feed being enriched or committed at once; past this the hub stops
#: reading that socket, so a flooding feed is slowed by TCP backpressure instead of
#: queueing. 8 keeps enrichment and the store busy at once (4 measured 20.8k
#: mentions/s with the store, 8 measured 24.4k); a quiet feed's batch still waits
#: behind at most 8 of a flooder's (test_a_flooding_feed_cannot_starve_a_quiet_one).
#: How long a named feed that went away stays on the wall as down.
DEPARTED_KEPT_SECONDS = 86_400.0
MAX_BATCHES_IN_FLIGHT = 8
#: Most bytes of a refused message kept in the dead letters (an oversized one may be MBs).
DEAD_LETTER_MAX_BYTES = 64 * 1024

#: What handling one /ingest message yields: a reply now, a reply later, or none.
Reply = bytes | Awaitable[bytes] | None

#: C0 controls other than tab, newline and carriage return, and DEL: no social text
#: has them, and they can corrupt terminals and CSV exports downstream.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_mention_decoder = msgspec.json.Decoder(Mention)
_generic_decoder = msgspec.json.Decoder()


class IncidentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /incidents/ID/ACTION (all optional; may be empty)."""

    note: str = ""
    """Why (kept in the incident's history)."""
    seconds: float = 0.0
    """For a snooze: how long."""


#: Seconds between two saves of the detectors' states to the store.
DETECTOR_SAVE_SECONDS = 300.0
#: Most incidents /metrics counts (the book keeps at most 200).
MAX_INCIDENTS_COUNTED = 1_000
#: The actions POST /incidents/ID/ACTION takes.
INCIDENT_ACTIONS = ("ack", "snooze", "resolve")
#: A snooze with no length lasts this long; none may last longer than a week.
DEFAULT_SNOOZE_SECONDS = 3600.0
MAX_SNOOZE_SECONDS = 7 * 86400.0


class TriageRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /triage."""

    mention_id: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    action: Literal["label", "assign", "escalate", "resolve", "ignore", "note"]
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    note: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class Dedupe:
    """Remembers the most recent ``capacity`` mention ids (insertion-ordered dict)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: dict[str, None] = {}

    def add(self, key: str) -> bool:
        """Record ``key``; False when it was already seen."""
        seen = self._seen
        if key in seen:
            return False
        seen[key] = None
        if len(seen) > self.capacity:
            # Evict the oldest tenth in one go rather than one per insert; islice
            # walks only the keys it evicts (list(seen) would copy all of them).
            for old in list(islice(seen, len(seen) // 10 or 1)):
                del seen[old]
        return True

    def forget(self, keys: Iterable[str]) -> None:
        """Un-see ``keys`` (a batch that was not taken after all)."""
        for key in keys:
            self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, key: str) -> bool:
        return key in self._seen


@dataclass
class Counters:
    """What the hub has done since it started."""

    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    edits: int = 0
    """Edits of mentions received from sources."""
    deletions: int = 0
    """Deletions of mentions received from sources."""
    incident_events: dict[str, int] = field(default_factory=dict)
    """Incident changes by kind of change (opened, escalated, acknowledged...)."""

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


@dataclass
class FeedState:
    """One connected feed."""

    name: str
    source: str
    demo: bool
    connected: bool = True
    last_seen: float = 0.0
    events: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=120))
    errors: int = 0
    pending: int = 0
    spool_depth: int = 0
    spool_bytes: int = 0
    lag_seconds: float = 0.0
    rate_limit_wait: float = 0.0
    reported_errors: int = 0
    """Errors the feed itself reports (its source's), besides the hub's own count."""
    detail: str = ""
    last_event_at: float = 0.0
    """When the feed last heard from its source, as it reports."""
    last_batch_at: float = 0.0
    named: bool = False
    """The feed said its name in its hello (an unnamed one is not remembered)."""
    down_since: float = 0.0

    def events_per_min(self, now: float) -> float:
        return float(sum(n for t, n in self.events if now - t <= 60.0))


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


class Hub:
    """The hub's state and handlers; ``app()`` builds the aiohttp application."""

    def __init__(
        self,
        config: Config,
        *,
        demo: bool = False,
        clock: Callable[[], float] = time.time,
        store_path: str | Path | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.config = config
        # None: no access control at all. Only for in-process use (tests, simulation):
        # the CLI always passes Tokens, and a hub with no tokens refuses everyone.
        self.tokens = tokens
        self.denied: dict[tuple[str, int], int] = {}
        self.demo = demo
        self.clock = clock
        self.store_path = Path(store_path) if store_path is not None else None
        self.writer: StoreWriter | None = None
        self.rebuilt = 0
        #: Mentions the store took before this process started (the wall's total
        #: goes on across restarts; /metrics counters start at 0, as counters do).
        self.ingested_before = 0
        self.started_at = clock()
        self.enrich_pool = EnrichPool(
            config.brands,
            config.queries,
            workers=config.hub.enrich_workers,
            triage=config.triage,
            compliance=config.compliance,
        )
        # The pool's inline enricher also serves take_batch: one set of lexicons.
        self.enricher = self.enrich_pool.inline
        self.copies = CopyIndex()
        """Marks retweets, quotes and near-duplicates (``Mention.copy_of``)."""
        self.analytics = Analytics(config)
        self.dedupe = Dedupe(config.hub.dedupe_capacity)
        # Mention id -> the commit of the batch that brought it, while it is pending.
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self.counters = Counters()
        self.feeds: dict[int, FeedState] = {}
        #: Named feeds that went away, by name, until they come back.
        self.departed: dict[str, FeedState] = {}
        #: Feeds this hub runs itself (from the config): name -> (state, problem).
        self.configured: dict[str, tuple[str, str]] = {}
        self._ingest_sockets: set[web.WebSocketResponse] = set()
        self.subscribers: set[StreamSubscriber] = set()
        self.tick_seq = 0
        self.last_tick: Tick | None = None
        self._publisher: asyncio.Task[None] | None = None
        self.tick_seconds = 0.0
        self.tick_seconds_total = 0.0
        self._states_saved_at = 0.0
        self.notifier: Notifier | None = None
        """Sends incidents to chat, mail and webhooks ([[notify]] in the config)."""
        if config.notify and demo:
            # Synthetic incidents must not reach real people.
            log.warning("demo data: the [[notify]] channels are not used")
        elif config.notify:
            # Here, not at startup: a channel whose URL variable is unset stops the hub
            # (ConfigError) before it binds a socket.
            from groundcontrol.hub.notify import Delivery, Notifier

            def record(d: Delivery) -> None:
                if self.writer is not None:  # without a store the notifier's log says it
                    self.writer.notification(
                        d.incident_id,
                        d.channel,
                        d.change,
                        at=d.at,
                        attempts=d.attempts,
                        outcome=d.outcome,
                        reason=d.reason,
                    )

            self.notifier = Notifier(
                config.notify, record=record, clock=clock, source=config.source
            )

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.hub.max_message_bytes)
        app.router.add_get("/ingest", self.handle_ingest)
        app.router.add_get("/stream", self.handle_stream)
        app.router.add_get("/healthz", self.handle_healthz)
        app.router.add_get("/metrics", self.handle_metrics)
        app.router.add_post("/triage", self.handle_triage)
        app.router.add_get("/triage/queue", self.handle_triage_queue)
        app.router.add_get("/incidents", self.handle_incidents)
        app.router.add_get("/incidents/{id}", self.handle_incident)
        app.router.add_post("/incidents/{id}/{action}", self.handle_incident_action)
        app.router.add_get("/", self.handle_index)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        if self.store_path is not None:
            await asyncio.to_thread(self.open_store, self.store_path)
            assert self.writer is not None
            self.writer.start()
        await self.enrich_pool.start()
        if self.notifier is not None:
            await self.notifier.start()
        self._publisher = asyncio.create_task(self._publish_loop(), name="hub-publisher")

    async def _on_shutdown(self, _app: web.Application) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
        for sub in list(self.subscribers):
            sub.closed = True
            sub.wake.set()
            await sub.ws.close(code=1001, message=b"hub shutting down")
        for ws in list(self._ingest_sockets):
            await ws.close(code=1001, message=b"hub shutting down")
        self.enrich_pool.close()
        if self.notifier is not None:
            # Before the writer closes: what it gives up on is recorded in the store.
            await self.notifier.close()
        if self.writer is not None:
            self._save_detector_states(force=True)
            await asyncio.to_thread(self.writer.close)

    def open_store(self, path: Path) -> None:
        """Open the store, rebuild the windows from it, and start its writer thread.

        Raises StoreError when the file cannot be used. Runs before the hub serves.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create its directory: {exc.strerror}") from exc
        store = Store(path)
        self.ingested_before = store.mentions_ever()
        if self.config.store.rebuild:
            started = time.perf_counter()

            def progress(n: int) -> None:
                if n % 100_000 < 5_000:
                    log.info("rebuilding windows from %s: %d mentions so far", path, n)

            # The writer thread has not started: this thread may use its connection.
            self.rebuilt = rebuild(
                self.analytics,
                store,
                self.clock(),
                progress=progress,
                max_mentions=self.config.store.rebuild_max_mentions,
            )
            log.info(
                "rebuilt the last %d s of windows from %d stored mentions in %.1f s",
                self.analytics.history_buckets * self.analytics.bucket_seconds,
                self.rebuilt,
                time.perf_counter() - started,
            )
        if not self.config.store.rebuild:
            self.analytics.restore_incidents(store.incidents_to_restore(self.clock()))
        if self.notifier is not None:
            # Who heard about the incidents taken back, so they hear how they end.
            for inc in self.analytics.incidents.all():
                told = store.notifications(inc.id)
                delivered = {n["channel"] for n in told if n["outcome"] == "delivered"}
                self.notifier.remember(inc, delivered)
        # The detectors take back what they had learnt (two weeks of extremes), not
        # just the last hour the rebuild replayed: a restart is no cold start.
        saved_at, states = store.detector_states()
        if states:
            taken = self.analytics.restore_detectors(states)
            log.info(
                "took back %d of %d detector states saved %.0f s ago",
                taken,
                len(states),
                self.clock() - (saved_at or self.clock()),
            )
        self._states_saved_at = self.clock()
        self.writer = StoreWriter(
            store,
            retention_seconds=self.config.store.retention_days * 86400.0,
            prune_interval=self.config.store.prune_interval_seconds,
            clock=self.clock,
            synchronous=self.config.store.synchronous,
        )

    # ------------------------------------------------------------------ ingest

    def take_batch(
        self, mentions: list[Mention], feed: FeedState | None, queued: float = 0.0
    ) -> tuple[int, int]:
        """Dedupe, enrich and buffer a decoded batch inline (no store). Returns
        (accepted, duplicates)."""
        fresh = self._dedupe(mentions)
        self.enricher.enrich(fresh)
        self.copies.mark(fresh)
        self._stamp_arrival(fresh, queued)
        self._commit(fresh, feed, len(mentions) - len(fresh))
        return len(fresh), len(mentions) - len(fresh)

    async def take_batch_async(
        self,
        mentions: list[Mention],
        feed: FeedState | None,
        dead_letters: list[DeadLetter] | None = None,
        queued: float = 0.0,
    ) -> tuple[int, int]:
        """Like take_batch, with enrichment in the worker pool and, with a store, the
        batch committed to disk (with its dead letters) before this returns.

        A mention already seen whose first copy is still on its way to the store is
        a duplicate only once that copy is committed: the ack waits for it, and fails
        if it fails (an ack must never cover something that is not on disk).
        """
        fresh, originals = self._dedupe_waiting(mentions)
        taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        taken.add_done_callback(_retrieve)
        inflight = self._inflight
        claimed = [m.id for m in fresh]
        for key in claimed:
            inflight[key] = taken
        try:
            if fresh:
                await self.enrich_pool.enrich(fresh)
                self.copies.mark(fresh)
            self._stamp_arrival(fresh, queued)
            if self.writer is not None and (fresh or dead_letters):
                new = await self.writer.write_mentions(fresh, dead_letters)
                if not all(new):
                    # Stored before a restart: a resend of something already taken.
                    fresh = [m for m, is_new in zip(fresh, new, strict=True) if is_new]
        except BaseException as exc:
            # Not taken after all: forget the ids so the feed's resend is accepted.
            self.dedupe.forget(m.id for m in fresh)
            taken.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        else:
            taken.set_result(None)
        finally:
            for key in claimed:
                if inflight.get(key) is taken:
                    del inflight[key]
        if originals:
            await asyncio.gather(*originals)
        self._commit(fresh, feed, len(mentions) - len(fresh))
        return len(fresh), len(mentions) - len(fresh)

    async def _take_changes(self, edits: list[Mention], deleted: list[str]) -> None:
        """Apply a source's edits and deletions to the store (before the batch's new
        mentions, in the same order as the feed sent them).

        An edit of a mention the hub has not seen is then taken as a new mention by
        the caller. The live windows keep what they
        counted; the store, which analysts search and export, follows the source.
        """
        for m in edits:
            m.id = f"{m.source}:{m.source_id}"
            if m.created_at.utcoffset():
                m.created_at = utc(m.created_at)
        # A change to a mention whose first copy is still on its way to the store
        # waits for it, or the change would find nothing to change.
        pending = {f for key in [m.id for m in edits] + deleted if (f := self._inflight.get(key))}
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if edits:
            await self.enrich_pool.enrich(edits)
        self.counters.edits += len(edits)
        self.counters.deletions += len(deleted)
        if self.writer is not None:
            await self.writer.write_mentions([], edits=edits, deleted=deleted)

    def _stamp_arrival(self, fresh: list[Mention], queued: float) -> None:
        """Set when the batch counts as received: now, or as long ago as it waited in
        its feed (at most the history the windows keep)."""
        arrived = self.clock()
        if queued > 0:
            history = self.analytics.history_buckets * self.analytics.bucket_seconds
            arrived -= min(queued, history)
        for m in fresh:
            m.received_at = arrived

    def _dedupe_waiting(
        self, mentions: list[Mention]
    ) -> tuple[list[Mention], set[asyncio.Future[None]]]:
        """_dedupe, plus the pending commits of the first copies of the duplicates."""
        repeats: list[str] = []
        fresh = self._dedupe(mentions, repeats)
        originals: set[asyncio.Future[None]] = set()
        if repeats and self._inflight:
            for key in repeats:
                original = self._inflight.get(key)
                if original is not None and not original.done():
                    originals.add(original)
        return fresh, originals

    def _dedupe(self, mentions: list[Mention], repeats: list[str] | None = None) -> list[Mention]:
        """The mentions not seen before, with their ids set; the keys of the others go
        to ``repeats`` when given."""
        fresh: list[Mention] = []
        add = self.dedupe.add
        for m in mentions:
            key = f"{m.source}:{m.source_id}"
            if not add(key):
                if repeats is not None:
                    repeats.append(key)
                continue
            m.id = key
            if m.created_at.utcoffset():
                m.created_at = utc(m.created_at)
            fresh.append(m)
        return fresh

    def _commit(self, fresh: list[Mention], feed: FeedState | None, dups: int) -> None:
        now = self.clock()
        if fresh:
            self.analytics.add(fresh)
            self._fan_out_mentions(fresh)
        accepted = len(fresh)
        self.counters.ingested += accepted
        self.counters.duplicates += dups
        self.counters.batches += 1
        if feed is not None:
            feed.last_seen = feed.last_batch_at = now
            feed.events.append((now, accepted))
            if fresh:
                newest = max(m.created_at for m in fresh).timestamp()
                feed.lag_seconds = max(0.0, now - newest)

    def _fan_out_mentions(self, fresh: list[Mention]) -> None:
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

    def handle_message(self, data: bytes, feed: FeedState | None) -> Reply:
        """Handle one /ingest message: the encoded reply, an awaitable of it, or None.

        Decoding and dedupe happen here, in arrival order; enrichment of a batch is
        returned as an awaitable so the connection can read on while it runs.
        """
        limit = self.config.hub.max_message_bytes
        if len(data) > limit:
            return self._refuse(
                feed,
                "oversized",
                f"message is {len(data)} bytes; the limit is {limit}",
                payload=data,
            )
        try:
            msg = decode_ingest(data)
        except msgspec.ValidationError:
            return self._handle_invalid(data, feed)
        except msgspec.DecodeError as exc:
            return self._refuse(feed, "malformed", f"not valid JSON: {exc}", payload=data)
        except UnicodeDecodeError as exc:
            return self._refuse(
                feed,
                "malformed",
                f"not valid UTF-8: {exc.reason} at byte {exc.start}",
                payload=data,
            )
        if isinstance(msg, Batch):
            good, errors = self._screen(msg.mentions, [], list(range(len(msg.mentions))))
            letters: list[DeadLetter] = []
            if errors:
                self._count_rejected(feed, len(errors))
                letters = [
                    self._dead_letter(feed, e.reason, encode(msg.mentions[e.index])) for e in errors
                ]
            if msg.edits or msg.deleted:
                edit_errors: list[ItemError] = []
                edits, edit_errors = self._screen(
                    msg.edits, edit_errors, list(range(len(msg.edits)))
                )
                if edit_errors:
                    self._count_rejected(feed, len(edit_errors))
                    letters += [
                        self._dead_letter(feed, f"edit: {e.reason}", encode(msg.edits[e.index]))
                        for e in edit_errors
                    ]
                return self._ack_later(
                    msg.seq,
                    good,
                    feed,
                    errors,
                    letters,
                    msg.queued,
                    edits=edits,
                    deleted=[f"{r.source}:{r.source_id}" for r in msg.deleted],
                )
            return self._ack_later(msg.seq, good, feed, errors, letters, msg.queued)
        if isinstance(msg, FeedHello):
            if msg.protocol != PROTOCOL_VERSION:
                return self._refuse(
                    feed,
                    "protocol",
                    f"protocol {msg.protocol} is not supported; this hub speaks {PROTOCOL_VERSION}",
                    payload=data,
                )
            if feed is not None:
                feed.name = msg.name or feed.name
                feed.named = bool(msg.name)
                self.departed.pop(feed.name, None)
                feed.source = msg.source
                feed.demo = msg.demo
                if msg.demo:
                    self.demo = True
            return encode(Welcome(protocol=PROTOCOL_VERSION, hub=HUB_NAME))
        if isinstance(msg, FeedStatus):
            if feed is not None:
                feed.pending = msg.pending
                feed.spool_depth = msg.spool_depth
                feed.spool_bytes = msg.spool_bytes
                feed.rate_limit_wait = msg.rate_limit_wait
                feed.reported_errors = msg.errors
                feed.detail = msg.detail
                feed.last_event_at = msg.last_event_at
            return None
        if isinstance(msg, DeadItems):
            self._count_rejected(feed, len(msg.items))
            if self.writer is not None:
                self.writer.dead_letters(
                    [
                        self._dead_letter(feed, f"feed: {d.reason}", d.payload.encode())
                        for d in msg.items
                    ]
                )
            return None
        raise AssertionError(msg)  # pragma: no cover - the union is exhaustive

    async def _ack_later(
        self,
        seq: int,
        mentions: list[Mention],
        feed: FeedState | None,
        errors: list[ItemError],
        letters: list[DeadLetter],
        queued: float = 0.0,
        *,
        edits: list[Mention] | None = None,
        deleted: list[str] | None = None,
    ) -> bytes:
        if edits:
            # An edit of a mention the hub never saw is a new mention as well.
            mentions = mentions + [
                m for m in edits if f"{m.source}:{m.source_id}" not in self.dedupe
            ]
        accepted, dups = await self.take_batch_async(mentions, feed, letters, queued)
        if edits or deleted:
            # After the batch's new mentions: a post and its edit (or deletion) may
            # come in the same batch.
            await self._take_changes(edits or [], deleted or [])
        return encode(
            Ack(
                seq=seq,
                accepted=accepted,
                duplicates=dups,
                rejected=len(errors),
                errors=errors[:50],
            )
        )

    def _handle_invalid(self, data: bytes, feed: FeedState | None) -> Reply:
        """The fast typed decode failed: find out what exactly was wrong."""
        try:
            generic = _generic_decoder.decode(data)
        except RecursionError:
            return self._refuse(feed, "invalid", "JSON nested too deeply", payload=data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # pragma: no cover
            return self._refuse(feed, "malformed", str(exc), payload=data)
        if not isinstance(generic, dict):
            return self._refuse(
                feed,
                "invalid",
                f"expected a JSON object, got {type(generic).__name__}",
                payload=data,
            )
        kind = generic.get("type")
        if kind not in ("batch", "hello", "status", "dead"):
            return self._refuse(
                feed,
                "unknown_type",
                f"unknown message type {kind!r}; expected 'hello', 'batch', 'status' or 'dead'",
                payload=data,
            )
        if kind != "batch":
            try:
                decode_ingest(data)
            except msgspec.ValidationError as exc:
                return self._refuse(feed, "invalid", f"bad {kind} message: {exc}", payload=data)
        try:
            raw = msgspec.json.decode(data, type=RawBatch)
        except msgspec.ValidationError as exc:
            return self._refuse(
                feed, "invalid", f"bad batch: {exc}", seq=generic.get("seq"), payload=data
            )
        if len(raw.mentions) > 5_000:
            return self._refuse(
                feed,
                "invalid",
                f"batch holds {len(raw.mentions)} mentions; the limit is 5000",
                seq=raw.seq,
                payload=data,
            )
        decoded: list[Mention] = []
        positions: list[int] = []
        errors: list[ItemError] = []
        for i, item in enumerate(raw.mentions):
            try:
                decoded.append(_mention_decoder.decode(item))
                positions.append(i)
            except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
                errors.append(ItemError(index=i, reason=str(exc)))
            except RecursionError:
                errors.append(ItemError(index=i, reason="nested too deeply"))
        good, errors = self._screen(decoded, errors, positions)
        self._count_rejected(feed, len(errors))
        letters = [self._dead_letter(feed, e.reason, bytes(raw.mentions[e.index])) for e in errors]
        return self._ack_later(raw.seq, good, feed, errors, letters, raw.queued)

    def _dead_letter(self, feed: FeedState | None, reason: str, payload: bytes) -> DeadLetter:
        if len(payload) > DEAD_LETTER_MAX_BYTES:
            reason += f" (payload cut to its first {DEAD_LETTER_MAX_BYTES} of {len(payload)} bytes)"
            payload = payload[:DEAD_LETTER_MAX_BYTES]
        return DeadLetter(
            received_at=self.clock(),
            feed=feed.name if feed is not None else "",
            reason=reason,
            payload=payload,
        )

    def _screen(
        self, mentions: list[Mention], errors: list[ItemError], positions: list[int]
    ) -> tuple[list[Mention], list[ItemError]]:
        """Checks the schema cannot express: control characters and dates out of range."""
        now = self.clock()
        latest = now + self.config.hub.max_future_seconds
        earliest = now - self.config.hub.max_age_days * 86400
        search = _CONTROL_CHARS.search
        good: list[Mention] = []
        for i, m in zip(positions, mentions, strict=True):
            ts = m.created_at.timestamp()
            reason = ""
            if ts > latest:
                reason = f"created_at {m.created_at.isoformat()} is in the future"
            elif ts < earliest:
                reason = f"created_at {m.created_at.isoformat()} is too far in the past"
            elif search(m.text) or search(m.author) or search(m.source_id) or search(m.url):
                reason = "control characters in text, author, source_id or url"
            if reason:
                errors.append(ItemError(index=i, reason=reason))
            else:
                good.append(m)
        if len(errors) > 1:
            errors.sort(key=lambda e: e.index)
        return good, errors

    def _count_rejected(self, feed: FeedState | None, n: int) -> None:
        self.counters.rejected += n
        if feed is not None:
            feed.errors += n

    def _refuse(
        self,
        feed: FeedState | None,
        code: str,
        message: str,
        seq: Any = None,
        *,
        payload: bytes = b"",
    ) -> bytes:
        self.counters.error(code)
        if feed is not None:
            feed.errors += 1
        log.warning("ingest %s: %s", code, message)
        if self.writer is not None:
            self.writer.dead_letters([self._dead_letter(feed, f"{code}: {message}", payload)])
        return encode(
            ErrorReply(
                code=code,  # type: ignore[arg-type]
                message=message,
                seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            )
        )

    def authorize(self, request: web.Request, permission: Permission) -> Principal | None:
        """The caller's principal, or an HTTP 401/403 error with the reason in the body."""
        if self.tokens is None:
            return None
        try:
            return self.tokens.authorize(request.headers.get("Authorization"), permission)
        except Denied as exc:
            key = (request.path, exc.status)
            self.denied[key] = self.denied.get(key, 0) + 1
            log.warning(
                "refused %s %s from %s: %s", request.method, request.path, request.remote, exc
            )
            text = f"{exc.reason}\n"
            if exc.status == 401:
                raise web.HTTPUnauthorized(
                    text=text, headers={"WWW-Authenticate": 'Bearer realm="groundcontrol"'}
                ) from None
            raise web.HTTPForbidden(text=text) from None

    async def handle_ingest(self, request: web.Request) -> web.WebSocketResponse:
        self.authorize(request, Permission.INGEST)
        ws = web.WebSocketResponse(
            max_msg_size=self.config.hub.max_message_bytes * HARD_LIMIT_FACTOR, heartbeat=20
        )
        await ws.prepare(request)
        feed = FeedState(name=request.remote or "feed", source="", demo=False)
        feed.last_seen = self.clock()
        self.feeds[id(ws)] = feed
        self._ingest_sockets.add(ws)
        # Replies go out in message order from one task, while the reader goes on
        # decoding the next batches; the bounded queue is the per-feed backpressure.
        replies: asyncio.Queue[asyncio.Future[bytes] | bytes | None] = asyncio.Queue(
            MAX_BATCHES_IN_FLIGHT
        )
        writer = asyncio.create_task(self._send_replies(ws, replies), name="ingest-replies")
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = self.handle_message(msg.data.encode("utf-8", "surrogatepass"), feed)
                elif msg.type == WSMsgType.BINARY:
                    reply = self.handle_message(msg.data, feed)
                elif msg.type == WSMsgType.ERROR:
                    self.counters.error("oversized")
                    log.warning("ingest connection error: %s", ws.exception())
                    break
                else:
                    continue
                if writer.done():
                    break
                if reply is None:
                    continue
                await replies.put(
                    reply if isinstance(reply, bytes) else asyncio.ensure_future(reply)
                )
        finally:
            # Let the batches already taken finish and be acked, then stop the writer.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(replies.put(None), 10)
                await asyncio.wait_for(asyncio.shield(writer), 10)
            writer.cancel()
            feed.connected = False
            self.feeds.pop(id(ws), None)
            self._ingest_sockets.discard(ws)
            if feed.named and not any(f.name == feed.name for f in self.feeds.values()):
                # Shown as down on the wall until it comes back (a day at most), with
                # how it went; the feed's own last word after that, if it had one.
                feed.down_since = self.clock()
                gone = _how_ingest_ended(ws)
                feed.detail = f"{gone}; it last said: {feed.detail}" if feed.detail else gone
                self.departed[feed.name] = feed
        return ws

    async def _send_replies(
        self,
        ws: web.WebSocketResponse,
        replies: asyncio.Queue[asyncio.Future[bytes] | bytes | None],
    ) -> None:
        while True:
            item = await replies.get()
            if item is None:  # the reader has stopped
                return
            try:
                data = item if isinstance(item, bytes) else await item
            except Exception as exc:
                # Not acked, so still in the feed's spool: make it reconnect and resend.
                log.error("a batch failed (%s); closing the feed so it resends", exc)
                reason = f"hub could not take a batch: {exc}"[:120]
                await ws.close(code=1011, message=reason.encode())
                return
            if not ws.closed:
                await ws.send_bytes(data)

    # ------------------------------------------------------------------ stream

    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        self.authorize(request, Permission.READ)
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
            demo=self.demo,
            brands=[b.name for b in self.config.brands],
            tick_interval=self.config.hub.tick_interval,
            bucket_seconds=self.config.analytics.bucket_seconds,
            window_seconds=self.config.analytics.window_seconds,
            takeover_severity=self.config.spikes.takeover_severity,
        )
        await ws.send_bytes(encode(hello))
        snapshot = self.analytics.snapshot(self.clock())
        snapshot.tick = self._stamp(snapshot.tick)
        await ws.send_bytes(encode(snapshot))
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

    def _stamp(self, tick: Tick) -> Tick:
        now = self.clock()
        return msgspec.structs.replace(
            tick,
            seq=self.tick_seq,
            demo=self.demo,
            ingested_total=self.ingested_before + self.counters.ingested,
            rejected_total=self.counters.rejected,
            duplicates_total=self.counters.duplicates,
            feeds=self.feed_infos(now),
            triage=msgspec.structs.replace(tick.triage, pending=self.review_pending()),
        )

    def review_pending(self) -> int:
        """The store's review queue length as last counted (never a read on the loop);
        -1 with no store or before the first count."""
        return -1 if self.writer is None else self.writer.review_pending

    def feed_changed(self, name: str, state: str, problem: str) -> None:
        """News about a feed this hub runs: starting, running, restarting, failed or
        finished, and what is wrong with it."""
        self.configured[name] = (state, problem)

    def feed_infos(self, now: float) -> list[FeedInfo]:
        """Every feed the wall should know of: connected ones, named ones that went
        away in the last day, and the ones this hub runs that are not connected (yet)."""
        for name, gone in list(self.departed.items()):
            if now - gone.down_since > DEPARTED_KEPT_SECONDS:
                del self.departed[name]
        states = [*self.feeds.values(), *self.departed.values()]
        infos = [
            FeedInfo(
                name=f.name,
                source=f.source,
                demo=f.demo,
                connected=f.connected,
                last_seen=f.last_seen,
                events_per_min=f.events_per_min(now),
                errors=f.errors + f.reported_errors,
                spool_depth=f.spool_depth,
                lag_seconds=round(f.lag_seconds, 3),
                rate_limit_wait=round(f.rate_limit_wait, 1),
                detail=f.detail[:200],
                # A feed that does not report its source's events: its last batch.
                last_event_at=f.last_event_at or f.last_batch_at,
                down_since=f.down_since,
            )
            for f in states
        ]
        known = {f.name for f in states}
        for name, (state, problem) in self.configured.items():
            if name not in known:
                infos.append(
                    FeedInfo(
                        name=name,
                        source="",
                        demo=False,
                        connected=False,
                        last_seen=0.0,
                        events_per_min=0.0,
                        errors=0,
                        detail=problem or state,
                    )
                )
            elif problem:
                # The feed is connected (or was) but its runner has something to say.
                for info in infos:
                    if info.name == name and not info.detail:
                        info.detail = problem[:200]
        return infos[:32]

    def publish_once(self) -> tuple[Tick, list[IncidentEvent]]:
        """Fold buffered mentions into the windows and send every client a tick."""
        started = time.perf_counter()
        tick, events = self.analytics.tick(self.clock())
        self.tick_seconds = time.perf_counter() - started
        self.tick_seconds_total += self.tick_seconds
        self.tick_seq += 1
        tick = self._stamp(tick)
        self.last_tick = tick
        data = encode(tick)
        for ev in events:
            self._incident_changed(ev)
        self._save_detector_states()
        for sub in self.subscribers:
            sub.offer_tick(data)
        return tick, events

    def _save_detector_states(self, *, force: bool = False) -> None:
        """Hand the detectors' states to the store every DETECTOR_SAVE_SECONDS."""
        now = self.clock()
        if self.writer is None or (
            not force and now - self._states_saved_at < DETECTOR_SAVE_SECONDS
        ):
            return
        self._states_saved_at = now
        self.writer.detector_states(self.analytics.detector_states(), now)

    def _incident_changed(self, event: IncidentEvent) -> None:
        """Store an incident's change, tell every client and the notifier."""
        self.counters.incident_events[event.change] = (
            self.counters.incident_events.get(event.change, 0) + 1
        )
        if self.writer is not None:
            self.writer.incident(event)
        if self.notifier is not None:
            self.notifier.submit(event)
        data = encode(event)
        for sub in self.subscribers:
            sub.offer(data)

    async def _publish_loop(self) -> None:
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

    # ------------------------------------------------------------------ http

    async def handle_healthz(self, _request: web.Request) -> web.Response:
        now = self.clock()
        last = self.last_tick.at if self.last_tick else None
        body = {
            "status": "ok",
            "hub": HUB_NAME,
            "demo": self.demo,
            "uptime_s": round(now - self.started_at, 3),
            "ingested": self.counters.ingested,
            "duplicates": self.counters.duplicates,
            "rejected": self.counters.rejected,
            "errors": self.counters.errors,
            "clients": len(self.subscribers),
            "feeds": [msgspec.to_builtins(f) for f in self.feed_infos(now)],
            "last_tick_age_s": None if last is None else round(now - last, 3),
            "store": self._store_health(),
        }
        return web.json_response(body)

    def metrics(self) -> list[Metric]:
        """Everything /metrics reports."""
        now = self.clock()
        c = self.counters
        errors = Metric(
            "groundcontrol_ingest_errors_total",
            "Messages refused as a whole on /ingest, by error code.",
            "counter",
        )
        for code, n in sorted(c.errors.items()):
            errors.add(n, {"code": code})
        lag = Metric(
            "groundcontrol_feed_last_seen_age_seconds",
            "Seconds since each connected feed last delivered a batch.",
            "gauge",
        )
        rate = Metric(
            "groundcontrol_feed_events_per_minute",
            "Mentions each connected feed delivered in the last minute.",
            "gauge",
        )
        feed_errors = Metric(
            "groundcontrol_feed_errors", "Errors reported by or about each feed.", "gauge"
        )
        behind = Metric(
            "groundcontrol_feed_lag_seconds",
            "How far behind real time each feed's newest mention was when it arrived.",
            "gauge",
        )
        spool = Metric(
            "groundcontrol_feed_spool_depth",
            "Unacked batches each feed reports in its disk spool.",
            "gauge",
        )
        spool_bytes = Metric(
            "groundcontrol_feed_spool_bytes", "Bytes of each feed's disk spool.", "gauge"
        )
        waiting = Metric(
            "groundcontrol_feed_rate_limit_wait_seconds",
            "Seconds each feed has left in a wait its source imposed.",
            "gauge",
        )
        pending = Metric(
            "groundcontrol_feed_pending_batches",
            "Batches each feed has sent or queued and not yet had acked.",
            "gauge",
        )
        for f in list(self.feeds.values())[:64]:
            labels = {"feed": f.name, "source": f.source}
            lag.add(max(0.0, now - f.last_seen), labels)
            rate.add(f.events_per_min(now), labels)
            feed_errors.add(f.errors + f.reported_errors, labels)
            behind.add(f.lag_seconds, labels)
            spool.add(f.spool_depth, labels)
            spool_bytes.add(f.spool_bytes, labels)
            pending.add(f.pending, labels)
            waiting.add(f.rate_limit_wait, labels)
        up = Metric(
            "groundcontrol_feed_up",
            "1 for each feed connected now, 0 for one that went away or that the hub runs "
            "and could not start (what the wall's FEEDS panel shows as DOWN).",
            "gauge",
        )
        heard = Metric(
            "groundcontrol_feed_last_event_age_seconds",
            "Seconds since each connected feed last heard from its source (absent: never).",
            "gauge",
        )
        for info in self.feed_infos(now):
            labels = {"feed": info.name, "source": info.source}
            up.add(1 if info.connected else 0, labels)
            if info.connected and info.last_event_at:
                heard.add(max(0.0, now - info.last_event_at), labels)
        denied = Metric(
            "groundcontrol_auth_denied_total",
            "Requests refused for a missing, unknown or insufficient token.",
            "counter",
        )
        for (path, status), n in sorted(self.denied.items()):
            denied.add(n, {"path": path, "status": str(status)})
        notified = Metric(
            "groundcontrol_notifications_total",
            "Incident notifications to chat, mail and webhooks that ended, by channel and "
            "outcome (delivered, or failed after its retries).",
            "counter",
        )
        if self.notifier is not None:
            for (channel, outcome), n in sorted(self.notifier.outcomes.items()):
                notified.add(n, {"channel": channel, "outcome": outcome})
        incidents = Metric(
            "groundcontrol_incidents",
            "Incidents the walls show, by status and severity (resolved: in the last 30 min).",
            "gauge",
        )
        shown: dict[tuple[str, str], int] = {}
        for inc in self.analytics.incidents.current(now, limit=MAX_INCIDENTS_COUNTED):
            shown[(inc.status, inc.severity)] = shown.get((inc.status, inc.severity), 0) + 1
        for state in ("open", "acknowledged", "snoozed", "resolved"):
            for level in ("info", "warning", "critical"):
                incidents.add(shown.get((state, level), 0), {"status": state, "severity": level})
        changes = Metric(
            "groundcontrol_incident_changes_total",
            "Incident changes (opened, escalated, acknowledged, resolved...) since the start.",
            "counter",
        )
        for change, n in sorted(c.incident_events.items()):
            changes.add(n, {"change": change})
        return [
            incidents,
            changes,
            Metric("groundcontrol_mentions_ingested_total", "Mentions taken (new).", "counter").add(
                c.ingested
            ),
            Metric(
                "groundcontrol_mentions_deduplicated_total",
                "Mentions dropped as already seen (resends).",
                "counter",
            ).add(c.duplicates),
            Metric(
                "groundcontrol_mentions_rejected_total",
                "Mentions rejected by validation.",
                "counter",
            ).add(c.rejected),
            Metric("groundcontrol_batches_total", "Batches taken.", "counter").add(c.batches),
            Metric(
                "groundcontrol_mentions_edited_total",
                "Edits of mentions received from sources (applied to the store).",
                "counter",
            ).add(c.edits),
            Metric(
                "groundcontrol_mentions_deleted_total",
                "Deletions of mentions received from sources (removed from the store).",
                "counter",
            ).add(c.deletions),
            errors,
            Metric("groundcontrol_stream_clients", "Clients connected to /stream.", "gauge").add(
                len(self.subscribers)
            ),
            Metric("groundcontrol_feeds_connected", "Feeds connected to /ingest.", "gauge").add(
                len(self.feeds)
            ),
            lag,
            rate,
            feed_errors,
            behind,
            spool,
            spool_bytes,
            pending,
            waiting,
            up,
            heard,
            denied,
            notified,
            *self._store_metrics(),
            Metric(
                "groundcontrol_review_pending",
                "Mentions the triage rules sent to review that no one has triaged yet "
                "(counted every few seconds; -1 without a store or before the first count).",
                "gauge",
            ).add(self.review_pending()),
            Metric(
                "groundcontrol_dedupe_ids", "Mention ids the in-memory dedupe holds.", "gauge"
            ).add(len(self.dedupe)),
            Metric(
                "groundcontrol_tick_duration_seconds",
                "Time the last tick took to fold mentions into the windows.",
                "gauge",
            ).add(self.tick_seconds),
            Metric("groundcontrol_tick_seconds_total", "Time spent building ticks.", "counter").add(
                self.tick_seconds_total
            ),
            Metric("groundcontrol_ticks_total", "Ticks published.", "counter").add(self.tick_seq),
            Metric(
                "groundcontrol_enrich_fallbacks_total",
                "Batches enriched inline because a worker process died.",
                "counter",
            ).add(self.enrich_pool.fallbacks),
            Metric("groundcontrol_uptime_seconds", "Seconds since the hub started.", "gauge").add(
                now - self.started_at
            ),
            Metric(
                "groundcontrol_process_resident_memory_bytes",
                "Resident memory of the hub process.",
                "gauge",
            ).add(process_rss_bytes()),
        ]

    def _store_health(self) -> dict[str, Any] | None:
        w = self.writer
        if w is None:
            return None
        st = w.stats
        return {
            "path": str(w.store.path),
            "bytes": w.file_bytes(),
            "commit_p50_ms": round(st.quantile(0.5) * 1000, 2),
            "commit_p99_ms": round(st.quantile(0.99) * 1000, 2),
            "failures": st.failures,
            "last_error": st.last_error,
            "rebuilt_mentions": self.rebuilt,
        }

    def _store_metrics(self) -> list[Metric]:
        w = self.writer
        if w is None:
            return []
        st = w.stats
        latency = Metric(
            "groundcontrol_store_commit_seconds",
            "Time one store transaction (a group of batches) took to commit, "
            f"over the last {len(st.commit_seconds)} commits.",
            "summary",
        )
        for q in (0.5, 0.9, 0.99):
            latency.add(st.quantile(q), {"quantile": str(q)})
        latency.add(st.commit_seconds_sum, suffix="_sum")
        latency.add(st.commits, suffix="_count")
        return [
            Metric(
                "groundcontrol_store_bytes",
                "Size of the store on disk (database and WAL).",
                "gauge",
            ).add(w.file_bytes()),
            latency,
            Metric(
                "groundcontrol_store_mentions_written_total",
                "New mentions committed to the store.",
                "counter",
            ).add(st.mentions_written),
            Metric(
                "groundcontrol_store_dead_letters_total",
                "Rejected items and refused messages kept as dead letters.",
                "counter",
            ).add(st.dead_letters_written),
            Metric(
                "groundcontrol_store_failures_total",
                "Store commits that failed (their batches were not acked).",
                "counter",
            ).add(st.failures),
            Metric(
                "groundcontrol_store_pruned_total",
                "Rows deleted by the retention policy.",
                "counter",
            ).add(st.pruned),
            Metric(
                "groundcontrol_store_checkpoints_total",
                "WAL checkpoints (copies into the database file) done.",
                "counter",
            ).add(st.checkpoints),
            Metric(
                "groundcontrol_store_checkpoint_seconds_total",
                "Time spent in WAL checkpoints.",
                "counter",
            ).add(st.checkpoint_seconds_sum),
            Metric(
                "groundcontrol_store_wal_truncations_total",
                "Times the writer truncated a WAL the passive checkpoints could not keep small.",
                "counter",
            ).add(st.wal_truncations),
            Metric(
                "groundcontrol_store_queue_jobs",
                "Writes waiting for the store's writer thread.",
                "gauge",
            ).add(st.queued_jobs),
            Metric(
                "groundcontrol_sqlite_memory_bytes",
                "Memory SQLite holds in the hub (page caches, sorters, statements).",
                "gauge",
            ).add(sqlite_memory_bytes()),
            Metric(
                "groundcontrol_store_rebuilt_mentions",
                "Stored mentions replayed into the windows when the hub started.",
                "gauge",
            ).add(self.rebuilt),
        ]

    async def handle_metrics(self, request: web.Request) -> web.Response:
        self.authorize(request, Permission.ADMIN)
        return web.Response(
            body=render(self.metrics()).encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def handle_triage(self, request: web.Request) -> web.Response:
        """Record what an analyst did with a mention: JSON in, the action's id out."""
        principal = self.authorize(request, Permission.TRIAGE)
        if self.writer is None:
            raise web.HTTPServiceUnavailable(text="this hub runs without a store (--no-store)\n")
        try:
            action = msgspec.json.decode(await request.read(), type=TriageRequest)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise web.HTTPBadRequest(text=f"bad triage action: {exc}\n") from None
        for name, value in (("mention_id", action.mention_id), ("note", action.note)):
            if _CONTROL_CHARS.search(value):
                raise web.HTTPBadRequest(text=f"bad triage action: control characters in {name}\n")
        actor = principal.name if principal is not None else "local"
        action_id = await self.writer.triage(
            action.mention_id, action.action, label=action.label, actor=actor, note=action.note
        )
        # Committed: any action takes the mention out of the review queue, the wall's too.
        self.analytics.reviewed(action.mention_id)
        return web.json_response({"id": action_id, "actor": actor}, status=201)

    async def handle_triage_queue(self, request: web.Request) -> web.Response:
        """The review queue, newest first: ``{"pending": n, "items": [mention, ...]}``.

        ``limit`` (1 to MAX_QUEUE_LIMIT, default DEFAULT_QUEUE_LIMIT) and ``category``
        (one of the triage categories) are optional; anything else is a 400.
        """
        self.authorize(request, Permission.TRIAGE)
        limit, category = _queue_params(request.query)
        if self.writer is None:
            raise web.HTTPServiceUnavailable(text="this hub runs without a store (--no-store)\n")
        pending, items = await self.writer.review_queue(limit, category)
        return web.json_response(
            {"pending": pending, "items": [msgspec.to_builtins(m) for m in items]}
        )

    async def handle_incidents(self, request: web.Request) -> web.Response:
        """Open and recent incidents, most urgent first: ``{"incidents": [...]}``.

        With ``all=1`` and a store, every stored incident, newest first (``limit``, up
        to 500, default 100).
        """
        self.authorize(request, Permission.READ)
        unknown = sorted(set(request.query) - {"all", "limit"})
        if unknown:
            raise web.HTTPBadRequest(
                text=f"bad incidents request: unknown parameter {unknown[0]!r} (use all, limit)\n"
            )
        limit = 100
        text = request.query.get("limit")
        if text is not None:
            if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= 500):
                raise web.HTTPBadRequest(
                    text=f"bad incidents request: limit must be from 1 to 500, not {text[:20]!r}\n"
                )
            limit = int(text)
        if request.query.get("all") in ("1", "true", "yes"):
            if self.writer is None:
                raise web.HTTPServiceUnavailable(
                    text="this hub runs without a store (--no-store): only current incidents\n"
                )
            found = await self.writer.read(lambda store: store.incidents(limit=limit))
        else:
            found = self.analytics.incidents.current(self.clock(), limit=limit)
        return web.json_response({"incidents": [msgspec.to_builtins(i) for i in found]})

    async def handle_incident(self, request: web.Request) -> web.Response:
        """One incident, with its whole history from the store when there is one."""
        self.authorize(request, Permission.READ)
        incident_id = request.match_info["id"]
        incident = self.analytics.incidents.get(incident_id)
        history: list[dict[str, Any]] | None = None
        notifications: list[dict[str, Any]] = []
        if self.writer is not None:

            def read(store: Store) -> tuple[Any, Any, Any]:
                return (
                    store.incident(incident_id),
                    store.incident_history(incident_id),
                    store.notifications(incident_id),
                )

            stored, steps, notifications = await self.writer.read(read)
            incident = incident or stored
            history = [
                {"at": at, "action": action, "by": by, "detail": detail}
                for at, action, by, detail in steps
            ]
        if incident is None:
            raise web.HTTPNotFound(text=f"no incident {incident_id[:80]!r}\n")
        body = msgspec.to_builtins(incident)
        if history is not None:
            body["history"] = history
        body["notifications"] = notifications
        return web.json_response(body)

    async def handle_incident_action(self, request: web.Request) -> web.Response:
        """Acknowledge, snooze or resolve an incident; the updated incident comes back,
        and every wall shows who did it and when."""
        principal = self.authorize(request, Permission.INCIDENTS)
        incident_id = request.match_info["id"]
        action = request.match_info["action"]
        if action not in INCIDENT_ACTIONS:
            raise web.HTTPNotFound(
                text=f"no action {action[:40]!r}: use {', '.join(INCIDENT_ACTIONS)}\n"
            )
        raw = await request.read()
        try:
            body = (
                msgspec.json.decode(raw, type=IncidentRequest) if raw.strip() else IncidentRequest()
            )
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise web.HTTPBadRequest(text=f"bad incident action: {exc}\n") from None
        if _CONTROL_CHARS.search(body.note):
            raise web.HTTPBadRequest(text="bad incident action: control characters in note\n")
        by = principal.name if principal is not None else "local"
        now = self.clock()
        book = self.analytics.incidents
        if book.get(incident_id) is None:
            raise web.HTTPNotFound(text=f"no incident {incident_id[:80]!r} is open on this hub\n")
        try:
            if action == "ack":
                event = book.acknowledge(incident_id, by=by, at=now)
            elif action == "snooze":
                seconds = body.seconds or DEFAULT_SNOOZE_SECONDS
                if not (0 < seconds <= MAX_SNOOZE_SECONDS):
                    raise web.HTTPBadRequest(
                        text=f"bad incident action: a snooze lasts from 1 s to 7 days, "
                        f"not {body.seconds:g} s\n"
                    )
                event = book.snooze(incident_id, by=by, at=now, seconds=seconds)
            else:
                event = book.resolve(incident_id, by=by, at=now, note=body.note)
        except IncidentError as exc:
            raise web.HTTPConflict(text=f"{exc}\n") from None
        self._incident_changed(event)
        return web.json_response(msgspec.to_builtins(event.incident))

    async def handle_index(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=(
                f"{HUB_NAME}\n"
                "GET /healthz  health as JSON\n"
                "GET /metrics  Prometheus metrics (admin token)\n"
                "POST /triage  record a triage action (analyst token)\n"
                "GET /triage/queue  the review queue as JSON (analyst token)\n"
                "WS  /ingest   feeds send batches of mentions (docs/protocol.md)\n"
                "GET /incidents  open and recent incidents as JSON (display token)\n"
                "GET /incidents/ID  one incident with its whole history\n"
                "POST /incidents/ID/ack | /snooze | /resolve  (analyst token)\n"
                "WS  /stream   walls get hello, snapshot, ticks and incidents\n"
            )
        )


#: GET /triage/queue: items when no limit is given, and the most one may ask for.
DEFAULT_QUEUE_LIMIT = 50
MAX_QUEUE_LIMIT = 500


def _queue_params(query: MultiMapping[str]) -> tuple[int, str | None]:
    """(limit, category) of GET /triage/queue, or a 400 naming what is wrong."""

    def bad(reason: str) -> web.HTTPBadRequest:
        return web.HTTPBadRequest(text=f"bad queue request: {reason}\n")

    unknown = sorted(set(query) - {"limit", "category"})
    if unknown:
        raise bad(f"unknown parameter {unknown[0]!r} (use limit and category)")
    if len(query.getall("limit", [])) > 1 or len(query.getall("category", [])) > 1:
        raise bad("limit and category may each be given once")
    limit = DEFAULT_QUEUE_LIMIT
    text = query.get("limit")
    if text is not None:
        # isascii: int() takes other digits too; the length keeps int() cheap.
        if not (text.isascii() and text.isdigit() and len(text) <= 6) or not (
            1 <= int(text) <= MAX_QUEUE_LIMIT
        ):
            raise bad(
                f"limit must be a whole number from 1 to {MAX_QUEUE_LIMIT}, not {text[:40]!r}"
            )
        limit = int(text)
    category = query.get("category")
    if category is not None and category not in CATEGORIES:
        raise bad(f"category must be one of {', '.join(CATEGORIES)}, not {category[:40]!r}")
    return limit, category


def _how_ingest_ended(ws: web.WebSocketResponse) -> str:
    """Why a feed's /ingest connection ended, as the hub saw it: a DOWN feed's reason."""
    code = ws.close_code
    if code in (WSCloseCode.OK, WSCloseCode.GOING_AWAY):
        return "the feed closed its connection"
    if isinstance(ws.exception(), TimeoutError):
        return "connection lost: the feed stopped answering pings"
    if code is None or code == WSCloseCode.ABNORMAL_CLOSURE:
        # A reset or EOF (the feed's process or its network died): the exception
        # aiohttp keeps then is about the hub's own next write, not worth showing.
        return "connection lost"
    # 1011 is what a websockets client sends when its task is cancelled or fails.
    return f"connection closed with code {code}"


def _retrieve(future: asyncio.Future[None]) -> None:
    # Nobody may be waiting for a batch's commit; its failure is handled by its own
    # ack path, so mark the exception retrieved instead of logging it again.
    if not future.cancelled():
        future.exception()


def tune_gc() -> None:
    """Make the cyclic GC cheap for a process that allocates many short-lived lists.

    Everything alive at start (modules, lexicons, config) is frozen out of future
    collections, and young collections run less often: at 20,000 mentions/s the
    default threshold triggers hundreds of collections a second.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class HostedFeeds(Protocol):
    """Feeds a hub runs in its own process. The command line composes them
    (``feeds/supervisor.py``); the hub only mounts, starts and stops them."""

    def mount(self, app: web.Application) -> None:
        """Add any routes of their own (webhook receivers) before the hub starts."""

    async def start(self, hub_url: str, token: str | None) -> None:
        """Start them, talking to the hub at ``hub_url`` with ``token``."""

    async def stop(self) -> None:
        """Stop them, before the hub closes its connections."""


async def start_hub(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    demo: bool = False,
    store_path: str | Path | None = None,
    tokens: Tokens | None = None,
    ssl_context: ssl.SSLContext | None = None,
    hosted: Callable[[Hub], HostedFeeds] | None = None,
) -> tuple[Hub, web.AppRunner, int]:
    """Start a hub on the running loop; returns the hub, its runner and the bound port.

    ``tokens=None`` turns access control off (in-process use only; see Hub).
    ``ssl_context`` serves https and wss. ``hosted`` makes the feeds this hub runs in
    its process, given the hub (they report to :meth:`Hub.feed_changed`). Raises
    StoreError if ``store_path`` cannot be used as a store.
    """
    hub = Hub(config, demo=demo, store_path=store_path, tokens=tokens)
    app = hub.app()
    feeds = hosted(hub) if hosted is not None else None
    if feeds is not None:
        feeds.mount(app)
    runner = _HubRunner(hub, app, feeds, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(
        runner,
        host or config.hub.host,
        config.hub.port if port is None else port,
        reuse_address=True,
        ssl_context=ssl_context,
    )
    await site.start()
    bound: int = runner.addresses[0][1]  # the real port, when 0 asked for a free one
    if feeds is not None:
        await _start_hosted(hub, feeds, runner)
    return hub, runner, bound


class _HubRunner(web.AppRunner):
    """Stops the hub's own feeds before the server closes its connections, so each
    says goodbye to the hub properly instead of waiting out its close timeout."""

    def __init__(
        self, hub: Hub, app: web.Application, feeds: HostedFeeds | None, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self.hub = hub
        self.feeds = feeds

    async def cleanup(self) -> None:
        feeds, self.feeds = self.feeds, None
        if feeds is not None:
            await feeds.stop()
        await super().cleanup()


async def _start_hosted(hub: Hub, feeds: HostedFeeds, runner: web.AppRunner) -> None:
    """Start the hosted feeds on a loopback listener of their own (plain ws on
    127.0.0.1, whatever the public one is), with a token made for this run."""
    import secrets
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    token = None
    if hub.tokens is not None:
        token = secrets.token_urlsafe(32)
        hub.tokens = hub.tokens.plus(Role.FEED, token, "hub-feeds")
    await feeds.start(f"ws://127.0.0.1:{port}", token)
