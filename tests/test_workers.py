"""The enrichment pool's reliability: no orphaned workers, a loop that never waits on
a worker's pipe, and results that stay right and in order.

Real worker processes throughout. Every wait polls a condition until a deadline that
only bounds a failure: a loaded machine makes these tests slower, never red.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from groundcontrol.config import load_config
from groundcontrol.hub.workers import CHUNK, IN_FLIGHT_PER_WORKER, EnrichPool
from groundcontrol.model import Mention
from tests.deadline import SAFETY

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: Only bounds how long a failing test takes to say so.
DEADLINE = SAFETY
AT = datetime(2026, 11, 22, 10, tzinfo=UTC)
TEXTS = [
    "My Aero 14 battery swelled and the case cracked #AeroGate",
    "Need a quote for 40 Northwind laptops, any reseller?",
    "Love my Northwind Pulse, best headset ever",
    "Q4 earnings: revenue up 12% to $1.4B",
    "Contoso sign-in is down again, support never answers",
    "Fabrikam customer data breach: change your passwords",
    "Northwind Aero 14 review: fast, quiet, battery lasts all day",
    "Nichts geht mehr: Contoso Anmeldung seit Stunden kaputt",
]


def wait_until(condition: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def mentions(n: int, prefix: str = "m") -> list[Mention]:
    return [
        Mention(
            source="x",
            source_id=f"{prefix}{i}",
            # Distinct texts, so a result applied to the wrong mention shows.
            text=f"{TEXTS[i % len(TEXTS)]} (#{i})",
            created_at=AT,
            author=f"user{i % 5}",
        )
        for i in range(n)
    ]


def enriched(ms: list[Mention]) -> list[tuple[object, ...]]:
    return [
        (
            m.text,
            m.lang,
            m.sentiment,
            m.sentiment_label,
            m.brands,
            m.queries,
            m.terms,
            m.category,
            m.category_confidence,
            m.needs_review,
            m.flags,
        )
        for m in ms
    ]


def new_pool(workers: int = 1) -> EnrichPool:
    config = load_config()
    return EnrichPool(
        config.brands,
        config.queries,
        workers=workers,
        triage=config.triage,
        compliance=config.compliance,
    )


# ------------------------------------------------------------ /proc


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def _identity(pid: int) -> tuple[int, str] | None:
    # (pid, start time): a pid the kernel gives to a new process is another process.
    fields = _stat(pid)
    return None if fields is None else (pid, fields[19])


def _alive(proc: tuple[int, str]) -> bool:
    fields = _stat(proc[0])
    return fields is not None and fields[19] == proc[1] and fields[0] not in "ZX"


def _cpu_ticks(pid: int) -> int:
    fields = _stat(pid)
    return 0 if fields is None else int(fields[11]) + int(fields[12])


def _descendants(root: int) -> set[tuple[int, str]]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return {ident for pid in found if (ident := _identity(pid)) is not None}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ------------------------------------------------------------ orphans

# A hub in miniature: starts a pool of two workers, says so, and then (busy) keeps
# both workers enriching until it is killed.
HUB = """
import asyncio, sys
from datetime import UTC, datetime
from groundcontrol.config import load_config
from groundcontrol.hub.workers import EnrichPool
from groundcontrol.model import Mention

async def main() -> None:
    lifeline, parent, busy = (arg == "1" for arg in sys.argv[1:4])
    config = load_config()
    pool = EnrichPool(config.brands, config.queries, workers=2, triage=config.triage)
    pool._watch_lifeline, pool._watch_parent = lifeline, parent
    await pool.start()
    print("ready", flush=True)
    if not busy:
        await asyncio.Event().wait()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    text = "Northwind Aero 14 battery swelled and support never answered. " * 20
    batch = [Mention(source="x", source_id=str(i), text=text, created_at=at) for i in range(4000)]
    while True:
        await pool.enrich(batch)

