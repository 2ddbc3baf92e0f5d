"""The feed side of /ingest: send batches, wait for acks, resend after a reconnect.

A batch stays pending until the hub acks it. Pending batches are bounded: when the
hub is away long enough for them to fill up, ``submit`` waits (the adapter stops
reading upstream) instead of dropping anything, and says so through ``on_event``.
After a reconnect every unacked batch is sent again, in order; the hub dedupes on
(source, source id), so resending is safe.

With a ``Spool`` the unacked batches also live on disk: a batch is appended (and
fsynced) before ``submit`` returns, acks are recorded there, and ``start`` loads what a
previous run left unacked, so a crash or restart of the feed loses nothing either.
When the spool is full ``submit`` waits, loudly, until acks make room.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from groundcontrol.client.spool import MiB, Spool, SpoolFull
from groundcontrol.client.stream import (
    Access,
    Backoff,
    HubList,
    describe_error,
    http_to_ws,
    hub_urls,
)
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Batch,
    DeadItem,
    DeadItems,
    ErrorReply,
    FeedHello,
    FeedStatus,
    Retraction,
    Welcome,
    decode_feed_reply,
    encode,
)

# Spool is re-exported: feeds may import the client module, not the core's internals.
__all__ = ["FeedStats", "IngestClient", "Spool", "SpoolFull", "ingest_url"]


#: Skipped items kept for the hub while it is away; older ones are dropped past this.
MAX_DEAD_QUEUED = 1_000
#: A batch that waited in the feed longer than this before a send says so (``queued``).
LATE_AFTER_SECONDS = 2.0


def ingest_url(hub: str) -> str:
    """The /ingest URL for a hub base URL (for each of several comma-separated hubs)."""
    if "," in hub:
        return ",".join(ingest_url(h) for h in hub_urls(hub))
    base = http_to_ws(hub).rstrip("/")
    return base if base.endswith("/ingest") else base + "/ingest"


@dataclass
class FeedStats:
    """What a feed connection has done."""

    batches_sent: int = 0
    batches_acked: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    reconnects: int = 0
    connected: bool = False
    last_error: str = ""
    spool_depth: int = 0
    """Batches in the on-disk spool not yet acked (0 without a spool)."""
    spool_bytes: int = 0
    """Bytes the spool's segment files take on disk (0 without a spool)."""
    dead_dropped: int = 0
    """Skipped items not reported because too many waited for the hub."""


