"""The hub's websocket protocol, version 1 (documented in docs/protocol.md).

Every message is one JSON object with a ``type`` field. Two conversations:

* ``/ingest`` (feed to hub): the feed says ``hello``, then sends ``batch`` messages;
  the hub answers each batch with one ``ack`` once it has taken it, or ``error``.
* ``/stream`` (hub to client): the hub says ``hello``, sends one ``snapshot``, then
  ``tick`` messages at a fixed rate, ``incident`` messages as incidents open, change
  and close, ``triage`` messages as people act on mentions, and ``briefing``
  messages as briefings (what the room is told to say) start, are withdrawn and end.
  A client that asked for ``mentions=all`` also gets ``mentions`` messages.

This module holds only data shapes and codecs: no sockets, no textual.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from groundcontrol.model import CATEGORIES, Mention, SourceId, SourceName

PROTOCOL_VERSION = 1

#: Largest websocket message the hub accepts on /ingest, in bytes.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Most mentions in one batch.
MAX_BATCH_MENTIONS = 5_000


# --------------------------------------------------------------------------- ingest


class FeedHello(msgspec.Struct, tag="hello", kw_only=True):
    """First message from a feed: who it is."""

    protocol: int
    name: Annotated[str, msgspec.Meta(max_length=64)] = ""
    source: str = ""
    demo: bool = False


Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


#: Seconds a batch waited in its feed: finite, from 0 to 10 years.
Queued = Annotated[float, msgspec.Meta(ge=0.0, le=10 * 365 * 86400.0)]


class Retraction(msgspec.Struct, kw_only=True, frozen=True):
    """A mention its author deleted at the source: the hub removes its copy."""

    source: SourceName
    source_id: SourceId


class Batch(msgspec.Struct, tag="batch", kw_only=True, omit_defaults=True):
    """A batch of mentions; ``seq`` increases per connection and is echoed in the ack."""

    seq: Seq
    mentions: Annotated[list[Mention], msgspec.Meta(max_length=MAX_BATCH_MENTIONS)]
    queued: Queued = 0.0
    """Seconds the batch waited in the feed before this send (the link was down, the
    hub away): the hub places it in time when the feed had it, not when it arrived,
    so a backlog delivered after an outage is not mistaken for a surge."""
    edits: Annotated[list[Mention], msgspec.Meta(max_length=MAX_BATCH_MENTIONS)] = msgspec.field(
        default_factory=list
    )
    """New versions of mentions the source says were edited: the hub replaces its
    copy's text and engagement (or stores it, if it never had it)."""
    deleted: Annotated[list[Retraction], msgspec.Meta(max_length=MAX_BATCH_MENTIONS)] = (
        msgspec.field(default_factory=list)
    )
    """Mentions deleted at the source: the hub deletes its copy."""


class RawBatch(msgspec.Struct, tag="batch", kw_only=True):
    """A batch whose items are still undecoded, to find which ones are bad."""

    seq: Seq
    mentions: list[msgspec.Raw]
    queued: Queued = 0.0


class FeedStatus(msgspec.Struct, tag="status", kw_only=True):
    """A feed's health report, sent now and then on /ingest."""

    connected: bool = True
    last_event_at: float = 0.0
    events_per_min: float = 0.0
    errors: int = 0
    detail: str = ""
    pending: int = 0
    """Batches sent or queued and not yet acknowledged."""
    spool_depth: int = 0
    """Unacknowledged batches in the feed's on-disk spool (0 without one)."""
    spool_bytes: int = 0
    """Bytes the spool takes on disk."""
    rate_limit_wait: float = 0.0
    """Seconds left in a wait the source imposed (a 429, an exhausted quota)."""


class DeadItem(msgspec.Struct, kw_only=True):
    """Something a feed got from its source and could not turn into a mention."""

    reason: Annotated[str, msgspec.Meta(max_length=1000)]
    payload: Annotated[str, msgspec.Meta(max_length=65_536)] = ""
    """The item as the source sent it (cut to 64 KiB by the feed)."""


class DeadItems(msgspec.Struct, tag="dead", kw_only=True):
    """Items a feed skipped, for the hub's dead letters. No reply."""

    items: Annotated[list[DeadItem], msgspec.Meta(max_length=1000)]


IngestMessage = FeedHello | Batch | FeedStatus | DeadItems


