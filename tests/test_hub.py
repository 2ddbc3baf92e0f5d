"""The hub over real loopback websockets: ingest, acks, bad input, stream, health."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import msgspec
import pytest
import websockets

from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Connected, Disconnected, StreamClient, stream_url
from groundcontrol.config import Config, load_config
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.hub.stream import MAX_CLIENT_BACKLOG
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    Ack,
    ErrorReply,
    IncidentEvent,
    MentionsEvent,
    Snapshot,
    StreamHello,
    Tick,
    Welcome,
    decode_feed_reply,
    decode_stream,
)
from tests.deadline import SAFETY, until

TIMEOUT = SAFETY


def mention(i: int, text: str = "My Northwind Aero 14 is great", source: str = "x") -> dict:
    return {
        "source": source,
        "source_id": str(i),
        "text": text,
        "created_at": "2026-11-22T10:00:00Z",
        "author": f"user{i}",
        "author_reach": 100 + i,
    }


def batch(seq: int, items: list[dict]) -> bytes:
    return json.dumps({"type": "batch", "seq": seq, "mentions": items}).encode()


def small_config(**hub: object) -> Config:
    cfg = load_config()
    return dataclasses.replace(
        cfg,
        hub=dataclasses.replace(cfg.hub, tick_interval=0.1, **hub),  # type: ignore[arg-type]
    )


@pytest.fixture
async def hub() -> AsyncIterator[tuple[Hub, str]]:
    h, runner, port = await start_hub(small_config(max_message_bytes=64_000), port=0)
    yield h, f"ws://127.0.0.1:{port}"
    await runner.cleanup()


async def feed(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url + "/ingest")
    await ws.send(json.dumps({"type": "hello", "protocol": 1, "name": "test"}))
    assert isinstance(decode_feed_reply(await ws.recv()), Welcome)
    return ws


async def reply(ws: websockets.ClientConnection) -> Ack | ErrorReply:
    r = decode_feed_reply(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(r, Ack | ErrorReply)
    return r


async def test_batch_is_acked_and_deduped(hub: tuple[Hub, str]) -> None:
    h, url = hub
    ws = await feed(url)
    await ws.send(batch(1, [mention(i) for i in range(10)]))
    ack = await reply(ws)
    assert ack == Ack(seq=1, accepted=10, duplicates=0, rejected=0)
    # Resending (at-least-once delivery) must not count twice.
    await ws.send(batch(2, [mention(i) for i in range(5, 15)]))
    ack = await reply(ws)
    assert isinstance(ack, Ack)
    assert (ack.accepted, ack.duplicates) == (5, 5)
    assert h.counters.ingested == 15
    await ws.close()


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (b"{not json", "malformed", "not valid JSON"),
        (b'{"type": "shout", "seq": 1}', "unknown_type", "'shout'"),
        (b"[1, 2, 3]", "invalid", "JSON object"),
        (b'{"type": "batch", "seq": -1, "mentions": []}', "invalid", "seq"),
        (b'{"type": "batch", "seq": 1, "mentions": 7}', "invalid", "mentions"),
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_lives(
    hub: tuple[Hub, str], payload: bytes, code: str, words: str
) -> None:
    h, url = hub
    ws = await feed(url)
    await ws.send(payload)
    err = await reply(ws)
    assert isinstance(err, ErrorReply), err
    assert err.code == code
    assert words in err.message
    assert h.counters.errors[code] == 1
    # Same connection still works.
    await ws.send(batch(9, [mention(1)]))
    ack = await reply(ws)
    assert isinstance(ack, Ack) and ack.accepted == 1
    await ws.close()


async def test_oversized_message_is_refused_and_counted(hub: tuple[Hub, str]) -> None:
    h, url = hub
    ws = await feed(url)
    big = batch(1, [mention(i, "x" * 1000) for i in range(100)])  # ~110 kB > 64 kB
    await ws.send(big)
    err = await reply(ws)
    assert isinstance(err, ErrorReply)
    assert err.code == "oversized"
    assert "64000" in err.message
    await ws.send(batch(2, [mention(1)]))
    assert isinstance(await reply(ws), Ack)
    assert h.counters.errors["oversized"] == 1
    await ws.close()


async def test_bad_items_are_rejected_one_by_one(hub: tuple[Hub, str]) -> None:
    h, url = hub
    ws = await feed(url)
    items = [
        mention(1),
        {**mention(2), "created_at": "yesterday"},
        {**mention(3), "author_reach": -5},
        {**mention(4), "source": "Not A Source!"},
        mention(5),
    ]
    await ws.send(batch(3, items))
    ack = await reply(ws)
    assert isinstance(ack, Ack)
    assert (ack.accepted, ack.rejected) == (2, 3)
    assert [e.index for e in ack.errors] == [1, 2, 3]
    assert "created_at" in ack.errors[0].reason
    assert "author_reach" in ack.errors[1].reason
    assert h.counters.rejected == 3
    await ws.close()


async def test_stream_says_hello_snapshot_then_ticks(hub: tuple[Hub, str]) -> None:
    _h, url = hub
    async with websockets.connect(url + "/stream") as client:
        hello = decode_stream(await client.recv())
        assert isinstance(hello, StreamHello)
        assert hello.brands == ["Northwind", "Contoso", "Fabrikam"]
        assert isinstance(decode_stream(await client.recv()), Snapshot)
        ws = await feed(url)
        texts = ["Northwind support is awful, my Aero 14 died again", "Contoso is great, love it"]
        await ws.send(batch(1, [mention(i, texts[i % 2]) for i in range(40)]))
        await reply(ws)
        tick: Tick | None = None
        while tick is None or tick.ingested_total < 40:
            msg = decode_stream(await asyncio.wait_for(client.recv(), TIMEOUT))
            if isinstance(msg, Tick):
                tick = msg
        assert tick.volume.window == 40
        brands = {b.brand: b.count for b in tick.brands}
        assert brands["Northwind"] == 20 and brands["Contoso"] == 20
        assert tick.sentiment.negative > 0 and tick.sentiment.positive > 0
        assert tick.river and tick.river[0].text
        await ws.close()


async def test_tail_stream_gets_only_matching_enriched_mentions(hub: tuple[Hub, str]) -> None:
    _h, url = hub
    async with websockets.connect(stream_url(url, mentions=True, query="contoso")) as client:
        ws = await feed(url)
        texts = ["Northwind Aero 14 review", "Contoso rocks, love it"]
        await ws.send(batch(1, [mention(i, texts[i % 2]) for i in range(10)]))
        await reply(ws)
        got: list[Mention] = []
        while len(got) < 5:
            msg = decode_stream(await asyncio.wait_for(client.recv(), TIMEOUT))
            if isinstance(msg, MentionsEvent):
                got.extend(msg.mentions)
        assert len(got) == 5
        assert all(m.brands == ["Contoso"] for m in got)
        assert all(m.sentiment_label == "positive" and m.lang == "en" for m in got)
        assert got[0].id == "x:1"
        await ws.close()


async def test_bad_stream_query_is_refused_with_reason(hub: tuple[Hub, str]) -> None:
    _h, url = hub
    async with aiohttp.ClientSession() as session:
        http = url.replace("ws://", "http://")
        async with session.get(http + "/stream", params={"query": "(northwind"}) as resp:
            assert resp.status == 400
            assert "bad query" in await resp.text()


async def test_healthz(hub: tuple[Hub, str]) -> None:
    _h, url = hub
    ws = await feed(url)
    await ws.send(batch(1, [mention(1)]))
    await reply(ws)
    health = url.replace("ws://", "http://") + "/healthz"
    async with aiohttp.ClientSession() as session, session.get(health) as resp:
        body = await resp.json()
    assert body["status"] == "ok"
    assert body["ingested"] == 1
    assert body["feeds"][0]["name"] == "test"
    await ws.close()


async def test_incidents_reach_the_stream(hub: tuple[Hub, str]) -> None:
    h, url = hub
    async with websockets.connect(url + "/stream") as client:
        hello = decode_stream(await client.recv())
        assert isinstance(hello, StreamHello) and hello.takeover_severity == "warning"
        await client.recv()
        # An incident the analytics open is fanned out as an incident message.
        from groundcontrol.protocol import Incident

        incident = Incident(
            id="inc-1-northwind",
            title="Northwind negative surge",
            brand="Northwind",
            kind="negative",
            severity="critical",
            status="open",
            started_at=1.0,
            updated_at=1.0,
        )
        event = IncidentEvent(change="opened", incident=incident)
        h.analytics.tick = lambda now, **_: (h.analytics.snapshot(now).tick, [event])  # type: ignore[method-assign]
        while True:
            msg = decode_stream(await asyncio.wait_for(client.recv(), TIMEOUT))
            if isinstance(msg, IncidentEvent):
                assert msg.incident.id == "inc-1-northwind" and msg.change == "opened"
                break


async def test_ingest_client_resends_after_the_hub_comes_back() -> None:
    cfg = small_config()
    _h, runner, port = await start_hub(cfg, port=0)
    url = f"ws://127.0.0.1:{port}"
    events: list[str] = []
    client = IngestClient(url, name="t", on_event=events.append)
    client.start()
    docs = [
        msgspec.convert({**mention(i), "created_at": datetime.now(UTC)}, Mention) for i in range(30)
    ]
    await client.submit(docs[:10])
    assert await client.drain(TIMEOUT)
    await runner.cleanup()  # the hub goes away
    await client.submit(docs[10:20])
    await client.submit(docs[20:])
    await until(lambda: any("unreachable" in e for e in events), "the feed to miss the hub")
    assert client.pending == 2
    h2, runner2, _ = await start_hub(cfg, port=port)  # and comes back on the same port
    try:
        assert await client.drain(TIMEOUT)
        assert h2.counters.ingested == 20
        assert client.stats.accepted == 30
    finally:
        await client.close()
        await runner2.cleanup()


async def test_stream_client_reports_an_unreachable_hub_and_retries() -> None:
    from groundcontrol.lab.bench import free_port

    port = free_port()
    client = StreamClient(stream_url(f"ws://127.0.0.1:{port}"))
    events = client.events()
    first = await asyncio.wait_for(anext(events), TIMEOUT)
    assert isinstance(first, Disconnected)
    assert "refused" in first.reason
    assert first.retry_in > 0
    _h, runner, _ = await start_hub(small_config(), port=port)
    try:
        while True:
            ev = await asyncio.wait_for(anext(events), TIMEOUT)
            if isinstance(ev, Connected):
                break
        assert isinstance(await asyncio.wait_for(anext(events), TIMEOUT), StreamHello)
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await runner.cleanup()


async def test_tick_rate_and_size_do_not_follow_the_event_rate(hub: tuple[Hub, str]) -> None:
    h, url = hub  # tick_interval 0.1 s
    interval = h.config.hub.tick_interval
    loop = asyncio.get_running_loop()
    ticks: list[tuple[int, int]] = []  # (seq, size) of each tick this client got
    async with websockets.connect(url + "/stream", max_size=None) as client:
        await client.recv()
        await client.recv()

        async def read_ticks() -> None:
            async for raw in client:
                msg = decode_stream(raw)
                if isinstance(msg, Tick):
                    ticks.append((msg.seq, len(raw)))

        reader = asyncio.create_task(read_ticks())
        try:
            await until(lambda: len(ticks) >= 3, "ticks while nothing happens")
            ws = await feed(url)
            words = ["battery", "swelling", "recall", "refund", "hinge", "keyboard", "screen"]
            quiet = len(ticks)
            began, seq_before = loop.time(), h.publisher.tick_seq
            seq = 0
            # 80 x 250 distinct mentions with many distinct terms, and on until the
            # wall has had a few ticks in the middle of it (a flood cannot starve it).
            while seq < 80 or len(ticks) < quiet + 5:
                assert seq < 2000, f"only {len(ticks) - quiet} ticks during {seq} batches"
                items = [
                    mention(
                        seq * 250 + i,
                        f"Northwind {words[i % 7]} #tag{seq}x{i} term{i * 7919 % 4001}",
                        source=f"src{i % 90}",
                    )
                    for i in range(250)
                ]
                await ws.send(batch(seq, items))
                ack = await reply(ws)
                assert isinstance(ack, Ack) and ack.accepted == 250, ack
                seq += 1
            took, published = loop.time() - began, h.publisher.tick_seq - seq_before
            assert h.counters.ingested == seq * 250
            await ws.close()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    busy = [size for n, size in ticks if n > seq_before]
    # The rate is the fixed one whatever came in: never more than one tick per
    # interval (one more after a late tick, which the publisher never makes up for),
    # however many batches; a machine too busy to tick on time only makes fewer.
    assert published <= took / interval + 2, (published, took, seq)
    assert len(busy) <= published
    # Each tick is one bounded message, however many mentions and terms it covers.
    assert max(busy) < 64 * 1024, max(busy)


async def test_a_client_that_stops_reading_is_dropped_and_others_keep_ticking(
    hub: tuple[Hub, str],
) -> None:
    h, url = hub
    port = int(url.rsplit(":", 1)[1])
    # A raw client that upgrades to a websocket and then never reads a byte. Its
    # receive buffer and segments are small (so the kernel also keeps the hub's send
    # buffer small: it grows with the segment size): the hub's socket to it is full
    # after a few messages and what follows queues in the hub. The number of batches
    # it takes to drop it no longer depends on how large the kernel lets buffers grow.
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
    _reader, writer = await asyncio.open_connection(sock=raw)
    writer.write(
        b"GET /stream?mentions=all HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await writer.drain()
    async with websockets.connect(url + "/stream") as healthy:
        await healthy.recv()
        await healthy.recv()
        ws = await feed(url)
        text = "Northwind Aero 14 " + "battery story " * 200
        seq = 0
        # Each batch is one message to the stuck client: after a few that fill its
        # socket, MAX_CLIENT_BACKLOG more wait in the hub, then it is dropped.
        while not any(s.closed for s in h.subscribers):
            assert seq < 4 * MAX_CLIENT_BACKLOG, "the stuck client was never dropped"
            await ws.send(batch(seq, [mention(seq, text)]))
            await reply(ws)
            seq += 1
        stuck = next(s for s in h.subscribers if s.closed)
        assert stuck.dropped_reason.startswith("too slow")
        assert len(stuck.queue) == 0  # its backlog was freed
        assert seq > MAX_CLIENT_BACKLOG  # it was dropped for its backlog, not sooner
        # The close frame cannot get through: it is cut off.
        await until(lambda: stuck not in h.subscribers, "the stuck client to be cut off")
        # The hub still serves the healthy client: ticks made after the drop reach it.
        dropped_at = h.publisher.tick_seq
        while True:
            msg = decode_stream(await asyncio.wait_for(healthy.recv(), TIMEOUT))
            if isinstance(msg, Tick) and msg.seq > dropped_at:
                break
        await ws.close()
    writer.close()


def test_dedupe_forgets_the_oldest_tenth_when_full() -> None:
    from groundcontrol.hub.ingest import Dedupe

    d = Dedupe(capacity=100)
    assert all(d.add(f"x:{i}") for i in range(100))
    assert not d.add("x:0")  # still remembered at capacity
    assert d.add("x:100")  # over capacity: the oldest ten go
    assert len(d) == 91
    assert d.add("x:0") and not d.add("x:10") and not d.add("x:100")
