"""Incidents, not alarms: one story, one incident, built from the series' bursts.

The analytics watch many series per bucket: the total volume, each brand's volume and
its negative mentions, each source, and the hottest stories' lead terms. Each has a
:class:`~groundcontrol.signals.detector.BurstDetector`. A burst that counts (a score of at
least ``alert_score`` and at least ``min_rate`` mentions a minute) becomes part of an
incident here:

* **Opening.** Only a brand's volume or its negative mentions open an incident (the
  total volume does when no brand is configured). An incident is about a brand.
* **Gathering.** A burst on a topic, a source or the total volume joins the open
  incident whose brand most of its mentions name (at least :data:`JOIN_SHARE`); one
  that no incident claims opens nothing: a source catching up after an outage or a
  hot word is not a story on its own. A new burst on a brand whose incident is open,
  or ended less than ``regroup_seconds`` ago, belongs to that incident (reopening it).
  Each signal keeps its own numbers.
* **Kind and severity.** The mentions of the brand since the incident started, less
  what the brand would have had anyway, say whether the surge is negative, positive or
  neutral (:func:`tone_of`). Severity grows with the size of the surge and with how
  negative it is (:func:`groundcontrol.signals.detector.severity_for_ratio`); a positive surge
  is never critical. Severity only goes up while an incident lives.
* **Ending.** When every signal has been back to normal for ``end_after_seconds`` the
  incident is over: resolved by itself.
* **People.** :meth:`IncidentBook.acknowledge`, :meth:`~IncidentBook.snooze` and
  :meth:`~IncidentBook.resolve` record who did what and when in the incident's
  history. A snoozed incident that is still going when the snooze runs out is open
  again (and notifies again).

Pure code: no clock, no I/O. Time is passed in as unix seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from groundcontrol.config import SpikeConfig
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    SEVERITY_RANK,
    Incident,
    IncidentAction,
    IncidentChange,
    IncidentEvent,
    Signal,
    SignalKind,
)
from groundcontrol.signals.detector import Reading, Tone, severity_for_ratio

#: A topic, source or total burst joins an incident when this share of its sampled
#: mentions name the incident's brand.
JOIN_SHARE = 0.5
#: A topic is a signal of a brand's incident when it carries at least this share of
#: the brand's mentions.
TOPIC_SHARE = 0.05
#: Fewest mentions of the brand in the surge before its tone is read (before, neutral).
TONE_MIN_MENTIONS = 20
#: The surge's extra mentions must be this negative (or positive) for that tone.
TONE_SHARE = 0.4
#: Half-life of a brand's usual negative and positive share (outside incidents).
BASELINE_HALF_LIFE = 3600.0
#: Resolved incidents stay on the walls this long.
RESOLVED_KEPT_SECONDS = 1800.0
#: Most incidents a tick carries, and most kept in memory.
MAX_IN_TICK = 20
MAX_KEPT = 200
#: Most steps of history an incident carries.
MAX_HISTORY = 30
#: Most signals of each kind an incident lists: a launch lifts every source, and the
#: story's hashtag, coming last, must still find room.
MAX_SIGNALS: dict[str, int] = {"volume": 2, "negative": 1, "topic": 6, "source": 3}

_OPENERS: tuple[SignalKind, ...] = ("volume", "negative")
#: The order bursts of one bucket are taken in: the ones that may open an incident
#: first, so the others find it.
_ORDER: dict[str, int] = {"volume": 0, "negative": 1, "topic": 2, "source": 3}


class IncidentError(ValueError):
    """A refused action: the message says why (an unknown id, a finished incident)."""


@dataclass(frozen=True)
class SeriesPoint:
    """What the analytics saw of one watched series in one completed bucket."""

    series: str
    """"brand:<name>", "negative:brand:<name>", "topic:<term>", "source:<name>", "total"."""
    kind: SignalKind
    label: str
    brand: str
    """The brand this series belongs to ("" for the total, sources and most topics)."""
    reading: Reading
    total: int = 0
    """The brand's mentions in the bucket (for "volume" and "negative" series)."""
    positive: int = 0
    negative: int = 0
    members: Callable[[], Sequence[Mention]] = field(default=lambda: ())
    """A sample of the series' mentions in the bucket (called only for a burst that
    may join an incident)."""


@dataclass
class _Tone:
    """A brand's mentions since its incident started, and what it usually has."""

    n: float = 0.0
    pos: float = 0.0
    neg: float = 0.0
    expected: float = 0.0