class Welcome(msgspec.Struct, tag="welcome", kw_only=True):
    """The hub's answer to a feed's hello."""

    protocol: int
    hub: str


class ItemError(msgspec.Struct, kw_only=True):
    """Why one mention of a batch was rejected."""

    index: int
    reason: str


class Ack(msgspec.Struct, tag="ack", kw_only=True):
    """A batch was taken: counts of new, duplicate and rejected mentions."""

    seq: int
    accepted: int
    duplicates: int
    rejected: int
    errors: list[ItemError] = msgspec.field(default_factory=list)


class ErrorReply(msgspec.Struct, tag="error", kw_only=True):
    """A message was refused as a whole; the connection stays open."""

    code: Literal["malformed", "oversized", "unknown_type", "invalid", "protocol", "binary"]
    message: str
    seq: int | None = None


# --------------------------------------------------------------------------- stream


class StreamHello(msgspec.Struct, tag="hello", kw_only=True):
    """First message to a client."""

    protocol: int
    hub: str
    demo: bool
    brands: list[str]
    tick_interval: float
    bucket_seconds: int
    window_seconds: int
    takeover_severity: str = "warning"
    """The least severity of a new incident that takes over a wall's screen ("info",
    "warning", "critical", or "off"): the hub's ``[spikes] takeover_severity``."""


class KeyCount(msgspec.Struct, kw_only=True):
    """A labelled count."""

    key: str
    count: int


class Volume(msgspec.Struct, kw_only=True):
    """How much is being said: totals and per-bucket series (oldest first)."""

    last_minute: int = 0
    window: int = 0
    """Mentions in the rolling window (``window_seconds``)."""
    per_minute: float = 0.0
    """Average mentions per minute over the window."""
    series: list[int] = msgspec.field(default_factory=list)
    by_source: dict[str, list[int]] = msgspec.field(default_factory=dict)


class SentimentView(msgspec.Struct, kw_only=True):
    """Sentiment over the window, with per-bucket trends (oldest first)."""

    positive: int = 0
    neutral: int = 0
    negative: int = 0
    net: float = 0.0
    """(positive - negative) / total, in [-1, 1]."""
    negative_share: float = 0.0
    series_net: list[float] = msgspec.field(default_factory=list)
    series_negative_share: list[float] = msgspec.field(default_factory=list)


class SourceStat(msgspec.Struct, kw_only=True):
    """One source over the window."""

    source: str
    count: int
    share: float
    net: float
    negative_share: float


class BrandStat(msgspec.Struct, kw_only=True):
    """One watched brand over the window."""

    brand: str
    count: int
    share_of_voice: float
    net: float
    negative_share: float
    series: list[int] = msgspec.field(default_factory=list)


class BrandTile(msgspec.Struct, kw_only=True):
    """One watched brand over the last 60 minutes, against the same 60 minutes a day
    and a week before, from the hub's store (refreshed once a minute)."""

    brand: str
    mentions_hour: int
    """Mentions of the brand in the last 60 minutes."""
    net: float
    """(positive - negative) / mentions over those 60 minutes, in [-1, 1] (0 if none)."""
    negative_share: float
    """Negative over the brand's mentions in those 60 minutes (0 if none)."""
    mentions_yesterday: int | None = None
    """Mentions in the same 60 minutes 24 hours before; None when the store does not
    reach back that far."""
    mentions_last_week: int | None = None
    """The same 7 days before."""
    vs_yesterday: float | None = None
    """(now - then) / then against 24 hours before: 0.35 is +35%; None without history
    that far back or with no mention then."""
    vs_last_week: float | None = None
    negative_share_yesterday: float | None = None
    negative_share_last_week: float | None = None
    competitor: bool = False
    """A competitor we benchmark against (false: one of our own brands, sent first)."""


class Topic(msgspec.Struct, kw_only=True):
    """A hot story: terms bursting together, led by ``term``, against the window before.

    ``count``, ``previous``, ``score``, ``trend`` and ``net`` are the lead term's;
    ``terms`` are the story's terms that burst with it (the lead first), ``label`` a
    readable name for the story ("#aerogate: battery, swelling").
    """

    term: str
    count: int
    previous: int
    score: float
    trend: Literal["new", "up", "flat", "down"]
    net: float = 0.0
    label: str = ""
    """Readable name of the story; empty from an older hub (show ``term``)."""
    terms: list[str] = msgspec.field(default_factory=list)
    """Every term grouped into this story, the lead first."""
    brand: str = ""
    """The watched brand most of the story's mentions name; empty if none or mixed."""


