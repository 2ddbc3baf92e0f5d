"""The hub: takes batches from feeds on /ingest, enriches and aggregates them, and
publishes bounded ticks to walls on /stream.

One aiohttp application, one event loop. ``Hub`` builds the stages and wires them;
each stage lives in its own module, in the order a batch meets them:

- ``ingest.py``: decode, screen, dedupe, enrich, commit, hand-off to the windows,
  ack (the /ingest websocket);
- ``feeds.py``: what the hub knows of its feeds;
- ``stream.py``: the fixed-rate tick and incident messages to every client (/stream);
- ``api.py``: /healthz, /metrics, /incidents;
- ``triage.py``: /triage, /triage/queue, /mentions/ID (the triage workflow);
- ``search.py``: /mentions (search) and /history, over the store;
- ``briefings.py``: /briefings (what the room is told to say, on every wall);
- ``access.py`` checks tokens; ``state.py`` holds what several stages share.

Here: the wiring, startup and shutdown in order, opening the store, and
:func:`start_hub`, which serves a hub (and the feeds it runs) on a port.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from groundcontrol.config import Config
from groundcontrol.hub.access import Gate
from groundcontrol.hub.api import HttpApi
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.briefings import BriefingsApi
from groundcontrol.hub.feeds import FeedRegistry, FeedState
from groundcontrol.hub.ingest import Dedupe, IngestPipeline, Reply
from groundcontrol.hub.metrics import Metric
from groundcontrol.hub.rebuild import rebuild
from groundcontrol.hub.search import SearchApi
from groundcontrol.hub.state import Counters
from groundcontrol.hub.stream import Publisher, StreamSubscriber
from groundcontrol.hub.tiles import BrandTiles
from groundcontrol.hub.triage import TriageApi
from groundcontrol.hub.workers import EnrichPool
from groundcontrol.listen.copies import CopyIndex
from groundcontrol.model import Mention
from groundcontrol.protocol import BriefingEvent, FeedInfo, IncidentEvent, Tick, TriageEvent, encode
from groundcontrol.signals.analytics import Analytics
from groundcontrol.store.database import DeadLetter, MigrationProgress, Store, StoreError
from groundcontrol.store.requests import AskStore, StoreUnavailable, run_locally
from groundcontrol.store.writer import StoreWriter

if TYPE_CHECKING:
    from groundcontrol.bus.hub import HubBus
    from groundcontrol.hub.notify import Notifier

log = logging.getLogger("groundcontrol.hub.server")


@web.middleware
async def _store_unavailable(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """A store that cannot answer now (the store writer on the bus is away or slow):
    503, saying why."""
    try:
        response: web.StreamResponse = await handler(request)
    except StoreUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=f"{exc}\n") from None
    return response


class Hub:
    """The hub's stages and the state they share; ``app()`` builds the aiohttp
    application. The stages hold the logic: ``ingest``, ``publisher``, ``api``."""

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
        self.clock = clock
        self.store_path = Path(store_path) if store_path is not None else None
        self.writer: StoreWriter | None = None
        """Opened at startup, when the hub has a store."""
        # None: no access control at all. Only for in-process use (tests, simulation):
        # the CLI always passes Tokens, and a hub with no tokens refuses everyone.
        self.gate = Gate(tokens, relays=config.auth.relays)
        self.counters = Counters(started_at=clock())
        self.feeds = FeedRegistry(demo=demo)
        self.analytics = Analytics(config)
        self.dedupe = Dedupe(config.hub.dedupe_capacity)
        self.enrich_pool = EnrichPool(
            config.brands,
            config.queries,
            # With a bus the workers are ``groundcontrol worker`` processes.
            workers=0 if config.bus.url else config.hub.enrich_workers,
            triage=config.triage,
            compliance=config.compliance,
        )
        self.notifier = self._notifier(config, demo, clock)
        """Sends incidents to chat, mail and webhooks ([[notify]] in the config)."""

        def writer() -> StoreWriter | None:
            return self.writer

        def store() -> AskStore | None:
            # On the bus the store writer answers; alone, the hub's own store.
            if self.bus is not None:
                return self.bus.ask_store
            return None if self.writer is None else run_locally(self.writer)

        self.publisher = Publisher(
            config,
            clock=clock,
            gate=self.gate,
            analytics=self.analytics,
            counters=self.counters,
            feeds=self.feeds,
            writer=writer,
            notifier=self.notifier,
        )
        self.ingest = IngestPipeline(
            config,
            clock=clock,
            gate=self.gate,
            counters=self.counters,
            feeds=self.feeds,
            dedupe=self.dedupe,
            enrich_pool=self.enrich_pool,
            copies=CopyIndex(),
            writer=writer,
            analytics=self.analytics,
            fan_out=self.publisher.fan_out_mentions,
        )
        self.api = HttpApi(
            clock=clock,
            gate=self.gate,
            counters=self.counters,
            feeds=self.feeds,
            analytics=self.analytics,
            publisher=self.publisher,
            dedupe=self.dedupe,
            enrich_pool=self.enrich_pool,
            notifier=self.notifier,
            writer=writer,
        )
        self.triage = TriageApi(
            clock=clock,
            gate=self.gate,
            analytics=self.analytics,
            publisher=self.publisher,
            store=store,
            target_seconds=config.triage.response_target_seconds,
        )
        self.search = SearchApi(config=config, clock=clock, gate=self.gate, store=store)
        self.briefings = BriefingsApi(
            clock=clock, gate=self.gate, publisher=self.publisher, store=store
        )
        self.tiles = BrandTiles(
            [b.name for b in config.brands],
            competitors=[b.name for b in config.brands if b.competitor],
            clock=clock,
            writer=writer,
        )
        """The wall's brand tiles, read from the store once a minute."""
        self.publisher.brand_tiles = self.tiles.current
        self.bus: HubBus | None = None
        """With ``[bus] url``: the hub's side of NATS JetStream (groundcontrol/bus/hub.py):
        batches go on the bus, the walls are served from the enriched stream, the
        incidents are shared and detected by one hub."""
        if config.bus.url:
            self._join_bus()

    def _join_bus(self) -> None:
        from groundcontrol.bus.hub import HubBus

        def take(mentions: list[Mention]) -> int:
            fresh = [m for m in mentions if self.dedupe.add(m.id)]
            self.ingest._hand_off(fresh, None, len(mentions) - len(fresh))
            return len(fresh)

        def arrived(event: IncidentEvent) -> None:
            data = encode(event)
            for sub in self.publisher.subscribers:
                sub.offer(data)

        def demo() -> None:
            # Synthetic data on any hub's feeds: every wall says DEMO, as it would here.
            self.feeds.demo = True

        def changed(event: TriageEvent | BriefingEvent) -> None:
            if isinstance(event, TriageEvent):
                self.triage.show(event)
            else:
                self.briefings.show(event)

        self.bus = bus = HubBus(
            self.config,
            self.analytics,
            take=take,
            incident_arrived=arrived,
            change_arrived=changed,
            on_demo=demo,
            clock=self.clock,
        )
        self.ingest.bus = bus.publish
        self.publisher.shared = bus.share

    def _notifier(self, config: Config, demo: bool, clock: Callable[[], float]) -> Notifier | None:
        if config.notify and demo:
            # Synthetic incidents must not reach real people.
            log.warning("demo data: the [[notify]] channels are not used")
            return None
        if not config.notify:
            return None
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

        return Notifier(config.notify, record=record, clock=clock, source=config.source)

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.config.hub.max_message_bytes, middlewares=[_store_unavailable]
        )
        app.router.add_get("/ingest", self.ingest.handle_ingest)
        app.router.add_get("/stream", self.publisher.handle_stream)
        app.router.add_get("/healthz", self.api.handle_healthz)
        app.router.add_get("/metrics", self.api.handle_metrics)
        app.router.add_get("/whoami", self.api.handle_whoami)
        app.router.add_post("/triage", self.triage.handle_triage)
        app.router.add_get("/triage/queue", self.triage.handle_triage_queue)
        # Ids hold slashes (Bluesky's at:// URIs): the id is the rest of the path.
        app.router.add_get("/mentions/{id:.+}", self.triage.handle_mention)
        app.router.add_get("/mentions", self.search.handle_mentions)
        app.router.add_get("/history", self.search.handle_history)
        app.router.add_get("/incidents", self.api.handle_incidents)
        app.router.add_get("/incidents/{id}", self.api.handle_incident)
        app.router.add_post("/incidents/{id}/{action}", self.api.handle_incident_action)
        app.router.add_get("/briefings", self.briefings.handle_list)
        app.router.add_post("/briefings", self.briefings.handle_create)
        app.router.add_post("/briefings/{id}/withdraw", self.briefings.handle_withdraw)
        app.router.add_get("/", self.api.handle_index)
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
        if self.bus is not None:
            await self.bus.start()
            self.counters.rebuilt = self.bus.replayed
        self.publisher.start()
        if self.writer is not None:
            self.tiles.start()

    async def _on_shutdown(self, _app: web.Application) -> None:
        # The ticks and clients first, then the feeds: what they have in flight still
        # gets committed; the writer last, once nothing can write to it.
        await self.publisher.stop()
        await self.tiles.stop()
        await self.ingest.close()
        if self.bus is not None:
            await self.bus.close()
        self.enrich_pool.close()
        if self.notifier is not None:
            # Before the writer closes: what it gives up on is recorded in the store.
            await self.notifier.close()
        if self.writer is not None:
            self.publisher.save_detector_states(force=True)
            await asyncio.to_thread(self.writer.close)

    def open_store(self, path: Path) -> None:
        """Open the store, rebuild the windows from it, and start its writer thread.

        Raises StoreError when the file cannot be used. Runs before the hub serves.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create its directory: {exc.strerror}") from exc
        # An older store is upgraded first, saying how far it has got on stderr.
        store = Store(path, progress=MigrationProgress())
        self.counters.ingested_before = store.mentions_ever()
        if self.config.store.rebuild:
            started = time.perf_counter()

            def progress(n: int) -> None:
                if n % 100_000 < 5_000:
                    log.info("rebuilding windows from %s: %d mentions so far", path, n)

            # The writer thread has not started: this thread may use its connection.
            self.counters.rebuilt = rebuild(
                self.analytics,
                store,
                self.clock(),
                progress=progress,
                max_mentions=self.config.store.rebuild_max_mentions,
            )
            log.info(
                "rebuilt the last %d s of windows from %d stored mentions in %.1f s",
                self.analytics.history_buckets * self.analytics.bucket_seconds,
                self.counters.rebuilt,
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
        self.publisher.states_saved_at = self.clock()
        # The briefings still on the walls when the hub stopped go back up.
        self.briefings.restore(store.active_briefings(self.clock()))
        self.writer = StoreWriter(
            store,
            retention_seconds=self.config.store.retention_days * 86400.0,
            prune_interval=self.config.store.prune_interval_seconds,
            clock=self.clock,
            synchronous=self.config.store.synchronous,
        )

    # ------------------------------------------------------------------ the stages' own
    # Kept on the Hub for the command line, the lab and the tests: each one is the
    # stage's, named as it was before the hub was split.

    def take_batch(
        self, mentions: list[Mention], feed: FeedState | None, queued: float = 0.0
    ) -> tuple[int, int]:
        """Take a decoded batch inline, without a store: :meth:`IngestPipeline.take_batch`."""
        return self.ingest.take_batch(mentions, feed, queued)

    async def take_batch_async(
        self,
        mentions: list[Mention],
        feed: FeedState | None,
        dead_letters: list[DeadLetter] | None = None,
        queued: float = 0.0,
    ) -> tuple[int, int]:
        """:meth:`IngestPipeline.take_batch_async`."""
        return await self.ingest.take_batch_async(mentions, feed, dead_letters, queued)

    def handle_message(self, data: bytes, feed: FeedState | None) -> Reply:
        """One /ingest message: :meth:`IngestPipeline.handle_message`."""
        return self.ingest.handle_message(data, feed)

    def publish_once(self) -> tuple[Tick, list[IncidentEvent]]:
        """Fold the windows and send every client a tick: :meth:`Publisher.publish_once`."""
        return self.publisher.publish_once()

    def _incident_changed(self, event: IncidentEvent) -> None:
        self.publisher.incident_changed(event)

    def feed_changed(self, name: str, state: str, problem: str) -> None:
        """News about a feed this hub runs (its state and what is wrong with it)."""
        self.feeds.changed(name, state, problem)

    def feed_infos(self, now: float) -> list[FeedInfo]:
        """Every feed the wall should know of: :meth:`FeedRegistry.infos`."""
        return self.feeds.infos(now)

    def metrics(self) -> list[Metric]:
        """Everything /metrics reports."""
        return self.api.metrics()

    @property
    def tokens(self) -> Tokens | None:
        return self.gate.tokens

    @tokens.setter
    def tokens(self, tokens: Tokens | None) -> None:
        self.gate.tokens = tokens

    @property
    def denied(self) -> dict[tuple[str, int], int]:
        return self.gate.denied

    @property
    def demo(self) -> bool:
        return self.feeds.demo

    @property
    def configured(self) -> dict[str, tuple[str, str]]:
        return self.feeds.configured

    @property
    def subscribers(self) -> set[StreamSubscriber]:
        return self.publisher.subscribers

    @property
    def last_tick(self) -> Tick | None:
        return self.publisher.last_tick

    @property
    def _inflight(self) -> dict[str, asyncio.Future[None]]:
        return self.ingest.inflight

    @property
    def ingested_before(self) -> int:
        return self.counters.ingested_before

    @property
    def rebuilt(self) -> int:
        return self.counters.rebuilt


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