@dataclass
class _Live:
    """An incident with the working state behind it."""

    incident: Incident
    tone: _Tone = field(default_factory=_Tone)
    quiet_since: float | None = None
    """When every signal was last seen back to normal (None while any is up)."""
    signal_at: dict[str, int] = field(default_factory=dict)
    """series -> index in incident.signals"""


def tone_of(
    n: float,
    pos: float,
    neg: float,
    expected: float,
    base_pos: float,
    base_neg: float,
) -> tuple[Tone, float, float]:
    """The tone of a surge and the negative and positive shares of its extra mentions.

    ``n``, ``pos`` and ``neg`` are the brand's mentions since the surge began,
    ``expected`` how many it would have had anyway, ``base_*`` its usual shares. The
    extra mentions' shares are what the surge is about: a launch doubling the volume
    with praise is positive even if half the usual talk is complaints.
    """
    if n < TONE_MIN_MENTIONS:
        return "neutral", (neg / n if n else 0.0), (pos / n if n else 0.0)
    extra = n - expected
    if extra >= 0.25 * n:
        neg_share = min(max((neg - base_neg * expected) / extra, 0.0), 1.0)
        pos_share = min(max((pos - base_pos * expected) / extra, 0.0), 1.0)
    else:
        neg_share, pos_share = neg / n, pos / n
    if neg_share >= TONE_SHARE and neg_share >= pos_share:
        return "negative", neg_share, pos_share
    if pos_share >= TONE_SHARE and pos_share > neg_share:
        return "positive", neg_share, pos_share
    return "neutral", neg_share, pos_share


_KIND_WORDS: dict[Tone, str] = {
    "negative": "negative surge",
    "positive": "positive surge",
    "neutral": "volume surge",
}