class Influencer(msgspec.Struct, kw_only=True):
    """An author who matters right now: reach, engagement and how much they talk of us."""

    author: str
    source: str
    reach: int
    """Followers or subscribers (the largest the window saw)."""
    mentions: int
    """Their mentions in the window."""
    engagement: int
    """Likes, reposts, replies and quotes their mentions in the window got."""
    net: float
    """(positive - negative) / mentions."""
    score: float
    """The rank: log reach, log engagement and log mentions, weighed together."""
    new: bool = False
    """A new voice: first seen in this window, not in the history before it."""
    brands: list[str] = msgspec.field(default_factory=list)


class ReviewItem(msgspec.Struct, kw_only=True):
    """A mention the triage rules were unsure about, waiting for a person."""

    id: str
    source: str
    author: str
    text: str
    category: str
    """The rules' best guess ("" when no rule matched)."""
    confidence: float
    at: float
    """Hub clock when it arrived."""
    url: str = ""
    status: str = "new"
    """Where people are with it (a :data:`TriageStatus`): "new" until someone acts."""
    assignee: str = ""
    """Who owns it ("" for nobody)."""


class FlaggedPost(msgspec.Struct, kw_only=True):
    """A post from one of the company's own accounts that compliance should see."""

    id: str
    source: str
    author: str
    text: str
    flags: list[str]
    at: float
    """Hub clock when it arrived."""
    url: str = ""


class TriageView(msgspec.Struct, kw_only=True):
    """Triage over the window: categories, the review queue, compliance flags."""

    categories: list[KeyCount] = msgspec.field(default_factory=list)
    """Mentions per category in the window, in the order of the categories."""
    review: int = 0
    """Mentions in the window the rules sent to review."""
    pending: int = -1
    """The store's review queue: flagged for review, not resolved or ignored (-1: unknown)."""
    queue: list[ReviewItem] = msgspec.field(default_factory=list)
    """The newest mentions waiting for review, newest first."""
    flagged: int = 0
    """Compliance-flagged posts in the window."""
    flags: list[FlaggedPost] = msgspec.field(default_factory=list)
    """The newest compliance-flagged posts, newest first."""


Severity = Literal["info", "warning", "critical"]
IncidentKind = Literal["negative", "positive", "neutral"]
"""A negative surge (the problem a command center exists for), a positive surge (a
launch, praise) or plain volume."""
IncidentStatus = Literal["open", "acknowledged", "snoozed", "resolved"]
SignalKind = Literal["volume", "negative", "topic", "source"]
IncidentChange = Literal[
    "opened", "updated", "escalated", "acknowledged", "snoozed", "reopened", "resolved"
]

#: Severities from least to most urgent, for comparisons.
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class Signal(msgspec.Struct, kw_only=True):
    """One series an incident gathers, with its own numbers.

    Rates are mentions per minute. For a ``negative`` signal, ``value``, ``baseline``
    and ``peak`` are negative mentions per minute and ``share`` and
    ``baseline_share`` the negative share of the series' mentions.
    """

    series: str
    """What moved: "brand:<name>", "negative:brand:<name>", "topic:<term>",
    "source:<name>" or "total"."""
    label: str
    """What a person calls it: "Northwind", "Northwind negative", "#aerogate", "x"."""
    kind: SignalKind
    started_at: float
    value: float
    """The latest rate."""
    baseline: float
    """The series' usual rate."""
    peak: float
    """The highest rate since the signal started."""
    active: bool = True
    """Still above its usual level."""
    ended_at: float | None = None
    share: float | None = None
    baseline_share: float | None = None


class IncidentAction(msgspec.Struct, kw_only=True):
    """One step in an incident's history: who did what, and when."""

    action: IncidentChange
    at: float
    by: str = ""
    """The person (their token's name), or "" for the hub itself."""
    detail: str = ""


