"""``groundcontrol worker``: enrichment as a JetStream work-queue consumer.

Every worker, on any machine, pulls from one durable consumer of the raw stream, so
each batch goes to one of them. A worker enriches a batch (language, sentiment,
brands, queries, terms, triage, compliance, copies), publishes it to the enriched
stream under the batch's id, waits for JetStream's ack of that, and only then acks
the raw batch. A worker killed mid-batch never acks: the batch goes to another one
after ``[bus] ack_wait``. A worker killed between its publish and its ack has its
batch enriched twice and published twice under one id: JetStream keeps one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig

from groundcontrol.bus.connection import connect, ensure_streams, until_stopped
from groundcontrol.bus.wire import MSG_ID_HEADER, Names, decode_batch, encode_batch
from groundcontrol.config import Config
from groundcontrol.listen.copies import CopyIndex
from groundcontrol.listen.enrich import Enricher

log = logging.getLogger("groundcontrol.bus.worker")

#: Raw batches one fetch asks for; a worker takes what it can enrich within ack_wait.
FETCH = 4


@dataclass
class WorkerStats:
    """What a worker has done (its log line and the benchmark)."""

    batches: int = 0
    mentions: int = 0
    bad: int = 0
    cpu_seconds: float = 0.0
    """Process CPU spent on batches (enrich, encode, decode), for µs per mention."""


class EnrichWorker:
    """One enrichment worker: pull, enrich, publish, ack (see the module docstring)."""

    def __init__(self, config: Config, *, name: str = "worker") -> None:
        self.config = config
        self.name = name
        self.names = Names(config.bus.prefix)
        self.enricher = Enricher(
            config.brands, config.queries, triage=config.triage, compliance=config.compliance
        )
        # Per worker: a copy is marked when its original passed through the same one.
        self.copies = CopyIndex()
        self.stats = WorkerStats()
        self.nc: Client | None = None
        self._stop = asyncio.Event()

    async def run(self, *, wait: float = 30.0) -> None:
        """Work until :meth:`stop`; reconnects by itself while the bus is away."""
        bus = self.config.bus
        connected = await until_stopped(connect(bus, name=self.name, wait=wait), self._stop)
        if connected is None:
            return
        self.nc = nc = connected
        try:
            js = nc.jetstream()
            await ensure_streams(js, bus, self.names)
            sub = await js.pull_subscribe(
                self.names.raw_subject,
                durable=self.names.workers,
                stream=self.names.raw_stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=bus.seconds("ack_wait"),
                    max_ack_pending=-1,
                ),
            )
            log.info("%s: taking batches from %s", self.name, self.names.raw_stream)
            while not self._stop.is_set():
                try:
                    msgs = await sub.fetch(FETCH, timeout=1.0)
                except (NatsTimeout, TimeoutError):
                    continue
                except Exception as exc:  # the bus is away: the client reconnects
                    log.warning("%s: fetch failed: %s", self.name, str(exc) or type(exc).__name__)
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    await self._take(msg)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    def stop(self) -> None:
        self._stop.set()

    async def _take(self, msg: Msg) -> None:
        started = time.process_time()
        try:
            batch = decode_batch(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # Nothing will ever read it: say so and take it off the queue.
            log.error("%s: dropping an unreadable batch: %s", self.name, exc)
            self.stats.bad += 1
            await msg.term()
            return
        self.enricher.enrich(batch.mentions)
        self.copies.mark(batch.mentions)
        if batch.edits:
            self.enricher.enrich(batch.edits)
        data = encode_batch(batch)
        self.stats.cpu_seconds += time.process_time() - started
        assert self.nc is not None
        try:
            await self.nc.jetstream().publish(
                self.names.enriched_subject,
                data,
                stream=self.names.enriched_stream,
                headers={MSG_ID_HEADER: batch.id},
                timeout=5.0,
            )
        except Exception as exc:
            # Not acked: JetStream gives the batch again after ack_wait.
            log.warning("%s: could not publish batch %s: %s", self.name, batch.id, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=0.5)
            return
        try:
            await msg.ack_sync(timeout=5.0)
        except Exception as exc:  # redelivered and published again: deduped by its id
            log.warning("%s: ack of %s failed: %s", self.name, batch.id, exc)
            return
        self.stats.batches += 1
        self.stats.mentions += len(batch.mentions)
