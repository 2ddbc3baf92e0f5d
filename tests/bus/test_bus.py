"""The bus mode against a real NATS server: ingest through JetStream, enrichment by
work-queue workers, one store writer, walls served from the enriched stream, shared
incidents and one detector."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from nats.js.api import ConsumerConfig

from groundcontrol.bus.connection import connect
from groundcontrol.bus.storage import BusStoreWriter
from groundcontrol.bus.wire import Names
from groundcontrol.bus.worker import EnrichWorker
from groundcontrol.client.ingest import IngestClient
from groundcontrol.config import Config, ConfigError, parse_config
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Incident, IncidentEvent
from tests.bus.conftest import NatsServer
from tests.deadline import SAFETY, until
from tests.test_hub import mention, small_config


def bus_config(server: NatsServer, **bus: object) -> Config:
    cfg = small_config()
    settings = {"url": server.url, "ack_wait": 1.0, "lease": 3.0, **bus}
    return dataclasses.replace(cfg, bus=dataclasses.replace(cfg.bus, **settings))  # type: ignore[arg-type]


def stored(db: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT id, sentiment_label FROM mentions").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def mentions(start: int, n: int) -> list[Mention]:
    return [msgspec.convert(mention(i), Mention) for i in range(start, start + n)]


class Site:
    """The roles of a site, in this process: hubs, workers and the store writer."""

    def __init__(self, config: Config, tmp_path: Path) -> None:
        self.config = config
        self.db = tmp_path / "store.db"
        self.tasks: list[asyncio.Task[None]] = []
        self.workers: list[EnrichWorker] = []
        self.writer: BusStoreWriter | None = None
        self.runners: list[object] = []

    async def hub(self) -> tuple[Hub, str]:
        hub, runner, port = await start_hub(self.config, port=0)
        self.runners.append(runner)
        return hub, f"ws://127.0.0.1:{port}"

    def worker(self) -> EnrichWorker:
        w = EnrichWorker(self.config, name=f"w{len(self.workers)}")
        self.workers.append(w)
        self.tasks.append(asyncio.create_task(w.run()))
        return w

    def store_writer(self) -> BusStoreWriter:
        self.writer = BusStoreWriter(self.config, self.db)
        self.tasks.append(asyncio.create_task(self.writer.run()))
        return self.writer

    async def close(self) -> None:
        for w in self.workers:
            w.stop()
        if self.writer is not None:
            self.writer.stop()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), SAFETY)
        for runner in self.runners:
            await runner.cleanup()  # type: ignore[attr-defined]


@pytest.fixture
async def site(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Site]:
    s = Site(bus_config(nats_server), tmp_path)
    yield s
    await s.close()


def test_a_bad_bus_setting_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"bus\.url: expected nats://"):
        parse_config('[bus]\nurl = "http://example.org"\n')
    with pytest.raises(ConfigError, match=r"bus\.ack_wait"):
        parse_config('[bus]\nurl = "nats://127.0.0.1:4222"\nack_wait = "soon"\n')
    assert parse_config("").bus.url == ""


async def test_batches_go_through_workers_into_the_store_and_back_to_the_walls(
    site: Site,
) -> None:
    hub, url = await site.hub()
    assert hub.bus is not None and hub.writer is None
    site.worker()
    site.store_writer()
    client = IngestClient(url, name="t", window=4, demo=True)
    client.start()
    try:
        for b in range(10):
            await client.submit(mentions(b * 50, 50))
        assert await client.drain(SAFETY)
    finally:
        await client.close()
    await until(lambda: len(stored(site.db)) == 500, "500 mentions in the store")
    # Enriched by the worker (the hub itself enriches nothing in bus mode).
    assert {label for _id, label in stored(site.db)} <= {"positive", "neutral", "negative"}
    assert {label for _id, label in stored(site.db)} != {""}
    await until(lambda: hub.counters.ingested == 500, "the hub's windows to count all 500")
    # A hub started later replays the enriched stream into its windows.
    late, _ = await site.hub()
    assert late.bus is not None and late.bus.replayed == 500
    assert late.counters.ingested == 500
    # The feed said its mentions are demo data: the other hub's walls say so too.
    assert late.feeds.demo


async def test_a_resent_batch_is_kept_once(site: Site) -> None:
    hub, _url = await site.hub()
    assert hub.bus is not None
    batch = mentions(0, 20)
    args = {"feed": "f", "seq": 1, "edits": [], "deleted": [], "dead_letters": [], "queued": 0.0}
    assert await hub.bus.publish(mentions=batch, **args) == (20, 0)  # type: ignore[arg-type]
    again = mentions(0, 20)
    assert await hub.bus.publish(mentions=again, **args) == (0, 20)  # type: ignore[arg-type]
    # The same number with other mentions (a feed without a spool, restarted) is new.
    assert await hub.bus.publish(mentions=mentions(20, 5), **args) == (5, 0)  # type: ignore[arg-type]
    site.worker()
    site.store_writer()
    await until(lambda: len(stored(site.db)) == 25, "25 mentions stored")
    await until(lambda: hub.counters.ingested == 25, "the windows to count 25")
    assert hub.counters.duplicates == 0


async def test_a_batch_a_worker_took_and_never_acked_is_redelivered(site: Site) -> None:
    hub, _url = await site.hub()
    assert hub.bus is not None
    args = {"feed": "f", "edits": [], "deleted": [], "dead_letters": [], "queued": 0.0}
    await hub.bus.publish(seq=1, mentions=mentions(0, 10), **args)  # type: ignore[arg-type]
    # A worker that takes the batch and dies (never acks, never publishes).
    names = Names(site.config.bus.prefix)
    nc = await connect(site.config.bus, name="dying worker")
    js = nc.jetstream()
    from groundcontrol.bus.connection import ensure_streams

    await ensure_streams(js, site.config.bus, names)
    sub = await js.pull_subscribe(
        names.raw_subject,
        durable=names.workers,
        stream=names.raw_stream,
        config=ConsumerConfig(ack_wait=site.config.bus.seconds("ack_wait"), max_ack_pending=-1),
    )
    taken = await sub.fetch(1, timeout=SAFETY)
    assert len(taken) == 1
    await nc.close()
    site.worker()
    site.store_writer()
    await until(lambda: len(stored(site.db)) == 10, "the batch to be redelivered and stored")
    # The worker counts it once its ack is through, which may be after the store has
    # it. On a loaded machine it may outlast ack_wait (1 s here) and get it again:
    # enriched twice, published under one id, stored once.
    await until(lambda: site.workers[0].stats.batches >= 1, "the worker to ack it")
    assert len(stored(site.db)) == 10


async def test_one_hub_detects_and_every_hub_shows_its_incidents(site: Site) -> None:
    first, _ = await site.hub()
    second, _ = await site.hub()
    assert first.bus is not None and second.bus is not None
    await until(
        lambda: [first.bus.leading, second.bus.leading].count(True) == 1,  # type: ignore[union-attr]
        "one leader",
    )
    leader, follower = (first, second) if first.bus.leading else (second, first)
    now = time.time()
    incident = Incident(
        id="northwind-1",
        title="Northwind negative surge",
        brand="Northwind",
        kind="negative",
        severity="warning",
        status="open",
        started_at=now,
        updated_at=now,
    )
    leader.publisher.incident_changed(IncidentEvent(change="opened", incident=incident))
    await until(
        lambda: follower.analytics.incidents.get("northwind-1") is not None,
        "the follower to show the leader's incident",
    )
    # An analyst acknowledges it on the follower: the leader sees it too.
    event = follower.analytics.incidents.acknowledge("northwind-1", by="ana", at=now + 1)
    follower.publisher.incident_changed(event)
    await until(
        lambda: (
            (i := leader.analytics.incidents.get("northwind-1")) is not None and i.acked_by == "ana"
        ),
        "the leader to see the acknowledgement",
    )
    site.store_writer()
    await until(
        lambda: _incident_status(site.db, "northwind-1") == "acknowledged",
        "the store writer to keep the incident",
    )
    # The leader goes away without a goodbye: its lease runs out, the other takes over.
    assert leader.bus is not None and follower.bus is not None
    for task in leader.bus._tasks:
        task.cancel()
    await until(lambda: follower.bus.leading, "the follower to take over")  # type: ignore[union-attr]


def _incident_status(db: Path, incident_id: str) -> str:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            row = con.execute(
                "SELECT status FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return ""
    return str(row[0]) if row else ""