class Incident(msgspec.Struct, kw_only=True):
    """One story: a burst on a brand and every signal that shares its mentions.

    It opens on a series onset (a brand's volume or its negative mentions beating their
    own recent extremes), gathers the brand's topics, sources and negative share as they
    move, and ends when all of them are back to normal. People acknowledge, snooze and
    resolve it; ``history`` keeps who did what and when.
    """

    id: str
    title: str
    """A line that says what happened: "Northwind negative surge: #aerogate, battery"."""
    brand: str
    """The brand the incident is about ("" for the total volume)."""
    kind: IncidentKind
    severity: Severity
    status: IncidentStatus
    started_at: float
    updated_at: float
    ended_at: float | None = None
    """When every signal was back to normal (None while any is still up)."""
    score: float = 0.0
    """The onset's anomaly score (0-1)."""
    ratio: float = 1.0
    """The peak rate against the usual one, over the incident's volume signals."""
    mentions: int = 0
    """Mentions of the lead series since the incident started."""
    negative_share: float = 0.0
    """Share of negative mentions in the surge..."""
    positive_share: float = 0.0
    baseline_negative_share: float = 0.0
    """... and the usual negative share of the brand."""
    signals: list[Signal] = msgspec.field(default_factory=list)
    top_terms: list[str] = msgspec.field(default_factory=list)
    top_sources: list[str] = msgspec.field(default_factory=list)
    top_authors: list[str] = msgspec.field(default_factory=list)
    examples: list[str] = msgspec.field(default_factory=list)
    acked_by: str = ""
    acked_at: float | None = None
    snoozed_until: float | None = None
    resolved_by: str = ""
    """Who resolved it; "" with ``status == "resolved"`` means it ended by itself."""
    resolved_at: float | None = None
    history: list[IncidentAction] = msgspec.field(default_factory=list)
    """The newest steps of its life, oldest first (bounded)."""


class RiverItem(msgspec.Struct, kw_only=True):
    """One mention as the live river shows it (text cut to fit)."""

    id: str
    source: str
    author: str
    reach: int
    text: str
    lang: str
    sentiment: float
    label: str
    brands: list[str]
    created_at: float
    url: str = ""


class FeedInfo(msgspec.Struct, kw_only=True):
    """A feed connected to the hub, as the hub sees it."""

    name: str
    source: str
    demo: bool
    connected: bool
    last_seen: float
    events_per_min: float
    errors: int
    spool_depth: int = 0
    """Unacked batches the feed reports in its disk spool (its backlog)."""
    lag_seconds: float = 0.0
    """How far behind real time the feed's newest mention was when it arrived."""
    rate_limit_wait: float = 0.0
    """Seconds left in a wait the feed's source imposed."""
    detail: str = ""
    """The feed's own last word on its health (an error, a wait)."""
    last_event_at: float = 0.0
    """When the feed last heard from its source (unix seconds; 0: never or unknown)."""
    down_since: float = 0.0
    """When the feed went away, for one that is not connected (0: never connected)."""


class Tick(msgspec.Struct, tag="tick", kw_only=True):
    """Everything a wall shows, bounded in size whatever the event rate."""

    seq: int
    at: float
    """Hub clock, unix seconds."""
    demo: bool
    bucket_seconds: int
    window_seconds: int
    ingested_total: int
    """Mentions taken since the hub started; a client can match its own sends to it."""
    rate_per_s: float
    volume: Volume
    sentiment: SentimentView
    sources: list[SourceStat]
    languages: list[KeyCount]
    brands: list[BrandStat]
    topics: list[Topic]
    incidents: list[Incident]
    """Incidents not yet resolved and those resolved recently, most urgent first."""
    river: list[RiverItem]
    """Newest mentions since the previous tick, sampled and capped."""
    feeds: list[FeedInfo] = msgspec.field(default_factory=list)
    rejected_total: int = 0
    duplicates_total: int = 0
    influencers: list[Influencer] = msgspec.field(default_factory=list)
    """Top authors over the window, best first."""
    triage: TriageView = msgspec.field(default_factory=TriageView)
    brand_tiles: list[BrandTile] = msgspec.field(default_factory=list)
    """No longer filled: the tiles come in :class:`TilesEvent` when they change. Kept
    (empty) so a client that still reads it finds the field."""


BriefingSeverity = Literal["info", "warning"]
BriefingChange = Literal["started", "withdrawn", "expired"]
#: A briefing's text: 1 to this many characters, no control characters.
MAX_BRIEFING_CHARS = 280
#: How long a briefing may run, in seconds: a minute to a week.
MIN_BRIEFING_SECONDS = 60.0
MAX_BRIEFING_SECONDS = 7 * 86400.0


