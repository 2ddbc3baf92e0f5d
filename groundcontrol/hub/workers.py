"""Enrichment off the hub's event loop, in worker processes.

Enrichment is pure CPU (tokenise, detect language, score, match queries, fingerprint
for copy detection) and costs far more per mention than decoding or aggregating, so
the hub hands each batch's texts to a worker process and keeps its own core for
sockets, dedupe and windows. Only (text, lang) goes out and the enriched fields come
back, as plain tuples, with the CPU time each step took (``STAGE_CPU``, on /metrics).

With ``workers=0`` everything runs inline; if a worker dies the pool falls back to
inline enrichment for what it had not sent back and starts a new worker, so nothing
is lost and nothing is enriched twice into a batch.

Two promises, whatever the load:

- **The event loop never waits on a worker's pipe.** Every call into the process pool
  (submitting, which in CPython 3.11 writes to a pipe and may start a process;
  replacing a broken pool; shutting down) runs on one thread of its own, the feeder.
  The loop hands it work through an in-memory queue and awaits a future. At most
  ``IN_FLIGHT_PER_WORKER`` chunks per worker are handed over at a time: the rest wait
  as coroutines, so memory stays bounded however far the workers fall behind.
- **Workers do not outlive the hub**, however it ends (``kill -9`` included). Each
  worker watches a pipe whose only write end is in the hub and exits at its end of
  file; on Linux the kernel also kills it when the thread that started it (the
  feeder, which lives as long as the pool) is gone. Without them a worker waits on
  its task queue forever: it holds both ends of that pipe, so it never sees an end
  of file, and it keeps multiprocessing's resource tracker alive with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Literal

from groundcontrol.config import BrandConfig, ComplianceConfig, QueryConfig, TriageConfig
from groundcontrol.hub.metrics import STAGE_CPU
from groundcontrol.listen.copies import CopyPrint
from groundcontrol.listen.enrich import Enricher, Fields
from groundcontrol.model import Mention

log = logging.getLogger("groundcontrol.hub.workers")

#: A chunk's enriched fields, in order, and the worker's CPU seconds per step.
Enriched = tuple[list[Fields], dict[str, float]]

#: Mentions per work item. A larger batch is cut into chunks that several workers can
#: share; it also bounds how long any thread of the hub holds the GIL to pickle a work
#: item or unpickle its result (a few milliseconds), which would stall the loop too.
CHUNK = 2000
#: Work items handed to the pool and not yet back, per worker: one being enriched and
#: one waiting in its pipe keep it busy; more would only queue pickles in memory.
IN_FLIGHT_PER_WORKER = 2

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_enricher: Enricher | None = None


def _init_worker(
    brands: Sequence[BrandConfig],
    queries: Sequence[QueryConfig],
    triage: TriageConfig,
    lifeline: Connection | None = None,
    hub_pid: int | None = None,
) -> None:
    # First, so that a hub that dies while this worker loads its lexicons still takes it.
    if lifeline is not None:
        _exit_when_closed(lifeline)
    if hub_pid is not None:
        _die_with_hub(hub_pid)
    global _enricher
    _enricher = Enricher(brands, queries, triage=triage)
    # As the hub does (server.tune_gc): the lexicons, compiled queries and the rest of
    # what was just loaded are frozen out of collections, and young collections run
    # less often; each chunk allocates tens of thousands of short-lived tuples.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _exit_when_closed(lifeline: Connection) -> None:
    """Exit this worker once ``lifeline`` reads end of file.

    Nothing is ever sent on it and its only write end is in the hub (spawned
    processes get only the descriptors they are given), so a read returns only when
    the hub has exited, however it died. Portable, unlike PR_SET_PDEATHSIG.
    """

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(0)  # no cleanup to do: nobody is left to take a result

    threading.Thread(target=watch, name="hub-lifeline", daemon=True).start()


def _die_with_hub(hub_pid: int) -> None:
    """On Linux, have the kernel SIGKILL this worker when its parent goes.

    Immediate even while the worker is busy. The "parent" is the hub thread that
    spawned the worker, which is the pool's feeder thread (alive as long as the pool).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        failed = libc.prctl(
            _PR_SET_PDEATHSIG,
            ctypes.c_ulong(signal.SIGKILL),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
    except (OSError, AttributeError):  # no usable libc: the lifeline is still there
        return
    if failed:
        return
    if os.getppid() != hub_pid:
        # The hub died before the call above: the signal will never come.
        os._exit(0)


