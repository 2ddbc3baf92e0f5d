"""The hub's triage workflow over HTTP: POST /triage, GET /triage/queue, GET /mentions/ID.

Beside the pipeline, like api.py. An action is checked here (the action, its label,
assignee and note: ``protocol.triage_problem``), then recorded by the store's writer
thread, which refuses it without a row when no such mention is stored
(store/writer.py); a hub on the bus asks the store writer instead, which runs the
same request (store/requests.py) and puts the change on the bus for the other hubs
(``TriageApi.show`` there). Once committed, the hub's windows show the mention's new state on
the walls' review queue (``Analytics.triaged``) and every /stream client gets a
``triage`` message at once (``Publisher.triage_changed``). Reads go through the
writer's reader connection on a worker thread, never on the event loop. The shapes
are in docs/protocol.md, "HTTP", and in groundcontrol/protocol.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
from aiohttp import web
from multidict import MultiMapping

from groundcontrol.hub.access import Gate
from groundcontrol.hub.auth import Permission, Principal
from groundcontrol.hub.state import CONTROL_CHARS, CurrentStore
from groundcontrol.hub.stream import Publisher
from groundcontrol.model import CATEGORIES
from groundcontrol.protocol import (
    TriageEvent,
    TriageQueue,
    TriageQueueItem,
    TriageReceipt,
    triage_problem,
)
from groundcontrol.signals.analytics import Analytics
from groundcontrol.store.requests import MentionDetailOf, RecordTriage, ReviewQueue

#: GET /triage/queue: items when no limit is given, and the most one may ask for.
DEFAULT_QUEUE_LIMIT = 50
MAX_QUEUE_LIMIT = 500
#: GET /mentions/ID: most copies listed (``copies_total`` counts them all).
MAX_COPIES = 50
#: Longest mention id, assignee or label a request may name.
MAX_ID_CHARS = 512
MAX_NAME_CHARS = 200

_NO_STORE = "this hub runs without a store (--no-store)\n"
_encode = msgspec.json.Encoder().encode


class TriageRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /triage."""

    mention_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
    action: Annotated[str, msgspec.Meta(max_length=40)]
    label: Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)] = ""
    assignee: Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)] = ""
    note: Annotated[str, msgspec.Meta(max_length=4000)] = ""


def _json(body: msgspec.Struct) -> web.Response:
    return web.Response(body=_encode(body), content_type="application/json")


def _name(principal: Principal | None) -> str:
    """Who is asking: their token's name ("local" on a hub without access control)."""
    return principal.name if principal is not None else "local"


def no_mention(mention_id: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f'no mention "{mention_id}" in the store\n')


