"""Briefings over HTTP: POST /briefings, GET /briefings, POST /briefings/ID/withdraw.

A briefing is what the room is told to say: a line of text an analyst puts on every
wall for a while ("We know about the battery reports; say the fix ships Friday").
Beside the pipeline, like triage.py. A request is checked here
(``protocol.briefing_problem``: 1 to 280 characters, no control characters, a minute
to a week, info or warning), then kept by the store's writer thread (never on the
event loop); once committed, every /stream client gets a ``briefing`` message. The
hub keeps the active ones in memory for the snapshot a new client gets, drops each as
it runs out (checked on every tick, on the hub's clock, which sends ``expired``), and
takes them back from the store after a restart. A hub on the bus asks the store
writer (store/requests.py), which puts each start and withdrawal on the bus: every hub
applies them (:meth:`BriefingsApi.show`), and one that starts learns the briefings
still running from there.

A hub without a store refuses briefings with 503 ("briefings need a store"): a
briefing that vanished with a restart would leave the room saying something nobody
can see any more. The shapes are in docs/protocol.md, "HTTP".
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from aiohttp import web

from groundcontrol.hub.access import Gate
from groundcontrol.hub.auth import Permission, Principal
from groundcontrol.hub.state import CurrentStore
from groundcontrol.hub.stream import Publisher
from groundcontrol.protocol import (
    Briefing,
    BriefingChange,
    BriefingEvent,
    briefing_problem,
)
from groundcontrol.store.requests import AddBriefing, ListBriefings, WithdrawBriefing

#: GET /briefings lists those still running and those that ended this long ago at most.
RECENT_SECONDS = 86400.0
#: Most briefings GET /briefings lists.
LIST_LIMIT = 50

_NO_STORE = "briefings need a store: this hub runs without one (--no-store)\n"
_encode = msgspec.json.Encoder().encode


class BriefingRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /briefings."""

    text: str
    seconds: float
    severity: str = "info"


class BriefingList(msgspec.Struct, kw_only=True):
    """The body of GET /briefings: the hub's clock, and the briefings newest first."""

    at: float
    briefings: list[Briefing]


def _json(body: msgspec.Struct) -> web.Response:
    return web.Response(body=_encode(body), content_type="application/json")


def _name(principal: Principal | None) -> str:
    return principal.name if principal is not None else "local"


class BriefingsApi:
    """The briefing handlers (``Hub.app()`` routes to them) and the active briefings."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        gate: Gate,
        publisher: Publisher,
        store: CurrentStore,
    ) -> None:
        self.clock = clock
        self.gate = gate
        self.publisher = publisher
        self.store = store
        self.active: dict[int, Briefing] = {}
        """The briefings on the walls now, by id."""
        publisher.current_briefings = self.current
        publisher.on_tick.append(self.expire)

    def current(self) -> list[Briefing]:
        """The briefings on the walls now, oldest first."""
        return sorted(self.active.values(), key=lambda b: (b.created_at, b.id))

    def restore(self, briefings: list[Briefing]) -> None:
        """Take back the active briefings a store kept (the hub restarted)."""
        for b in briefings:
            self.active[b.id] = b

    def expire(self, now: float) -> None:
        """Drop the briefings that ran out by ``now`` and tell every client."""
        for b in [b for b in self.active.values() if not b.active(now)]:
            del self.active[b.id]
            self._publish("expired", b)

    def show(self, event: BriefingEvent) -> None:
        """A committed start or withdrawal (here, or through another hub on the bus):
        the active briefings follow it, and every client learns it."""
        briefing = event.briefing
        if event.change == "started":
            if not briefing.active(self.clock()):
                return  # over already (learnt late, from the bus): nothing to show
            self.active[briefing.id] = briefing
        else:
            self.active.pop(briefing.id, None)
        self.publisher.briefing_changed(event)

    def _publish(self, change: BriefingChange, briefing: Briefing) -> None:
        self.publisher.briefing_changed(BriefingEvent(change=change, briefing=briefing))

    # ------------------------------------------------------------------ handlers

    async def handle_create(self, request: web.Request) -> web.Response:
        """Put a briefing on every wall; it comes back with its id."""
        principal = self.gate.authorize(request, Permission.INCIDENTS)
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        try:
            req = msgspec.json.decode(await request.read(), type=BriefingRequest)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise web.HTTPBadRequest(text=f"bad briefing: {exc}\n") from None
        problem = briefing_problem(req.text, req.seconds, req.severity)
        if problem:
            raise web.HTTPBadRequest(text=f"bad briefing: {problem}\n")
        now = self.clock()
        adding = AddBriefing(
            text=req.text.strip(),
            severity=req.severity,
            by=_name(principal),
            created_at=now,
            until=now + req.seconds,
        )
        briefing = await ask(adding)
        for event in adding.changes(briefing):
            assert isinstance(event, BriefingEvent)
            self.show(event)
        return _json(briefing)

    async def handle_list(self, request: web.Request) -> web.Response:
        """The briefings still running and those that ended in the last day, newest first."""
        self.gate.authorize(request, Permission.READ)
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        now = self.clock()
        rows = await ask(ListBriefings(since=now - RECENT_SECONDS, limit=LIST_LIMIT))
        return _json(BriefingList(at=now, briefings=rows))

    async def handle_withdraw(self, request: web.Request) -> web.Response:
        """Take a briefing off every wall before its time."""
        principal = self.gate.authorize(request, Permission.INCIDENTS)
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        raw = request.match_info["id"]
        shown = raw[:40]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise web.HTTPNotFound(text=f'no briefing "{shown}"\n')
        briefing_id = int(raw)
        withdrawing = WithdrawBriefing(id=briefing_id, by=_name(principal), at=self.clock())
        withdrawal = await ask(withdrawing)
        before, briefing = withdrawal
        if before is None:
            raise web.HTTPNotFound(text=f'no briefing "{shown}"\n')
        if briefing is None:
            what = "withdrawn already" if before.withdrawn_at is not None else "over already"
            raise web.HTTPConflict(text=f"briefing {briefing_id} is {what}\n")
        for event in withdrawing.changes(withdrawal):
            assert isinstance(event, BriefingEvent)
            self.show(event)
        return _json(briefing)
