"""Durability end to end: zero mentions lost, zero duplicated in the store.

A real hub runs as its own process (``python -m groundcontrol hub --db ...``); the
test process is the feed (an ``IngestClient`` with a disk spool) sending sustained
traffic. Two failures are injected while batches are in flight:

1. the hub process is killed with SIGKILL and started again on the same port and
   database;
2. the link between feed and hub is cut for 30 s (``tests.fakes.netcut``) while the
   feed keeps submitting.

Afterwards the SQLite store must hold every id the feed submitted, each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import aiohttp
import pytest

from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.spool import Spool
from groundcontrol.client.stream import Access, Backoff
from groundcontrol.lab.bench import free_port
from groundcontrol.model import Mention
from tests.deadline import SAFETY, until
from tests.fakes.netcut import NetCut

REPO = Path(__file__).resolve().parent.parent
FEED_TOKEN = "feed-durability-0123456789abcdef"
ADMIN_TOKEN = "admin-durability-0123456789abcdef"
SOURCE = "durable"


# ------------------------------------------------------------------ the hub process


class HubProcess:
    """``groundcontrol hub`` as a child process; stdout and stderr go to files."""

    def __init__(self, directory: Path, port: int, db: Path) -> None:
        self.directory = directory
        self.port = port
        self.db = db
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._files: list[IO[bytes]] = []

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _log(self, name: str) -> Path:
        return self.directory / f"hub-{self.runs}.{name}"

    def output(self) -> str:
        """The stderr of the current (or last) run, for failure messages."""
        with contextlib.suppress(OSError):
            return self._log("stderr").read_text(errors="replace")[-3000:]
        return ""

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDCONTROL_")}
        env.update(
            PYTHONUNBUFFERED="1",
            GROUNDCONTROL_TOKEN_FEED=FEED_TOKEN,
            GROUNDCONTROL_TOKEN_ADMIN=ADMIN_TOKEN,
        )
        out = open(self._log("stdout"), "wb")  # noqa: SIM115 - closed in close_files()
        err = open(self._log("stderr"), "wb")  # noqa: SIM115
        self._files += [out, err]
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "groundcontrol",
                "hub",
                "--port",
                str(self.port),
                "--db",
                str(self.db),
                "--log-level",
                "WARNING",
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
        )

    async def start(self, within: float = SAFETY) -> None:
        """Start the hub and wait for "hub ready" and a 200 from /healthz."""
        assert self.proc is None or self.proc.poll() is not None, "hub already running"
        self.proc = self._spawn()
        deadline = time.monotonic() + within
        while b"hub ready on ws://" not in self._log("stdout").read_bytes():
            assert self.proc.poll() is None, f"hub exited at start:\n{self.output()}"
            assert time.monotonic() < deadline, f"hub not ready in {within}s:\n{self.output()}"
            await asyncio.sleep(0.05)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.http}/healthz") as resp,
        ):
            assert resp.status == 200

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed or closed."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL

    async def stop(self, within: float = SAFETY) -> None:
        """SIGTERM and wait (SIGKILL if it does not go); safe to call twice."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, within)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            pytest.fail(f"hub ignored SIGTERM for {within}s:\n{self.output()}")

    def close_files(self) -> None:
        for f in self._files:
            f.close()
        self._files.clear()


# ------------------------------------------------------------------ the feed side


@dataclass
class Traffic:
    """Unique mentions, and the ids of every one whose ``submit`` returned."""

    run: str
    submitted: list[str] = field(default_factory=list)
    batches: int = 0
    _next: int = 0

    def batch(self, n: int) -> list[Mention]:
        now = datetime.now(UTC)
        first = self._next
        self._next += n
        return [
            Mention(
                source=SOURCE,
                source_id=f"{self.run}-{i}",
                text=f"Northwind Aero durability check {i} is fine",
                created_at=now,
                author=f"user{i % 97}",
            )
            for i in range(first, first + n)
        ]

    async def submit(self, client: IngestClient, n: int) -> None:
        mentions = self.batch(n)
        await client.submit(mentions)
        # Counted only once submit returned: from then on the feed owns it (spooled).
        self.submitted.extend(f"{SOURCE}:{m.source_id}" for m in mentions)
        self.batches += 1

    async def pump(
        self,
        client: IngestClient,
        *,
        per_batch: int,
        interval: float,
        stop: asyncio.Event,
        slow_interval: float | None = None,
        slow: asyncio.Event | None = None,
    ) -> None:
        """Submit ``per_batch`` mentions every ``interval`` s until ``stop`` is set.

        While ``slow`` is set the pace is ``slow_interval`` instead.
        """
        next_at = time.monotonic()
        while not stop.is_set():
            await self.submit(client, per_batch)
            step = slow_interval if slow is not None and slow.is_set() and slow_interval else None
            next_at += step or interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def make_client(url: str, spool: Spool, events: list[str]) -> IngestClient:
    return IngestClient(
        url,
        name="durability",
        source=SOURCE,
        access=Access(token=FEED_TOKEN),
        spool=spool,
        backoff=Backoff(initial=0.05, maximum=0.5, seed=7),
        on_event=events.append,
    )


