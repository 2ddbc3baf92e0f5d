"""The Mention: one post, comment or article that talks about a brand we watch.

Feeds fill the source fields; the hub fills the enriched ones (language when the
source did not say, sentiment, matched brands and queries, terms). Mentions are
msgspec structs so that decoding and validating a batch off the wire is one C call.
They are declared ``gc=False``: they hold only strings, numbers and lists of strings,
so they cannot form reference cycles, and leaving millions of them out of the cyclic
garbage collector's passes keeps the hub's ingest path from stalling in GC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

#: Largest text the hub keeps for one mention; longer texts are rejected, not cut.
MAX_TEXT_CHARS = 20_000
MAX_SHORT_CHARS = 512
MAX_URL_CHARS = 2048

SentimentLabel = Literal["positive", "neutral", "negative", ""]

#: What a mention can be triaged as (``Mention.category``), in display order.
CATEGORIES = ("support", "sales", "product_problem", "praise", "compliance_risk", "other")

SourceName = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$")]
SourceId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SHORT_CHARS)]
ShortText = Annotated[str, msgspec.Meta(max_length=MAX_SHORT_CHARS)]
Url = Annotated[str, msgspec.Meta(max_length=MAX_URL_CHARS)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
LangCode = Annotated[str, msgspec.Meta(pattern=r"^([a-z]{2,3})?$")]
Count = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class Engagement(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """How many people interacted with a mention, as the source counted them."""

    likes: Count = 0
    reposts: Count = 0
    replies: Count = 0
    quotes: Count = 0

    @property
    def total(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes


class Mention(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One mention of a watched brand, as the feed saw it plus what the hub added."""

    source: SourceName
    """Where it was said: bluesky, mastodon, reddit, hackernews, news, x, demo..."""
    source_id: SourceId
    """The source's own id for it; (source, source_id) is the dedupe key."""
    text: Text
    """Plain text (feeds strip HTML)."""
    created_at: AwareDatetime
    """When the author posted it, timezone-aware; normalised to UTC by the hub."""
    url: Url = ""
    author: ShortText = ""
    """The author's handle on that source."""
    author_reach: Count = 0
    """Followers or subscribers of the author, 0 when unknown."""
    lang: LangCode = ""
    """ISO 639-1 code; empty when the source did not say (the hub detects it)."""
    engagement: Engagement = msgspec.field(default_factory=Engagement)

    # Enriched by the hub. Feeds leave these empty.
    id: str = ""
    """Stable id, "<source>:<source_id>", set by the hub."""
    sentiment: float = 0.0
    """Sentiment score in [-1, 1]."""
    sentiment_label: SentimentLabel = ""
    brands: list[str] = msgspec.field(default_factory=list)
    queries: list[str] = msgspec.field(default_factory=list)
    terms: list[str] = msgspec.field(default_factory=list)
    """Hashtags (with '#') and salient words, lower case, in order of appearance."""
    received_at: float = 0.0
    """Hub clock (unix seconds) when the hub accepted it."""
    category: str = ""
    """Triage class: support, sales, product_problem, praise, compliance_risk, other."""
    category_confidence: float = 0.0
    """How sure the triage rules are, 0 to 1."""
    needs_review: bool = False
    """Classified with too little confidence (or flagged): a person should look."""
    flags: list[str] = msgspec.field(default_factory=list)
    """Compliance flags ("posted during a quiet period"...), for the company's own posts."""
    copy_of: str = ""
    """For a retweet, a quote or a near-duplicate copy: the id of the first mention the
    hub saw with that text (or, for a quote, of the quoted post). Empty for originals."""

    @property
    def key(self) -> str:
        """The stable id, whether or not the hub has set ``id`` yet."""
        return f"{self.source}:{self.source_id}"


def utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; naive datetimes are taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def label_for(score: float, threshold: float = 0.05) -> SentimentLabel:
    """VADER's convention: compound >= 0.05 positive, <= -0.05 negative."""
    if score >= threshold:
        return "positive"
    if score <= -threshold:
        return "negative"
    return "neutral"
