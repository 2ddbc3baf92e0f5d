"""What a hub asks of its store beyond ingest: triage, briefings, search and history,
as requests that run on a :class:`StoreWriter` and that can travel.

A single-process hub runs them on its own writer (:func:`run_locally`). A hub on the
bus (``[bus] url``) has no store: it sends the same request to the store writer
(groundcontrol/bus/storage.py), which runs it here, with the same code, and sends the
answer back. Each request is a msgspec struct whose tag names it; ``run`` does the
store's part, ``changes`` says what the walls must learn once it is committed (a
triage action, a briefing started or withdrawn).

The HTTP side (checking the request, who asks, the response) stays in the hub's
handlers (hub/triage.py, hub/briefings.py, hub/search.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from groundcontrol.model import Mention
from groundcontrol.protocol import (
    Briefing,
    BriefingEvent,
    HistoryRow,
    MentionDetail,
    TriageEvent,
    TriageState,
    fold_triage,
)
from groundcontrol.query import parse_search
from groundcontrol.store.database import Store
from groundcontrol.store.search import HistoryError
from groundcontrol.store.writer import StoreWriter, TriageRecord

__all__ = [
    "AddBriefing",
    "Answer",
    "AskStore",
    "History",
    "ListBriefings",
    "MentionDetailOf",
    "RecordTriage",
    "ReviewQueue",
    "SearchMentions",
    "StoreRequest",
    "StoreUnavailable",
    "WithdrawBriefing",
    "decode_request",
    "encode_request",
    "run_locally",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Change = TriageEvent | BriefingEvent


class StoreUnavailable(Exception):
    """The store cannot answer now (the store writer is away, or slow); the message is
    one line that says why."""


class StoreRequest(msgspec.Struct, Generic[T], kw_only=True, tag_field="op"):
    """One request of a hub to its store; ``reply`` is the type of its answer."""

    reply: ClassVar[Any] = None

    async def run(self, writer: StoreWriter) -> T:
        raise NotImplementedError

    def changes(self, result: T) -> list[Change]:
        """What every wall must learn once ``result`` is committed."""
        return []


class RecordTriage(StoreRequest[TriageRecord | None], tag="triage"):
    """Record a triage action (``label``: the class, or the person of an assign or
    claim); None when no such mention is stored, and then nothing is recorded."""

    reply: ClassVar[Any] = TriageRecord | None

    mention_id: str
    action: str
    label: str
    actor: str
    note: str

    async def run(self, writer: StoreWriter) -> TriageRecord | None:
        return await writer.triage(
            self.mention_id, self.action, label=self.label, actor=self.actor, note=self.note
        )

    def changes(self, result: TriageRecord | None) -> list[Change]:
        if result is None:
            return []
        return [
            TriageEvent(
                mention_id=self.mention_id,
                action=result.action,
                state=result.state,
                pending=result.pending,
            )
        ]


QueueRows = tuple[int, int, list[tuple[Mention, TriageState]]]


class ReviewQueue(StoreRequest[QueueRows], tag="queue"):
    """(pending, breached, the oldest ``limit`` mentions of the review queue with their
    states): :meth:`StoreWriter.triage_queue`."""

    reply: ClassVar[Any] = QueueRows

    limit: int
    category: str | None
    assignee: str | None
    now: float
    target: float

    async def run(self, writer: StoreWriter) -> QueueRows:
        return await writer.triage_queue(
            self.limit,
            category=self.category,
            assignee=self.assignee,
            now=self.now,
            target=self.target,
        )


class MentionDetailOf(StoreRequest[MentionDetail | None], tag="mention"):
    """One stored mention with its triage state and history, the newest ``copies`` of
    its copies and the mention it copies; None if it is not stored."""

    reply: ClassVar[Any] = MentionDetail | None

    mention_id: str
    copies: int

    async def run(self, writer: StoreWriter) -> MentionDetail | None:
        return await writer.read(self.read)

    def read(self, store: Store) -> MentionDetail | None:
        mention = store.mention_by_id(self.mention_id)
        if mention is None:
            return None
        history = store.triage_history(self.mention_id)
        total, copies = store.copies_of(self.mention_id, limit=self.copies)
        original = store.mention_by_id(mention.copy_of) if mention.copy_of else None
        return MentionDetail(
            mention=mention,
            state=fold_triage(
                self.mention_id, mention.category, history, received_at=mention.received_at
            ),
            history=history,
            copies=copies,
            copies_total=total,
            original=original,
        )


class AddBriefing(StoreRequest[Briefing], tag="briefing-add"):
    """Keep a new briefing; it comes back with its id."""

    reply: ClassVar[Any] = Briefing

    text: str
    severity: str
    by: str
    created_at: float
    until: float

    async def run(self, writer: StoreWriter) -> Briefing:
        return await writer.call(self.write)

    def write(self, store: Store) -> Briefing:
        return store.add_briefing(
            self.text, self.severity, by=self.by, created_at=self.created_at, until=self.until
        )

    def changes(self, result: Briefing) -> list[Change]:
        return [BriefingEvent(change="started", briefing=result)]


Withdrawal = tuple[Briefing | None, Briefing | None]


class WithdrawBriefing(StoreRequest[Withdrawal], tag="briefing-withdraw"):
    """Withdraw a briefing still running at ``at``: (the briefing before, after); the
    second is None when it was over or withdrawn already, both when it is unknown."""

    reply: ClassVar[Any] = Withdrawal

    id: int
    by: str
    at: float

    async def run(self, writer: StoreWriter) -> Withdrawal:
        return await writer.call(self.write)

    def write(self, store: Store) -> Withdrawal:
        before = store.briefing(self.id)
        if before is None or not before.active(self.at):
            return before, None
        return before, store.withdraw_briefing(self.id, by=self.by, at=self.at)

    def changes(self, result: Withdrawal) -> list[Change]:
        after = result[1]
        return [] if after is None else [BriefingEvent(change="withdrawn", briefing=after)]


class ListBriefings(StoreRequest[list[Briefing]], tag="briefings"):
    """Briefings still running or that ended since ``since``, newest first."""

    reply: ClassVar[Any] = list[Briefing]

    since: float
    limit: int

    async def run(self, writer: StoreWriter) -> list[Briefing]:
        return await writer.read(lambda store: store.briefings(since=self.since, limit=self.limit))


SearchResult = tuple[list[Mention], str | None, int, float]


class SearchMentions(StoreRequest[SearchResult], tag="search"):
    """One page of a search (``query`` in the search syntax, checked by the hub):
    (mentions, the next page's cursor, candidates checked, milliseconds it took)."""

    reply: ClassVar[Any] = SearchResult

    query: str
    since: float | None
    until: float | None
    before: str | None
    limit: int

    async def run(self, writer: StoreWriter) -> SearchResult:
        search = parse_search(self.query)

        def read(store: Store) -> SearchResult:
            started = time.perf_counter()
            items, nxt, scanned = store.search(
                search, since=self.since, until=self.until, before=self.before, limit=self.limit
            )
            return items, nxt, scanned, (time.perf_counter() - started) * 1000

        return await writer.read(read)


HistoryResult = tuple[list[str], list[HistoryRow]] | str


class History(StoreRequest[HistoryResult], tag="history"):
    """Rows of GET /history for the brands ``wanted`` (any case; all ``configured``
    when none): (the brands' names, the rows), or a string saying what was wrong."""

    reply: ClassVar[Any] = HistoryResult

    by: str
    since: float
    until: float
    wanted: list[str]
    configured: list[str]

    async def run(self, writer: StoreWriter) -> HistoryResult:
        return await writer.read(self.read)

    def read(self, store: Store) -> HistoryResult:
        names = self.configured
        if self.wanted:
            known = {n.lower(): n for n in [*store.brand_names(), *self.configured]}
            missing = [b for b in self.wanted if b.lower() not in known]
            if missing:
                return f"unknown brand {missing[0][:60]!r} (known: {', '.join(known.values())})"
            names = list(dict.fromkeys(known[b.lower()] for b in self.wanted))
        try:
            return names, store.history(self.by, self.since, self.until, names)
        except HistoryError as exc:
            return str(exc)


AnyRequest = (
    RecordTriage
    | ReviewQueue
    | MentionDetailOf
    | AddBriefing
    | WithdrawBriefing
    | ListBriefings
    | SearchMentions
    | History
)


class AskStore(Protocol):
    """Runs a request on the store, wherever it is; raises :class:`StoreUnavailable`."""

    def __call__(self, request: StoreRequest[T]) -> Awaitable[T]: ...


def run_locally(writer: StoreWriter) -> AskStore:
    """Ask the hub's own store."""

    async def ask(request: StoreRequest[T]) -> T:
        return await request.run(writer)

    return ask


# ---------------------------------------------------------------------- on the wire


class Answer(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The store writer's answer: the result (msgpack of the request's ``reply``), or
    what went wrong."""

    error: str = ""
    value: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"\xc0"))


_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(AnyRequest)
_answer_decoder = msgspec.msgpack.Decoder(Answer)


def request_name(request: StoreRequest[Any]) -> str:
    """The request's tag (the last token of its subject on the bus)."""
    return str(type(request).__struct_config__.tag)


def encode_request(request: StoreRequest[Any]) -> bytes:
    return _encoder.encode(request)


def decode_request(data: bytes) -> StoreRequest[Any]:
    """The request in ``data``; msgspec.DecodeError or ValidationError if it is not one."""
    request: StoreRequest[Any] = _request_decoder.decode(data)
    return request


def encode_answer(value: object = None, *, error: str = "") -> bytes:
    if error:
        return _encoder.encode(Answer(error=error))
    return _encoder.encode(Answer(value=msgspec.Raw(_encoder.encode(value))))


def decode_answer(request: StoreRequest[T], data: bytes) -> T:
    """The result of ``request`` in the answer ``data``; StoreUnavailable if the store
    writer said it failed or the answer cannot be read."""
    try:
        answer = _answer_decoder.decode(data)
        if answer.error:
            raise StoreUnavailable(f"the store writer failed: {answer.error}")
        result: T = msgspec.msgpack.decode(answer.value, type=type(request).reply)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StoreUnavailable(f"an unreadable answer from the store writer: {exc}") from None
    return result
