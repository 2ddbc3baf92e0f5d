"""The hub's side of the durable store: a writer thread with group commit, and the
rebuild of the windows from stored history after a restart.

The writer thread owns the hub's one writing :class:`~groundcontrol.store.database.Store`.
The event loop hands it jobs; the thread takes every job queued at that moment and
commits them in ONE transaction (group commit), so the cost of a commit is shared by
every batch waiting for it, and then resolves each job's future on the loop. A batch
is acknowledged to its feed only after its future resolves: an ack means "on disk".

Retention runs on the same thread, one bounded chunk between groups, so pruning never
holds the write lock for longer than one chunk and never races the writer.

Checkpoints (copying the WAL into the database file, with its fsyncs) run on a third
thread with its own connection, never inside a commit: measured 22k -> 35k mentions/s
for the writer alone. Passive checkpoints never block the writer, but under sustained
writes the WAL is never idle long enough to start over, so it would grow without end.
When it passes :data:`WAL_RESTART_BYTES` the writer itself, between two groups, runs
one TRUNCATE checkpoint: the passive ones have copied nearly everything already, so
it is short, and the WAL starts again from zero. (A RESTART from the checkpoint thread
would wait for a gap between commits that never comes.)

The review queue is read on threads too, never on the event loop: the checkpoint
thread counts it (:attr:`StoreWriter.review_pending`, for the tick and /metrics) every
:data:`REVIEW_COUNT_INTERVAL` seconds, and within a second of a committed triage
action; :meth:`StoreWriter.triage_queue` reads it for GET /triage/queue on a worker
thread with a reader connection of its own. WAL readers never block the writer.

A triage action is a job of the writer like a batch: the writer thread reads the
mention on its own connection (so a mention committed a moment ago counts, and one
that is not stored is refused without a row), records the action, folds the
mention's history into its state (``protocol.fold_triage``) and moves
``review_pending`` by the one mention it may have closed or opened, so the walls get
the new count at once rather than at the next count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from groundcontrol.model import Mention
from groundcontrol.protocol import (
    CLOSED_STATUSES,
    IncidentEvent,
    TriageAction,
    TriageState,
    fold_triage,
)
from groundcontrol.store.database import DeadLetter, Store

log = logging.getLogger("groundcontrol.store.writer")

_T = TypeVar("_T")

#: Most mentions one group commit takes; more waits for the next transaction.
MAX_GROUP_MENTIONS = 50_000
#: Rows one retention step deletes (one transaction; ingest waits at most this long).
PRUNE_CHUNK = 2_000
#: Commit durations kept for the latency quantiles in /metrics.
LATENCY_SAMPLES = 2_048
#: New mentions after which their authors are indexed (sorted, in one transaction).
AUTHOR_INDEX_BATCH = 20_000
#: Seconds the writer waits idle before it indexes the authors of fewer mentions.
AUTHOR_INDEX_IDLE = 1.0
#: Seconds between passive checkpoints.
CHECKPOINT_INTERVAL = 1.0
#: WAL size past which the checkpointer waits for the writer to bound the WAL.
WAL_RESTART_BYTES = 64 * 1024 * 1024
#: Seconds between two counts of the review queue (sooner after a triage action).
REVIEW_COUNT_INTERVAL = 5.0


@dataclass(frozen=True)
class TriageRecord:
    """A committed triage action, the mention's state after it, and the review queue's
    length after it (-1 before the first count)."""

    action: TriageAction
    state: TriageState
    pending: int


@dataclass
class _Job:
    mentions: list[Mention] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    incidents: list[IncidentEvent] = field(default_factory=list)
    edits: list[Mention] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    future: asyncio.Future[list[bool]] | None = None
    #: A triage action: (mention_id, action, label, actor, at, note); its future gets
    #: the record, or None when no such mention is stored (then nothing is recorded).
    triage: tuple[str, str, str, str, float, str] | None = None
    triage_future: asyncio.Future[TriageRecord | None] | None = None
    #: Notification deliveries: (incident_id, channel, change, at, attempts, outcome, reason).
    notifications: list[tuple[str, str, str, float, int, str, str]] = field(default_factory=list)
    #: What the detectors have learnt, and when: (at, series -> state).
    detector_states: tuple[float, dict[str, Any]] | None = None
    #: A write of its own (a briefing): run on the writer's store after the group's
    #: commit, in its own transaction; its future gets what it returns, or its error.
    call: Callable[[Store], Any] | None = None
    call_future: asyncio.Future[Any] | None = None


@dataclass
class WriterStats:
    """What the writer has done, for /metrics."""

    commits: int = 0
    mentions_written: int = 0
    dead_letters_written: int = 0
    failures: int = 0
    pruned: int = 0
    last_error: str = ""
    commit_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    commit_seconds_sum: float = 0.0
    queued_jobs: int = 0
    checkpoints: int = 0
    checkpoint_seconds_sum: float = 0.0
    wal_truncations: int = 0
    edits: int = 0
    """Edits from sources applied (to mentions stored or not)."""
    deletions: int = 0
    """Deletions from sources applied (to mentions stored or not)."""
    stage_cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the writer's work by step (the store's ``write_cpu``, and the
    author index)."""

    def quantile(self, q: float) -> float:
        samples = sorted(self.commit_seconds)
        if not samples:
            return 0.0
        return samples[min(len(samples) - 1, int(q * len(samples)))]