asyncio.run(main())
"""


@linux_only
@pytest.mark.parametrize(
    ("lifeline", "parent", "busy"),
    [
        pytest.param(True, True, False, id="idle"),
        pytest.param(True, False, True, id="busy-lifeline-only"),
        pytest.param(False, True, True, id="busy-pdeathsig-only"),
    ],
)
def test_workers_die_with_a_hub_killed_by_sigkill(
    tmp_path: Path, lifeline: bool, parent: bool, busy: bool
) -> None:
    args = [str(int(flag)) for flag in (lifeline, parent, busy)]
    stderr = (tmp_path / "stderr").open("w")
    hub = subprocess.Popen(
        [sys.executable, "-c", HUB, *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    family: set[tuple[int, str]] = set()
    try:
        assert hub.stdout is not None
        ready = hub.stdout.readline()  # returns at "ready", or at once if it died
        assert ready == "ready\n", (tmp_path / "stderr").read_text()
        family = _descendants(hub.pid)
        workers = [p for p in family if "spawn_main" in _cmdline(p[0])]
        assert len(workers) == 2, [_cmdline(p[0]) for p in family]
        if busy:
            # Kill while both are in the middle of a batch: each has burned CPU since.
            start = {p: _cpu_ticks(p[0]) for p in workers}
            tick = os.sysconf("SC_CLK_TCK")
            assert wait_until(lambda: all(_cpu_ticks(p[0]) - start[p] > tick // 5 for p in workers))
        hub.kill()
        hub.wait()
        # Workers and the resource tracker (which lives as long as any of them holds
        # its pipe) all go; before the fix they waited on their task queue forever.
        gone = wait_until(lambda: not any(_alive(p) for p in family))
        survivors = [(p[0], _cmdline(p[0])) for p in family if _alive(p)]
        assert gone, f"left running after the hub was killed: {survivors}"
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()
        for proc in family:  # never leave an orphan behind, even when the test fails
            if _alive(proc):
                os.kill(proc[0], signal.SIGKILL)
        if hub.stdout is not None:
            hub.stdout.close()
        stderr.close()


# ------------------------------------------------------------ the loop never waits


async def eventually(condition: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.01)
    return True


def _queued_bytes(fd: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0])


def _full(fd: int) -> bool:
    # Within a page of its capacity: a pipe holds whole pages, a writer waits.
    room = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) - _queued_bytes(fd)
    return room < os.sysconf("SC_PAGE_SIZE")


@linux_only
async def test_the_loop_never_waits_on_a_full_worker_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = new_pool(workers=1)
    await pool.start()
    assert pool._pool is not None
    (worker,) = pool._pool._processes.values()
    assert worker.pid is not None
    task_pipe = pool._pool._call_queue._reader.fileno()  # type: ignore[attr-defined]
    # Who writes to a multiprocessing pipe (the blocking write under send_bytes).
    writers: set[int] = set()
    real_send = Connection._send  # type: ignore[attr-defined]

    def send(self: Connection, buf: bytes, *args: object) -> None:
        writers.add(threading.get_ident())
        real_send(self, buf, *args)

    monkeypatch.setattr(Connection, "_send", send)
    loop_thread = threading.get_ident()
    # Batches far larger than the pipe, far more of them than the worker can take.
    batches = [mentions(CHUNK, prefix=f"b{b}-") for b in range(12)]
    expected = [mentions(CHUNK, prefix=f"b{b}-") for b in range(12)]
    for batch in expected:
        pool.inline.enrich(batch)
    beats = 0
    pending: list[int] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal beats
        while not done.is_set():
            await asyncio.sleep(0.01)
            beats += 1
            if pool._pool is not None:
                pending.append(len(pool._pool._pending_work_items))

    os.kill(worker.pid, signal.SIGSTOP)  # a worker that gets no CPU: it reads nothing
    try:
        beat = asyncio.create_task(heartbeat())
        flood = asyncio.gather(*map(pool.enrich, batches))
        # The worker's task pipe fills up for real.
        assert await eventually(lambda: _full(task_pipe))
        # The loop goes on ticking while it stays full, with every batch still waiting:
        # a loop that waited on the pipe (or on a lock its writer holds) would wait
        # here until the worker runs again, which it does only after these beats.
        ticks = beats
        assert await eventually(lambda: beats >= ticks + 50)
        assert _full(task_pipe) and not flood.done()
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    await flood
    done.set()
    await beat
    pool.close()
    # Before: the loop itself submitted to the pool, and submit writes to a pipe
    # (CPython 3.11 wakes the pool's manager thread through one): under load the loop
    # sat in that write, and with a full pipe it would sit there until it drained.
    # (No bound on the longest pause between beats: with the worker and the pool's
    # threads competing for the CPU and the GIL, that is the machine's load.)
    assert loop_thread not in writers
    # What waits for the worker waits as coroutines, not as pickles in the pool.
    assert max(pending) <= IN_FLIGHT_PER_WORKER * pool.workers, max(pending)
    # Every batch enriched as inline enrichment would have, in order.
    assert [enriched(b) for b in batches] == [enriched(b) for b in expected]


async def test_a_batch_larger_than_a_chunk_is_shared_and_stays_in_order() -> None:
    pool = new_pool(workers=2)
    await pool.start()
    try:
        batch = mentions(2 * CHUNK + 123)
        expected = mentions(2 * CHUNK + 123)
        pool.inline.enrich(expected)
        await pool.enrich(batch)
        assert enriched(batch) == enriched(expected)
        assert pool.fallbacks == 0
    finally:
        pool.close()


# ------------------------------------------------------------ a worker dies


async def test_a_dead_worker_costs_inline_enrichment_and_is_replaced() -> None:
    pool = new_pool(workers=1)
    await pool.start()
    try:
        assert pool._pool is not None
        first = pool._pool
        (dead,) = list(first._processes.values())
        dead.kill()
        assert await asyncio.to_thread(wait_until, lambda: not dead.is_alive())
        batch, expected = mentions(100), mentions(100)
        pool.inline.enrich(expected)
        await pool.enrich(batch)  # the broken pool: enriched inline, once
        assert enriched(batch) == enriched(expected)
        assert pool.fallbacks == 1
        # The next batch goes to a new worker.
        assert await asyncio.to_thread(wait_until, lambda: pool._pool is not first)
        batch, expected = mentions(100, prefix="n"), mentions(100, prefix="n")
        pool.inline.enrich(expected)
        await pool.enrich(batch)
        assert enriched(batch) == enriched(expected)
        assert pool.fallbacks == 1
        assert pool._pool is not None
        alive = list(pool._pool._processes.values())
        assert len(alive) == 1 and alive[0].pid != dead.pid and alive[0].is_alive()
    finally:
        pool.close()


async def test_close_lets_the_workers_finish_and_exit() -> None:
    pool = new_pool(workers=2)
    await pool.start()
    assert pool._pool is not None
    workers = list(pool._pool._processes.values())
    batch, expected = mentions(3000), mentions(3000)
    pool.inline.enrich(expected)
    pending = asyncio.ensure_future(pool.enrich(batch))
    await asyncio.sleep(0)  # handed to the feeder
    pool.close()  # returns at once
    await pending  # what was handed over still comes back (or is enriched inline)
    assert enriched(batch) == enriched(expected)
    assert await asyncio.to_thread(wait_until, lambda: not any(w.is_alive() for w in workers))
    small = mentions(20)
    await pool.enrich(small)  # closed: inline, as with workers=0
    assert small[0].lang
