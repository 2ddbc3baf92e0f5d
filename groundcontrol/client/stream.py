"""Clients of the hub's /stream websocket, for walls, ``tail`` and the benchmark.

``StreamClient.events()`` is an async iterator that never ends on its own: it
connects, yields every decoded message, and when the hub goes away it yields a
:class:`Disconnected` event saying why and when it will retry, then reconnects with
capped exponential backoff. Callers never see a traceback for an unreachable hub.
"""

from __future__ import annotations

import asyncio
import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

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


def http_url(hub: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """The http(s) URL of ``path`` on the hub at ``hub`` (ws, wss, http or https); of
    several comma-separated hubs, the first (requests do not move to the next)."""
    if "," in hub:
        hub = hub_urls(hub)[0]
    parts = urlsplit(http_to_ws(hub))
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, path, urlencode(params or {}), ""))


def hub_urls(hubs: str) -> list[str]:
    """The hub URLs of ``--hub URL1,URL2``: a client moves to the next when one dies."""
    return [u.strip() for u in hubs.split(",") if u.strip()] or [hubs]


class HubList:
    """The hubs a client may use (``--hub URL1,URL2``), the one it is on, and how long
    to wait after losing it: not at all while another hub is untried since the last
    success or the last full round, else the backoff's next delay."""

    def __init__(self, hubs: str, backoff: Backoff) -> None:
        self.urls = hub_urls(hubs)
        self.url = self.urls[0]
        """The hub in use (or being tried) now."""
        self.backoff = backoff
        self._untried = len(self.urls) - 1

    def connected(self) -> None:
        """The current hub answered: start over with the backoff and the others."""
        self.backoff.reset()
        self._untried = len(self.urls) - 1

    def failed(self) -> float:
        """The current hub is lost: seconds to wait before trying :meth:`move_on`'s."""
        if self._untried > 0:  # another hub may be up: try it at once
            self._untried -= 1
            return 0.0
        self._untried = len(self.urls) - 1
        return self.backoff.next_delay()

    def move_on(self) -> str:
        """The next hub (the same one if there is only one)."""
        self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
        return self.url


def stream_url(hub: str, *, mentions: bool = False, query: str | None = None) -> str:
    """The /stream URL for a hub base URL, with the subscription in the query string
    (for each of several comma-separated hubs)."""
    if "," in hub:
        return ",".join(stream_url(h, mentions=mentions, query=query) for h in hub_urls(hub))
    base = http_to_ws(hub).rstrip("/")
    if not base.endswith("/stream"):
        base += "/stream"
    params: dict[str, str] = {}
    if mentions:
        params["mentions"] = "all"
    if query:
        params["query"] = query
    return f"{base}?{urlencode(params)}" if params else base


#: Where client commands (feed, wall, tail, bench) find their token.
TOKEN_ENV = "GROUNDCONTROL_TOKEN"
#: A PEM file of CA certificates to trust for wss:// and https:// hubs (a private CA or
#: a self-signed hub certificate); without it the system's trust store is used.
CA_FILE_ENV = "GROUNDCONTROL_CA_FILE"


@dataclass(frozen=True)
class Access:
    """How a client proves who it is (a bearer token) and whom it trusts (TLS)."""

    token: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Access:
        env = os.environ if environ is None else environ
        return cls(
            token=env.get(TOKEN_ENV, "").strip() or None,
            ca_file=env.get(CA_FILE_ENV, "").strip() or None,
        )

    def headers(self) -> dict[str, str] | None:
        return {"Authorization": f"Bearer {self.token}"} if self.token else None

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context, trusting ``ca_file`` if given."""
        return ssl.create_default_context(cafile=self.ca_file)

    def connect_kwargs(self, url: str) -> dict[str, Any]:
        """Keyword arguments for ``websockets.connect(url, ...)``."""
        kwargs: dict[str, Any] = {"additional_headers": self.headers()}
        if url.startswith("wss:"):
            kwargs["ssl"] = self.ssl_context()
        return kwargs


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
    if isinstance(exc, InvalidStatus):
        # The hub says why in the body (a missing or wrong token, say).
        body = exc.response.body or b""
        why = body.decode("utf-8", "replace").strip().splitlines()
        status = exc.response.status_code
        return f"hub refused the websocket: HTTP {status}" + (f": {why[0][:200]}" if why else "")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: cannot verify the hub's certificate ({exc.verify_message}); "
            f"set {CA_FILE_ENV} to the CA or certificate file that signed it"
        )
    if isinstance(exc, InvalidHandshake):
        return f"hub refused the websocket: {exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


class StreamClient:
    """Reconnecting reader of a hub's /stream.

    ``url`` may name several hubs, comma-separated (hubs sharing a bus): when one
    dies the client moves to the next at once, and backs off only after trying all.
    """

    def __init__(
        self,
        url: str,
        *,
        open_timeout: float = 5.0,
        backoff: Backoff | None = None,
        max_size: int = 16 * 1024 * 1024,
        access: Access | None = None,
    ) -> None:
        self.access = access or Access()
        self.open_timeout = open_timeout
        self.backoff = backoff or Backoff()
        self.hubs = HubList(url, self.backoff)
        self.max_size = max_size

    @property
    def url(self) -> str:
        """The hub it reads (or tries) now."""
        return self.hubs.url

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
                    **self.access.connect_kwargs(self.url),
                ) as ws:
                    self.hubs.connected()
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
            delay = self.hubs.failed()
            yield Disconnected(self.url, reason, delay, time.time(), self.backoff.attempt)
            self.hubs.move_on()
            await asyncio.sleep(delay)
