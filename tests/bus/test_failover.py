"""Clients of several hubs (``--hub URL1,URL2``): when the one they are on dies they
move to the next at once, and a feed resends there what the first had not acked."""

from __future__ import annotations

import msgspec

from groundcontrol.client.ingest import IngestClient, ingest_url
from groundcontrol.client.stream import (
    Backoff,
    Connected,
    Disconnected,
    StreamClient,
    stream_url,
)
from groundcontrol.hub.server import start_hub
from groundcontrol.model import Mention
from tests.bus.conftest import free_port
from tests.deadline import SAFETY, until
from tests.test_hub import mention, small_config


def test_every_hub_of_a_list_gets_its_path() -> None:
    assert stream_url("ws://a:1,http://b:2/", mentions=True) == (
        "ws://a:1/stream?mentions=all,ws://b:2/stream?mentions=all"
    )
    assert ingest_url("ws://a:1, ws://b:2") == "ws://a:1/ingest,ws://b:2/ingest"
    assert stream_url("ws://a:1") == "ws://a:1/stream"


async def test_a_wall_moves_to_the_next_hub_at_once() -> None:
    _hub, runner, port = await start_hub(small_config(), port=0)
    dead = f"ws://127.0.0.1:{free_port()}"
    live = f"ws://127.0.0.1:{port}"
    client = StreamClient(stream_url(f"{dead},{live}"), backoff=Backoff(initial=5, maximum=5))
    seen: list[object] = []
    try:
        async for ev in client.events():
            seen.append(ev)
            if isinstance(ev, Connected):
                break
    finally:
        await runner.cleanup()
    first, second = seen[0], seen[1]
    assert isinstance(first, Disconnected) and first.url.startswith(dead)
    assert first.retry_in == 0  # another hub is there to try: no backoff
    assert isinstance(second, Connected) and second.url.startswith(live)


async def test_a_feed_moves_to_the_next_hub_and_resends_what_was_not_acked() -> None:
    first, first_runner, first_port = await start_hub(small_config(), port=0)
    second, second_runner, second_port = await start_hub(small_config(), port=0)
    hubs = f"ws://127.0.0.1:{first_port},ws://127.0.0.1:{second_port}"
    client = IngestClient(hubs, name="t", backoff=Backoff(initial=5, maximum=5))
    client.start()
    try:
        for b in range(5):
            await client.submit([msgspec.convert(mention(b * 10 + i), Mention) for i in range(10)])
        assert await client.drain(SAFETY)
        await first_runner.cleanup()  # the hub the feed is on goes away
        for b in range(5, 10):
            await client.submit([msgspec.convert(mention(b * 10 + i), Mention) for i in range(10)])
        assert await client.drain(SAFETY)
        await until(lambda: client.url.startswith(f"ws://127.0.0.1:{second_port}"), "the move")
    finally:
        await client.close()
        await second_runner.cleanup()
    assert first.counters.ingested == 50
    assert second.counters.ingested == 50