class Briefing(msgspec.Struct, kw_only=True):
    """What the room is told to say: a banner on every wall from ``created_at`` until
    ``until`` (hub clock), or until someone withdraws it."""

    id: int
    text: str
    severity: BriefingSeverity = "info"
    by: str = ""
    """Who gave it (their token's name)."""
    created_at: float = 0.0
    until: float = 0.0
    withdrawn_at: float | None = None
    withdrawn_by: str = ""

    def active(self, now: float) -> bool:
        """On the walls at ``now`` (hub clock): not withdrawn, not over."""
        return self.withdrawn_at is None and now < self.until


def briefing_problem(text: str, seconds: float, severity: str) -> str:
    """Why a briefing cannot be given as asked ("" when it can): the hub and
    ``groundcontrol brief`` give the same one-line reasons."""
    if not text.strip():
        return "the text is empty"
    if len(text) > MAX_BRIEFING_CHARS:
        return f"the text has {len(text)} characters, at most {MAX_BRIEFING_CHARS}"
    if re.search(r"[\x00-\x1f\x7f]", text):
        return "the text holds control characters (a newline or a tab too: one line only)"
    if not (MIN_BRIEFING_SECONDS <= seconds <= MAX_BRIEFING_SECONDS):
        return f"it must run from 1 minute to 7 days, not {seconds:g} s"
    if severity not in ("info", "warning"):
        return f'no severity "{severity[:40]}": use info or warning'
    return ""


class BriefingEvent(msgspec.Struct, tag="briefing", kw_only=True):
    """A briefing started, was withdrawn, or ran out."""

    change: BriefingChange
    briefing: Briefing


class Snapshot(msgspec.Struct, tag="snapshot", kw_only=True):
    """The full current state, sent once on connect: the latest tick plus history."""

    tick: Tick
    briefings: list[Briefing] = msgspec.field(default_factory=list)
    """The briefings on the walls now, oldest first."""


class IncidentEvent(msgspec.Struct, tag="incident", kw_only=True):
    """An incident opened, changed (new numbers or signals, a higher severity), was
    acknowledged, snoozed, reopened or resolved."""

    change: IncidentChange
    incident: Incident


class TilesEvent(msgspec.Struct, tag="tiles", kw_only=True):
    """Every watched brand's tile, ours first: sent to a client when it connects (after
    the snapshot) and again only when a tile changes, since they change about once a
    minute and ticks come several times a second."""

    tiles: list[BrandTile]
    """Per watched brand, the last 60 minutes against a day and a week before (from the
    store; empty from a hub without a store, and until its first read)."""


class MentionsEvent(msgspec.Struct, tag="mentions", kw_only=True):
    """Enriched mentions, for clients that asked for all of them (``tail``)."""

    mentions: list[Mention]


# --------------------------------------------------------------------------- triage

#: What a person may do with a mention (POST /triage), in the order people meet them.
TRIAGE_ACTIONS = ("claim", "assign", "label", "escalate", "resolve", "ignore", "note")
TriageActionName = Literal["claim", "assign", "label", "escalate", "resolve", "ignore", "note"]
TriageStatus = Literal["new", "claimed", "escalated", "resolved", "ignored"]
#: Statuses that take a mention out of the review queue.
CLOSED_STATUSES = ("resolved", "ignored")


class TriageAction(msgspec.Struct, kw_only=True):
    """One thing a person did with a mention, as the store keeps it."""

    action: str
    """A :data:`TriageActionName` (an older store may hold others: the fold skips them)."""
    label: str = ""
    """For ``label``: the class the person chose."""
    assignee: str = ""
    """For ``assign`` and ``claim``: who owns the mention now."""
    note: str = ""
    actor: str = ""
    """Who did it: their token's name."""
    at: float = 0.0
    """Hub clock, unix seconds."""
    id: int = 0
    """The action's number in the store (0 when unknown)."""


class TriageState(msgspec.Struct, kw_only=True):
    """Where a mention stands: the fold of its rules class and its actions (:func:`fold_triage`)."""

    mention_id: str
    status: TriageStatus = "new"
    assignee: str = ""
    """Who owns it ("" for nobody)."""
    category: str = ""
    """Its class: the rules' guess until a person labels it."""
    category_by: Literal["rules", "person"] = "rules"
    first_response_at: float | None = None
    """When a person first acted on it (None: nobody yet)."""
    updated_at: float = 0.0
    """When its last action was taken (its arrival when there is none)."""


