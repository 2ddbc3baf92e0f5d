"""The door of every path but /healthz and /: a request's bearer token checked
against the hub's tokens (auth.py), the person a relay acts for, and the refusals
counted for /metrics.

Ingest (ingest.py), the stream (stream.py) and the HTTP API (api.py, triage.py,
briefings.py, search.py) each call :meth:`Gate.authorize` first thing in their
handlers, and record ``principal.name`` as who did what.

A **relay** is a token the hub trusts to act on behalf of named people: the SSH
server's and the web server's, which run one shared token for everyone they let in
(``[auth] relays = ["ssh-gateway"]``, token names from the tokens file). A request
from a relay may carry ``X-Groundcontrol-Actor: <name>``; the hub then records that
name instead of the token's (:meth:`Gate.authorize` turns it into the principal's
name, so no handler deals with the header). The header from any other token is a 403,
and a name that breaks the token-name rules a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NoReturn

from aiohttp import web

from groundcontrol.hub.auth import Denied, Permission, Principal, Tokens
from groundcontrol.protocol import ACTOR_HEADER, name_problem

log = logging.getLogger("groundcontrol.hub.access")


class Gate:
    """Checks requests against ``tokens``; None lets everyone in (in-process use only:
    tests and simulation. The CLI always passes Tokens, and a hub with no tokens
    configured refuses everyone). ``relays``: the names of the tokens that may act
    for others."""

    def __init__(self, tokens: Tokens | None, *, relays: Iterable[str] = ()) -> None:
        self.tokens = tokens
        self.relays = frozenset(relays)
        self.denied: dict[tuple[str, int], int] = {}
        """Refused requests by (path, HTTP status)."""

    def authorize(self, request: web.Request, permission: Permission | None) -> Principal | None:
        """The caller's principal (named for the person a relay acts for), or an HTTP
        401/403 error with the reason in the body (400 for a bad actor name).
        ``permission`` None: any known token will do."""
        if self.tokens is None:
            return None
        try:
            principal = self.tokens.authorize(request.headers.get("Authorization"), permission)
        except Denied as exc:
            self._refuse(request, exc)
        return self.acting(request, principal)

    def acting(self, request: web.Request, principal: Principal) -> Principal:
        """``principal``, or the person its relay names in ``X-Groundcontrol-Actor``."""
        actor = request.headers.get(ACTOR_HEADER)
        if actor is None:
            return principal
        if principal.name not in self.relays:
            self._refuse(
                request,
                Denied(
                    403,
                    f"token {principal.name} may not act for others (add it to [auth] relays)",
                ),
            )
        problem = name_problem(actor)
        if problem:
            key = (request.path, 400)
            self.denied[key] = self.denied.get(key, 0) + 1
            raise web.HTTPBadRequest(text=f"bad {ACTOR_HEADER} header: {problem}\n")
        return Principal(principal.role, actor, via=principal.name)

    def _refuse(self, request: web.Request, exc: Denied) -> NoReturn:
        key = (request.path, exc.status)
        self.denied[key] = self.denied.get(key, 0) + 1
        log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote, exc)
        text = f"{exc.reason}\n"
        if exc.status == 401:
            raise web.HTTPUnauthorized(
                text=text, headers={"WWW-Authenticate": 'Bearer realm="groundcontrol"'}
            ) from None
        raise web.HTTPForbidden(text=text) from None
