"""The hub's HTTP API for clients that act, not only watch: the analyst console.

:class:`HubApi` wraps the paths an analyst uses (docs/protocol.md, "HTTP"): search
(``GET /mentions``), one mention with its triage history (``GET /mentions/ID``),
triage actions and the triage queue (``POST /triage``, ``GET /triage/queue``), the
history of share of voice and negative share (``GET /history``, as JSON or CSV), and
incidents (``GET /incidents``, ``POST /incidents/ID/ack|snooze|resolve``), and who
the hub takes the client for (``GET /whoami``). A client run by a relay for a person
(``GROUNDCONTROL_ACTOR``) names that person on every request (client/actor.py).

One ``aiohttp.ClientSession`` per :class:`HubApi`, opened on first use inside the
running loop, with a timeout on every request and the token and TLS trust of an
:class:`~groundcontrol.client.stream.Access`. Answers are decoded into msgspec structs
that ignore fields they do not know (a newer hub adds some). Every failure is an
:class:`ApiError`: the HTTP status and the hub's one-line reason, or status 0 and a
plain sentence for a hub that cannot be reached; never a traceback for the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec

from groundcontrol.client.actor import actor_from_env, actor_headers
from groundcontrol.client.stream import Access, describe_error, http_url
from groundcontrol.protocol import (
    TRIAGE_ACTIONS,
    History,
    HistoryRow,
    Incident,
    MentionDetail,
    SearchPage,
    TriageActionName,
    TriageQueue,
    TriageReceipt,
    Whoami,
)

__all__ = [
    "TRIAGE_ACTIONS",
    "ApiError",
    "History",
    "HistoryRow",
    "HubApi",
    "SearchPage",
]

Bucket = Literal["hour", "day", "week"]

#: Seconds any one request may take, connecting included.
DEFAULT_TIMEOUT = 10.0
#: Longest reason quoted from a hub's error body.
REASON_CHARS = 300

T = TypeVar("T")


class ApiError(Exception):
    """A request failed: ``status`` is the HTTP status (0: the hub was not reached)
    and ``reason`` the hub's one-line reason, or what went wrong on the way."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"HTTP {status}: {reason}" if status else reason)


# --------------------------------------------------------------------------- shapes


class _Incidents(msgspec.Struct):
    incidents: list[Incident] = msgspec.field(default_factory=list)


# --------------------------------------------------------------------------- client


