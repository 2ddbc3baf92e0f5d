"""The bus mode's proof, end to end with real processes and a real NATS server.

Two hubs, two enrichment workers and one store writer (each its own process), the
demo feed and a wall-style stream client on each hub (in this process). Mid-stream:
``kill -9`` one worker, ``kill -9`` the hub the feed and the first client are on (both
move to the other hub), and restart the NATS server (file storage: the streams and
consumers survive). Then a hub is started again where the dead one was, and a third
client reads it.

Afterwards every mention the feed sent is stored exactly once, every hub's windows
counted each once, and every client shows the same incidents. The numbers (sent,
stored, lost, duplicated, seconds each client was dark) are printed and written to
``bus-proof.json`` in the test's directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.demo import DemoStream
from groundcontrol.bus.connection import connect, ensure_streams
from groundcontrol.bus.wire import BusBatch, Names, encode_batch
from groundcontrol.client.ingest import IngestClient, Spool
from groundcontrol.client.stream import (
    Access,
    Backoff,
    Connected,
    Disconnected,
    StreamClient,
    stream_url,
)
from groundcontrol.config import DEFAULT_CONFIG, load_config
from groundcontrol.listen.enrich import Enricher
from groundcontrol.model import Mention
from groundcontrol.protocol import Incident, IncidentEvent, Snapshot, Tick
from tests.bus.conftest import NatsServer, free_port
from tests.deadline import SAFETY, until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
FEED_TOKEN = "feed-bus-proof-0123456789abcdef"
DISPLAY_TOKEN = "display-bus-proof-0123456789abcdef"
#: Seconds of the demo the site "had" before the test: published to the enriched stream
#: before the hubs start, so they replay it (their detectors need a minute of history).
HISTORY = 80.0
RATE = 40.0
#: A Northwind surge in the middle of it all: mentions a second, for how long.
SURGE_RATE, SURGE_SECONDS = 200, 5.0


def site_config(path: Path, nats_url: str) -> Path:
    """The default config with short buckets, a short warm-up and the bus."""
    text = DEFAULT_CONFIG.read_text()
    for key, value in (
        ("bucket_seconds", "2"),
        ("window_seconds", "60"),
        ("history_buckets", "1800"),
        ("warmup_seconds", "10.0"),
        ("min_ratio", "2.0"),
    ):
        text, n = re.subn(rf"(?m)^{key} = \S+", f"{key} = {value}", text)
        assert n == 1, key
    text += f'\n[bus]\nurl = "{nats_url}"\nack_wait = "2s"\nlease = "2s"\n'
    path.write_text(text)
    return path


def surge_mentions(first: int, n: int, at: float) -> list[Mention]:
    when = datetime.fromtimestamp(at, UTC)
    return [
        Mention(
            source="x",
            source_id=f"surge-{first + i}",
            text="My Northwind Aero 14 battery is swelling, awful and dangerous #aerogate",
            created_at=when,
            author=f"owner{(first + i) % 97}",
        )
        for i in range(n)
    ]


async def publish_history(config_path: Path, history: list[Mention]) -> list[str]:
    """Put ``history`` on the enriched stream as if hubs and workers had taken it,
    each mention received when it was made; return their ids."""
    config = load_config(config_path)
    enricher = Enricher(config.brands, config.queries, triage=config.triage)
    names = Names(config.bus.prefix)
    nc = await connect(config.bus, name="history")
    try:
        js = nc.jetstream()
        await ensure_streams(js, config.bus, names)
        for n in range(0, len(history), 200):
            chunk = history[n : n + 200]
            for m in chunk:
                m.id = m.key
                m.received_at = m.created_at.timestamp()
            enricher.enrich(chunk)
            batch = BusBatch(id=f"history:{n}", mentions=chunk)
            await js.publish(
                names.enriched_subject, encode_batch(batch), stream=names.enriched_stream
            )
    finally:
        await nc.close()
    return [m.key for m in history]


def spawn(log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "GROUNDCONTROL_TOKEN_FEED": FEED_TOKEN,
        "GROUNDCONTROL_TOKEN_DISPLAY": DISPLAY_TOKEN,
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "groundcontrol", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stored_ids(db: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return [row[0] for row in con.execute("SELECT id FROM mentions")]
    except sqlite3.OperationalError:  # not created yet
        return []


@dataclass
class Wall:
    """What a wall would show of the incidents, and how long it went without ticks."""

    name: str
    urls: str
    url: str = ""
    ticks: int = 0
    ingested_total: int = 0
    incidents: dict[str, Incident] = field(default_factory=dict)
    dark_since: float | None = None
    dark_seconds: float = 0.0
    """Time from losing a hub to the next tick from one."""
    last_tick_at: float | None = None
    longest_gap: float = 0.0
    """The longest wait between two ticks (they come every 0.25 s from a live hub)."""
    failovers: int = 0

    async def run(self) -> None:
        client = StreamClient(
            stream_url(self.urls),
            access=Access(token=DISPLAY_TOKEN),
            backoff=Backoff(initial=0.1, maximum=0.5),
        )
        async for ev in client.events():
            now = time.monotonic()
            if isinstance(ev, Connected):
                if self.url and ev.url != self.url:
                    self.failovers += 1
                self.url = ev.url
            elif isinstance(ev, Disconnected):
                if self.dark_since is None:
                    self.dark_since = now
            elif isinstance(ev, Snapshot | Tick):
                tick = ev.tick if isinstance(ev, Snapshot) else ev
                if self.dark_since is not None:
                    self.dark_seconds += now - self.dark_since
                    self.dark_since = None
                self.ticks += 1
                if self.last_tick_at is not None:
                    self.longest_gap = max(self.longest_gap, now - self.last_tick_at)
                self.last_tick_at = now
                self.ingested_total = tick.ingested_total
                # A tick carries the current incidents; resolved ones age out of it.
                for inc in tick.incidents:
                    self.incidents[inc.id] = inc
            elif isinstance(ev, IncidentEvent):
                self.incidents[ev.incident.id] = ev.incident

    def shown(self) -> dict[str, str]:
        return {i: inc.status for i, inc in self.incidents.items()}


async def test_kill_a_worker_a_hub_and_restart_nats_nothing_lost_nothing_twice(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    config = site_config(tmp_path / "site.toml", nats_server.url)
    db = tmp_path / "store.db"
    ports = {"a": free_port(), "b": free_port()}
    hub_url = {k: f"ws://127.0.0.1:{p}" for k, p in ports.items()}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def hub(name: str) -> None:
        procs[f"hub {name}"] = spawn(
            tmp_path / f"hub-{name}.log",
            *("hub", "--config", str(config), "--port", str(ports[name[0]])),
        )

    sent: list[str] = []
    stop_feeding = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    walls = [
        Wall("on a", f"{hub_url['a']},{hub_url['b']}"),
        Wall("on b", f"{hub_url['b']},{hub_url['a']}"),
    ]
    spool = Spool(tmp_path / "spool")
    feed = IngestClient(
        f"{hub_url['a']},{hub_url['b']}",
        name="demo",
        source="demo",
        demo=True,
        spool=spool,
        token=FEED_TOKEN,
        backoff=Backoff(initial=0.1, maximum=0.5),
    )

    began = time.time()
    stream = DemoStream(seed=7, rate=RATE, start=began - HISTORY)
    surge = asyncio.Event()
    surged = 0

    async def push() -> None:
        nonlocal surged
        last = time.time()
        while not stop_feeding.is_set():
            await asyncio.sleep(0.25)
            now = time.time()
            batch = stream.between(last, now)
            if surge.is_set() and surged < SURGE_RATE * SURGE_SECONDS:
                batch += surge_mentions(surged, int(SURGE_RATE * (now - last)), now)
                surged += int(SURGE_RATE * (now - last))
            last = now
            if batch:
                sent.extend(f"{m.source}:{m.source_id}" for m in batch)
                await feed.submit(batch)

    def grows(by: int) -> Callable[[], bool]:
        target = len(stored_ids(db)) + by
        return lambda: len(stored_ids(db)) >= target

    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started, 1)

    try:
        sent += await publish_history(config, stream.between(began - HISTORY, began))
        procs["store writer"] = spawn(
            tmp_path / "store.log", "store-writer", "--config", str(config), "--db", str(db)
        )
        for n in (1, 2):
            procs[f"worker {n}"] = spawn(
                tmp_path / f"worker-{n}.log", "worker", "--config", str(config)
            )
        hub("a")
        hub("b")
        await until(lambda: accepts(ports["a"]) and accepts(ports["b"]), "both hubs up")
        tasks += [asyncio.create_task(w.run()) for w in walls]
        feed.start()
        pushing = asyncio.create_task(push())
        tasks.append(pushing)
        history = len(sent)
        await until(lambda: len(stored_ids(db)) >= history + 100, "the first mentions stored")

        phase("flowing")
        procs["worker 1"].send_signal(signal.SIGKILL)
        await until(grows(100), "the store to go on with one worker")

        phase("worker killed")
        procs["hub a"].send_signal(signal.SIGKILL)
        await until(lambda: walls[0].failovers == 1, "the first wall to move to hub b")
        await until(grows(100), "the feed to go on through hub b")
        assert feed.url.startswith(hub_url["b"])

        phase("hub killed")
        nats_server.restart()
        await until(grows(100), "the bus to come back")

        # A hub again where the dead one was, and a wall on it (its windows replayed
        # from the enriched stream, its incidents from the events stream).
        phase("nats restarted")
        hub("a again")
        await until(lambda: accepts(ports["a"]), "hub a again")
        walls.append(Wall("on a again", hub_url["a"]))
        tasks.append(asyncio.create_task(walls[-1].run()))
        await until(grows(100), "more mentions through everything")
        # A surge: one hub detects it, every wall shows it.
        phase("hub started again")
        surge.set()
        await until(lambda: walls[1].incidents, "an incident on the walls")

        phase("incident shown")
        stop_feeding.set()
        await pushing
        assert await feed.drain(SAFETY), "the feed's batches were not all acked"
        expected = set(sent)
        await until(lambda: len(stored_ids(db)) >= len(expected), "every mention stored")
        try:
            await until(
                lambda: all(w.ingested_total == len(expected) for w in walls),
                "every wall to count every mention once",
            )
        except AssertionError as exc:
            counts = ", ".join(f"{w.name} {w.ingested_total}" for w in walls)
            raise AssertionError(f"{exc}: {len(expected)} sent; {counts}") from None
        await until(
            lambda: walls[0].shown() == walls[1].shown() == walls[2].shown(),
            "the walls to agree on the incidents",
        )
        ids = stored_ids(db)
        numbers = {
            "sent": len(sent),
            "sent_distinct": len(expected),
            "stored": len(ids),
            "lost": len(expected - set(ids)),
            "duplicated": len(ids) - len(set(ids)),
            "stored_not_sent": len(set(ids) - expected),
            "walls_counted": {w.name: w.ingested_total for w in walls},
            "dark_seconds": {w.name: round(w.dark_seconds, 2) for w in walls},
            "longest_gap_between_ticks": {w.name: round(w.longest_gap, 2) for w in walls},
            "incidents": walls[1].shown(),
            "feed_resent_and_deduped": feed.stats.duplicates,
            "feed_reconnects": feed.stats.reconnects,
            "phases": phases,
            "seconds": round(time.monotonic() - started, 1),
        }
        (tmp_path / "bus-proof.json").write_text(json.dumps(numbers, indent=2))
        print("bus proof:", json.dumps(numbers))
        assert numbers["lost"] == 0 and numbers["duplicated"] == 0
        assert numbers["stored_not_sent"] == 0
        assert walls[0].dark_seconds > 0  # it did lose its hub, and came back
    finally:
        stop_feeding.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await feed.close()
        spool.close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"{name} did not stop on SIGTERM")
