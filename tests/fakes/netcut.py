"""NetCut: a loopback TCP proxy that can simulate a pulled (and re-plugged) cable.

Put it between a client and a server in an integration test::

    cut = await NetCut.start("127.0.0.1", server_port)
    ws = await websockets.connect(cut.url("ws", "/ws"))
    cut.cut()       # dead link: nothing moves, senders' kernel buffers fill up
    cut.restore()   # link back: delayed bytes arrive, in order
    cut.reset_all() # NAT/firewall forgot the flows: RST on both sides
    await cut.close()

Semantics follow TCP over a dead link rather than a closed socket:

* ``cut()`` stops *reading* from every proxied socket (``pause_reading`` on the
  transports) and stops writing anything new, so bytes are delayed in the
  kernel buffers, never lost or reordered.  A chunk already handed to a
  receiving socket's transport before the cut may still drain (it was "on the
  wire"); write buffers are kept at zero high-water mark, so that is at most a
  single read chunk per direction.
* Connections arriving during a cut are accepted by the listening socket (the
  kernel completes the handshake anyway) but are neither read from nor
  connected upstream until ``restore()``: for the client, the open never
  completes at the application level.
* EOF and resets that happen during a cut are only noticed/propagated after
  ``restore()``, because the proxy is not reading.
* Half-close is forwarded with ``write_eof``; both sockets are closed once EOF
  has been forwarded in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

__all__ = ["NetCut"]

_LINGER_RST = struct.pack("ii", 1, 0)


def _abort_rst(transport: asyncio.Transport | None) -> None:
    """Abort ``transport`` so that the peer sees a RST rather than a FIN."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    transport.abort()


