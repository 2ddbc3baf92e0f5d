"""Clients of the hub's /stream websocket, for walls, ``tail`` and the benchmark.

``StreamClient.events()`` is an async iterator that never ends on its own: it
connects, yields every decoded message, and when the hub goes away it yields a
:class:`Disconnected` event saying why and when it will retry, then reconnects with
capped exponential backoff. Callers never see a traceback for an unreachable hub.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from groundcontrol.protocol import StreamMessage, decode_stream


@dataclass(frozen=True)
class Connected:
    """The stream is up."""

    url: str
    at: float


@dataclass(frozen=True)
class Disconnected:
    """The stream is down; the client retries in ``retry_in`` seconds."""

    url: str
    reason: str
    retry_in: float
    at: float
    attempt: int


@dataclass(frozen=True)
class BadMessage:
    """The hub sent something this client could not decode (skipped, not fatal)."""

    error: str


StreamEvent = StreamMessage | Connected | Disconnected | BadMessage


class Backoff:
    """Capped exponential backoff with full jitter; ``reset`` after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0, seed: int | None = None):
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0
        self._random = random.Random(seed)

    def next_delay(self) -> float:
        self.attempt += 1
        cap = min(self.maximum, self.initial * (2 ** (self.attempt - 1)))
        delay: float = cap / 2 + self._random.uniform(0, cap / 2)
        return delay

    def reset(self) -> None:
        self.attempt = 0


def http_to_ws(url: str) -> str:
    """Accept http(s):// or ws(s):// hub URLs; return the ws(s):// form."""
    parts = urlsplit(url if "://" in url else f"ws://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def stream_url(hub: str, *, mentions: bool = False, query: str | None = None) -> str:
    """The /stream URL for a hub base URL, with the subscription in the query string."""
    base = http_to_ws(hub).rstrip("/")
    if not base.endswith("/stream"):
        base += "/stream"
    params: dict[str, str] = {}
    if mentions:
        params["mentions"] = "all"
    if query:
        params["query"] = query
    return f"{base}?{urlencode(params)}" if params else base


def describe_error(exc: BaseException) -> str:
    """A one-line, human reason for a connection failure."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the hub running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        if rcvd is not None and rcvd.reason:
            return f"closed by hub: {rcvd.reason}"
        return "connection closed"
    if isinstance(exc, InvalidURI):
        return f"bad hub URL: {exc}"
    if isinstance(exc, InvalidHandshake):
        return f"hub refused the websocket: {exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


class StreamClient:
    """Reconnecting reader of a hub's /stream."""

    def __init__(
        self,
        url: str,
        *,
        open_timeout: float = 5.0,
        backoff: Backoff | None = None,
        max_size: int = 16 * 1024 * 1024,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.backoff = backoff or Backoff()
        self.max_size = max_size

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Yield messages and connection events forever (until the caller stops)."""
        while True:
            reason = ""
            try:
                async with websockets.connect(
                    self.url,
                    open_timeout=self.open_timeout,
                    max_size=self.max_size,
                    ping_interval=5,
                    ping_timeout=5,
                ) as ws:
                    self.backoff.reset()
                    yield Connected(self.url, time.time())
                    async for raw in ws:
                        try:
                            yield decode_stream(raw)
                        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                            yield BadMessage(str(exc))
                    reason = (
                        f"closed by hub: {ws.close_reason}" if ws.close_reason else "hub closed"
                    )
            except InvalidURI as exc:
                reason = describe_error(exc)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                reason = describe_error(exc)
            delay = self.backoff.next_delay()
            yield Disconnected(self.url, reason, delay, time.time(), self.backoff.attempt)
            await asyncio.sleep(delay)