class IncidentBook:
    """Open and recent incidents, and the rules that make and end them."""

    def __init__(self, config: SpikeConfig, *, bucket_seconds: float) -> None:
        self._config = config
        self._bs = float(bucket_seconds)
        self._per_minute = 60.0 / self._bs
        self._live: dict[str, _Live] = {}
        self._by_brand: dict[str, str] = {}
        """brand -> id of its newest incident"""
        self._base: dict[str, tuple[float, float]] = {}
        """brand -> (usual positive share, usual negative share)"""
        self._a_base = 1.0 - math.pow(0.5, self._bs / BASELINE_HALF_LIFE)

    # ------------------------------------------------------------------ queries

    def get(self, incident_id: str) -> Incident | None:
        live = self._live.get(incident_id)
        return live.incident if live else None

    def current(self, now: float, limit: int = MAX_IN_TICK) -> list[Incident]:
        """Unresolved incidents and those resolved recently, most urgent first."""
        horizon = now - RESOLVED_KEPT_SECONDS
        shown = [
            live.incident
            for live in self._live.values()
            if live.incident.status != "resolved" or (live.incident.resolved_at or now) >= horizon
        ]
        shown.sort(key=_urgency)
        return shown[:limit]

    def all(self) -> list[Incident]:
        """Every incident kept in memory, newest first."""
        return sorted(
            (live.incident for live in self._live.values()),
            key=lambda i: (-i.started_at, i.id),
        )

    def __len__(self) -> int:
        return len(self._live)

    # ------------------------------------------------------------------ input

    def restore(self, incidents: Iterable[Incident]) -> None:
        """Take back incidents from the store after a restart (no events)."""
        for inc in sorted(incidents, key=lambda i: i.started_at):
            live = _Live(inc, signal_at={s.series: i for i, s in enumerate(inc.signals)})
            live.tone.expected = 0.0
            self._live[inc.id] = live
            if inc.brand:
                self._by_brand[inc.brand] = inc.id
        self._trim()

    def observe(
        self,
        bucket_end: float,
        points: Sequence[SeriesPoint],
        explain: Callable[[Incident], Incident] | None = None,
    ) -> list[IncidentEvent]:
        """Take one completed bucket's readings; return the incidents' changes.

        ``explain`` fills an incident's terms, sources, authors and examples (the
        analytics know the mentions); it is called for incidents that open or gain a
        signal.
        """
        cfg = self._config
        touched: dict[str, IncidentChange] = {}
        bursts = [
            p
            for p in points
            if p.reading.score >= cfg.alert_score
            and p.reading.rate * self._per_minute >= cfg.min_rate
        ]
        bursts.sort(key=lambda p: (_ORDER[p.kind], p.series))
        brands_known = any(p.kind in _OPENERS and p.brand for p in points)
        by_series: dict[str, SeriesPoint] = {p.series: p for p in points}
        for p in bursts:
            home = self._home_for(p, bucket_end)
            if home is not None and p.kind == "topic" and not self._carries(home, p, by_series):
                continue
            if home is None:
                may_open = p.kind in _OPENERS and (p.brand or not brands_known)
                if not may_open:
                    continue
                home = self._open(p, bucket_end)
                touched[home.incident.id] = "opened"
            elif home.incident.status == "resolved":
                self._reopen(home, bucket_end)
                touched[home.incident.id] = "reopened"
            if self._add_signal(home, p, bucket_end):
                touched.setdefault(home.incident.id, "updated")

        for live in list(self._live.values()):
            inc = live.incident
            if inc.status == "resolved":
                continue
            change = self._follow(live, by_series, bucket_end)
            if change is not None:
                current = touched.get(inc.id)
                if current is None or current == "updated":
                    touched[inc.id] = change
        self._learn_baselines(points)

        events = []
        for incident_id, change in touched.items():
            live = self._live[incident_id]
            if explain is not None and change in ("opened", "updated", "reopened"):
                live.incident = explain(live.incident)
                _retitle(live)
            if change in ("opened", "reopened", "escalated", "resolved"):
                self._note(live, change, bucket_end)
            events.append(IncidentEvent(change=change, incident=live.incident))
        self._trim()
        return events

    def expire_snoozes(self, now: float) -> list[IncidentEvent]:
        """Snoozes that ran out: the incident is open again if it is still going."""
        events = []
        for live in self._live.values():
            inc = live.incident
            until = inc.snoozed_until
            if inc.status == "snoozed" and until is not None and now >= until:
                live.incident = msgspec.structs.replace(
                    inc, status="open", snoozed_until=None, updated_at=now
                )
                self._note(live, "reopened", now, detail="the snooze ran out")
                events.append(IncidentEvent(change="reopened", incident=live.incident))
        return events

    # ------------------------------------------------------------------ people

    def acknowledge(self, incident_id: str, *, by: str, at: float) -> IncidentEvent:
        """Someone is on it. Raises :class:`IncidentError` if that makes no sense."""
        live = self._require(incident_id)
        inc = live.incident
        if inc.status == "resolved":
            raise IncidentError(f"incident {incident_id} is already resolved")
        live.incident = msgspec.structs.replace(
            inc, status="acknowledged", acked_by=by, acked_at=at, snoozed_until=None, updated_at=at
        )
        return self._action(live, "acknowledged", at, by)

    def snooze(self, incident_id: str, *, by: str, at: float, seconds: float) -> IncidentEvent:
        """Hide it from takeovers and notifications for ``seconds``."""
        if not (math.isfinite(seconds) and seconds > 0):
            raise IncidentError(f"a snooze needs a positive number of seconds, got {seconds}")
        live = self._require(incident_id)
        inc = live.incident
        if inc.status == "resolved":
            raise IncidentError(f"incident {incident_id} is already resolved")
        until = at + seconds
        live.incident = msgspec.structs.replace(
            inc, status="snoozed", snoozed_until=until, updated_at=at
        )
        return self._action(live, "snoozed", at, by, detail=f"for {_span(seconds)}")

    def resolve(self, incident_id: str, *, by: str, at: float, note: str = "") -> IncidentEvent:
        """Someone declares it handled."""
        live = self._require(incident_id)
        inc = live.incident
        if inc.status == "resolved":
            raise IncidentError(f"incident {incident_id} is already resolved")
        live.incident = msgspec.structs.replace(
            inc, status="resolved", resolved_by=by, resolved_at=at, updated_at=at
        )
        return self._action(live, "resolved", at, by, detail=note)

    # ------------------------------------------------------------------ internals

    def _require(self, incident_id: str) -> _Live:
        live = self._live.get(incident_id)
        if live is None:
            raise IncidentError(f"no incident {incident_id!r}")
        return live

    def _action(
        self, live: _Live, change: IncidentChange, at: float, by: str, detail: str = ""
    ) -> IncidentEvent:
        self._note(live, change, at, by=by, detail=detail)
        return IncidentEvent(change=change, incident=live.incident)

    def _note(
        self, live: _Live, change: IncidentChange, at: float, *, by: str = "", detail: str = ""
    ) -> None:
        inc = live.incident
        if not detail and change in ("opened", "escalated", "reopened"):
            detail = f"{inc.severity} {_KIND_WORDS[inc.kind]}, {inc.ratio:.1f}x usual volume"
        if not detail and change == "resolved" and not by:
            detail = "every signal back to normal"
        history = [*inc.history, IncidentAction(action=change, at=at, by=by, detail=detail)]
        live.incident = msgspec.structs.replace(inc, history=history[-MAX_HISTORY:])

    def _home_for(self, p: SeriesPoint, at: float) -> _Live | None:
        if p.kind in _OPENERS:
            key = p.brand or ""
            incident_id = self._by_brand.get(key)
            live = self._live.get(incident_id) if incident_id else None
            if live is None:
                return None
            inc = live.incident
            if inc.status != "resolved":
                return live
            # A new burst soon after the incident ended by itself is the same story;
            # one that a person resolved was handled, so it is news.
            if not inc.resolved_by and (inc.ended_at or at) >= at - self._config.regroup_seconds:
                return live
            return None
        open_ = [
            live
            for live in self._live.values()
            if live.incident.status != "resolved" and live.incident.brand
        ]
        if not open_:
            return None
        members = p.members()
        if not members:
            best = [live for live in open_ if live.incident.brand == p.brand]
            return best[0] if best else None
        best_live, best_share = None, 0.0
        for live in open_:
            brand = live.incident.brand
            share = sum(1 for m in members if brand in m.brands) / len(members)
            if share > best_share:
                best_live, best_share = live, share
        return best_live if best_share >= JOIN_SHARE else None

    @staticmethod
    def _carries(live: _Live, p: SeriesPoint, points: dict[str, SeriesPoint]) -> bool:
        """Whether a topic carries enough of the incident's talk to be one of its
        signals (a word in a few dozen of thousands of posts is not)."""
        brand = points.get(f"brand:{live.incident.brand}")
        if brand is None or brand.reading.rate <= 0:
            return True
        return p.reading.rate >= TOPIC_SHARE * brand.reading.rate

    def _open(self, p: SeriesPoint, at: float) -> _Live:
        started = at - self._bs
        brand = p.brand
        incident_id = f"inc-{int(started)}-{_slug(brand or 'total')}"
        n = 2
        while incident_id in self._live:
            incident_id = f"inc-{int(started)}-{_slug(brand or 'total')}-{n}"
            n += 1
        base_neg = self._base.get(brand, (0.0, 0.0))[1]
        inc = Incident(
            id=incident_id,
            title=f"{brand or 'Total'} volume surge",
            brand=brand,
            kind="neutral",
            severity="info",
            status="open",
            started_at=started,
            updated_at=at,
            score=round(p.reading.score, 3),
            baseline_negative_share=round(base_neg, 3),
        )
        live = _Live(inc)
        self._live[incident_id] = live
        self._by_brand[brand] = incident_id
        return live

    def _reopen(self, live: _Live, at: float) -> None:
        live.incident = msgspec.structs.replace(
            live.incident,
            status="open",
            ended_at=None,
            resolved_at=None,
            resolved_by="",
            updated_at=at,
        )
        live.quiet_since = None

    def _add_signal(self, live: _Live, p: SeriesPoint, at: float) -> bool:
        """Add the burst's series as a signal; False if it is one already."""
        inc = live.incident
        if p.series in live.signal_at:
            return False
        same = [sig for sig in inc.signals if sig.kind == p.kind]
        if len(same) >= MAX_SIGNALS.get(p.kind, 3):
            return False
        r = p.reading
        rate = r.rate * self._per_minute
        signal = Signal(
            series=p.series,
            label=p.label,
            kind=p.kind,
            started_at=at - self._bs,
            value=round(rate, 2),
            baseline=round(r.expected * self._per_minute, 2),
            peak=round(rate, 2),
        )
        signals = sorted([*inc.signals, signal], key=_signal_order)
        live.signal_at = {sig.series: i for i, sig in enumerate(signals)}
        live.incident = msgspec.structs.replace(
            inc,
            signals=signals,
            score=max(inc.score, round(r.score, 3)),
            updated_at=at,
        )
        return True

    def _follow(
        self, live: _Live, points: dict[str, SeriesPoint], at: float
    ) -> IncidentChange | None:
        """New numbers for an open incident; its kind, severity and end."""
        inc = live.incident
        signals = list(inc.signals)
        any_active = False
        for series, i in live.signal_at.items():
            p = points.get(series)
            if p is None:
                continue
            s = signals[i]
            r = p.reading
            rate = round(r.rate * self._per_minute, 2)
            active = r.active
            share = None
            base_share = None
            if p.kind == "negative" and p.total:
                share = round(p.negative / p.total, 3)
                base_share = round(self._base.get(p.brand, (0.0, 0.0))[1], 3)
            at_peak = rate >= s.peak
            signals[i] = msgspec.structs.replace(
                s,
                value=rate,
                peak=max(s.peak, rate),
                active=active,
                ended_at=None if active else (s.ended_at or at),
                # The share at the signal's peak: what people need to see of a surge.
                share=share if at_peak or s.share is None else s.share,
                baseline_share=base_share if at_peak or s.share is None else s.baseline_share,
            )
            any_active = any_active or active

        # The brand's mentions while the surge lasts give it its tone.
        brand_point = points.get(f"brand:{inc.brand}" if inc.brand else "total")
        ratio = inc.ratio
        if brand_point is not None and any_active:
            t = live.tone
            t.n += brand_point.total
            t.pos += brand_point.positive
            t.neg += brand_point.negative
            t.expected += brand_point.reading.expected
            ratio = max(ratio, _ratio(brand_point.reading))
        base_pos, base_neg = self._base.get(inc.brand, (0.0, 0.0))
        t = live.tone
        kind, neg_share, pos_share = tone_of(t.n, t.pos, t.neg, t.expected, base_pos, base_neg)
        if "negative:brand:" + inc.brand in live.signal_at and kind == "neutral":
            # Its negative mentions broke their own record: that is a negative surge
            # even when the rest of the talk hides it in the totals.
            kind = "negative"
        severity = severity_for_ratio(ratio, kind, neg_share)
        if SEVERITY_RANK[severity] < SEVERITY_RANK[inc.severity]:
            severity = inc.severity
        escalated = SEVERITY_RANK[severity] > SEVERITY_RANK[inc.severity]
        retoned = kind != inc.kind

        live.incident = inc = msgspec.structs.replace(
            inc,
            signals=signals,
            kind=kind,
            severity=severity,
            ratio=round(ratio, 2),
            mentions=int(t.n),
            negative_share=round(neg_share, 3),
            positive_share=round(pos_share, 3),
            baseline_negative_share=round(base_neg, 3),
            updated_at=at,
        )
        _retitle(live)
        inc = live.incident
        if any_active:
            live.quiet_since = None
        elif live.quiet_since is None:
            live.quiet_since = at
        if live.quiet_since is not None and at - live.quiet_since >= self._config.end_after_seconds:
            live.incident = msgspec.structs.replace(
                inc, status="resolved", ended_at=live.quiet_since, resolved_at=at
            )
            return "resolved"
        if escalated:
            return "escalated"
        return "updated" if retoned else None

    def _learn_baselines(self, points: Sequence[SeriesPoint]) -> None:
        """Each brand's usual positive and negative share, outside its incidents."""
        a = self._a_base
        busy = {
            live.incident.brand
            for live in self._live.values()
            if live.incident.status != "resolved"
        }
        for p in points:
            if p.kind != "volume" or p.total <= 0 or p.brand in busy:
                continue
            pos, neg = p.positive / p.total, p.negative / p.total
            old = self._base.get(p.brand)
            if old is None:
                self._base[p.brand] = (pos, neg)
            else:
                self._base[p.brand] = (old[0] + a * (pos - old[0]), old[1] + a * (neg - old[1]))

    def _trim(self) -> None:
        if len(self._live) <= MAX_KEPT:
            return
        done = sorted(
            (live.incident for live in self._live.values() if live.incident.status == "resolved"),
            key=lambda i: (i.resolved_at or i.updated_at, i.id),
        )
        for inc in done[: len(self._live) - MAX_KEPT]:
            del self._live[inc.id]
            if self._by_brand.get(inc.brand) == inc.id:
                del self._by_brand[inc.brand]