class _Side:
    """One socket of a proxied connection, plus the bytes read from it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.queue = bytearray()  # read from this side, not yet written to the other
        self.eof_in = False  # this side sent EOF
        self.eof_forwarded = False  # ... and we wrote it to the other side
        self.write_paused = False  # our transport's write buffer is non-empty
        self.lost = False
        self.lost_exc: BaseException | None = None
        self.loss_propagated = False

    @property
    def alive(self) -> bool:
        return self.transport is not None and not self.lost


class _Conn:
    """A client<->upstream pair."""

    def __init__(self, proxy: NetCut) -> None:
        self.proxy = proxy
        self.client = _Side("client")
        self.upstream = _Side("upstream")
        self.connect_started = False
        self.connect_task: asyncio.Task[None] | None = None
        self.dead = False  # reset/closed by the proxy: ignore late upstream

    def other(self, side: _Side) -> _Side:
        return self.upstream if side is self.client else self.client

    # -- lifecycle -----------------------------------------------------------

    def start_upstream(self) -> None:
        if self.connect_started or self.dead or self.client.lost:
            return
        self.connect_started = True
        self.connect_task = asyncio.get_running_loop().create_task(self._connect())
        self.proxy._tasks.add(self.connect_task)
        self.connect_task.add_done_callback(self.proxy._tasks.discard)
        self.connect_task.add_done_callback(lambda _t: self.proxy._forget_if_done(self))

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(
                lambda: _SideProtocol(self, self.upstream),
                self.proxy.target_host,
                self.proxy.target_port,
            )
        except OSError:
            # Upstream refused/unreachable: the client sees a reset.
            self.dead = True
            _abort_rst(self.client.transport)
            self.proxy._forget_if_done(self)

    def reset(self) -> None:
        self.dead = True
        if self.connect_task is not None:
            self.connect_task.cancel()
        for side in (self.client, self.upstream):
            if side.alive:
                _abort_rst(side.transport)
        self.proxy._forget_if_done(self)

    def finished(self) -> bool:
        if not self.client.lost:
            return False
        if self.upstream.transport is not None:
            return self.upstream.lost
        return self.connect_task is None or self.connect_task.done()

    # -- the state machine ---------------------------------------------------

    def process(self) -> None:
        """Move whatever may move now, and set reading state accordingly."""
        if self.proxy.is_cut:
            for side in (self.client, self.upstream):
                if side.alive:
                    assert side.transport is not None
                    side.transport.pause_reading()
            return
        if self.client.transport is not None and not self.dead:
            self.start_upstream()
        for side in (self.client, self.upstream):
            if side.lost and not side.loss_propagated:
                side.loss_propagated = True
                other = self.other(side)
                if other.alive and not self._both_eofs_done():
                    # The peer vanished (RST/error) or we closed it: reset the other side.
                    _abort_rst(other.transport)
                if other is self.upstream and other.transport is None:
                    self.dead = True
                    if self.connect_task is not None:
                        self.connect_task.cancel()
        for side in (self.client, self.upstream):
            self._flush(side)
        if self._both_eofs_done():
            for side in (self.client, self.upstream):
                if side.alive:
                    assert side.transport is not None
                    side.transport.close()
            return
        for side in (self.client, self.upstream):
            if not side.alive or side.eof_in:
                continue
            assert side.transport is not None
            other = self.other(side)
            if other.alive and not other.write_paused and not side.queue:
                side.transport.resume_reading()
            else:
                side.transport.pause_reading()

    def _both_eofs_done(self) -> bool:
        return self.client.eof_forwarded and self.upstream.eof_forwarded

    def _flush(self, src: _Side) -> None:
        dst = self.other(src)
        if not dst.alive or dst.write_paused:
            return
        assert dst.transport is not None
        if src.queue:
            data = bytes(src.queue)
            src.queue.clear()
            if src is self.client:
                self.proxy.bytes_up += len(data)
            else:
                self.proxy.bytes_down += len(data)
            dst.transport.write(data)
        if src.eof_in and not src.queue and not src.eof_forwarded:
            src.eof_forwarded = True
            if dst.transport.can_write_eof():
                dst.transport.write_eof()


class _SideProtocol(asyncio.Protocol):
    def __init__(self, conn: _Conn, side: _Side) -> None:
        self.conn = conn
        self.side = side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.side.transport = transport
        transport.set_write_buffer_limits(high=0)
        if self.conn.dead or (self.conn.client.lost and self.side is self.conn.upstream):
            self.side.loss_propagated = True
            _abort_rst(transport)
            return
        transport.pause_reading()
        self.conn.process()

    def data_received(self, data: bytes) -> None:
        self.side.queue += data
        self.conn.process()

    def eof_received(self) -> bool:
        self.side.eof_in = True
        self.conn.process()
        return True  # keep the socket open: half-close

    def pause_writing(self) -> None:
        self.side.write_paused = True
        self.conn.process()

    def resume_writing(self) -> None:
        self.side.write_paused = False
        self.conn.process()

    def connection_lost(self, exc: Exception | None) -> None:
        self.side.lost = True
        self.side.lost_exc = exc
        self.side.write_paused = False
        if self.conn.dead:
            self.side.loss_propagated = True
        self.conn.process()
        self.conn.proxy._forget_if_done(self.conn)


class NetCut:
    """A TCP proxy on loopback whose link can be cut, restored and reset."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.connections_total = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._cut = False
        self._closed = False
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(
        cls,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> NetCut:
        self = cls(target_host, target_port)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _accept(self) -> asyncio.Protocol:
        conn = _Conn(self)
        if self._closed:
            conn.dead = True
        else:
            self.connections_total += 1
            self._conns.add(conn)
        return _SideProtocol(conn, conn.client)

    def _forget_if_done(self, conn: _Conn) -> None:
        if conn.finished():
            self._conns.discard(conn)

    # -- public API ------------------------------------------------------------

    def url(self, scheme: str = "ws", path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def is_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        """Pull the cable: nothing moves until :meth:`restore`."""
        self._cut = True
        for conn in list(self._conns):
            conn.process()

    def restore(self) -> None:
        """Plug the cable back in: delayed bytes, EOFs and resets flow again."""
        self._cut = False
        for conn in list(self._conns):
            conn.process()

    def reset_all(self) -> None:
        """Abort (RST) every proxied connection on both sides."""
        for conn in list(self._conns):
            conn.reset()

    async def close(self) -> None:
        """Stop listening, abort every connection and wait for all tasks."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        self.reset_all()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        # Let the transports deliver their connection_lost callbacks.
        for _ in range(100):
            if not self._conns:
                break
            await asyncio.sleep(0)
        self._conns.clear()

    async def __aenter__(self) -> NetCut:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