@dataclass
class Verdict:
    sent: int
    stored: int
    missing: list[str]
    extra: list[str]
    rows: int
    distinct: int

    def line(self, name: str, client: IngestClient, **more: object) -> str:
        st = client.stats
        extras = "".join(f" {k}={v}" for k, v in more.items())
        return (
            f"[{name}] sent={self.sent} stored={self.stored} lost={len(self.missing)} "
            f"duplicated={self.rows - self.distinct} extra={len(self.extra)} "
            f"resent-as-duplicates={st.duplicates} reconnects={st.reconnects} "
            f"batches_sent={st.batches_sent} batches_acked={st.batches_acked}{extras}"
        )


def verdict(db: Path, traffic: Traffic) -> Verdict:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ids = [row[0] for row in con.execute("SELECT id FROM mentions")]
        rows, distinct = con.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
    finally:
        con.close()
    sent = set(traffic.submitted)
    stored = set(ids)
    return Verdict(
        sent=len(traffic.submitted),
        stored=len(ids),
        missing=sorted(sent - stored),
        extra=sorted(stored - sent),
        rows=rows,
        distinct=distinct,
    )


def assert_exactly_once(v: Verdict, traffic: Traffic, summary: str) -> None:
    assert len(set(traffic.submitted)) == len(traffic.submitted), "the test sent an id twice"
    assert not v.missing, f"{len(v.missing)} lost, e.g. {v.missing[:5]}; {summary}"
    assert not v.extra, f"{len(v.extra)} never sent, e.g. {v.extra[:5]}; {summary}"
    assert v.rows == v.distinct, f"duplicated rows in the store; {summary}"
    assert v.stored == v.sent, summary


async def ingested_total(hub: HubProcess) -> float:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{hub.http}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        text = await resp.text()
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "groundcontrol_mentions_ingested_total":
            return float(value)
    raise AssertionError("no groundcontrol_mentions_ingested_total in /metrics")


async def drain(
    client: IngestClient, events: list[str], within: float = 2 * SAFETY, stall: float = SAFETY
) -> None:
    """Wait up to ``within`` s for ``client.drain()``; fail early if acks stop for ``stall`` s.

    A feed that keeps everything but never sends it again is a hang, not a pass:
    report its state instead of waiting out the whole timeout.
    """
    start = time.monotonic()
    acked = client.stats.batches_acked
    progress_at = start
    while not await client.drain(timeout=1.0):
        now = time.monotonic()
        st = client.stats
        if st.batches_acked != acked:
            acked, progress_at = st.batches_acked, now
        state = (
            f"{client.pending} batches pending, connected={st.connected}, "
            f"reconnects={st.reconnects}, sent={st.batches_sent}, acked={st.batches_acked} "
            f"(window {client.window}); last events: {events[-3:]}"
        )
        assert now - progress_at < stall, f"feed stalled: no ack for {stall:.0f}s; {state}"
        assert now - start < within, f"not drained in {within:.0f}s; {state}"


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ------------------------------------------------------------------ SIGKILL of the hub


@pytest.mark.slow
async def test_no_loss_no_duplicates_across_a_hub_sigkill(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path, free_port(), tmp_path / "gc.db")
    spool = Spool(tmp_path / "spool", fsync=False)  # the feed process is not the one killed
    events: list[str] = []
    client = make_client(hub.ws, spool, events)
    traffic = Traffic(run="kill")
    pump: asyncio.Task[None] | None = None
    try:
        await hub.start()
        client.start()
        started = time.monotonic()
        # ~5000 mentions/s: 100 mentions every 20 ms, until the hub is back and busy.
        stop = asyncio.Event()
        pump = asyncio.create_task(traffic.pump(client, per_batch=100, interval=0.02, stop=stop))
        # Sustained traffic first: the hub has acked a good many batches.
        await until(lambda: client.stats.batches_acked >= 25, f"acks before the kill: {events}")
        assert not pump.done(), pump
        # Kill the moment batches are on the wire and not acked yet.
        stats = client.stats
        end = time.monotonic() + SAFETY
        while stats.batches_sent - stats.batches_acked <= 0:
            assert time.monotonic() < end, "never caught a batch in flight"
            await asyncio.sleep(0.001)
        in_flight = client.stats.batches_sent - client.stats.batches_acked
        pending_at_kill = client.pending
        submitted_at_kill = len(traffic.submitted)
        hub.kill()
        assert pending_at_kill > 0
        assert in_flight > 0

        # The hub is gone: the feed keeps accepting (and keeping) batches.
        await until(lambda: len(traffic.submitted) > submitted_at_kill + 3_000, "submit blocked")
        await until(lambda: not client.stats.connected, "the feed to see the hub gone")
        pending_while_down = client.pending
        assert pending_while_down >= pending_at_kill
        await hub.start()  # same port, same database

        # Traffic goes on until the new hub has acked new batches too.
        acked_at_restart = client.stats.batches_acked
        await until(
            lambda: client.stats.batches_acked >= acked_at_restart + pending_while_down + 25
        )
        stop.set()
        await pump
        await drain(client, events)
        assert client.stats.rejected == 0
        assert client.stats.errors == 0
        await client.close()
        await hub.stop()

        v = verdict(hub.db, traffic)
        summary = v.line(
            "sigkill",
            client,
            pending_at_kill=pending_at_kill,
            in_flight_at_kill=in_flight,
            pending_while_down=pending_while_down,
            seconds=f"{time.monotonic() - started:.1f}",
        )
        print("\n" + summary)
        assert_exactly_once(v, traffic, summary)
        assert client.stats.reconnects >= 1
        # Acked duplicates (resends of what was committed but not acked before the kill)
        # are fine; the store has none.
        assert client.stats.accepted + client.stats.duplicates >= v.sent
        assert spool.depth == 0
    finally:
        await stop_task(pump)
        await client.close()
        spool.close()
        await hub.stop()
        hub.close_files()


