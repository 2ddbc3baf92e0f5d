"""A feed's health across a hub restart, on real loopback sockets.

While the hub is down the feed's connection attempts are refused; that error is the
feed's history once it is connected again and sending. The restarted hub, /healthz
and the wall's feed count must say the feed is live as soon as it is back (its first
attempt after the restart connects), and a feed that really went away must still read
DOWN, with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec

from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Backoff
from groundcontrol.config import Config, load_config
from groundcontrol.hub.server import start_hub
from groundcontrol.lab.bench import free_port
from groundcontrol.model import Mention
from groundcontrol.protocol import FeedInfo, FeedStatus
from tests.deadline import until


def small_config() -> Config:
    cfg = load_config()
    return dataclasses.replace(cfg, hub=dataclasses.replace(cfg.hub, tick_interval=0.1))


def mentions(first: int, count: int) -> list[Mention]:
    now = datetime.now(UTC)
    return [
        msgspec.convert(
            {"source": "x", "source_id": str(i), "text": f"Northwind {i}", "created_at": now},
            Mention,
        )
        for i in range(first, first + count)
    ]


def wall_summary(infos: list[FeedInfo]) -> tuple[int, int, list[str]]:
    """(live, total, down) as the wall's status line counts them."""
    # Imported here: the wall's modules need textual, the hub's do not.
    from panels.feeds import feeds_summary

    return feeds_summary(infos, time.time())


async def healthz(port: int) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as resp,
    ):
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
    feeds: list[dict[str, Any]] = body["feeds"]
    return feeds


@contextlib.asynccontextmanager
async def sending_feed(port: int, name: str) -> AsyncIterator[IngestClient]:
    """A feed that sends a small batch every 0.1 s, as the demo feed does."""
    client = IngestClient(
        f"ws://127.0.0.1:{port}",
        name=name,
        source="x",
        backoff=Backoff(initial=0.1, maximum=0.5, seed=3),
    )
    client.start()

    async def send() -> None:
        n = 0
        while True:
            await client.submit(mentions(n, 2))
            n += 2
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(send())
    try:
        yield client
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await client.close()


async def test_a_feed_back_after_a_hub_restart_is_live_without_its_old_error() -> None:
    port = free_port()
    hub, runner, _ = await start_hub(small_config(), port=port)
    runner2 = None
    try:
        async with sending_feed(port, "feed-a") as client:
            await until(lambda: hub.counters.ingested > 0, "the first hub to take a batch")

            await runner.cleanup()  # the hub goes away; the feed's reconnects are refused
            await until(
                lambda: "refused" in client.stats.last_error and client.stats.reconnects >= 3,
                "the feed to be refused a few times",
            )

            hub, runner2, _ = await start_hub(small_config(), port=port)
            refused_before_restart = client.stats.reconnects  # the port listens again
            reports: list[FeedStatus] = []
            real_reported = hub.feeds.reported

            def spy(feed: Any, status: FeedStatus) -> None:
                reports.append(status)
                real_reported(feed, status)

            hub.feeds.reported = spy  # type: ignore[method-assign]

            def recovered() -> bool:
                infos = [f for f in hub.feed_infos(time.time()) if f.name == "feed-a"]
                return bool(infos) and infos[0].connected and hub.counters.ingested > 0

            await until(recovered, "the feed to reconnect")
            # Live again at once: at most the one attempt already under way when the
            # port listened again was refused; the next one connected.
            assert client.stats.reconnects <= refused_before_restart + 1, (
                refused_before_restart,
                client.stats.reconnects,
            )
            # The feed reports its status at connect (then on news or every 5 s): once
            # the hub has that first report, the one that was stale, it must be clean.
            await until(lambda: reports, "the feed's first status report")

            (info,) = hub.feed_infos(time.time())
            assert info.name == "feed-a" and info.connected
            assert info.detail == "", f"stale detail after reconnecting: {info.detail!r}"
            assert info.down_since == 0.0

            (entry,) = await healthz(port)
            assert entry["name"] == "feed-a" and entry["connected"] is True
            assert entry["detail"] == ""
            assert "refused" not in str(entry)

            assert wall_summary([info]) == (1, 1, [])
            # The client still knows what happened, for its log: history, not health.
            assert "refused" in client.stats.last_error
            assert client.status().detail == ""
    finally:
        await runner.cleanup()
        if runner2 is not None:
            await runner2.cleanup()


async def test_a_feed_that_is_really_down_reads_down_with_a_reason() -> None:
    hub, runner, port = await start_hub(small_config(), port=0)
    try:
        async with sending_feed(port, "feed-b"):
            await until(lambda: hub.counters.ingested > 0, "a batch")
        # The feed stopped: the hub shows it as down, says since when and why.
        await until(lambda: any(not f.connected for f in hub.feed_infos(time.time())), "DOWN")
        (info,) = hub.feed_infos(time.time())
        assert info.name == "feed-b" and not info.connected and info.down_since > 0
        # How it went (a stopped websockets client closes with 1011), never blank.
        assert info.detail.startswith(("the feed closed its connection", "connection "))
        assert wall_summary([info]) == (0, 1, ["feed-b"])
        (entry,) = await healthz(port)
        assert entry["connected"] is False and entry["detail"] == info.detail
    finally:
        await runner.cleanup()


async def test_a_feed_cut_off_from_its_hub_reports_why_while_it_is_down() -> None:
    # Nothing listens on this port: the client's own report keeps the reason.
    client = IngestClient(
        f"ws://127.0.0.1:{free_port()}",
        name="feed-c",
        backoff=Backoff(initial=0.05, maximum=0.1, seed=1),
    )
    client.start()
    try:
        await until(lambda: client.stats.reconnects >= 1, "a refused connect")
        status = client.status()
        assert not status.connected
        assert "refused" in status.detail
    finally:
        await client.close()