def fold_triage(
    mention_id: str,
    category: str,
    actions: list[TriageAction],
    *,
    received_at: float = 0.0,
) -> TriageState:
    """A mention's state from its rules class and its actions, oldest first.

    ``claim`` and ``assign`` give it an owner and make it "claimed" (an escalated one
    stays "escalated", now with an owner); ``escalate`` makes it "escalated";
    ``resolve`` and ``ignore`` close it. A claim, assign or escalate after it was
    closed opens it again; a ``label`` (the person's class, which replaces the rules')
    or a ``note`` changes no status. Any action is a response: the first one's time is
    ``first_response_at``. Unknown actions are skipped.
    """
    state = TriageState(mention_id=mention_id, category=category, updated_at=received_at)
    for a in actions:
        kind = a.action
        if kind not in TRIAGE_ACTIONS:
            continue
        if state.first_response_at is None:
            state.first_response_at = a.at
        state.updated_at = a.at
        if kind in ("claim", "assign"):
            state.assignee = a.assignee or (a.actor if kind == "claim" else "")
            state.status = "escalated" if state.status == "escalated" else "claimed"
        elif kind == "escalate":
            state.status = "escalated"
        elif kind == "resolve":
            state.status = "resolved"
        elif kind == "ignore":
            state.status = "ignored"
        elif kind == "label" and a.label:
            state.category = a.label
            state.category_by = "person"
    return state


def triage_problem(action: str, *, label: str = "", assignee: str = "", note: str = "") -> str:
    """Why a triage action cannot be recorded as given ("" when it can): the hub and
    ``groundcontrol triage`` give the same one-line reasons."""
    classes = ", ".join(CATEGORIES)
    if action not in TRIAGE_ACTIONS:
        return f'no action "{action}": use one of {", ".join(TRIAGE_ACTIONS)}'
    if action == "label":
        if not label.strip():
            return f"label needs a label, one of {classes}"
        if label not in CATEGORIES:
            return f'no class "{label}": the classes are {classes}'
    elif label:
        return "a label goes with the label action only"
    if action == "assign" and not assignee.strip():
        return "assign needs an assignee: who should own it"
    if action != "assign" and assignee:
        what = "claim takes it for you; " if action == "claim" else ""
        return f"an assignee goes with the assign action only ({what}use assign to name someone)"
    if action == "note" and not note.strip():
        return "note needs a note: the text to keep"
    return ""


class TriageEvent(msgspec.Struct, tag="triage", kw_only=True):
    """A person acted on a mention: what they did, where it stands now, and how many
    mentions wait in the review queue after it (-1: unknown)."""

    mention_id: str
    action: TriageAction
    state: TriageState
    pending: int = -1


class TriageQueueItem(msgspec.Struct, kw_only=True):
    """One mention of GET /triage/queue."""

    mention: Mention
    state: TriageState
    waiting_seconds: float
    """From its arrival to its first response, or to now while nobody has responded."""
    breached: bool
    """Waited longer than the response target ([triage] response_target)."""


class TriageQueue(msgspec.Struct, kw_only=True):
    """The body of GET /triage/queue; ``pending`` and ``breached`` count the whole queue."""

    pending: int
    breached: int
    target_seconds: float
    items: list[TriageQueueItem]


# --------------------------------------------------------------------------- search, history


class SearchPage(msgspec.Struct, kw_only=True):
    """The body of GET /mentions: one page, newest first; ``next`` fetches the one after
    (a page may be short, even empty, and still have a next: each page's work is
    bounded)."""

    query: str = ""
    """The search as the hub read it (canonical)."""
    since: float | None = None
    until: float | None = None
    items: list[Mention] = msgspec.field(default_factory=list)
    next: str | None = None
    scanned: int = 0
    """Candidates the hub checked for this page."""
    took_ms: float = 0.0


