"""The door of every path but /healthz and /: a request's bearer token checked
against the hub's tokens (auth.py), and the refusals counted for /metrics.

Ingest (ingest.py), the stream (stream.py) and the HTTP API (api.py) each call
:meth:`Gate.authorize` first thing in their handlers.
"""

from __future__ import annotations

import logging

from aiohttp import web

from groundcontrol.hub.auth import Denied, Permission, Principal, Tokens

log = logging.getLogger("groundcontrol.hub.access")


class Gate:
    """Checks requests against ``tokens``; None lets everyone in (in-process use only:
    tests and simulation. The CLI always passes Tokens, and a hub with no tokens
    configured refuses everyone)."""

    def __init__(self, tokens: Tokens | None) -> None:
        self.tokens = tokens
        self.denied: dict[tuple[str, int], int] = {}
        """Refused requests by (path, HTTP status)."""

    def authorize(self, request: web.Request, permission: Permission) -> Principal | None:
        """The caller's principal, or an HTTP 401/403 error with the reason in the body."""
        if self.tokens is None:
            return None
        try:
            return self.tokens.authorize(request.headers.get("Authorization"), permission)
        except Denied as exc:
            key = (request.path, exc.status)
            self.denied[key] = self.denied.get(key, 0) + 1
            log.warning(
                "refused %s %s from %s: %s", request.method, request.path, request.remote, exc
            )
            text = f"{exc.reason}\n"
            if exc.status == 401:
                raise web.HTTPUnauthorized(
                    text=text, headers={"WWW-Authenticate": 'Bearer realm="groundcontrol"'}
                ) from None
            raise web.HTTPForbidden(text=text) from None
