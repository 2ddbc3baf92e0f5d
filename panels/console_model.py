"""The analyst console's words and rules, without a screen: pure and tested alone.

* The views and how each is reached (``:name``, a number key, the palette).
* Time ranges as analysts type them: ``15m``, ``2h``, ``7d``, ``all``, or
  ``from..to`` with ISO dates and times (either side may be empty: "until now",
  "since ever"); :func:`parse_range` reads them, :func:`range_text` writes them back.
* Drill-downs: the search behind an incident, one of its signals, a topic, a source, a
  brand or an author, written in the search syntax (the query language plus field
  qualifiers such as ``brand:`` and ``author:``) so the analyst sees, and can edit,
  exactly what was asked.
* The triage book: the newest known state of each mention, folded from the hub's
  answers and from every console's ``triage`` stream messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from groundcontrol.config import DURATION_UNITS
from groundcontrol.protocol import Incident, Influencer, Signal, SourceStat, Topic, TriageState
from panels.format import MOOD_GLYPH, duration

# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class View:
    """One view of the console."""

    name: str
    """What ``:`` and the palette call it."""
    key: str
    """The number key that shows it."""
    short: str
    """Its name on a narrow tab bar."""
    about: str
    """One line for the palette and ``?``."""


VIEWS: tuple[View, ...] = (
    View("incidents", "1", "inc", "open and recent incidents, live from the stream"),
    View("topics", "2", "top", "hot topics and stories over the window"),
    View("sources", "3", "src", "mentions per source over the window"),
    View("brands", "4", "brd", "share of voice and sentiment per brand"),
    View("authors", "5", "auth", "influencers: who matters right now"),
    View("queue", "6", "queue", "the triage queue: what waits, for how long, for whom"),
    View("search", "7", "srch", "search stored mentions"),
    View("history", "8", "hist", "share of voice and negative share over time"),
    View("detail", "9", "det", "one mention in full, with its triage history"),
)
VIEW_NAMES: tuple[str, ...] = tuple(v.name for v in VIEWS)
#: Other names ``:`` takes (k9s users type these).
VIEW_ALIASES: dict[str, str] = {
    "inc": "incidents",
    "incident": "incidents",
    "topic": "topics",
    "src": "sources",
    "source": "sources",
    "brand": "brands",
    "author": "authors",
    "influencers": "authors",
    "q": "queue",
    "triage": "queue",
    "mentions": "search",
    "hist": "history",
    "mention": "detail",
}


#: How far before an incident's start its drill-down looks: the detector's longest
#: scale (15 minutes), over which the burst that opened it built up.
INCIDENT_LEAD_SECONDS = 15 * 60.0


def view_named(text: str) -> View | None:
    """The view a ``:`` command names: its name, an alias, or a unique prefix."""
    name = text.strip().lower().lstrip(":")
    if not name:
        return None
    name = VIEW_ALIASES.get(name, name)
    exact = [v for v in VIEWS if v.name == name]
    if exact:
        return exact[0]
    # A prefix of one view's name or alias ("infl" for authors, via influencers).
    words = {v.name: v.name for v in VIEWS} | VIEW_ALIASES
    found = {view for word, view in words.items() if word.startswith(name)}
    if len(found) != 1:
        return None
    (only,) = found
    return next(v for v in VIEWS if v.name == only)


# --------------------------------------------------------------------------- time ranges

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class TimeRange:
    """A search's time range: unix seconds, None for open ends."""

    since: float | None = None
    until: float | None = None
    text: str = ""
    """The range as typed (or as :func:`range_text` wrote it)."""