def enrich_texts(items: list[tuple[str, str]]) -> Enriched:
    """Enrich (text, lang) pairs in a worker: their fields in order, and the CPU
    seconds of each step."""
    enricher = _enricher
    if enricher is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not initialised")
    cpu: dict[str, float] = {}
    return enricher.fields(items, cpu), cpu


def _warm() -> bool:
    return _enricher is not None


#: Why a chunk came back without results: its worker died, or the pool is closing.
Missed = Literal["died", "closed"]


class EnrichPool:
    """Enriches batches of mentions in place, in worker processes or inline."""

    def __init__(
        self,
        brands: Sequence[BrandConfig],
        queries: Sequence[QueryConfig],
        *,
        workers: int = 1,
        triage: TriageConfig | None = None,
        compliance: ComplianceConfig | None = None,
    ) -> None:
        self.brands = tuple(brands)
        self.queries = tuple(queries)
        self.triage = triage or TriageConfig()
        self.workers = workers
        # Compliance needs the author and date, which stay here: checked inline after.
        self.inline = Enricher(brands, queries, triage=self.triage, compliance=compliance)
        self._pool: ProcessPoolExecutor | None = None
        #: The one thread that calls into ``_pool`` (see the module docstring).
        self._feeder: ThreadPoolExecutor | None = None
        #: Chunks handed to the pool and not yet back (bounded: see IN_FLIGHT_PER_WORKER).
        self._slots: asyncio.Semaphore | None = None
        #: (read end, write end): the workers watch the read end, only the hub writes.
        self._lifeline: tuple[Connection, Connection] | None = None
        #: The broken pool being replaced, so that it is replaced once.
        self._renewing: ProcessPoolExecutor | None = None
        # Guards swapping ``_pool`` between the loop (close) and the feeder (renew).
        self._swap = threading.Lock()
        self.fallbacks = 0
        # Each guard against orphaned workers alone, for the tests.
        self._watch_lifeline = True
        self._watch_parent = True

    def _new_pool(self) -> ProcessPoolExecutor:
        # On the feeder thread only: the workers it starts die with that thread.
        # spawn, not fork: the hub's process has a running event loop and threads,
        # and a forked worker would inherit its sockets and the lifeline's write end.
        lifeline = self._lifeline[0] if self._lifeline is not None else None
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(
                self.brands,
                self.queries,
                self.triage,
                lifeline,
                os.getpid() if self._watch_parent else None,
            ),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has built its enricher."""
        if self.workers <= 0:
            return
        if self._watch_lifeline:
            self._lifeline = multiprocessing.Pipe(duplex=False)
        self._feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich-feeder")
        self._slots = asyncio.Semaphore(self.workers * IN_FLIGHT_PER_WORKER)
        loop = asyncio.get_running_loop()
        self._pool = pool = await loop.run_in_executor(self._feeder, self._new_pool)
        warming = await loop.run_in_executor(
            self._feeder, lambda: [pool.submit(_warm) for _ in range(self.workers)]
        )
        await asyncio.gather(*map(asyncio.wrap_future, warming))

    def close(self) -> None:
        """Stop taking work; the workers finish what they hold, then exit.

        Returns at once: the shutdown runs on the feeder thread, never on the loop.
        """
        with self._swap:
            pool, self._pool = self._pool, None
        feeder, self._feeder = self._feeder, None
        if feeder is not None:
            feeder.submit(self._shut, pool)
            feeder.shutdown(wait=False)

    def _shut(self, pool: ProcessPoolExecutor | None) -> None:
        # Feeder thread. Waits for the workers, so the lifeline outlives them all.
        if pool is not None:
            pool.shutdown(wait=True)
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None

    async def enrich(self, mentions: list[Mention]) -> list[CopyPrint]:
        """Fill the enriched fields of ``mentions`` in place; return their copy
        fingerprints (for ``CopyIndex.mark``)."""
        if self._pool is None or len(mentions) < 8:
            return self._inline(mentions)
        if len(mentions) <= CHUNK:
            chunks = [mentions]
            results = [await self._in_worker(mentions)]
        else:
            chunks = [mentions[i : i + CHUNK] for i in range(0, len(mentions), CHUNK)]
            results = await asyncio.gather(*map(self._in_worker, chunks))
        apply = self.inline.apply
        died = False
        prints: list[CopyPrint] = []
        for n, (chunk, enriched) in enumerate(zip(chunks, results, strict=True)):
            if n:
                await asyncio.sleep(0)  # let the loop breathe between chunks of a huge batch
            if isinstance(enriched, str):
                died = died or enriched == "died"
                prints += self._inline(chunk)
                continue
            started = time.thread_time()
            fields, cpu = enriched
            STAGE_CPU.add_all({f"enrich {step}": seconds for step, seconds in cpu.items()})
            for m, f in zip(chunk, fields, strict=True):
                apply(m, f)
                prints.append(f[8])
            STAGE_CPU.add("enrich results back", time.thread_time() - started)
        if died:
            self.fallbacks += 1
        return prints

    def _inline(self, mentions: list[Mention]) -> list[CopyPrint]:
        cpu: dict[str, float] = {}
        fields = self.inline.fields([(m.text, m.lang) for m in mentions], cpu)
        STAGE_CPU.add_all({f"enrich {step}": seconds for step, seconds in cpu.items()})
        apply = self.inline.apply
        for m, f in zip(mentions, fields, strict=True):
            apply(m, f)
        return [f[8] for f in fields]

    async def _in_worker(self, chunk: list[Mention]) -> Enriched | Missed:
        """Enrich one chunk in a worker, or say why it could not be."""
        started = time.thread_time()
        items = [(m.text, m.lang) for m in chunk]
        STAGE_CPU.add("enrich texts out", time.thread_time() - started)
        assert self._slots is not None
        async with self._slots:
            pool, feeder = self._pool, self._feeder
            if pool is None or feeder is None:
                return "closed"
            loop = asyncio.get_running_loop()
            try:
                handed: Future[Enriched] = await loop.run_in_executor(
                    feeder, pool.submit, enrich_texts, items
                )
            except BrokenProcessPool:  # broke before this chunk reached it
                self._renew(pool, feeder)
                return "died"
            except RuntimeError:  # the pool or the feeder is shut down: closing
                return "closed"
            try:
                return await asyncio.wrap_future(handed)
            except BrokenProcessPool:
                self._renew(pool, feeder)
                return "died"

    def _renew(self, broken: ProcessPoolExecutor, feeder: ThreadPoolExecutor) -> None:
        """Have the feeder replace a broken pool, once however many chunks saw it."""
        if self._renewing is broken or self._pool is not broken:
            return
        self._renewing = broken
        log.error("an enrichment worker died; enriching inline and starting a new one")
        with contextlib.suppress(RuntimeError):  # the feeder is shut down: closing anyway
            feeder.submit(self._replace, broken)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        # Feeder thread. Until the swap, chunks sent to the broken pool fail at once
        # and are enriched inline: no chunk waits on a pool that cannot answer.
        broken.shutdown(wait=False)
        fresh: ProcessPoolExecutor | None = self._new_pool()
        with self._swap:
            if self._pool is broken:  # not closed meanwhile
                self._pool, fresh = fresh, None
        if fresh is not None:
            fresh.shutdown(wait=False)