class TriageApi:
    """The triage handlers; ``Hub.app()`` routes to them."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        gate: Gate,
        analytics: Analytics,
        publisher: Publisher,
        store: CurrentStore,
        target_seconds: float,
    ) -> None:
        self.clock = clock
        self.gate = gate
        self.analytics = analytics
        self.publisher = publisher
        self.store = store
        self.target_seconds = target_seconds
        """The response target: a mention waiting longer for its first action is breached."""

    async def handle_triage(self, request: web.Request) -> web.Response:
        """Record what an analyst did with a mention; its state comes back, and goes to
        every wall."""
        principal = self.gate.authorize(request, Permission.TRIAGE)
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        try:
            req = msgspec.json.decode(await request.read(), type=TriageRequest)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise web.HTTPBadRequest(text=f"bad triage action: {exc}\n") from None
        for name, value in (
            ("mention_id", req.mention_id),
            ("action", req.action),
            ("label", req.label),
            ("assignee", req.assignee),
            ("note", req.note),
        ):
            if CONTROL_CHARS.search(value):
                raise web.HTTPBadRequest(text=f"bad triage action: control characters in {name}\n")
        problem = triage_problem(req.action, label=req.label, assignee=req.assignee, note=req.note)
        if problem:
            raise web.HTTPBadRequest(text=f"bad triage action: {problem}\n")
        actor = _name(principal)
        # The store keeps the person of an assign or claim where a label keeps its class.
        label = {"claim": actor, "assign": req.assignee.strip()}.get(req.action, req.label)
        recording = RecordTriage(
            mention_id=req.mention_id, action=req.action, label=label, actor=actor, note=req.note
        )
        record = await ask(recording)
        if record is None:
            raise no_mention(req.mention_id)
        # Committed: the walls' review queue and every stream client learn it at once.
        for event in recording.changes(record):
            assert isinstance(event, TriageEvent)
            self.show(event)
        return _json(
            TriageReceipt(id=record.action.id, actor=actor, at=record.action.at, state=record.state)
        )

    def show(self, event: TriageEvent) -> None:
        """A committed triage action (here, or through another hub on the bus): the
        walls' review queue and every stream client learn it."""
        self.analytics.triaged(event.state)
        self.publisher.triage_changed(event)

    async def handle_triage_queue(self, request: web.Request) -> web.Response:
        """The review queue, oldest first, with each mention's state and wait (see
        :class:`~groundcontrol.protocol.TriageQueue`).

        ``limit`` (1 to MAX_QUEUE_LIMIT, default DEFAULT_QUEUE_LIMIT), ``category``
        (one of the classes) and ``assignee`` (a name, ``me`` or ``none``) are
        optional; anything else is a 400.
        """
        principal = self.gate.authorize(request, Permission.TRIAGE)
        limit, category, assignee = _queue_params(request.query)
        if assignee == "me":
            assignee = _name(principal)
        elif assignee == "none":
            assignee = ""
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        now = self.clock()
        target = self.target_seconds
        pending, breached, rows = await ask(
            ReviewQueue(limit=limit, category=category, assignee=assignee, now=now, target=target)
        )
        items = []
        for mention, state in rows:
            responded = state.first_response_at
            waiting = (now if responded is None else responded) - mention.received_at
            items.append(
                TriageQueueItem(
                    mention=mention,
                    state=state,
                    waiting_seconds=round(max(waiting, 0.0), 3),
                    breached=waiting > target,
                )
            )
        return _json(
            TriageQueue(pending=pending, breached=breached, target_seconds=target, items=items)
        )

    async def handle_mention(self, request: web.Request) -> web.Response:
        """One stored mention with its triage state and history, its copies and the
        mention it copies."""
        self.gate.authorize(request, Permission.TRIAGE)
        mention_id = request.match_info["id"]
        if len(mention_id) > MAX_ID_CHARS or CONTROL_CHARS.search(mention_id):
            raise web.HTTPBadRequest(
                text=f"bad mention id: at most {MAX_ID_CHARS} characters, no control characters\n"
            )
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        detail = await ask(MentionDetailOf(mention_id=mention_id, copies=MAX_COPIES))
        if detail is None:
            raise no_mention(mention_id)
        return _json(detail)


def _queue_params(query: MultiMapping[str]) -> tuple[int, str | None, str | None]:
    """(limit, category, assignee) of GET /triage/queue, or a 400 naming what is wrong."""

    def bad(reason: str) -> web.HTTPBadRequest:
        return web.HTTPBadRequest(text=f"bad queue request: {reason}\n")

    known = ("limit", "category", "assignee")
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise bad(f"unknown parameter {unknown[0]!r} (use limit, category and assignee)")
    if any(len(query.getall(key, [])) > 1 for key in known):
        raise bad("limit, category and assignee may each be given once")
    limit = DEFAULT_QUEUE_LIMIT
    text = query.get("limit")
    if text is not None:
        # isascii: int() takes other digits too; the length keeps int() cheap.
        if not (text.isascii() and text.isdigit() and len(text) <= 6) or not (
            1 <= int(text) <= MAX_QUEUE_LIMIT
        ):
            raise bad(
                f"limit must be a whole number from 1 to {MAX_QUEUE_LIMIT}, not {text[:40]!r}"
            )
        limit = int(text)
    category = query.get("category")
    if category is not None and category not in CATEGORIES:
        raise bad(f"category must be one of {', '.join(CATEGORIES)}, not {category[:40]!r}")
    assignee = query.get("assignee")
    if assignee is not None and (
        not assignee.strip() or len(assignee) > MAX_NAME_CHARS or CONTROL_CHARS.search(assignee)
    ):
        raise bad(f"assignee must be a name, me or none, not {assignee[:40]!r}")
    return limit, category, assignee