def _param(value: float | str | None) -> str | None:
    """A time parameter as the hub takes it: unix seconds, or the text as given."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _reason(body: bytes) -> str:
    """The first line of an error body, cut to :data:`REASON_CHARS`."""
    text = body.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else ""
    return line[:REASON_CHARS]


class HubApi:
    """An analyst's HTTP client of one hub; ``async with HubApi(...)`` or ``close()``."""

    def __init__(
        self,
        hub_url: str,
        access: Access | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        actor: str | None = None,
    ) -> None:
        """``actor``: the person a relay's token acts for, sent with every request
        (None: ``GROUNDCONTROL_ACTOR``, if set; "": nobody)."""
        self.hub_url = hub_url
        self.access = access or Access()
        self.timeout = timeout
        self.actor = actor_from_env() if actor is None else actor
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HubApi:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session (the next request opens a new one)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={**(self.access.headers() or {}), **actor_headers(self.actor)},
            )
        return self._session

    def url(self, path: str, params: Mapping[str, str | None] | None = None) -> str:
        """The http(s) URL of ``path`` with the parameters that are set."""
        given = {k: v for k, v in (params or {}).items() if v is not None}
        return http_url(self.hub_url, path, given)

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | None] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The body of a 2xx answer; :class:`ApiError` for anything else."""
        url = self.url(path, params)
        kwargs: dict[str, Any] = {}
        if url.startswith("https:"):
            kwargs["ssl"] = self.access.ssl_context()
        if body is not None:
            kwargs["data"] = msgspec.json.encode(body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            async with self._session_now().request(method, url, **kwargs) as resp:
                data = await resp.read()
                if resp.status >= 400:
                    reason = _reason(data) or resp.reason or "request failed"
                    if resp.status == 404 and reason == "404: Not Found":
                        # The server's own page, not the hub's word on a missing item.
                        reason = f"this hub has no {path} (an older hub?)"
                    raise ApiError(resp.status, reason)
                return data
        except ApiError:
            raise
        except aiohttp.ClientConnectorCertificateError as exc:
            why = describe_error(exc.certificate_error)
            raise ApiError(0, f"cannot reach the hub: {why}") from None
        except aiohttp.ClientConnectorError as exc:
            raise ApiError(0, f"cannot reach the hub: {describe_error(exc.os_error)}") from None
        except TimeoutError:
            raise ApiError(0, f"the hub did not answer within {self.timeout:g}s") from None
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as exc:
            raise ApiError(0, f"cannot reach the hub: {exc or type(exc).__name__}") from None

    async def _json(
        self,
        kind: type[T],
        method: str,
        path: str,
        params: Mapping[str, str | None] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> T:
        data = await self._request(method, path, params, body)
        try:
            return msgspec.json.decode(data, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ApiError(0, f"the hub's answer to {path} did not decode: {exc}") from None

    async def whoami(self) -> Whoami:
        """The name the hub records for this client (its actor, else the token's
        name) and the token's role."""
        return await self._json(Whoami, "GET", "/whoami")

    # ------------------------------------------------------------------ mentions

    async def search(
        self,
        query: str = "",
        *,
        since: float | str | None = None,
        until: float | str | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> SearchPage:
        """Mentions matching ``query`` (the search syntax) between ``since`` and
        ``until``, newest first; ``before`` is the ``next`` of the page before."""
        params = {
            "q": query,
            "since": _param(since),
            "until": _param(until),
            "before": before,
            "limit": None if limit is None else str(limit),
        }
        return await self._json(SearchPage, "GET", "/mentions", params)

    async def mention(self, mention_id: str) -> MentionDetail:
        """One mention with its triage state and history, its copies and original."""
        path = "/mentions/" + _quote(mention_id)
        return await self._json(MentionDetail, "GET", path)

    # ------------------------------------------------------------------ triage

    async def triage(
        self,
        mention_id: str,
        action: TriageActionName,
        *,
        label: str = "",
        assignee: str = "",
        note: str = "",
    ) -> TriageReceipt:
        """Record a triage action on a mention; the new state comes back."""
        body: dict[str, Any] = {"mention_id": mention_id, "action": action}
        for name, value in (("label", label), ("assignee", assignee), ("note", note)):
            if value:
                body[name] = value
        return await self._json(TriageReceipt, "POST", "/triage", body=body)

    async def queue(
        self,
        *,
        limit: int | None = None,
        category: str | None = None,
        assignee: str | None = None,
    ) -> TriageQueue:
        """The triage queue, oldest first; ``assignee`` narrows it (see the hub for
        how it spells "unassigned")."""
        params = {
            "limit": None if limit is None else str(limit),
            "category": category or None,
            "assignee": assignee,
        }
        return await self._json(TriageQueue, "GET", "/triage/queue", params)

    # ------------------------------------------------------------------ history

    def _history_params(
        self,
        by: Bucket,
        since: float | str | None,
        until: float | str | None,
        brands: list[str] | None,
        fmt: str,
    ) -> dict[str, str | None]:
        return {
            "by": by,
            "since": _param(since),
            "until": _param(until),
            "brands": ",".join(brands) if brands else None,
            "format": fmt,
        }

    async def history(
        self,
        by: Bucket = "day",
        *,
        since: float | str | None = None,
        until: float | str | None = None,
        brands: list[str] | None = None,
    ) -> History:
        """Share of voice and negative share per brand, by hour, day or week."""
        params = self._history_params(by, since, until, brands, "json")
        return await self._json(History, "GET", "/history", params)

    async def history_csv(
        self,
        by: Bucket = "day",
        *,
        since: float | str | None = None,
        until: float | str | None = None,
        brands: list[str] | None = None,
    ) -> str:
        """The same table as :meth:`history`, as the hub's CSV."""
        params = self._history_params(by, since, until, brands, "csv")
        data = await self._request("GET", "/history", params)
        return data.decode("utf-8")

    # ------------------------------------------------------------------ incidents

    async def incidents(self, *, all: bool = False, limit: int | None = None) -> list[Incident]:
        """Open and recent incidents, most urgent first (``all``: every stored one)."""
        params = {"all": "1" if all else None, "limit": None if limit is None else str(limit)}
        found = await self._json(_Incidents, "GET", "/incidents", params)
        return found.incidents

    async def incident_action(
        self,
        incident_id: str,
        action: Literal["ack", "snooze", "resolve"],
        *,
        note: str = "",
        seconds: float | None = None,
    ) -> Incident:
        """Acknowledge, snooze (for ``seconds``) or resolve an incident."""
        body: dict[str, Any] = {}
        if note:
            body["note"] = note
        if seconds is not None:
            body["seconds"] = seconds
        path = f"/incidents/{_quote(incident_id)}/{action}"
        return await self._json(Incident, "POST", path, body=body)


def _quote(part: str) -> str:
    """One path segment, escaped (mention ids hold ':' and '/')."""
    return quote(part, safe=":@")
