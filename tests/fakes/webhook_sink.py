"""A loopback webhook receiver: what a chat service or a JSON webhook endpoint is to
the hub's notifier.

It records every POST (path, headers, JSON body) and answers 200, or 500 for the
next N requests (:meth:`WebhookSink.fail_next`), or not at all while told to hang
(:meth:`WebhookSink.hang`). apprise's generic JSON webhook is
``json://127.0.0.1:PORT/PATH`` (:meth:`WebhookSink.url`); it POSTs
``{"version": "1.0", "title": ..., "message": ..., "attachments": [], "type": ...}``
with ``Content-Type: application/json``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.deadline import SAFETY


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    path: str
    headers: dict[str, str]
    body: Any
    """The JSON body (None if it was not JSON)."""
    status: int
    """What the sink answered (0: it hung)."""


class WebhookSink:
    """``async with WebhookSink() as sink:`` serves on a free loopback port."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._failures = 0
        self._failure_status = 500
        self._hanging = False
        self._release = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = "hook") -> str:
        """The apprise URL that posts JSON to ``path`` here."""
        return f"json://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``n`` requests."""
        self._failures = n
        self._failure_status = status

    def hang(self, on: bool = True) -> None:
        """Never answer while on (the request stays open until the sink stops)."""
        self._hanging = on

    def on(self, path: str) -> list[Received]:
        """Requests that came to ``path``."""
        return [r for r in self.received if r.path == "/" + path.lstrip("/")]

    async def wait_for(self, n: int, *, path: str | None = None, within: float = SAFETY) -> None:
        """Wait until ``n`` requests (to ``path``, if given) have arrived."""

        def enough() -> bool:
            seen = self.received if path is None else self.on(path)
            return len(seen) >= n

        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(enough)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        if self._hanging:
            status = 0
        elif self._failures > 0:
            self._failures -= 1
            status = self._failure_status
        else:
            status = 200
        self.received.append(Received(request.path, dict(request.headers), body, status))
        async with self._arrived:
            self._arrived.notify_all()
        if status == 0:
            await self._release.wait()
            return web.Response(status=503, text="stopped")
        return web.Response(status=status, text="ok" if status == 200 else "failed")

    async def __aenter__(self) -> WebhookSink:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
