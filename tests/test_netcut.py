"""Tests for the NetCut network-cut proxy (tests/fakes/netcut.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
import websockets
from aiohttp import web

from tests.deadline import SAFETY
from tests.fakes.netcut import NetCut

QUIET = 0.3  # how long "nothing happens" is observed (a busy machine observes less)


class EchoServer:
    """A tiny asyncio echo server that records what it sees."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = bytearray()
        self.events: list[str] = []  # "eof" / "reset" per finished connection
        self.connected = asyncio.Event()
        self.finished = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        self.connected.set()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    self.events.append("eof")
                    break
                self.received += data
                writer.write(data)
                await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            self.events.append("reset")
        finally:
            self.finished.set()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._handlers.discard(task)
            self._writers.discard(writer)

    async def idle(self) -> None:
        """Wait until every handler task has finished."""
        await asyncio.gather(*self._handlers)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # handlers then finish on their own
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self.server.wait_closed()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[NetCut]:
    nc = await NetCut.start("127.0.0.1", echo.port)
    yield nc
    await nc.close()


async def _open(nc: NetCut) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", nc.port)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _is_cut(nc: NetCut) -> bool:
    # A function call, so mypy does not keep a narrowed ``nc.is_cut`` across cut()/restore().
    return nc.is_cut


async def test_bytes_pass_both_ways(proxy: NetCut, echo: EchoServer) -> None:
    assert proxy.url() == f"ws://127.0.0.1:{proxy.port}"
    assert proxy.url("http", "/x") == f"http://127.0.0.1:{proxy.port}/x"
    reader, writer = await _open(proxy)
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"hello"
    assert proxy.connections_total == 1
    assert proxy.bytes_up == 5
    assert proxy.bytes_down == 5
    assert not proxy.is_cut
    await _close(writer)


async def test_cut_delays_bytes_then_restore_delivers_them_in_order(
    proxy: NetCut, echo: EchoServer
) -> None:
    reader, writer = await _open(proxy)
    writer.write(b"before|")
    assert await reader.readexactly(7) == b"before|"

    proxy.cut()
    assert _is_cut(proxy)
    for chunk in (b"one|", b"two|", b"three|"):
        writer.write(chunk)
        await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(100), QUIET)
    assert bytes(echo.received) == b"before|"

    proxy.restore()
    assert not _is_cut(proxy)
    assert await reader.readexactly(14) == b"one|two|three|"
    assert bytes(echo.received) == b"before|one|two|three|"
    await _close(writer)


async def test_cut_really_stops_reading_so_the_sender_blocks(
    proxy: NetCut, echo: EchoServer
) -> None:
    reader, writer = await _open(proxy)
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"

    proxy.cut()
    payload = os.urandom(16 * 1024 * 1024)  # larger than any loopback socket buffers
    writer.write(payload)
    with pytest.raises(TimeoutError):
        # The proxy does not read, so the kernel buffers fill and the sender blocks.
        await asyncio.wait_for(asyncio.shield(writer.drain()), QUIET)
    assert len(echo.received) == 1
    assert proxy.bytes_up == 1

    proxy.restore()
    got = await asyncio.wait_for(reader.readexactly(len(payload)), SAFETY)
    assert got == payload
    await writer.drain()
    assert proxy.bytes_up == proxy.bytes_down == 1 + len(payload)
    await _close(writer)


async def test_connection_opened_during_cut_is_held_until_restore(
    proxy: NetCut, echo: EchoServer
) -> None:
    proxy.cut()
    reader, writer = await _open(proxy)
    writer.write(b"ping")
    await asyncio.sleep(QUIET)
    assert proxy.connections_total == 1
    assert echo.connections == 0
    assert reader.at_eof() is False and len(echo.received) == 0

    proxy.restore()
    await asyncio.wait_for(echo.connected.wait(), SAFETY)
    assert await asyncio.wait_for(reader.readexactly(4), SAFETY) == b"ping"
    assert echo.connections == 1
    await _close(writer)