def _moment(text: str, tz: tzinfo | None, *, end: bool) -> float:
    text = text.strip()
    if text.lower() == "now":
        return datetime.now(tz).timestamp()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time (try 2026-11-22 or 2026-11-22T10:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()
    if end and _DATE.match(text):
        # "..2026-11-22" means up to the end of that day.
        moment += timedelta(days=1)
    return moment.timestamp()


def parse_range(text: str, now: float, tz: tzinfo | None = None) -> TimeRange:
    """Read a time range: ``15m``, ``2h``, ``7d``, ``2w`` (that long until now),
    ``all`` or nothing (no bounds), or ``from..to`` (ISO dates or times in ``tz``;
    an empty side is open, ``now`` is now). ValueError with a reason otherwise."""
    raw = text.strip()
    lowered = raw.lower()
    if lowered in ("", "all"):
        return TimeRange(text=raw)
    if ".." in raw:
        left, _, right = raw.partition("..")
        since = _moment(left, tz, end=False) if left.strip() else None
        until = _moment(right, tz, end=True) if right.strip() else None
        if since is not None and until is not None and since >= until:
            raise ValueError(f"the range {raw!r} ends before it starts")
        return TimeRange(since, until, raw)
    match = _RELATIVE.match(lowered)
    if match is None:
        raise ValueError(
            f"{raw!r} is not a time range: use 15m, 2h, 7d, all, or from..to "
            "(2026-11-20..2026-11-22T12:00)"
        )
    seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{raw!r}: a range must last more than 0 s")
    return TimeRange(now - seconds, None, raw)


def iso_minute(at: float, tz: tzinfo | None) -> str:
    """A moment as the range syntax writes it: ``2026-11-22T10:03:00``."""
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%dT%H:%M:%S")


def range_text(since: float | None, until: float | None, tz: tzinfo | None) -> str:
    """The ``from..to`` text for a range (``parse_range`` reads it back)."""
    if since is None and until is None:
        return "all"
    left = iso_minute(since, tz) if since is not None else ""
    right = iso_minute(until, tz) if until is not None else ""
    return f"{left}..{right}"


def window_text(seconds: float) -> str:
    """A window length as a relative range: 300 -> "5m", 7200 -> "2h"."""
    s = max(1, round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


# --------------------------------------------------------------------------- drill-downs

_BARE = re.compile(r"^[\w.@#+-]+$")


def quoted(value: str) -> str:
    """A qualifier's value, quoted when it holds anything but word characters."""
    if value and _BARE.match(value) and not value.startswith("-"):
        return value
    return '"' + value.replace('"', "") + '"'


def term_query(term: str) -> str:
    """A topic's term in the query language: a hashtag or word as is, else a phrase."""
    return quoted(term)


@dataclass(frozen=True)
class Drill:
    """A search a drill-down opens: the query, its range, and what it came from."""

    query: str
    range: str
    """A time range in :func:`parse_range`'s syntax."""
    origin: str
    """What was drilled into, for the search view's title ("incident ...")."""


#: Most of an incident's terms a drill-down names.
INCIDENT_TERMS = 3


def incident_drill(incident: Incident, tz: tzinfo | None) -> Drill:
    """The mentions behind an incident: its brand, and any of its story's terms (its
    topic signals first, then its top terms), over its time. With no terms, all of
    the brand's mentions over that time."""
    parts = [f"brand:{quoted(incident.brand)}"] if incident.brand else []
    terms: list[str] = []
    for signal in incident.signals:
        if signal.kind == "topic":
            terms.append(signal.label or signal.series.removeprefix("topic:"))
    terms.extend(incident.top_terms)
    chosen: list[str] = []
    for term in terms:
        if term and term.lower() not in {t.lower() for t in chosen}:
            chosen.append(term)
        if len(chosen) == INCIDENT_TERMS:
            break
    if len(chosen) == 1:
        parts.append(term_query(chosen[0]))
    elif chosen:
        parts.append("(" + " OR ".join(term_query(t) for t in chosen) + ")")
    # The burst that opened the incident built up over the detector's longest scale
    # before it was seen: its mentions start up to that long before the incident.
    since = incident.started_at - INCIDENT_LEAD_SECONDS
    until = incident.ended_at
    return Drill(" ".join(parts), range_text(since, until, tz), f"incident {incident.title}")


def signal_drill(signal: Signal, incident: Incident, tz: tzinfo | None) -> Drill:
    """The mentions behind one signal of an incident."""
    brand = [f"brand:{quoted(incident.brand)}"] if incident.brand else []
    series = signal.series
    if signal.kind == "negative":
        parts = [*brand, "sentiment:negative"]
    elif signal.kind == "topic":
        parts = [*brand, term_query(signal.label or series.removeprefix("topic:"))]
    elif signal.kind == "source":
        parts = [*brand, f"source:{quoted(series.removeprefix('source:') or signal.label)}"]
    elif series.startswith("brand:"):
        parts = [f"brand:{quoted(series.removeprefix('brand:'))}"]
    else:
        parts = brand
    return Drill(
        " ".join(parts),
        range_text(signal.started_at, signal.ended_at, tz),
        f"signal {signal.label}",
    )


def topic_drill(topic: Topic, window_seconds: float) -> Drill:
    """The mentions that carry a hot topic over the window."""
    parts = [f"brand:{quoted(topic.brand)}"] if topic.brand else []
    parts.append(term_query(topic.term))
    return Drill(" ".join(parts), window_text(window_seconds), f"topic {topic.label or topic.term}")


def source_drill(source: SourceStat, window_seconds: float) -> Drill:
    return Drill(
        f"source:{quoted(source.source)}", window_text(window_seconds), f"source {source.source}"
    )


def brand_drill(brand: str, window_seconds: float) -> Drill:
    return Drill(f"brand:{quoted(brand)}", window_text(window_seconds), f"brand {brand}")


def author_drill(author: Influencer, window_seconds: float) -> Drill:
    """An author's mentions (always quoted: handles hold dots and colons)."""
    name = author.author.replace('"', "")
    query = f'author:"{name}"' + (f" source:{quoted(author.source)}" if author.source else "")
    return Drill(query, window_text(window_seconds), f"author {author.author}")


# --------------------------------------------------------------------------- triage

#: Triage statuses as the console shows them: a word, never a colour alone.
STATUS_WORD = {
    "new": "NEW",
    "claimed": "CLAIMED",
    "escalated": "ESCALATED",
    "resolved": "RESOLVED",
    "ignored": "IGNORED",
}


def _fresher(a: TriageState, b: TriageState) -> bool:
    """True when ``a`` is at least as new as ``b``."""
    return a.updated_at >= b.updated_at


class TriageBook:
    """The newest known triage state per mention: from the hub's answers to this
    console's actions and from the ``triage`` messages of every console's."""

    def __init__(self, cap: int = 10_000) -> None:
        self._states: dict[str, TriageState] = {}
        self.cap = cap
        self.version = 0
        """Bumped on every change, so views redraw only then."""
        self.pending: int | None = None
        """The queue's length as the hub last said it (None: not yet known)."""
        self.breached = 0
        """How many in the queue waited past the response target, as the hub last said."""

    def get(self, mention_id: str) -> TriageState | None:
        return self._states.get(mention_id)

    def take(self, state: TriageState | None) -> bool:
        """Keep ``state`` unless an even newer one is known; True if it changed."""
        if state is None:
            return False
        known = self._states.get(state.mention_id)
        if known is not None and (known == state or not _fresher(state, known)):
            return False
        self._states.pop(state.mention_id, None)
        self._states[state.mention_id] = state
        while len(self._states) > self.cap:
            del self._states[next(iter(self._states))]
        self.version += 1
        return True

    def take_all(self, states: Iterable[TriageState | None]) -> None:
        for state in states:
            self.take(state)

    def state_of(self, mention_id: str, given: TriageState | None) -> TriageState | None:
        """The newer of what a page of results said and what the book knows."""
        known = self._states.get(mention_id)
        if given is None:
            return known
        if known is None or not _fresher(known, given):
            return given
        return known


def short_duration(seconds: float) -> str:
    """A duration without zero tails: "42s", "3m12s", "30m", "2h", "1h05m", "2d"."""
    text = duration(seconds)
    for tail in ("00s", "00m", "00h"):
        if text.endswith(tail) and len(text) > len(tail):
            return text.removesuffix(tail)
    return text


def response_clock(waiting: float, target: float) -> str:
    """How long a mention has waited against the target: "12m05s / 30m"."""
    if target <= 0:
        return short_duration(waiting)
    return f"{short_duration(waiting)} / {short_duration(target)}"


def sentiment_glyph(label: str) -> str:
    """⊕ ⊙ ⊖ for a mention's sentiment label (as the wall draws moods)."""
    return MOOD_GLYPH.get(label, MOOD_GLYPH["neutral"])