class IngestClient:
    """A reconnecting, acknowledging sender of mention batches to one hub.

    ``on_ack(ack, first_sent)`` is called for each acked batch with the
    ``time.perf_counter()`` at which the batch first left for the hub.

    ``spool``: keep unacked batches on disk too (see the module docstring); the client
    does not close it. ``token``: sent as ``Authorization: Bearer <token>`` on connect
    (shorthand for ``access=Access(token=...)``); ``access`` also says which CA to
    trust for a wss:// hub.
    """

    def __init__(
        self,
        hub: str,
        *,
        name: str,
        source: str = "",
        demo: bool = False,
        window: int = 8,
        max_pending: int = 2_000,
        on_event: Callable[[str], None] | None = None,
        on_ack: Callable[[Ack, float], None] | None = None,
        backoff: Backoff | None = None,
        spool: Spool | None = None,
        token: str | None = None,
        access: Access | None = None,
        status_every: float = 5.0,
        health: Callable[[], FeedStatus] | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.demo = demo
        self.window = window
        self.max_pending = max_pending
        self.on_event = on_event or (lambda _msg: None)
        self.on_ack = on_ack
        self.backoff = backoff or Backoff(initial=0.25, maximum=10.0)
        self.hubs = HubList(ingest_url(hub), self.backoff)
        """Several hubs sharing a bus: when one dies the feed moves to the next, and
        resends there what the first had not acked."""
        self.stats = FeedStats()
        self._seq = 0
        # seq -> when it was submitted (monotonic), to tell the hub how long it waited
        self._submitted_at: dict[int, float] = {}
        self._started_at = time.monotonic()
        # seq -> (encoded batch, mention count); insertion order = send order
        self._pending: OrderedDict[int, tuple[bytes, int]] = OrderedDict()
        # seq -> when the batch first left for the hub (perf_counter), for latency
        self._first_sent: dict[int, float] = {}
        self._unsent: asyncio.Queue[int] = asyncio.Queue()
        self._room = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._full_warned = False
        self.spool = spool
        self.access = access or Access()
        if token is not None:
            self.access = Access(token=token, ca_file=self.access.ca_file)
        self.status_every = status_every
        self.health = health
        self._dead: deque[DeadItem] = deque(maxlen=MAX_DEAD_QUEUED)
        self._dead_ready = asyncio.Event()
        self._spool_full_since: float | None = None
        if spool is not None:
            # Never reuse a seq an earlier run may still have in flight.
            self._seq = spool.next_seq() - 1
        self._update_spool_stats()

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        """Start sending in the background; with a spool, first take over its backlog.

        Reading the backlog blocks briefly (it is on local disk, at most ``max_bytes``);
        it happens once, before anything else is sent, so it keeps the order.
        """
        if self._task is None:
            if self.spool is not None:
                # Each connection sends every pending batch first, oldest first.
                for seq, data in self.spool.unacked():
                    if seq not in self._pending:
                        # The mention count is bookkeeping only; 0 marks a batch from
                        # an earlier run.
                        self._pending[seq] = (data, 0)
                if self._pending:
                    self.on_event(
                        f"spool {self.spool.directory}: resending {len(self._pending)} "
                        "batches an earlier run left unacked"
                    )
            self._task = asyncio.create_task(self._run(), name=f"ingest-{self.name}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def pending(self) -> int:
        """Batches submitted and not yet acknowledged."""
        return len(self._pending)

    async def submit(
        self,
        mentions: list[Mention],
        *,
        edits: list[Mention] | None = None,
        deleted: list[Retraction] | None = None,
    ) -> int:
        """Queue a batch for sending; waits while too many batches are unacked.

        ``edits`` and ``deleted`` carry the source's edits and deletions (see
        :class:`~groundcontrol.protocol.Batch`).
        """
        async with self._room:
            if len(self._pending) >= self.max_pending and not self._full_warned:
                self._full_warned = True
                self.on_event(
                    f"{self.max_pending} batches wait for the hub's ack: "
                    "pausing the source until the hub catches up (nothing is dropped)"
                )
            await self._room.wait_for(lambda: len(self._pending) < self.max_pending)
            self._full_warned = False
            self._seq += 1
            seq = self._seq
            data = encode(
                Batch(seq=seq, mentions=mentions, edits=edits or [], deleted=deleted or [])
            )
            if self.spool is not None:
                await self._spool_append(seq, data)
            self._pending[seq] = (data, len(mentions))
            self._submitted_at[seq] = time.monotonic()
        self._unsent.put_nowait(seq)
        return seq

    async def drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every submitted batch is acked; False on timeout."""

        async def _wait() -> None:
            async with self._room:
                await self._room.wait_for(lambda: not self._pending)

        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ spool

    async def _spool_append(self, seq: int, data: bytes) -> None:
        """Append to the spool, waiting (with ``self._room`` held) while it is full."""
        assert self.spool is not None
        spool = self.spool
        while True:
            try:
                # fsync takes milliseconds: keep it off the event loop.
                await asyncio.to_thread(spool.append, seq, data)
            except SpoolFull:
                if self._spool_full_since is None:
                    self._spool_full_since = time.monotonic()
                    self.on_event(
                        f"spool full ({spool.depth} batches, "
                        f"{spool.unacked_bytes / MiB:.1f} MiB unacked): pausing the source "
                        "until the hub acks; nothing is dropped"
                    )
                # Acks notify the condition; a freed segment makes room.
                await self._room.wait()
                continue
            if self._spool_full_since is not None:
                waited = time.monotonic() - self._spool_full_since
                self._spool_full_since = None
                self.on_event(
                    f"spool has room again after {waited:.1f}s: resuming the source "
                    f"({spool.depth} batches unacked)"
                )
            self._update_spool_stats()
            return

    async def _spool_ack(self, seq: int) -> None:
        if self.spool is not None:
            await asyncio.to_thread(self.spool.ack, seq)
            self._update_spool_stats()

    def _update_spool_stats(self) -> None:
        if self.spool is not None:
            self.stats.spool_depth = self.spool.depth
            self.stats.spool_bytes = self.spool.bytes_used

    # ------------------------------------------------------------------ loop

    @property
    def url(self) -> str:
        """The hub it sends to (or tries) now."""
        return self.hubs.url

    async def _run(self) -> None:
        while True:
            try:
                async with websockets.connect(
                    self.url,
                    open_timeout=5,
                    max_size=16 * 1024 * 1024,
                    ping_interval=10,
                    **self.access.connect_kwargs(self.url),
                ) as ws:
                    await ws.send(
                        encode(
                            FeedHello(
                                protocol=PROTOCOL_VERSION,
                                name=self.name,
                                source=self.source,
                                demo=self.demo,
                            )
                        )
                    )
                    reply = decode_feed_reply(await asyncio.wait_for(ws.recv(), 5))
                    if isinstance(reply, ErrorReply):
                        raise ConnectionError(f"hub refused the feed: {reply.message}")
                    if not isinstance(reply, Welcome):
                        raise ConnectionError(f"expected welcome, got {type(reply).__name__}")
                    self.hubs.connected()
                    self.stats.connected = True
                    self.on_event(f"connected to {self.url}")
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except (
                OSError,
                TimeoutError,
                ConnectionClosed,
                InvalidHandshake,
                InvalidURI,
                msgspec.DecodeError,
                msgspec.ValidationError,
            ) as exc:
                self.stats.last_error = describe_error(exc)
            self.stats.connected = False
            self.stats.reconnects += 1
            delay = self.hubs.failed()
            failed, now = self.url, self.hubs.move_on()
            where = f" at {now}" if len(self.hubs.urls) > 1 else ""
            self.on_event(
                f"hub {failed} unreachable: {self.stats.last_error or 'closed'}; "
                f"retrying in {delay:.1f}s{where} ({len(self._pending)} batches kept for resend)"
            )
            await asyncio.sleep(delay)

    async def _session(self, ws: websockets.ClientConnection) -> None:
        # Everything unacked goes again, oldest first; then new batches as they come.
        while not self._unsent.empty():
            self._unsent.get_nowait()
        for seq in list(self._pending):
            self._unsent.put_nowait(seq)
        in_flight = asyncio.Semaphore(self.window)
        reader = asyncio.create_task(self._read_acks(ws, in_flight))
        status = asyncio.create_task(self._report_status(ws))
        # The waits in flight, cancelled with the session (the next one re-queues
        # every pending batch, so a seq taken off the queue here is not lost).
        get: asyncio.Task[int] | None = None
        slot: asyncio.Task[bool] | None = None
        try:
            while True:
                get = asyncio.create_task(self._unsent.get())
                done, _ = await asyncio.wait({get, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    get.cancel()
                    reader.result()  # re-raise why the connection ended
                    return
                seq = get.result()
                entry = self._pending.get(seq)
                if entry is None:
                    continue  # acked while waiting (a resend raced its ack)
                # Wait for room in the window AND for the connection to end: with the
                # window full only acks free it, and a dead connection brings none.
                slot = asyncio.create_task(in_flight.acquire())
                done, _ = await asyncio.wait({slot, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    slot.cancel()
                    reader.result()
                    return
                self._first_sent.setdefault(seq, time.perf_counter())
                await ws.send(self._with_wait(seq, entry[0]))
                self.stats.batches_sent += 1
        finally:
            for waiting in (get, slot):
                if waiting is not None:
                    waiting.cancel()
            reader.cancel()
            status.cancel()
            # asyncio.wait never raises what the tasks raised, nor swallows a
            # cancellation of this task (awaiting them under suppress() would).
            await asyncio.wait({reader, status})
            for task in (reader, status):
                if not task.cancelled():
                    task.exception()  # retrieved: the reason was reader.result() above

    def _with_wait(self, seq: int, data: bytes) -> bytes:
        """The batch as sent now: with ``queued`` when it waited here (an outage)."""
        # A batch from an earlier run's spool counts from this run's start: a lower
        # bound (the spool does not keep append times).
        waited = time.monotonic() - self._submitted_at.get(seq, self._started_at)
        if waited < LATE_AFTER_SECONDS:
            return data
        # Our own encoding starts with {"type":"batch",: add the field after it rather
        # than re-encoding every mention.
        head, sep, rest = data.partition(b",")
        return head + sep + b'"queued":' + f"{waited:.3f}".encode() + b"," + rest

    def status(self) -> FeedStatus:
        """This feed's health report, as sent to the hub: the connection's, merged
        with the adapter's (``health``) when it has one.

        The last connection error is the detail only while disconnected: once the
        hub has welcomed the feed, "connection refused" is history (it stays in
        ``stats.last_error`` for the log), and these reports only go out connected.
        """
        st = self.stats
        link_error = "" if st.connected else st.last_error
        status = FeedStatus(
            connected=st.connected,
            errors=st.errors,
            detail=link_error,
            pending=len(self._pending),
            spool_depth=st.spool_depth,
            spool_bytes=st.spool_bytes,
        )
        if self.health is not None:
            source = self.health()
            status = msgspec.structs.replace(
                status,
                last_event_at=source.last_event_at,
                events_per_min=source.events_per_min,
                errors=st.errors + source.errors,
                detail=source.detail or link_error,
                rate_limit_wait=source.rate_limit_wait,
            )
        return status

    def report_dead(self, reason: str, payload: str = "") -> None:
        """Keep an item the adapter could not use in the hub's dead letters.

        Sent with the next status report; at most MAX_DEAD_QUEUED wait while the hub
        is away (older ones are dropped then, and counted in ``stats.dead_dropped``).
        """
        if len(self._dead) == self._dead.maxlen:
            self.stats.dead_dropped += 1
        self._dead.append(DeadItem(reason=reason[:1000], payload=payload[:65_536]))
        self._dead_ready.set()

    async def _report_status(self, ws: websockets.ClientConnection) -> None:
        # Once at connect (the backlog it is about to resend), then every status_every
        # seconds, and within a second of news: a first event, a new error or wait.
        sent_at = 0.0
        sent_news: tuple[object, ...] = ()
        while True:
            status = self.status()
            news = (
                status.last_event_at > 0,
                status.errors,
                status.detail,
                status.rate_limit_wait > 0,
            )
            now = time.monotonic()
            if now - sent_at >= self.status_every or news != sent_news:
                await ws.send(encode(status))
                sent_at, sent_news = now, news
            while self._dead:
                items = [self._dead.popleft() for _ in range(min(len(self._dead), 500))]
                await ws.send(encode(DeadItems(items=items)))
            self._dead_ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dead_ready.wait(), min(1.0, self.status_every))

    async def _read_acks(
        self, ws: websockets.ClientConnection, in_flight: asyncio.Semaphore
    ) -> None:
        async for raw in ws:
            reply = decode_feed_reply(raw)
            if isinstance(reply, Ack):
                in_flight.release()
                async with self._room:
                    # On disk first: once drain() sees no pending, the spool agrees.
                    await self._spool_ack(reply.seq)
                    entry = self._pending.pop(reply.seq, None)
                    sent_at = self._first_sent.pop(reply.seq, 0.0)
                    self._submitted_at.pop(reply.seq, None)
                    self._room.notify_all()
                self.stats.batches_acked += 1
                self.stats.accepted += reply.accepted
                self.stats.duplicates += reply.duplicates
                self.stats.rejected += reply.rejected
                if reply.rejected:
                    self.on_event(
                        f"hub rejected {reply.rejected} mention(s) of batch {reply.seq}: "
                        + "; ".join(e.reason for e in reply.errors[:3])
                    )
                if self.on_ack is not None and entry is not None:
                    self.on_ack(reply, sent_at)
            elif isinstance(reply, ErrorReply):
                # The batch was refused as a whole; resending it would fail the same way.
                in_flight.release()
                self.stats.errors += 1
                self.on_event(f"hub error {reply.code}: {reply.message}")
                if reply.seq is not None:
                    async with self._room:
                        # Dropped loudly above; keeping it spooled would resend it forever.
                        await self._spool_ack(reply.seq)
                        self._pending.pop(reply.seq, None)
                        self._first_sent.pop(reply.seq, None)
                        self._submitted_at.pop(reply.seq, None)
                        self._room.notify_all()
        raise ConnectionError(
            f"closed by hub: {ws.close_reason}" if ws.close_reason else "hub closed the connection"
        )