def _ratio(r: Reading) -> float:
    return r.rate / r.expected if r.expected > 0 else r.rate


def _signal_order(sig: Signal) -> tuple[int, bool]:
    """The brand's volume and negative mentions, then topics (hashtags first), then
    sources."""
    return (_ORDER[sig.kind], not sig.label.startswith("#"))


def _urgency(inc: Incident) -> tuple[int, int, float, str]:
    resolved = 1 if inc.status == "resolved" else 0
    return (resolved, -SEVERITY_RANK[inc.severity], -inc.started_at, inc.id)


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return out or "x"


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _retitle(live: _Live) -> None:
    inc = live.incident
    title = _title(inc.brand, inc.kind, inc.signals, inc.top_terms)
    if title != inc.title:
        live.incident = msgspec.structs.replace(inc, title=title)


def _title(brand: str, kind: Tone, signals: Sequence[Signal], terms: Sequence[str]) -> str:
    """ "Northwind negative surge: #aerogate, battery" """
    head = f"{brand or 'Total'} {_KIND_WORDS[kind]}"
    topics = [s.label for s in signals if s.kind == "topic"]
    words = list(dict.fromkeys([*topics, *terms]))
    words.sort(key=lambda t: not t.startswith("#"))  # a story's hashtag names it
    words = words[:3]
    return f"{head}: {', '.join(words)}" if words else head