class StoreWriter:
    """Commits the hub's writes on one thread, in groups (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        retention_seconds: float = 0.0,
        prune_interval: float = 600.0,
        clock: Callable[[], float] = time.time,
        synchronous: str = "normal",
    ) -> None:
        self.store = store
        store.set_synchronous(synchronous)
        store.set_autocheckpoint(0)  # the checkpointer thread does it
        self.retention_seconds = retention_seconds
        self.prune_interval = prune_interval
        self.clock = clock
        self.stats = WriterStats(stage_cpu=store.write_cpu)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_prune = 0.0
        self._pruning = False
        self._size_cache = (0.0, 0.0)  # (when, bytes)
        self._stop_checkpoints = threading.Event()
        self._truncate_wal = threading.Event()
        self._unindexed = 0
        self._checkpointer: threading.Thread | None = None
        self.review_pending = -1
        """The review queue's length at the last count (-1 until the first one)."""
        self._recount_review = threading.Event()
        self._reader: Store | None = None
        self._reader_lock = threading.Lock()

    # ------------------------------------------------------------------ loop side

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._next_prune = time.monotonic() + min(5.0, self.prune_interval)
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="store-checkpoint", daemon=True
        )
        self._checkpointer.start()

    async def write_mentions(
        self,
        mentions: list[Mention],
        dead_letters: list[DeadLetter] | None = None,
        *,
        edits: list[Mention] | None = None,
        deleted: list[str] | None = None,
    ) -> list[bool]:
        """Commit ``mentions`` (and ``dead_letters``, the sources' ``edits`` of stored
        mentions and the ids of ``deleted`` ones); return which mentions were new."""
        assert self._loop is not None, "start() the writer first"
        future: asyncio.Future[list[bool]] = self._loop.create_future()
        self._put(
            _Job(
                mentions=mentions,
                dead_letters=dead_letters or [],
                edits=edits or [],
                deleted=deleted or [],
                future=future,
            )
        )
        return await future

    def dead_letters(self, items: list[DeadLetter]) -> None:
        """Keep ``items``; committed with the next group (nobody waits for them)."""
        if items:
            self._put(_Job(dead_letters=items))

    def detector_states(self, states: dict[str, Any], at: float) -> None:
        """Keep what the detectors have learnt; committed with the next group."""
        self._put(_Job(detector_states=(at, states)))

    def incident(self, event: IncidentEvent) -> None:
        """Store an incident's change; committed with the next group."""
        self._put(_Job(incidents=[event]))

    def notification(
        self,
        incident_id: str,
        channel: str,
        change: str,
        *,
        at: float,
        attempts: int,
        outcome: str,
        reason: str = "",
    ) -> None:
        """Record one delivery of a notification (groundcontrol/notify.py); committed
        with the next group (nobody waits for it)."""
        self._put(
            _Job(notifications=[(incident_id, channel, change, at, attempts, outcome, reason)])
        )

    async def triage(
        self, mention_id: str, action: str, *, label: str, actor: str, note: str
    ) -> TriageRecord | None:
        """Record a triage action (``label``: the class, or the person for assign and
        claim); once committed, the record, or None if the store holds no such mention
        (nothing is then recorded)."""
        assert self._loop is not None, "start() the writer first"
        future: asyncio.Future[TriageRecord | None] = self._loop.create_future()
        self._put(
            _Job(
                triage=(mention_id, action, label, actor, self.clock(), note),
                triage_future=future,
            )
        )
        return await future

    async def call(self, write: Callable[[Store], _T]) -> _T:
        """Run ``write`` on the writer thread's store (after the group queued with it is
        committed) and return what it returns, never blocking the loop."""
        assert self._loop is not None, "start() the writer first"
        future: asyncio.Future[_T] = self._loop.create_future()
        self._put(_Job(call=write, call_future=future))
        return await future

    async def triage_queue(
        self,
        limit: int,
        *,
        category: str | None = None,
        assignee: str | None = None,
        now: float,
        target: float,
    ) -> tuple[int, int, list[tuple[Mention, TriageState]]]:
        """(pending, breached, the oldest ``limit`` mentions of the review queue with
        their states), read in one snapshot on a worker thread (see
        :meth:`Store.review_queue` and :meth:`Store.count_review`)."""
        pending, breached, items = await self.read(
            lambda store: _read_queue(store, limit, category, assignee, now, target)
        )
        self.review_pending = pending
        return pending, breached, items

    async def read(self, query: Callable[[Store], _T]) -> _T:
        """Run ``query`` on the reader connection on a worker thread (never on the loop)."""
        return await asyncio.to_thread(self._read, query)

    def _read(self, query: Callable[[Store], _T]) -> _T:
        with self._reader_lock:
            if self._reader is None:
                self._reader = Store(self.store.path, create=False)
            with self._reader.snapshot():
                return query(self._reader)

    def _put(self, job: _Job) -> None:
        self.stats.queued_jobs += 1
        self._queue.put(job)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, stop the threads and close the store."""
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout)
            self._checkpointer = None
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the store writer did not finish within %.0fs", timeout)
                return
            self._thread = None
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self.store.close()

    def file_bytes(self) -> float:
        """Size of the store on disk (database and WAL); refreshed at most every 5 s."""
        when, size = self._size_cache
        now = time.monotonic()
        if now - when > 5.0:
            size = float(self.store.file_bytes())
            self._size_cache = (now, size)
        return size

    # ------------------------------------------------------------------ thread side

    def _run(self) -> None:
        stopping = False
        while not stopping:
            timeout = 0.5 if self._pruning else max(0.0, self._next_prune - time.monotonic())
            if self._unindexed:
                timeout = min(timeout, AUTHOR_INDEX_IDLE)
            try:
                first = self._queue.get(timeout=max(timeout, 0.001))
            except queue.Empty:
                self._index_authors()
                if self._pruning or time.monotonic() >= self._next_prune:
                    self._prune_step()
                continue
            group: list[_Job] = []
            n = 0
            job: _Job | None = first
            while job is not None:
                group.append(job)
                n += len(job.mentions)
                if n >= MAX_GROUP_MENTIONS:
                    break
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                stopping = True
            if group:
                self._commit(group)
            if self._unindexed >= AUTHOR_INDEX_BATCH or (stopping and self._unindexed):
                self._index_authors()
            if self._truncate_wal.is_set():
                self._truncate_wal.clear()
                self._checkpoint(self.store, "TRUNCATE")
                self.stats.wal_truncations += 1
            if not stopping and (self._pruning or time.monotonic() >= self._next_prune):
                self._prune_step()

    def _commit(self, group: list[_Job]) -> None:
        mentions = [m for job in group for m in job.mentions]
        letters = [d for job in group for d in job.dead_letters]
        incidents = [e for job in group for e in job.incidents]
        edits = [m for job in group for m in job.edits]
        deleted = [key for job in group for key in job.deleted]
        self.stats.queued_jobs -= len(group)
        started = time.perf_counter()
        try:
            new = self.store.write(mentions, letters, incidents, edits=edits, deleted=deleted)
            # After the group's mentions: an action on one committed just now counts.
            triaged = [
                self._record_triage(job.triage) if job.triage is not None else None for job in group
            ]
        except Exception as exc:  # the disk is full, the file went away...
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.error("store commit of %d mentions failed: %s", len(mentions), exc)
            for job in group:
                self._resolve(job.future, exc)
                self._resolve(job.triage_future, exc)
            self._write_notifications(group)
            self._run_calls(group)
            return
        took = time.perf_counter() - started
        self._write_notifications(group)
        self._run_calls(group)
        self._write_detector_states(group)
        st = self.stats
        st.commits += 1
        written = sum(new)
        st.mentions_written += written
        self._unindexed += written
        st.dead_letters_written += len(letters)
        st.edits += len(edits)
        st.deletions += len(deleted)
        st.commit_seconds.append(took)
        st.commit_seconds_sum += took
        if any(job.triage is not None for job in group):
            self._recount_review.set()
        start = 0
        for job, record in zip(group, triaged, strict=True):
            end = start + len(job.mentions)
            self._resolve(job.future, new[start:end])
            self._resolve(job.triage_future, record)
            start = end

    def _record_triage(self, job: tuple[str, str, str, str, float, str]) -> TriageRecord | None:
        """Record one triage action if its mention is stored (see the module doc)."""
        mention_id, action, label, actor, at, note = job
        store = self.store
        mention = store.mention_by_id(mention_id)
        if mention is None:
            return None

        def state() -> TriageState:
            history = store.triage_history(mention_id)
            return fold_triage(
                mention_id, mention.category, history, received_at=mention.received_at
            )

        before = state()
        action_id = store.add_triage_action(
            mention_id, action, label=label, actor=actor, at=at, note=note
        )
        after = state()
        if mention.needs_review and self.review_pending >= 0:
            was_open = before.status not in CLOSED_STATUSES
            is_open = after.status not in CLOSED_STATUSES
            self.review_pending = max(0, self.review_pending + int(is_open) - int(was_open))
        owner = action in ("assign", "claim")
        recorded = TriageAction(
            action=action,
            label="" if owner else label,
            assignee=label if owner else "",
            note=note,
            actor=actor,
            at=at,
            id=action_id,
        )
        return TriageRecord(action=recorded, state=after, pending=self.review_pending)

    def _run_calls(self, group: list[_Job]) -> None:
        for job in group:
            if job.call is None:
                continue
            try:
                result = job.call(self.store)
            except Exception as exc:
                log.error("a store write failed: %s", exc)
                self._resolve(job.call_future, exc)
            else:
                self._resolve(job.call_future, result)

    def _write_detector_states(self, group: list[_Job]) -> None:
        # Only the newest states of the group matter; apart from the commit, like the
        # notifications: losing them costs a detector some memory, never a mention.
        saved = [job.detector_states for job in group if job.detector_states is not None]
        if not saved:
            return
        at, states = saved[-1]
        try:
            self.store.save_detector_states(states, at)
        except Exception as exc:
            log.error("could not keep the detectors' states: %s", exc)

    def _write_notifications(self, group: list[_Job]) -> None:
        # After the group's commit, apart from it: a failure here must not fail the
        # batches' acks (the deliveries are already logged by the notifier).
        rows = [n for job in group for n in job.notifications]
        try:
            for incident_id, channel, change, at, attempts, outcome, reason in rows:
                self.store.add_notification(
                    incident_id,
                    channel,
                    change,
                    at=at,
                    attempts=attempts,
                    outcome=outcome,
                    reason=reason,
                )
        except Exception as exc:
            log.error("storing %d notification records failed: %s", len(rows), exc)

    def _resolve(self, future: asyncio.Future[_T] | None, value: _T | BaseException) -> None:
        if future is None or self._loop is None:
            return

        def settle() -> None:
            if future.done():
                return
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)

        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(settle)

    def _index_authors(self) -> None:
        if not self._unindexed:
            return
        started = time.thread_time()
        try:
            while self.store.index_authors(AUTHOR_INDEX_BATCH * 2):
                pass
        except Exception as exc:  # retried after the next group
            log.error("indexing authors failed: %s", exc)
            return
        finally:
            cpu = self.stats.stage_cpu
            cpu["store author index"] = (
                cpu.get("store author index", 0.0) + time.thread_time() - started
            )
        self._unindexed = 0

    def _checkpoint_loop(self) -> None:
        try:
            reader = Store(self.store.path, create=False)
        except Exception as exc:
            log.error("cannot open the store for checkpoints: %s", exc)
            return
        try:
            next_count = 0.0
            while True:
                if self._recount_review.is_set() or time.monotonic() >= next_count:
                    self._recount_review.clear()
                    self._count_review(reader)
                    next_count = time.monotonic() + REVIEW_COUNT_INTERVAL
                if self._stop_checkpoints.wait(CHECKPOINT_INTERVAL):
                    break
                self._checkpoint(reader, "PASSIVE")
                if reader.wal_bytes() > WAL_RESTART_BYTES:
                    self._truncate_wal.set()
                    self._put(_Job())  # wake the writer if it is idle
        finally:
            reader.close()

    def _count_review(self, reader: Store) -> None:
        try:
            self.review_pending = reader.count_pending_review()
        except Exception as exc:  # busy or failing: keep the last count, try again later
            log.warning("counting the review queue failed: %s", exc)

    def _checkpoint(self, store: Store, mode: str) -> None:
        started = time.perf_counter()
        try:
            store.checkpoint(mode)
        except Exception as exc:  # busy past the timeout: the next one will do
            log.warning("store checkpoint (%s) failed: %s", mode, exc)
            return
        self.stats.checkpoints += 1
        self.stats.checkpoint_seconds_sum += time.perf_counter() - started

    def _prune_step(self) -> None:
        if self.retention_seconds <= 0:
            self._next_prune = time.monotonic() + 3600.0
            return
        horizon = self.clock() - self.retention_seconds
        try:
            n = self.store.prune_step(horizon, chunk=PRUNE_CHUNK)
        except Exception as exc:
            log.error("pruning the store failed: %s", exc)
            n = 0
        self.stats.pruned += n
        self._pruning = n > 0
        if not self._pruning:
            self._next_prune = time.monotonic() + self.prune_interval


def _read_queue(
    store: Store,
    limit: int,
    category: str | None,
    assignee: str | None,
    now: float,
    target: float,
) -> tuple[int, int, list[tuple[Mention, TriageState]]]:
    # Three reads whatever the limit: the counts, the mentions, their actions.
    pending, breached = store.count_review(now=now, target=target)
    items = store.review_queue(limit, category, assignee=assignee)
    histories = store.triage_histories([m.id for m in items])
    return (
        pending,
        breached,
        [
            (m, fold_triage(m.id, m.category, histories.get(m.id, []), received_at=m.received_at))
            for m in items
        ],
    )