class HistoryRow(msgspec.Struct, kw_only=True, frozen=True):
    """One brand in one bucket of GET /history."""

    at: float
    """The bucket's start (unix seconds, UTC; weeks start on Mondays)."""
    brand: str
    mentions: int = 0
    negative: int = 0
    share_of_voice: float = 0.0
    """The brand's mentions over all the listed brands' mentions in the bucket (0 if none)."""
    negative_share: float = 0.0
    """Negative mentions over the brand's mentions (0 if none)."""


class History(msgspec.Struct, kw_only=True):
    """The body of GET /history: share of voice and negative share per brand and bucket."""

    by: str = "day"
    """The bucket: "hour", "day" or "week"."""
    since: float | None = None
    until: float | None = None
    brands: list[str] = msgspec.field(default_factory=list)
    rows: list[HistoryRow] = msgspec.field(default_factory=list)


class TriageReceipt(msgspec.Struct, kw_only=True):
    """The answer to POST /triage: the action's number, who did it, when, and the state."""

    id: int
    actor: str
    at: float
    state: TriageState


class MentionCopy(msgspec.Struct, kw_only=True):
    """A mention that copies another one (``copy_of``), in GET /mentions/ID."""

    id: str
    source: str
    author: str
    at: float
    """Hub clock when it arrived."""
    url: str = ""


class MentionDetail(msgspec.Struct, kw_only=True):
    """The body of GET /mentions/ID."""

    mention: Mention
    state: TriageState
    history: list[TriageAction]
    """Every triage action, oldest first."""
    copies: list[MentionCopy]
    """The newest copies of it (at most 50)..."""
    copies_total: int
    """... and how many there are."""
    original: Mention | None = None
    """The mention this one copies, when it is a copy (and still stored)."""


#: The HTTP header by which a relay (a token the hub trusts to act for people: the SSH
#: server's, the web server's) names the person a request is from; ``[auth] relays``.
ACTOR_HEADER = "X-Groundcontrol-Actor"
#: Longest name a token or a relayed person may have.
MAX_NAME_LENGTH = 100


def name_problem(name: str) -> str:
    """Why ``name`` cannot name a token or a person ("" if it can): printable text,
    no spaces, at most :data:`MAX_NAME_LENGTH` characters."""
    if not name or not name.isprintable() or any(c.isspace() for c in name):
        return "a name must be printable text without spaces"
    if len(name) > MAX_NAME_LENGTH:
        return f"a name may have at most {MAX_NAME_LENGTH} characters, not {len(name)}"
    return ""


class Whoami(msgspec.Struct, kw_only=True):
    """The body of GET /whoami: the name the hub records for the caller (the person a
    relay acts for, else the token's name) and the token's role."""

    name: str
    role: str


StreamMessage = (
    StreamHello
    | Snapshot
    | Tick
    | IncidentEvent
    | MentionsEvent
    | TriageEvent
    | BriefingEvent
    | TilesEvent
)
HubToFeed = Welcome | Ack | ErrorReply

_encoder = msgspec.json.Encoder()
_stream_decoder = msgspec.json.Decoder(StreamMessage)
_ingest_decoder = msgspec.json.Decoder(IngestMessage)
_feed_reply_decoder = msgspec.json.Decoder(HubToFeed)


def encode(message: msgspec.Struct) -> bytes:
    """JSON-encode any protocol message."""
    return _encoder.encode(message)


def decode_stream(data: bytes | str) -> StreamMessage:
    """Decode a hub-to-client message; raises msgspec.DecodeError / ValidationError."""
    message: StreamMessage = _stream_decoder.decode(data)
    return message


def decode_ingest(data: bytes | str) -> IngestMessage:
    """Decode a feed-to-hub message; raises msgspec.DecodeError / ValidationError."""
    message: IngestMessage = _ingest_decoder.decode(data)
    return message


def decode_feed_reply(data: bytes | str) -> HubToFeed:
    """Decode a hub-to-feed message."""
    message: HubToFeed = _feed_reply_decoder.decode(data)
    return message


def empty_tick(*, demo: bool = False, at: float = 0.0) -> Tick:
    """A tick with nothing in it, for a hub that has seen no mention yet."""
    return Tick(
        seq=0,
        at=at,
        demo=demo,
        bucket_seconds=10,
        window_seconds=300,
        ingested_total=0,
        rate_per_s=0.0,
        volume=Volume(),
        sentiment=SentimentView(),
        sources=[],
        languages=[],
        brands=[],
        topics=[],
        incidents=[],
        river=[],
    )
