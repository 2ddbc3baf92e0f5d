"""Ingest: a feed's batch, from the /ingest websocket to the windows and the ack.

Before it: a feed (``client/ingest.py``) sends hello, then batches, status and dead
items (docs/protocol.md). After it: the windows and detectors (``Analytics``), which
the publisher (stream.py) folds into ticks, and the /stream clients that asked for
every mention.

One batch goes through these steps, in this order and in this module top to bottom:

1. **decode** the message off the websocket (:meth:`IngestPipeline.handle_message`):
   a hello, a status, dead items, or a batch; a message that is not one of them is
   refused with an ``error`` reply and kept as a dead letter.
2. **screen** each mention for what the schema cannot say (control characters,
   dates out of range); the rejected ones are listed in the ack and dead-lettered.
3. **dedupe** on (source, source id) (:class:`Dedupe`); a resend whose first copy
   is still being committed waits for that commit.
4. **enrich** in worker processes (``workers.EnrichPool``), and mark copies.
5. **commit** the batch and its dead letters to the store in one transaction
   (``store/writer.py``; the store's unique key catches what was stored before a
   restart). Then a source's edits and deletions are applied.
6. **hand off** the new mentions to the windows (``Analytics.add``) and to
   the /stream clients that want mentions; count them.
7. **ack** the batch: after the commit, never before.

Batches of one feed are decoded in arrival order and enriched and committed several
at once; their acks go back in order (:meth:`IngestPipeline.handle_ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from itertools import islice
from typing import Any, Protocol

import msgspec
from aiohttp import WSMsgType, web

from groundcontrol.config import Config
from groundcontrol.hub.access import Gate
from groundcontrol.hub.auth import Permission
from groundcontrol.hub.feeds import FeedRegistry, FeedState
from groundcontrol.hub.metrics import STAGE_CPU
from groundcontrol.hub.state import CONTROL_CHARS, HUB_NAME, Counters, CurrentWriter
from groundcontrol.hub.workers import EnrichPool
from groundcontrol.listen.copies import CopyIndex
from groundcontrol.model import Mention, utc
from groundcontrol.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Batch,
    DeadItems,
    ErrorReply,
    FeedHello,
    FeedStatus,
    ItemError,
    RawBatch,
    Welcome,
    decode_ingest,
    encode,
)
from groundcontrol.signals.analytics import Analytics
from groundcontrol.store.database import DeadLetter

log = logging.getLogger("groundcontrol.hub.ingest")

#: Past this size aiohttp drops the connection (close code 1009); between the soft
#: limit (config) and this one the hub answers with an error and keeps the socket.
HARD_LIMIT_FACTOR = 4
#: Batches of one feed being enriched or committed at once; past this the hub stops
#: reading that socket, so a flooding feed is slowed by TCP backpressure instead of
#: queueing. 8 keeps enrichment and the store busy at once (4 measured 20.8k
#: mentions/s with the store, 8 measured 24.4k); a quiet feed's batch still waits
#: behind at most 8 of a flooder's (test_a_flooding_feed_cannot_starve_a_quiet_one).
MAX_BATCHES_IN_FLIGHT = 8
#: Most bytes of a refused message kept in the dead letters (an oversized one may be MBs).
DEAD_LETTER_MAX_BYTES = 64 * 1024

#: What handling one /ingest message yields: a reply now, a reply later, or none.
Reply = bytes | Awaitable[bytes] | None


class BusPublish(Protocol):
    """Puts a screened batch on the bus: (accepted, duplicates) once it has it."""

    def __call__(
        self,
        *,
        feed: str,
        demo: bool,
        seq: int,
        mentions: list[Mention],
        edits: list[Mention],
        deleted: list[str],
        dead_letters: list[DeadLetter],
        queued: float,
    ) -> Awaitable[tuple[int, int]]: ...


_mention_decoder = msgspec.json.Decoder(Mention)
_generic_decoder = msgspec.json.Decoder()


class IngestPipeline:
    """The /ingest endpoint and every step a batch takes until it is acked."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float],
        gate: Gate,
        counters: Counters,
        feeds: FeedRegistry,
        dedupe: Dedupe,
        enrich_pool: EnrichPool,
        copies: CopyIndex,
        writer: CurrentWriter,
        analytics: Analytics,
        fan_out: Callable[[list[Mention]], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.gate = gate
        self.counters = counters
        self.feeds = feeds
        self.dedupe = dedupe
        self.enrich_pool = enrich_pool
        self.copies = copies
        """Marks retweets, quotes and near-duplicates (``Mention.copy_of``)."""
        self.writer = writer
        self.analytics = analytics
        self.fan_out = fan_out
        """Offers the mentions just taken to the /stream clients (stream.py)."""
        self.inflight: dict[str, asyncio.Future[None]] = {}
        """Mention id -> the commit of the batch that brought it, while it is pending."""
        self.sockets: set[web.WebSocketResponse] = set()
        self.bus: BusPublish | None = None
        """With ``[bus]``: puts a screened batch on the bus instead of steps 3 to 6
        (groundcontrol/bus/hub.py); the feed is acked once the bus has it."""

    # ------------------------------------------------------------------ connection

    async def handle_ingest(self, request: web.Request) -> web.WebSocketResponse:
        """One feed's connection: read and decode messages in order, reply in order."""
        self.gate.authorize(request, Permission.INGEST)
        ws = web.WebSocketResponse(
            max_msg_size=self.config.hub.max_message_bytes * HARD_LIMIT_FACTOR, heartbeat=20
        )
        await ws.prepare(request)
        feed = self.feeds.arrived(id(ws), request.remote, self.clock())
        self.sockets.add(ws)
        # Replies go out in message order from one task, while the reader goes on
        # decoding the next batches; the bounded queue is the per-feed backpressure.
        replies: asyncio.Queue[asyncio.Future[bytes] | bytes | None] = asyncio.Queue(
            MAX_BATCHES_IN_FLIGHT
        )
        writer = asyncio.create_task(self._send_replies(ws, replies), name="ingest-replies")
        try:
            async for msg in ws:
                started = time.thread_time()
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
                STAGE_CPU.add("decode and screen", time.thread_time() - started)
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
            self.sockets.discard(ws)
            self.feeds.left(id(ws), feed, ws, self.clock())
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

    async def close(self) -> None:
        """Close every feed's connection (the hub is shutting down)."""
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"hub shutting down")

    # ------------------------------------------------------------------ 1. decode

    def handle_message(self, data: bytes, feed: FeedState | None) -> Reply:
        """Handle one /ingest message: the encoded reply, an awaitable of it, or None.

        Decoding and screening happen here, in arrival order; the rest of a batch's
        way is returned as an awaitable so the connection can read on while it runs
        (its dedupe runs first thing, so in arrival order too).
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
            return self._decode_carefully(data, feed)
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
            return self._screen_batch(msg, feed)
        if isinstance(msg, FeedHello):
            if msg.protocol != PROTOCOL_VERSION:
                return self._refuse(
                    feed,
                    "protocol",
                    f"protocol {msg.protocol} is not supported; this hub speaks {PROTOCOL_VERSION}",
                    payload=data,
                )
            if feed is not None:
                self.feeds.said_hello(feed, msg)
            return encode(Welcome(protocol=PROTOCOL_VERSION, hub=HUB_NAME))
        if isinstance(msg, FeedStatus):
            if feed is not None:
                self.feeds.reported(feed, msg)
            return None
        if isinstance(msg, DeadItems):
            self._count_rejected(feed, len(msg.items))
            writer = self.writer()
            if writer is not None:
                writer.dead_letters(
                    [
                        self._dead_letter(feed, f"feed: {d.reason}", d.payload.encode())
                        for d in msg.items
                    ]
                )
            return None
        raise AssertionError(msg)  # pragma: no cover - the union is exhaustive

    def _decode_carefully(self, data: bytes, feed: FeedState | None) -> Reply:
        """The fast typed decode failed: find out what exactly was wrong, and keep the
        good mentions of a batch with some bad ones."""
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
        return self._take_and_ack(raw.seq, good, feed, errors, letters, raw.queued)

    # ------------------------------------------------------------------ 2. screen

    def _screen_batch(self, msg: Batch, feed: FeedState | None) -> Awaitable[bytes]:
        """Screen a decoded batch's mentions and edits; the rest of its way to the ack."""
        good, errors = self._screen(msg.mentions, [], list(range(len(msg.mentions))))
        letters: list[DeadLetter] = []
        if errors:
            self._count_rejected(feed, len(errors))
            letters = [
                self._dead_letter(feed, e.reason, encode(msg.mentions[e.index])) for e in errors
            ]
        if msg.edits or msg.deleted:
            edit_errors: list[ItemError] = []
            edits, edit_errors = self._screen(msg.edits, edit_errors, list(range(len(msg.edits))))
            if edit_errors:
                self._count_rejected(feed, len(edit_errors))
                letters += [
                    self._dead_letter(feed, f"edit: {e.reason}", encode(msg.edits[e.index]))
                    for e in edit_errors
                ]
            return self._take_and_ack(
                msg.seq,
                good,
                feed,
                errors,
                letters,
                msg.queued,
                edits=edits,
                deleted=[f"{r.source}:{r.source_id}" for r in msg.deleted],
            )
        return self._take_and_ack(msg.seq, good, feed, errors, letters, msg.queued)

    def _screen(
        self, mentions: list[Mention], errors: list[ItemError], positions: list[int]
    ) -> tuple[list[Mention], list[ItemError]]:
        """Checks the schema cannot express: control characters and dates out of range."""
        now = self.clock()
        latest = now + self.config.hub.max_future_seconds
        earliest = now - self.config.hub.max_age_days * 86400
        search = CONTROL_CHARS.search
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

    def _refuse(
        self,
        feed: FeedState | None,
        code: str,
        message: str,
        seq: Any = None,
        *,
        payload: bytes = b"",
    ) -> bytes:
        """Refuse a message as a whole: count it, dead-letter it, and say why."""
        self.counters.error(code)
        if feed is not None:
            feed.errors += 1
        log.warning("ingest %s: %s", code, message)
        writer = self.writer()
        if writer is not None:
            writer.dead_letters([self._dead_letter(feed, f"{code}: {message}", payload)])
        return encode(
            ErrorReply(
                code=code,  # type: ignore[arg-type]
                message=message,
                seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            )
        )

    # ------------------------------------------------------------------ 3 to 7

    async def _take_and_ack(
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
        """Take a screened batch (dedupe, enrich, commit, hand off), apply its edits
        and deletions, and return its ack."""
        if self.bus is not None:
            accepted, dups = await self.bus(
                feed=feed.name if feed is not None else "",
                demo=feed is not None and feed.demo,
                seq=seq,
                mentions=mentions,
                edits=edits or [],
                deleted=deleted or [],
                dead_letters=letters,
                queued=queued,
            )
            self._count_published(feed, mentions, accepted)
            return _ack(seq, accepted, dups, errors)
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
        return _ack(seq, accepted, dups, errors)

    async def take_batch_async(
        self,
        mentions: list[Mention],
        feed: FeedState | None,
        dead_letters: list[DeadLetter] | None = None,
        queued: float = 0.0,
    ) -> tuple[int, int]:
        """Dedupe, enrich in the worker pool, commit (with a store, the batch and its
        dead letters are on disk before this returns) and hand off. Returns
        (accepted, duplicates).

        A mention already seen whose first copy is still on its way to the store is
        a duplicate only once that copy is committed: the ack waits for it, and fails
        if it fails (an ack must never cover something that is not on disk).
        """
        # 3. dedupe
        started = time.thread_time()
        fresh, originals = self._dedupe_waiting(mentions)
        STAGE_CPU.add("dedupe", time.thread_time() - started)
        taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        taken.add_done_callback(_retrieve)
        inflight = self.inflight
        claimed = [m.id for m in fresh]
        for key in claimed:
            inflight[key] = taken
        try:
            # 4. enrich
            if fresh:
                prints = await self.enrich_pool.enrich(fresh)
                started = time.thread_time()
                self.copies.mark(fresh, prints)
                STAGE_CPU.add("copy index", time.thread_time() - started)
            self._stamp_arrival(fresh, queued)
            # 5. commit
            writer = self.writer()
            if writer is not None and (fresh or dead_letters):
                new = await writer.write_mentions(fresh, dead_letters)
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
        # 6. hand off
        self._hand_off(fresh, feed, len(mentions) - len(fresh))
        return len(fresh), len(mentions) - len(fresh)

    def take_batch(
        self, mentions: list[Mention], feed: FeedState | None, queued: float = 0.0
    ) -> tuple[int, int]:
        """The same way for a decoded batch, inline and without a store (simulation and
        backtests). Returns (accepted, duplicates)."""
        fresh = self._dedupe(mentions)
        self.enrich_pool.inline.enrich(fresh)
        self.copies.mark(fresh)
        self._stamp_arrival(fresh, queued)
        self._hand_off(fresh, feed, len(mentions) - len(fresh))
        return len(fresh), len(mentions) - len(fresh)

    def _dedupe_waiting(
        self, mentions: list[Mention]
    ) -> tuple[list[Mention], set[asyncio.Future[None]]]:
        """_dedupe, plus the pending commits of the first copies of the duplicates."""
        repeats: list[str] = []
        fresh = self._dedupe(mentions, repeats)
        originals: set[asyncio.Future[None]] = set()
        if repeats and self.inflight:
            for key in repeats:
                original = self.inflight.get(key)
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

    def _stamp_arrival(self, fresh: list[Mention], queued: float) -> None:
        """Set when the batch counts as received: now, or as long ago as it waited in
        its feed (at most the history the windows keep)."""
        arrived = self.clock()
        if queued > 0:
            history = self.analytics.history_buckets * self.analytics.bucket_seconds
            arrived -= min(queued, history)
        for m in fresh:
            m.received_at = arrived

    async def _take_changes(self, edits: list[Mention], deleted: list[str]) -> None:
        """Apply a source's edits and deletions to the store (after the batch's new
        mentions, in the same order as the feed sent them).

        An edit of a mention the hub has not seen was taken as a new mention just
        before. The live windows keep what they counted; the store, which analysts
        search and export, follows the source.
        """
        for m in edits:
            m.id = f"{m.source}:{m.source_id}"
            if m.created_at.utcoffset():
                m.created_at = utc(m.created_at)
        # A change to a mention whose first copy is still on its way to the store
        # waits for it, or the change would find nothing to change.
        pending = {f for key in [m.id for m in edits] + deleted if (f := self.inflight.get(key))}
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if edits:
            await self.enrich_pool.enrich(edits)
        self.counters.edits += len(edits)
        self.counters.deletions += len(deleted)
        writer = self.writer()
        if writer is not None:
            await writer.write_mentions([], edits=edits, deleted=deleted)

    def _count_published(self, feed: FeedState | None, sent: list[Mention], taken: int) -> None:
        """A batch put on the bus: the feed's numbers (its mentions are counted when
        they come back enriched)."""
        now = self.clock()
        if feed is not None:
            feed.last_seen = feed.last_batch_at = now
            feed.events.append((now, taken))
            if sent:
                feed.lag_seconds = max(0.0, now - max(m.created_at for m in sent).timestamp())

    def _hand_off(self, fresh: list[Mention], feed: FeedState | None, dups: int) -> None:
        """The new mentions to the windows and the /stream clients; count the batch."""
        now = self.clock()
        if fresh:
            self.analytics.add(fresh)
            self.fan_out(fresh)
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


def _retrieve(future: asyncio.Future[None]) -> None:
    # Nobody may be waiting for a batch's commit; its failure is handled by its own
    # ack path, so mark the exception retrieved instead of logging it again.
    if not future.cancelled():
        future.exception()


def _ack(seq: int, accepted: int, duplicates: int, errors: list[ItemError]) -> bytes:
    """The feed's ack for batch ``seq`` (the first 50 errors spelled out)."""
    return encode(
        Ack(
            seq=seq,
            accepted=accepted,
            duplicates=duplicates,
            rejected=len(errors),
            errors=errors[:50],
        )
    )
