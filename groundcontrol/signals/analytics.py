"""Rolling-window analytics for the hub: volume, sentiment, sources, brands, topics, spikes.

The hub hands over enriched mentions with :meth:`Analytics.add` (a list append) and
calls :meth:`Analytics.tick` at a fixed rate. A tick pushes everything buffered through
polars (one parallel call runs every subject's aggregation), merges the aggregates into
bounded per-bucket state, feeds the spike detectors once per completed bucket and
builds a :class:`Tick` whose size does not depend on the event rate.

:class:`Analytics` orchestrates; each subject owns its state and lives in a module
of its own: :mod:`~groundcontrol.signals.windows` (per-bucket counts, the river and
the tick), :mod:`~groundcontrol.signals.topics` (term history, hot topics, stories),
:mod:`~groundcontrol.signals.influencers` (authors) and
:mod:`~groundcontrol.signals.explain` (what an incident shows). Here: advancing time
and sealing buckets, the watched series and their detectors, and the incident book.

The time axis is the hub clock: a mention belongs to bucket
``floor(received_at / bucket_seconds)``. Memory stays flat forever: at most
``history_buckets`` buckets, ``max_terms_per_bucket`` terms per sealed bucket, a
bounded number of sources and languages, a fixed-size example reservoir for the two
newest buckets only, and a bounded set of incidents.

Pure code: no sockets, no clock. ``now`` is always passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import polars as pl

from groundcontrol.config import Config
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    Incident,
    IncidentEvent,
    RiverItem,
    SignalKind,
    Snapshot,
    Tick,
    TriageState,
)
from groundcontrol.signals.detector import Reading
from groundcontrol.signals.explain import Explanations, reservoir_picks
from groundcontrol.signals.incidents import IncidentBook, SeriesPoint
from groundcontrol.signals.influencers import Influencers
from groundcontrol.signals.series import SeriesWatch, detector_config
from groundcontrol.signals.topics import Topics
from groundcontrol.signals.windows import Bucket, Windows

#: Seconds between two rankings of stories and influencers on the live hub's ticks
#: while only new mentions (no sealed bucket) changed them: ranking is fixed work over
#: the whole window however few mentions came in, and walls redraw them at 1 to 2 Hz.
RANK_SECONDS = 1.0


class Analytics:
    """Rolling windows, hot topics and spike detection over the enriched mention stream.

    Not thread-safe: the hub calls it from its event loop only.
    """

    def __init__(self, config: Config, *, brands: Sequence[str] | None = None) -> None:
        self._config = config
        a = config.analytics
        self._bs = a.bucket_seconds
        self._window = max(1, a.window_seconds // a.bucket_seconds)
        self._history = a.history_buckets
        self._brands: list[str] = list(
            brands if brands is not None else [b.name for b in config.brands]
        )

        self._buffer: list[Mention] = []
        self._stale = False
        """Mentions came in since stories and influencers were last ranked."""
        self._ranked_at = -math.inf
        self._seen = 0
        self._seq = 0
        self._cur: int | None = None
        self._start_bucket = 0
        self._origin = math.inf

        self._windows = Windows(config, self._brands)
        self._topics = Topics(a, self._brands)
        self._influencers = Influencers(self._window, self._brands)
        self._explanations = Explanations(self._windows, self._topics)

        self._detector_config = detector_config(config.spikes)
        self._watches: dict[str, SeriesWatch] = {}
        """series -> its detector"""
        # Hot topics watched by a detector of their own, and the bucket each was last hot.
        self._topic_watch: dict[str, int] = {}
        # A topic that was already bursting when it got its detector: its burst, given
        # to the incidents with the next bucket.
        self._warm_bursts: dict[str, Reading] = {}
        self.incidents = IncidentBook(config.spikes, bucket_seconds=self._bs)
        """Open and recent incidents (the hub's lifecycle endpoints act on it)."""
        self._events: list[IncidentEvent] = []

        self._watch("total", "volume", "Total")
        for brand in self._brands:
            self._watch(f"brand:{brand}", "volume", brand, brand=brand)
            self._watch(f"negative:brand:{brand}", "negative", f"{brand} negative", brand=brand)

    # ------------------------------------------------------------------ public API

    @property
    def bucket_seconds(self) -> int:
        return self._bs

    @property
    def history_buckets(self) -> int:
        return self._history

    def add(self, mentions: list[Mention]) -> None:
        """Buffer enriched mentions until the next tick."""
        self._buffer.extend(mentions)

    def tick(self, now: float, *, rank_every: float = 0.0) -> tuple[Tick, list[IncidentEvent]]:
        """Aggregate what was added since the last tick; return the tick and the
        incidents' changes (openings, new signals, escalations, ends).

        Stories and influencers are ranked afresh when a bucket is sealed, and when
        mentions came in, at most every ``rank_every`` seconds (the live hub's ticks
        use :data:`RANK_SECONDS`; 0, as for a replay: at every tick)."""
        now_bucket = int(now // self._bs)
        first = self._cur is None
        if self._cur is None:
            self._cur = now_bucket
            self._start_bucket = now_bucket
            self._origin = min(self._origin, now)
        target = max(self._cur, now_bucket)
        # Late mentions (a feed's backlog after an outage, placed when the feed had
        # it) go to their own bucket if it is still in the history: that fills the
        # gap in the series, and a sealed bucket never feeds the spike detectors again.
        lower = target - self._history + 1
        self._stale = self._stale or bool(self._buffer)
        river = self._flush(lower, target)
        advanced = self._advance(target)
        # Ranking is fixed work over the whole window, however few mentions came in:
        # a tick between two rankings repeats the last one.
        if advanced or first or (self._stale and now - self._ranked_at >= rank_every):
            cur = self._cur
            current = self._windows.get(cur)
            self._topics.update(now, cur, self._origin, current.total if current else 0)
            self._influencers.update(cur, self._start_bucket)
            self._ranked_at, self._stale = now, False
        self._events.extend(self.incidents.expire_snoozes(now))
        self._seq += 1
        tick = self._build(now, river)
        events, self._events = self._events, []
        return tick, events

    def restore_incidents(self, incidents: Iterable[Incident]) -> None:
        """Start the incidents afresh from the store's (after a restart): what a replay
        of the stored mentions made of them is dropped, the stored ones are kept."""
        self.incidents = IncidentBook(self._config.spikes, bucket_seconds=self._bs)
        self.incidents.restore(incidents)
        self._events.clear()

    def detector_states(self) -> dict[str, dict[str, Any]]:
        """What each lasting series' detector has learnt (the total, brands, their
        negative mentions, sources), to keep across a restart. Hot topics come and go
        and are left out."""
        return {
            series: watch.detector.state()
            for series, watch in self._watches.items()
            if watch.kind != "topic"
        }

    def restore_detectors(self, states: Mapping[str, Mapping[str, Any]]) -> int:
        """Put back saved detector states (after the windows were rebuilt from the
        store); returns how many were taken. A source not watched yet gets its watch;
        a state made with another bucket width is ignored."""
        taken = 0
        for series, state in states.items():
            watch = self._watches.get(series)
            if watch is None and series.startswith("source:"):
                name = series[7:]
                if not self._windows.track_source(name, self._cur or 0):
                    continue
                watch = self._watch(series, "source", name)
            if watch is not None and watch.detector.restore(state):
                taken += 1
        return taken

    def reviewed(self, mention_id: str) -> None:
        """A person closed this mention: it leaves the wall's review queue."""
        self._windows.reviewed(mention_id)

    def triaged(self, state: TriageState) -> None:
        """A person acted on a mention: the wall's review queue shows where it stands
        (a resolved or ignored one leaves it)."""
        self._windows.triaged(state)

    def review_ids(self) -> list[str]:
        """The mentions on the wall's review queue (to take back their triage states)."""
        return self._windows.review_ids()

    def snapshot(self, now: float) -> Snapshot:
        """The latest state for a client that just connected, with a longer river."""
        tick = self._build(now, self._windows.kept_river())
        return Snapshot(tick=tick)

    def state_sizes(self) -> dict[str, int]:
        """Sizes of every growing structure, for tests and the hub's health page."""
        return {
            "buffer": len(self._buffer),
            **self._windows.sizes(),
            **self._topics.sizes(),
            **self._explanations.sizes(),
            **self._influencers.sizes(),
            "detectors": len(self._watches),
            "detector_state": sum(w.state_size for w in self._watches.values()),
            "incidents": len(self.incidents),
        }

    # ------------------------------------------------------------------ ingest

    def _flush(self, lower: int, upper: int) -> list[RiverItem]:
        """Push the buffer through polars into every subject's state; return the river."""
        mentions, self._buffer = self._buffer, []
        if not mentions:
            return []
        recv = [m.received_at for m in mentions]
        horizon = (upper - self._history + 1) * self._bs
        if min(recv) < horizon:
            mentions = [m for m in mentions if m.received_at >= horizon]
            recv = [m.received_at for m in mentions]
            if not mentions:
                return []
        self._origin = min(self._origin, min(recv))
        first_index = self._seen
        self._seen += len(mentions)

        # Three steps, each one polars call: the mention frame; its exploded terms and
        # brands; then every subject's aggregations at once, run in parallel.
        batch = self._windows.prepare(mentions, recv, lower, upper, first_index)
        for name in batch.new_sources:
            self._watch(f"source:{name}", "source", name)
        picks = reservoir_picks()
        (
            sources,
            langs,
            brands,
            river,
            total,
            negative,
            negative_brands,
            brand_sources,
            terms,
            sample,
            authors,
        ) = pl.collect_all(
            [
                *self._windows.queries(batch, also=picks),
                *self._explanations.queries(batch),
                *self._topics.queries(batch),
                self._influencers.query(batch.base),
            ]
        )
        self._windows.merge(batch, sources, langs, brands)
        self._explanations.merge(
            batch, sources, brands, total, negative, negative_brands, brand_sources
        )
        self._topics.merge(batch, terms, sample)
        self._influencers.merge(authors)
        return self._windows.river(batch, river)

    # ------------------------------------------------------------------ time

    def _advance(self, target: int) -> bool:
        """Seal every bucket before ``target``, feeding the detectors; evict old state."""
        assert self._cur is not None
        sealed = self._topics.seal(target)
        sealed_any = bool(sealed)
        previous = self._cur
        if target > previous:
            # After a gap longer than the history (the hub was away) the missing
            # buckets are not fed: a run of empty buckets is not news, and the
            # baselines' time of day and weekday still hold.
            topic_counts = self._topics.counts_in(sealed.values(), self._topic_watch)
            for bucket in range(max(previous, target - self._history), target):
                if bucket != self._start_bucket:
                    self._feed(bucket, topic_counts.get(bucket, {}))
            self._cur = target
            self._evict(target)
            sealed_any = True
        self._explanations.drop_before(target)
        if sealed_any:
            totals = self._windows.sealed_totals(target)
            self._topics.resum(target, previous, sealed, totals, self._origin)
            self._explanations.forget_baselines()
            self._watch_topics(target)
        return sealed_any

    def _evict(self, target: int) -> None:
        cutoff = target - self._history
        dropped = self._windows.evict(cutoff, lambda name: self._in_incident(f"source:{name}"))
        for term in [t for t, last in self._topic_watch.items() if last <= cutoff]:
            if self._in_incident(f"topic:{term}"):
                continue
            del self._topic_watch[term]
            self._watches.pop(f"topic:{term}", None)
        for name in dropped:
            self._watches.pop(f"source:{name}", None)
        recent = target - self._window
        self._topics.evict(recent)
        self._influencers.evict(recent)

    # ------------------------------------------------------------------ detectors

    def _watch(self, series: str, kind: SignalKind, label: str, *, brand: str = "") -> SeriesWatch:
        watch = self._watches[series] = SeriesWatch(
            series,
            kind,
            label,
            brand=brand,
            bucket_seconds=self._bs,
            config=self._detector_config,
        )
        return watch

    def _in_incident(self, series: str) -> bool:
        """Whether an unresolved incident lists this series (its watch must stay)."""
        return any(
            inc.status != "resolved" and any(sig.series == series for sig in inc.signals)
            for inc in self.incidents.all()
        )

    def _watch_topics(self, target: int) -> None:
        """Give the leads of the hottest stories a detector, warmed on their history.

        A term's history comes from the sealed buckets (terms under each bucket's cap
        count as 0 there), so a new detector knows the term's normal before it first
        judges it; what it makes of that history raises nothing (it is the past).
        """
        limit = self._config.spikes.topic_series
        if limit <= 0:
            return
        for term, story in self._topics.leads(limit):
            if term in self._topic_watch:
                self._topic_watch[term] = target
                continue
            self._topic_watch[term] = target
            watch = self._watch(f"topic:{term}", "topic", term, brand=story.brand)
            counts = self._topics.history_of(term)
            first = max(self._start_bucket + 1, target - self._history + 1)
            # The history is the past: a burst in it that is over raises nothing, but
            # a story that was bursting when it became hot, and still is, counts now.
            recent = max(1, round(self._config.spikes.end_after_seconds / self._bs))
            burst = watch.warm((counts.get(b, 0) for b in range(first, target)), recent=recent)
            if burst is not None:
                self._warm_bursts[watch.series] = burst

    @staticmethod
    def _count_of(watch: SeriesWatch, b: Bucket, topic_counts: dict[str, int]) -> int:
        series = watch.series
        if series == "total":
            return b.total
        if watch.kind == "volume":
            return b.brands.get(watch.brand, [0])[0]
        if watch.kind == "negative":
            return b.brands.get(watch.brand, [0, 0, 0])[2]
        if watch.kind == "topic":
            return topic_counts.get(series[6:], 0)
        return b.sources.get(series[7:], [0])[0]

    def _feed(self, bucket: int, topic_counts: dict[str, int]) -> None:
        """One completed bucket to every watched series, and the readings to the
        incidents."""
        b = self._windows.get(bucket) or Bucket()
        points: list[SeriesPoint] = []
        for watch in self._watches.values():
            reading = watch.observe(bucket, self._count_of(watch, b, topic_counts))
            warm = self._warm_bursts.pop(watch.series, None)
            if warm is not None and reading.score < warm.score:
                reading = warm._replace(rate=reading.rate, active=reading.active)
            if watch.series == "total":
                total, pos, neg = b.total, b.pos, b.neg
            elif watch.kind in ("volume", "negative"):
                total, pos, neg = b.brands.get(watch.brand, [0, 0, 0])
            else:
                total = pos = neg = 0
            points.append(
                SeriesPoint(
                    series=watch.series,
                    kind=watch.kind,
                    label=watch.label,
                    brand=watch.brand,
                    reading=reading,
                    total=total,
                    positive=pos,
                    negative=neg,
                    members=self._explanations.members(bucket, watch),
                )
            )
        explain = partial(self._explanations.incident, bucket=bucket)
        self._events.extend(self.incidents.observe((bucket + 1) * self._bs, points, explain))

    # ------------------------------------------------------------------ output

    def _build(self, now: float, river: list[RiverItem]) -> Tick:
        return self._windows.tick(
            now,
            self._cur if self._cur is not None else int(now // self._bs),
            self._origin,
            river,
            seq=self._seq,
            ingested=self._seen,
            topics=self._topics.stories,
            incidents=self.incidents.current(now),
            influencers=self._influencers.ranked,
        )
