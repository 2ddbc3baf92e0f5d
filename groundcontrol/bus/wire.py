"""What travels on the bus, and the names of everything JetStream holds for a site.

A batch is one msgpack message, raw (as the hub accepted it) or enriched (as a worker
made it): the same :class:`BusBatch` with the same id. The id is the JetStream
``Nats-Msg-Id`` of both, so a feed's resend of a batch, or a worker's second try at
one, is kept once within the duplicate window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from groundcontrol.model import Mention
from groundcontrol.protocol import BriefingEvent, IncidentEvent, TriageEvent
from groundcontrol.store.database import DeadLetter

#: The header naming the hub that published an event (it does not apply its own twice).
ORIGIN_HEADER = "Gc-Hub"
#: JetStream's dedupe header.
MSG_ID_HEADER = "Nats-Msg-Id"


class BusDeadLetter(msgspec.Struct, kw_only=True, array_like=True):
    """A dead letter on its way to the store writer."""

    received_at: float
    feed: str
    reason: str
    payload: bytes

    def to_store(self) -> DeadLetter:
        return DeadLetter(
            received_at=self.received_at, feed=self.feed, reason=self.reason, payload=self.payload
        )


class BusBatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One accepted batch: its mentions (ids and arrival set by the hub), the source's
    edits and deletions, and what the hub dead-lettered from it."""

    id: str
    """The batch's message id (see :func:`batch_id`)."""
    feed: str = ""
    demo: bool = False
    """From a feed that said its mentions are demo data: every hub's walls say DEMO."""
    hub: str = ""
    """The hub that accepted it."""
    mentions: list[Mention] = msgspec.field(default_factory=list)
    edits: list[Mention] = msgspec.field(default_factory=list)
    deleted: list[str] = msgspec.field(default_factory=list)
    dead_letters: list[BusDeadLetter] = msgspec.field(default_factory=list)


_encoder = msgspec.msgpack.Encoder()
_batch_decoder = msgspec.msgpack.Decoder(BusBatch)
_event_decoder = msgspec.json.Decoder(IncidentEvent)
_change_decoder = msgspec.json.Decoder(TriageEvent | BriefingEvent)


def encode_batch(batch: BusBatch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(data: bytes) -> BusBatch:
    """The batch in ``data``; msgspec.DecodeError or ValidationError if it is not one."""
    return _batch_decoder.decode(data)


def decode_incident(data: bytes) -> IncidentEvent:
    return _event_decoder.decode(data)


def decode_change(data: bytes) -> TriageEvent | BriefingEvent:
    """A triage action or a briefing's start or withdrawal the store writer committed."""
    return _change_decoder.decode(data)


def batch_id(
    feed: str, seq: int, mentions: list[Mention], edits: list[Mention], deleted: list[str]
) -> str:
    """The message id of a feed's batch: its name and sequence number, and a digest of
    what it carries. A resend of the batch gets the same id; a feed that starts its
    numbering again (no spool) sends other mentions under the same number, and gets
    another id."""
    digest = hashlib.blake2b(digest_size=8)
    for m in mentions:
        digest.update(f"{m.source}:{m.source_id}\n".encode())
    for m in edits:
        digest.update(f"e{m.source}:{m.source_id}:{len(m.text)}\n".encode())
    for key in deleted:
        digest.update(f"d{key}\n".encode())
    return f"{feed}:{seq}:{digest.hexdigest()}"


def subject_token(text: str) -> str:
    """``text`` as one subject token (incident ids may hold anything)."""
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass(frozen=True)
class Names:
    """Every stream, subject, consumer and bucket of a site, from ``[bus] prefix``."""

    prefix: str = "gc"

    @property
    def raw_stream(self) -> str:
        return f"{self.prefix}_RAW"

    @property
    def raw_subject(self) -> str:
        return f"{self.prefix}.raw"

    @property
    def enriched_stream(self) -> str:
        return f"{self.prefix}_ENRICHED"

    @property
    def enriched_subject(self) -> str:
        return f"{self.prefix}.enriched"

    @property
    def events_stream(self) -> str:
        return f"{self.prefix}_EVENTS"

    @property
    def events_subjects(self) -> str:
        return f"{self.prefix}.events.>"

    def incident_subject(self, incident_id: str) -> str:
        return f"{self.prefix}.events.incident.{subject_token(incident_id)}"

    def is_incident(self, subject: str) -> bool:
        return subject.startswith(f"{self.prefix}.events.incident.")

    def triage_subject(self, mention_id: str) -> str:
        """A mention's latest triage action (the events stream keeps the last)."""
        return f"{self.prefix}.events.triage.{subject_token(mention_id)}"

    def briefing_subject(self, briefing_id: int) -> str:
        """A briefing's latest change: a hub that starts learns the running ones."""
        return f"{self.prefix}.events.briefing.{briefing_id}"

    @property
    def store_requests(self) -> str:
        """What the store writer answers: triage, briefings, search and history."""
        return f"{self.prefix}.store.*"

    def store_request(self, name: str) -> str:
        """The subject of one kind of request (``store.requests``' tags)."""
        return f"{self.prefix}.store.{name}"

    @property
    def workers(self) -> str:
        """The durable consumer every enrichment worker shares."""
        return f"{self.prefix}_enrichers"

    @property
    def store_writer(self) -> str:
        """The durable consumer of the enriched stream that writes the store."""
        return f"{self.prefix}_store"

    @property
    def store_events(self) -> str:
        """The store writer's durable consumer of the events."""
        return f"{self.prefix}_store_events"

    @property
    def leader_bucket(self) -> str:
        return f"{self.prefix}_leader"