# ------------------------------------------------------------------ 30 s network cut


@pytest.mark.slow
async def test_no_loss_no_duplicates_across_a_30s_network_cut(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path, free_port(), tmp_path / "gc.db")
    spool = Spool(tmp_path / "spool", fsync=False)
    events: list[str] = []
    traffic = Traffic(run="cut")
    proxy: NetCut | None = None
    client: IngestClient | None = None
    pump: asyncio.Task[None] | None = None
    cut_seconds = 30.0
    try:
        await hub.start()
        proxy = await NetCut.start("127.0.0.1", hub.port)
        client = make_client(proxy.url("ws"), spool, events)
        # ~4000 mentions/s (200 every 50 ms) with the link up; during the cut the source
        # slows to 200 every 100 ms so the backlog (~60k mentions, ~300 batches) stays
        # well inside max_pending (2000 batches) and the spool (256 MiB).
        assert client.max_pending >= 2 * int(cut_seconds / 0.1)
        client.start()
        slow = asyncio.Event()
        stop = asyncio.Event()
        started = time.monotonic()
        pump = asyncio.create_task(
            traffic.pump(
                client, per_batch=200, interval=0.05, slow_interval=0.1, slow=slow, stop=stop
            )
        )
        # Traffic flows before the cut: the hub has acked a good many batches.
        await until(lambda: client.stats.batches_acked >= 25, f"acks before the cut: {events}")
        slow.set()
        proxy.cut()
        cut_at = time.monotonic()
        acked_at_cut = client.stats.batches_acked
        submitted_at_cut = len(traffic.submitted)

        await asyncio.sleep(cut_seconds)
        # The feed kept taking data the whole time: no submit ever waited for room
        # (it would have said so), and (almost) nothing got through: at most what was
        # already handed to the hub's socket before the cut.
        submitted_during = len(traffic.submitted) - submitted_at_cut
        acked_during = client.stats.batches_acked - acked_at_cut
        pending_at_restore = client.pending
        held_up = [e for e in events if "wait for the hub's ack" in e or "spool full" in e]
        assert not held_up, held_up
        assert submitted_during >= 200 * 10, submitted_during  # the pump went on
        assert acked_during <= client.window, acked_during
        assert pending_at_restore >= submitted_during // 200
        proxy.restore()
        cut_took = time.monotonic() - cut_at
        slow.clear()

        # Traffic goes on until the backlog and new batches are acked through the link.
        acked_at_restore = client.stats.batches_acked
        await until(
            lambda: client.stats.batches_acked >= acked_at_restore + pending_at_restore + 20
        )
        stop.set()
        await pump
        await drain(client, events)
        assert client.stats.rejected == 0
        assert client.stats.errors == 0
        await client.close()
        # Never restarted: the hub's own count of new mentions is the store's.
        ingested = await ingested_total(hub)
        await hub.stop()

        v = verdict(hub.db, traffic)
        summary = v.line(
            "netcut",
            client,
            cut_seconds=f"{cut_took:.1f}",
            submitted_during_cut=submitted_during,
            pending_at_restore=pending_at_restore,
            metrics_ingested=int(ingested),
            proxy_connections=proxy.connections_total,
            seconds=f"{time.monotonic() - started:.1f}",
        )
        print("\n" + summary)
        assert_exactly_once(v, traffic, summary)
        assert ingested == v.stored, summary
        assert spool.depth == 0
    finally:
        await stop_task(pump)
        if client is not None:
            await client.close()
        spool.close()
        if proxy is not None:
            await proxy.close()
        await hub.stop()
        hub.close_files()