async def test_reset_all_resets_both_sides(proxy: NetCut, echo: EchoServer) -> None:
    reader, writer = await _open(proxy)
    writer.write(b"hi")
    assert await reader.readexactly(2) == b"hi"

    proxy.reset_all()
    try:
        data = await asyncio.wait_for(reader.read(10), SAFETY)
    except ConnectionResetError:
        data = b""
    assert data == b""
    await asyncio.wait_for(echo.finished.wait(), SAFETY)
    assert echo.events == ["reset"]
    await _close(writer)


async def test_client_close_during_cut_reaches_server_after_restore(
    proxy: NetCut, echo: EchoServer
) -> None:
    reader, writer = await _open(proxy)
    writer.write(b"a")
    assert await reader.readexactly(1) == b"a"

    proxy.cut()
    writer.write(b"bye")
    writer.write_eof()  # half-close: the proxy must forward EOF after restore
    await asyncio.sleep(QUIET)
    assert echo.events == []
    assert bytes(echo.received) == b"a"

    proxy.restore()
    await asyncio.wait_for(echo.finished.wait(), SAFETY)
    assert echo.events == ["eof"]
    assert bytes(echo.received) == b"abye"
    # The echo of "bye" still travels back over the half-closed connection,
    # then the server's close arrives as EOF.
    assert await asyncio.wait_for(reader.read(), SAFETY) == b"bye"
    await _close(writer)


async def test_full_close_during_cut_reaches_server_after_restore(
    proxy: NetCut, echo: EchoServer
) -> None:
    reader, writer = await _open(proxy)
    writer.write(b"a")
    assert await reader.readexactly(1) == b"a"
    proxy.cut()
    await _close(writer)
    await asyncio.sleep(QUIET)
    assert echo.events == []
    proxy.restore()
    await asyncio.wait_for(echo.finished.wait(), SAFETY)
    assert echo.events == ["eof"]


async def test_server_half_close_is_forwarded() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"greeting")
        writer.write_eof()
        rest = await reader.read()
        writer.close()
        await writer.wait_closed()
        got.set_result(rest)

    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    nc = await NetCut.start("127.0.0.1", server.sockets[0].getsockname()[1])
    try:
        reader, writer = await _open(nc)
        assert await asyncio.wait_for(reader.read(), SAFETY) == b"greeting"  # EOF seen
        writer.write(b"still talking")
        writer.write_eof()
        assert await asyncio.wait_for(got, SAFETY) == b"still talking"
        await _close(writer)
    finally:
        await nc.close()
        server.close()
        await server.wait_closed()


async def test_close_is_idempotent_and_leaves_no_tasks(echo: EchoServer) -> None:
    before = asyncio.all_tasks()
    nc = await NetCut.start("127.0.0.1", echo.port)
    reader, writer = await _open(nc)
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"
    nc.cut()
    _held_reader, held_writer = await _open(nc)  # a held connection too
    await asyncio.sleep(0.05)

    await nc.close()
    await nc.close()
    await echo.idle()  # the proxied connection was reset, so its handler ends
    assert asyncio.all_tasks() == before
    assert echo.connections == 1  # the held connection never reached the server
    with contextlib.suppress(ConnectionResetError):  # close() aborts (RST) connections
        assert await asyncio.wait_for(reader.read(), SAFETY) == b""
    with pytest.raises(OSError):
        await _open(nc)
    await _close(writer)
    await _close(held_writer)


async def test_websocket_session_survives_cut_and_restore() -> None:
    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    nc = await NetCut.start("127.0.0.1", port)
    try:
        async with websockets.connect(nc.url("ws", "/ws"), ping_interval=None) as ws:
            await ws.send("one")
            assert await asyncio.wait_for(ws.recv(), SAFETY) == "one"

            nc.cut()
            await ws.send("during cut")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), QUIET)
            nc.restore()
            assert await asyncio.wait_for(ws.recv(), SAFETY) == "during cut"

            await ws.send("after")
            assert await asyncio.wait_for(ws.recv(), SAFETY) == "after"
        assert nc.connections_total == 1
    finally:
        await nc.close()
        await runner.cleanup()
