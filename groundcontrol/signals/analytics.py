"""Rolling-window analytics for the hub: volume, sentiment, sources, brands, topics, spikes.

The hub hands over enriched mentions with :meth:`Analytics.add` (a list append) and
calls :meth:`Analytics.tick` at a fixed rate. A tick pushes everything buffered through
one polars DataFrame, merges the aggregates into bounded per-bucket state, feeds the
spike detectors once per completed bucket and builds a :class:`Tick` whose size does
not depend on the event rate.

The time axis is the hub clock: a mention belongs to bucket
``floor(received_at / bucket_seconds)``. Memory stays flat forever: at most
``history_buckets`` buckets, ``max_terms_per_bucket`` terms per sealed bucket,
:data:`MAX_SOURCES` sources and :data:`MAX_LANGS` languages (the rest are lumped into
"other"), a fixed-size example reservoir for the two newest buckets only, and a
bounded set of incidents.

Pure code: no sockets, no clock. ``now`` is always passed in.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import msgspec
import polars as pl

from groundcontrol.config import Config
from groundcontrol.listen.terms import meaningful
from groundcontrol.model import CATEGORIES, Mention
from groundcontrol.protocol import (
    BrandStat,
    FlaggedPost,
    Incident,
    IncidentEvent,
    Influencer,
    KeyCount,
    ReviewItem,
    RiverItem,
    SentimentView,
    SignalKind,
    Snapshot,
    SourceStat,
    Tick,
    Topic,
    TriageView,
    Volume,
    encode,
)
from groundcontrol.signals.detector import Reading
from groundcontrol.signals.incidents import IncidentBook, SeriesPoint
from groundcontrol.signals.series import Explanation, SeriesWatch, detector_config

#: Named sources tracked one by one; later newcomers are counted as :data:`OTHER`
#: until a named one has been silent for the whole history and frees its slot.
MAX_SOURCES = 64
#: Named languages tracked one by one, likewise.
MAX_LANGS = 64
OTHER = "other"
#: Language key for mentions whose language nobody could tell (ISO 639 "und").
UNKNOWN_LANG = "und"
#: Per-source series in a tick: a wall cannot draw 64 sparklines, and each costs bytes.
SOURCE_SERIES_IN_TICK = 12
RIVER_TEXT_CHARS = 280
SNAPSHOT_RIVER = 50
#: River candidates per slot of the river, to spread it over sources.
RIVER_CANDIDATES = 8
#: Seconds of traffic behind ``rate_per_s`` and ``volume.last_minute``.
RATE_SECONDS = 60.0
#: Example reservoir per series and bucket: the highest-reach mentions...
EXAMPLES_PER_SERIES = 3
EXAMPLE_CHARS = 140
#: ...and a uniform sample, to tell which terms a spiking series over-uses.
SAMPLE_PER_SERIES = 40
TOP_TERMS_PER_ALERT = 5
TOP_SOURCES_PER_ALERT = 3
TOP_AUTHORS_PER_ALERT = 3
#: A term needs this many mentions in the window to be a hot topic.
MIN_TOPIC_COUNT = 5
#: Terms whose score is recomputed every tick besides those of the current bucket.
TOPIC_CANDIDATES = 100
TOPIC_TERM_CHARS = 64
#: The trend ratio (recent rate / previous rate) that counts as "up", and its inverse.
TREND_UP = 1.25
#: A tick larger than this, encoded, is trimmed (examples first, then the river),
#: leaving room under 64 KiB for what the hub adds (feeds).
MAX_TICK_BYTES = 48 * 1024
#: Original mentions sampled per bucket (uniformly, by priority) to tell which hot
#: terms travel together in one story, which brand a story is about, and who drives
#: a topic's spike. Kept for the window.
STORY_SAMPLE = 100
#: Hot terms considered for grouping, per story shown.
STORY_CANDIDATES_FACTOR = 3
#: A term joins a story when at least this share of the sampled mentions of the rarer
#: of the two (it, or the story's lead) carry both...
STORY_LINK = 0.5
#: ...and at least this many do.
STORY_MIN_SHARED = 3
#: Terms of a story named in its label after the lead.
STORY_LABEL_TERMS = 2
#: A story is about a brand when this share of its sampled mentions name it.
STORY_BRAND_SHARE = 0.6
#: Authors kept per bucket for the influencer ranking: the top by reach, by
#: engagement and by mentions each.
AUTHORS_PER_BUCKET = 50
INFLUENCERS_IN_TICK = 10
#: Authors remembered to tell a new voice from a familiar one (oldest forgotten first).
MAX_KNOWN_AUTHORS = 200_000
#: Mentions waiting for review, and compliance-flagged posts, kept for the wall...
REVIEW_KEPT = 50
FLAGS_KEPT = 20
#: ...and sent in each tick.
REVIEW_IN_TICK = 8
FLAGS_IN_TICK = 8

# Multiplicative hashing of the running mention number gives every mention a
# pseudo-random but reproducible priority: samples are uniform over a whole bucket,
# yet the same input order always gives the same output.
_HASH_A = 2654435761
_HASH_B = 2246822519
_HASH_MOD = 1 << 32
_INDEX_MOD = 1 << 31

_TERM_SCHEMA: dict[str, type[pl.DataType]] = {
    "term": pl.String,
    "count": pl.Int64,
    "pos": pl.Int64,
    "neg": pl.Int64,
}
_AGG_SCHEMA: dict[str, type[pl.DataType]] = {
    "term": pl.String,
    "rs": pl.Int64,
    "rpos": pl.Int64,
    "rneg": pl.Int64,
    "p": pl.Int64,
    "h": pl.Int64,
}


@dataclass(slots=True)
class _Bucket:
    """Counts for one bucket; every dict is bounded by the slot registries."""

    total: int = 0
    pos: int = 0
    neg: int = 0
    sources: dict[str, list[int]] = field(default_factory=dict)
    """source -> [count, positive, negative]"""
    langs: dict[str, int] = field(default_factory=dict)
    brands: dict[str, list[int]] = field(default_factory=dict)
    """brand -> [count, positive, negative]"""
    categories: dict[str, int] = field(default_factory=dict)
    review: int = 0
    flagged: int = 0


@dataclass(slots=True)
class _Explain:
    """What an alert on this bucket would show; kept only for unsealed buckets.

    Per series key ("total", "brand:X", "source:Y", "neg:total", "neg:brand:X"): the
    highest-reach mentions, a uniform sample (lowest priorities), and source counts.
    """

    examples: dict[str, list[Mention]] = field(default_factory=dict)
    samples: dict[str, list[tuple[int, Mention]]] = field(default_factory=dict)
    sources: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, key: str, examples: list[Mention], sample: list[tuple[int, Mention]]) -> None:
        merged = self.examples.get(key, []) + examples
        merged.sort(key=lambda m: -m.author_reach)
        self.examples[key] = merged[:EXAMPLES_PER_SERIES]
        pool = self.samples.get(key, []) + sample
        pool.sort(key=lambda pm: pm[0])
        self.samples[key] = pool[:SAMPLE_PER_SERIES]

    def count_source(self, key: str, source: str, n: int) -> None:
        self.sources.setdefault(key, Counter())[source] += n


@dataclass(slots=True)
class _Window:
    """Sums over a run of buckets."""

    total: int = 0
    pos: int = 0
    neg: int = 0
    sources: dict[str, list[int]] = field(default_factory=dict)
    langs: Counter[str] = field(default_factory=Counter)
    brands: dict[str, list[int]] = field(default_factory=dict)
    categories: Counter[str] = field(default_factory=Counter)
    review: int = 0
    flagged: int = 0


def _priority(index: int) -> int:
    return ((index % _INDEX_MOD) * _HASH_A) % _HASH_MOD


def _add3(into: dict[str, list[int]], key: str, count: int, pos: int, neg: int) -> None:
    acc = into.get(key)
    if acc is None:
        into[key] = [count, pos, neg]
    else:
        acc[0] += count
        acc[1] += pos
        acc[2] += neg


def _ratio(num: float, den: float) -> float:
    return round(num / den, 4) if den else 0.0


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        self._series_len = a.series_buckets
        self._brands: list[str] = list(
            brands if brands is not None else [b.name for b in config.brands]
        )

        self._buffer: list[Mention] = []
        self._seen = 0
        self._seq = 0
        self._cur: int | None = None
        self._start_bucket = 0
        self._origin = math.inf

        self._buckets: dict[int, _Bucket] = {}
        self._source_last: dict[str, int] = {}
        self._lang_last: dict[str, int] = {}

        # Terms: running totals for unsealed buckets, one frame for sealed history, and
        # per-term window sums recomputed once per sealed bucket (not per tick).
        self._open_terms: dict[int, pl.DataFrame] = {}
        self._term_hist = pl.DataFrame(schema={"bucket": pl.Int64, **_TERM_SCHEMA})
        self._term_agg = pl.DataFrame(schema=_AGG_SCHEMA)
        self._term_totals = (0, 0, 0)
        self._agg_at: int | None = None
        # Baseline counts of terms looked up for alert explanations, valid until the
        # sums change: a surge opens dozens of alerts at once over the same words.
        self._seen_terms: dict[str, int] = {}
        self._topic_cands: list[str] = []
        self._topics: list[Topic] = []

        self._explain: dict[int, _Explain] = {}
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
        self._explain_bucket = 0
        self._river: deque[RiverItem] = deque(maxlen=SNAPSHOT_RIVER)
        self._story_sample: dict[int, list[tuple[int, Mention]]] = {}
        self._author_frames: dict[int, pl.DataFrame] = {}
        self._known_authors: dict[str, int] = {}
        """"source:author" -> the bucket it was first seen in"""
        self._influencers: list[Influencer] = []
        self._review: deque[ReviewItem] = deque(maxlen=REVIEW_KEPT)
        self._flags: deque[FlaggedPost] = deque(maxlen=FLAGS_KEPT)

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

    def tick(self, now: float) -> tuple[Tick, list[IncidentEvent]]:
        """Aggregate what was added since the last tick; return the tick and the
        incidents' changes (openings, new signals, escalations, ends)."""
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
        had_input = bool(self._buffer)
        river = self._flush(lower, target)
        advanced = self._advance(target, now)
        if had_input or advanced or first:
            self._topics = self._stories(self._hot_topics(now))
            self._influencers = self._rank_authors()
        self._river.extendleft(reversed(river))
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
                if name not in self._source_last and len(self._source_last) >= MAX_SOURCES:
                    continue
                watch = self._watch(series, "source", name)
                self._source_last.setdefault(name, self._cur or 0)
            if watch is not None and watch.detector.restore(state):
                taken += 1
        return taken

    def reviewed(self, mention_id: str) -> None:
        """A person triaged this mention: it leaves the wall's review queue."""
        kept = [item for item in self._review if item.id != mention_id]
        if len(kept) != len(self._review):
            self._review.clear()
            self._review.extend(kept)

    def snapshot(self, now: float) -> Snapshot:
        """The latest state for a client that just connected, with a longer river."""
        tick = self._build(now, list(self._river))
        return Snapshot(tick=tick)

    def state_sizes(self) -> dict[str, int]:
        """Sizes of every growing structure, for tests and the hub's health page."""
        return {
            "buffer": len(self._buffer),
            "buckets": len(self._buckets),
            "bucket_keys": sum(
                len(b.sources) + len(b.langs) + len(b.brands) for b in self._buckets.values()
            ),
            "term_rows": self._term_hist.height + sum(f.height for f in self._open_terms.values()),
            "term_agg_rows": self._term_agg.height,
            "seen_terms": len(self._seen_terms),
            "max_terms_in_bucket": max(
                self._term_hist.group_by("bucket").len()["len"].to_list() or [0]
            ),
            "sources": len(self._source_last),
            "langs": len(self._lang_last),
            "detectors": len(self._watches),
            "detector_state": sum(w.state_size for w in self._watches.values()),
            "incidents": len(self.incidents),
            "explain_buckets": len(self._explain),
            "explain_items": sum(
                sum(len(v) for v in e.examples.values())
                + sum(len(v) for v in e.samples.values())
                + sum(len(v) for v in e.sources.values())
                for e in self._explain.values()
            ),
            "river": len(self._river),
            "story_sample": sum(len(v) for v in self._story_sample.values()),
            "author_rows": sum(f.height for f in self._author_frames.values()),
            "known_authors": len(self._known_authors),
            "review": len(self._review),
            "flags": len(self._flags),
        }

    # ------------------------------------------------------------------ ingest

    def _flush(self, lower: int, upper: int) -> list[RiverItem]:
        """Push the buffer through polars into the bucket state; return the river."""
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

        # Three steps, each one polars call: the mention frame; the exploded terms and
        # brands; then every aggregation at once, run in parallel. Materialising the
        # shared frames first is faster than letting each query re-derive them.
        b = self._base_frame(mentions, recv, lower, upper, first_index).collect().lazy()
        # Copies (retweets, quotes, near-duplicates) count in volume, not in topics.
        t = self._exploded(
            b, [[] if m.copy_of else m.terms for m in mentions], "term", ["bucket", "pos", "neg"]
        )
        br = self._exploded(
            b,
            [m.brands for m in mentions],
            "brand",
            ["row", "bucket", "slot", "pos", "neg", "reach", "prio"],
        ).filter(pl.col("brand").is_in(self._brands))
        t, br = (f.lazy() for f in pl.collect_all([t, br]))
        neg = pl.col("neg") == 1
        counts = (pl.len().alias("n"), pl.col("pos").sum(), pl.col("neg").sum())
        picks = (
            pl.col("row").top_k_by("reach", EXAMPLES_PER_SERIES).alias("ex"),
            pl.col("row").bottom_k_by("prio", SAMPLE_PER_SERIES).alias("sample"),
        )
        (
            src,
            lang,
            brand,
            term,
            tot,
            negtot,
            negbrand,
            brand_src,
            river,
            stories,
            authors,
        ) = pl.collect_all(
            [
                b.group_by("bucket", "slot").agg(*counts, *picks),
                b.group_by("bucket", "lang").len(),
                br.group_by("bucket", "brand").agg(*counts, *picks),
                self._term_query(t),
                b.group_by("bucket").agg(*picks),
                b.filter(neg).group_by("bucket").agg(*picks),
                br.filter(neg).group_by("bucket", "brand").agg(*picks),
                br.group_by("bucket", "brand", "slot").agg(
                    pl.len().alias("n"), pl.col("neg").sum()
                ),
                self._river_query(b),
                b.filter(pl.col("original"))
                .group_by("bucket")
                .agg(
                    pl.col("row").bottom_k_by("prio", STORY_SAMPLE),
                    pl.col("prio").bottom_k(STORY_SAMPLE),
                ),
                self._author_query(b),
            ]
        )

        def pool(rows: list[int]) -> list[tuple[int, Mention]]:
            return [(_priority(first_index + i), mentions[i]) for i in rows]

        for bucket, slot, n, pos, negs, ex, sample in src.iter_rows():
            bk = self._bucket(bucket)
            bk.total += n
            bk.pos += pos
            bk.neg += negs
            _add3(bk.sources, slot, n, pos, negs)
            e = self._explain_for(bucket)
            e.add(f"source:{slot}", [mentions[i] for i in ex], pool(sample))
            if negs:
                e.count_source("neg:total", slot, negs)
        for bucket, name, n in lang.iter_rows():
            langs = self._bucket(bucket).langs
            langs[name] = langs.get(name, 0) + n
        for bucket, name, n, pos, negs, ex, sample in brand.iter_rows():
            _add3(self._bucket(bucket).brands, name, n, pos, negs)
            self._explain_for(bucket).add(f"brand:{name}", [mentions[i] for i in ex], pool(sample))
        for key, frame in (("total", tot), ("neg:total", negtot)):
            for bucket, ex, sample in frame.iter_rows():
                self._explain_for(bucket).add(key, [mentions[i] for i in ex], pool(sample))
        for bucket, name, ex, sample in negbrand.iter_rows():
            self._explain_for(bucket).add(
                f"neg:brand:{name}", [mentions[i] for i in ex], pool(sample)
            )
        for bucket, name, slot, n, negs in brand_src.iter_rows():
            e = self._explain_for(bucket)
            e.count_source(f"brand:{name}", slot, n)
            if negs:
                e.count_source(f"neg:brand:{name}", slot, negs)
        self._merge_terms(term)
        self._count_triage(mentions, lower, upper)
        for bucket, rows, prios in stories.iter_rows():
            kept = self._story_sample.get(bucket, []) + [
                (p, mentions[i]) for i, p in zip(rows, prios, strict=True)
            ]
            kept.sort(key=lambda pm: pm[0])
            self._story_sample[bucket] = kept[:STORY_SAMPLE]
        self._merge_authors(authors)

        rows = self._round_robin(river["row"].to_list(), river["slot"].to_list())
        rows.sort(key=lambda i: (recv[i], i), reverse=True)
        return [self._river_item(mentions[i]) for i in rows]

    def _count_triage(self, mentions: list[Mention], lower: int, upper: int) -> None:
        """Categories, review and flags per bucket; the newest review items and flags."""
        bs = self._bs
        for m in mentions:
            bucket = min(max(int(m.received_at // bs), lower), upper)
            b = self._bucket(bucket)
            if m.category:
                b.categories[m.category] = b.categories.get(m.category, 0) + 1
            if m.needs_review:
                b.review += 1
                self._review.appendleft(
                    ReviewItem(
                        id=m.id or m.key,
                        source=m.source,
                        author=m.author,
                        text=_cut(m.text, RIVER_TEXT_CHARS),
                        category=m.category,
                        confidence=round(m.category_confidence, 3),
                        at=m.received_at,
                        url=m.url,
                    )
                )
            if m.flags:
                b.flagged += 1
                self._flags.appendleft(
                    FlaggedPost(
                        id=m.id or m.key,
                        source=m.source,
                        author=m.author,
                        text=_cut(m.text, RIVER_TEXT_CHARS),
                        flags=list(m.flags),
                        at=m.received_at,
                        url=m.url,
                    )
                )

    def _base_frame(
        self, mentions: list[Mention], recv: list[float], lower: int, upper: int, first_index: int
    ) -> pl.LazyFrame:
        sources = [m.source for m in mentions]
        langs = [m.lang or UNKNOWN_LANG for m in mentions]
        lumped_sources = self._lumped(sources, self._source_last, MAX_SOURCES, upper, True)
        lumped_langs = self._lumped(langs, self._lang_last, MAX_LANGS, upper, False)
        base = pl.DataFrame(
            {
                "recv": recv,
                "source": sources,
                "lang": langs,
                "label": [m.sentiment_label for m in mentions],
                "reach": [m.author_reach for m in mentions],
                "author": [m.author for m in mentions],
                "eng": [m.engagement.total for m in mentions],
                "brand": [m.brands[0] if m.brands else "" for m in mentions],
                "original": [not m.copy_of for m in mentions],
            },
            schema={
                "recv": pl.Float64,
                "source": pl.String,
                "lang": pl.String,
                "label": pl.String,
                "reach": pl.Int64,
                "author": pl.String,
                "eng": pl.Int64,
                "brand": pl.String,
                "original": pl.Boolean,
            },
        )
        gidx = (pl.int_range(pl.len(), dtype=pl.Int64) + first_index) % _INDEX_MOD
        slot = pl.col("source")
        lang = pl.col("lang")
        return base.lazy().with_columns(
            row=pl.int_range(pl.len(), dtype=pl.Int64),
            bucket=(pl.col("recv") // self._bs).cast(pl.Int64).clip(lower, upper),
            slot=slot.replace(lumped_sources) if lumped_sources else slot,
            lang=lang.replace(lumped_langs) if lumped_langs else lang,
            pos=(pl.col("label") == "positive").cast(pl.Int64),
            neg=(pl.col("label") == "negative").cast(pl.Int64),
            prio=(gidx * _HASH_A) % _HASH_MOD,
            u=((gidx * _HASH_B) % _HASH_MOD + 0.5) / _HASH_MOD,
        )

    def _lumped(
        self, names: list[str], registry: dict[str, int], cap: int, bucket: int, sources: bool
    ) -> dict[str, str]:
        """Register newcomers while there is room; return the names lumped as "other"."""
        lumped: dict[str, str] = {}
        for name in sorted(set(names)):
            if name in registry:
                registry[name] = bucket
            elif len(registry) < cap:
                registry[name] = bucket
                if sources:
                    self._watch(f"source:{name}", "source", name)
            else:
                lumped[name] = OTHER
        return lumped

    @staticmethod
    def _exploded(
        base: pl.LazyFrame, lists: list[list[str]], name: str, columns: list[str]
    ) -> pl.LazyFrame:
        """One row per (mention, item), carrying some of the mention's columns.

        Building a list column from Python lists is slow in polars; flattening in
        Python and repeating the mention's columns is about twenty times faster.
        """
        lengths = pl.Series("n", [len(x) for x in lists], dtype=pl.UInt32)
        items = pl.Series(name, list(chain.from_iterable(lists)), dtype=pl.String)
        return (
            base.select(*columns, pl.lit(lengths))
            .filter(pl.col("n") > 0)
            .select(pl.col(columns).repeat_by("n"))
            .explode(columns)
            .with_columns(pl.lit(items))
        )

    def _term_query(self, exploded: pl.LazyFrame) -> pl.LazyFrame:
        """Term counts per bucket, merged with what the open buckets already hold."""
        agg = exploded.group_by("bucket", "term").agg(
            pl.len().cast(pl.Int64).alias("count"), pl.col("pos").sum(), pl.col("neg").sum()
        )
        if not self._open_terms:
            return agg
        held = [frame.lazy() for frame in self._open_terms.values()]
        return (
            pl.concat([agg, *held])
            .group_by("bucket", "term")
            .agg(pl.col("count", "pos", "neg").sum())
        )

    def _merge_terms(self, agg: pl.DataFrame) -> None:
        # Keep twice the sealed cap while the bucket is open so that a term rising
        # late in the bucket is not dropped on its first appearance.
        cap = 2 * self._config.analytics.max_terms_per_bucket
        if agg["bucket"].n_unique() == 1:
            parts = {int(agg["bucket"][0]): agg}
        else:
            parts = {int(k[0]): v for k, v in agg.partition_by("bucket", as_dict=True).items()}
        for bucket, part in parts.items():
            if part.height > cap:
                # Ties broken by term, so the same input always keeps the same terms.
                part = part.top_k(cap, by=["count", "term"], reverse=[False, True])
            self._open_terms[bucket] = part

    def _river_query(self, base: pl.LazyFrame) -> pl.LazyFrame:
        """Candidates for the river: a weighted sample favouring reach."""
        k = max(self._config.hub.river_per_tick, 0)
        # Weighted sampling without replacement (Efraimidis-Spirakis: the largest
        # u^(1/w)) with weights growing with log reach: big accounts are favoured,
        # small ones still show. Taking several times k leaves room to spread the
        # picks over sources afterwards.
        return base.select(
            "row", "slot", key=pl.col("u").log() / (1.0 + pl.col("reach").clip(0).log1p())
        ).top_k(k * RIVER_CANDIDATES, by="key")

    def _round_robin(self, rows: list[int], slots: list[str]) -> list[int]:
        """Take candidates best first, one per source per round, until the river is full."""
        k = self._config.hub.river_per_tick
        by_source: dict[str, list[int]] = {}
        for row, slot in zip(rows, slots, strict=True):
            by_source.setdefault(slot, []).append(row)
        picked: list[int] = []
        queues = list(by_source.values())
        depth = 0
        while len(picked) < k and queues:
            queues = [q for q in queues if len(q) > depth]
            picked.extend(q[depth] for q in queues[: k - len(picked)])
            depth += 1
        return picked

    def _explain_for(self, bucket: int) -> _Explain:
        e = self._explain.get(bucket)
        if e is None:
            e = self._explain[bucket] = _Explain()
        return e

    @staticmethod
    def _river_item(m: Mention) -> RiverItem:
        return RiverItem(
            id=m.id or m.key,
            source=m.source,
            author=m.author,
            reach=m.author_reach,
            text=_cut(m.text, RIVER_TEXT_CHARS),
            lang=m.lang,
            sentiment=m.sentiment,
            label=m.sentiment_label,
            brands=list(m.brands),
            created_at=m.created_at.timestamp(),
            url=m.url,
        )

    def _bucket(self, bucket: int) -> _Bucket:
        b = self._buckets.get(bucket)
        if b is None:
            b = self._buckets[bucket] = _Bucket()
        return b

    # ------------------------------------------------------------------ time

    def _advance(self, target: int, now: float) -> bool:
        """Seal every bucket before ``target``, feeding the detectors; evict old state."""
        assert self._cur is not None
        sealed = sorted(b for b in self._open_terms if b < target)
        new_parts = [self._seal_terms(bucket) for bucket in sealed]
        sealed_any = bool(sealed)
        previous = self._cur
        if target > previous:
            # After a gap longer than the history (the hub was away) the missing
            # buckets are not fed: a run of empty buckets is not news, and the
            # baselines' time of day and weekday still hold.
            topic_counts = self._topic_counts(new_parts)
            for bucket in range(max(previous, target - self._history), target):
                if bucket != self._start_bucket:
                    self._feed(bucket, topic_counts.get(bucket, {}))
            self._cur = target
            self._evict(target)
            sealed_any = True
        for bucket in [b for b in self._explain if b < target]:
            del self._explain[bucket]
        if sealed_any:
            hist = pl.concat([self._term_hist, *new_parts]).lazy()
            kept = hist.filter(pl.col("bucket") > target - self._history)
            one_step = (
                target == previous + 1
                and self._agg_at == previous
                and len(new_parts) == 1
                and sealed == [previous]
            )
            # The common step (one bucket sealed) moves four buckets between windows;
            # shifting the sums is much cheaper than summing the whole history again.
            agg = self._shifted_terms(hist) if one_step else self._summed_terms(kept)
            cands = self._candidates(agg)
            self._term_hist, self._term_agg, top = pl.collect_all([kept, agg, cands])
            self._seen_terms.clear()
            self._topic_cands = top["term"].to_list()
            self._agg_at = target
            self._watch_topics(target)
        return sealed_any

    def _seal_terms(self, bucket: int) -> pl.DataFrame:
        frame = self._open_terms.pop(bucket)
        cap = self._config.analytics.max_terms_per_bucket
        if frame.height <= cap:
            return frame
        return frame.top_k(cap, by=["count", "term"], reverse=[False, True])

    def _evict(self, target: int) -> None:
        cutoff = target - self._history
        for bucket in [b for b in self._buckets if b <= cutoff]:
            del self._buckets[bucket]
        for term in [t for t, last in self._topic_watch.items() if last <= cutoff]:
            if self._in_incident(f"topic:{term}"):
                continue
            del self._topic_watch[term]
            self._watches.pop(f"topic:{term}", None)
        for name in [s for s, last in self._source_last.items() if last <= cutoff]:
            if self._in_incident(f"source:{name}"):
                continue
            del self._source_last[name]
            self._watches.pop(f"source:{name}", None)
        for name in [s for s, last in self._lang_last.items() if last <= cutoff]:
            del self._lang_last[name]
        recent = target - self._window
        for bucket in [b for b in self._story_sample if b <= recent]:
            del self._story_sample[bucket]
        for bucket in [b for b in self._author_frames if b <= recent]:
            del self._author_frames[bucket]

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

    def _topic_counts(self, parts: list[pl.DataFrame]) -> dict[int, dict[str, int]]:
        """Counts of the watched topics in freshly sealed buckets: bucket -> term -> n."""
        out: dict[int, dict[str, int]] = {}
        if not self._topic_watch or not parts:
            return out
        watched = list(self._topic_watch)
        for part in parts:
            rows = part.filter(pl.col("term").is_in(watched)).select("bucket", "term", "count")
            for bucket, term, n in rows.iter_rows():
                out.setdefault(bucket, {})[term] = n
        return out

    def _watch_topics(self, target: int) -> None:
        """Give the leads of the hottest stories a detector, warmed on their history.

        A term's history comes from the sealed buckets (terms under each bucket's cap
        count as 0 there), so a new detector knows the term's normal before it first
        judges it; what it makes of that history raises nothing (it is the past).
        """
        limit = self._config.spikes.topic_series
        if limit <= 0:
            return
        own = {b.lower().replace(" ", "") for b in self._brands}
        leads: list[tuple[str, Topic]] = []
        for story in self._topics:
            # One detector per story, on its hashtag if it has one (people name a
            # story by it), else on its lead word when the story has more than one
            # word (one hot word alone is no story); never on a watched brand's own
            # name, a stopword, an edit marker or a generic word.
            tags = [t for t in story.terms if t.startswith("#")]
            words = tags if tags else story.terms[:1] if len(story.terms) >= 2 else []
            words = [t for t in words if meaningful(t) and t.lstrip("#") not in own]
            if words:
                leads.append((words[0], story))
        for term, story in leads[:limit]:
            if term in self._topic_watch:
                self._topic_watch[term] = target
                continue
            self._topic_watch[term] = target
            watch = self._watch(f"topic:{term}", "topic", term, brand=story.brand)
            counts = dict(
                self._term_hist.filter(pl.col("term") == term).select("bucket", "count").iter_rows()
            )
            first = max(self._start_bucket + 1, target - self._history + 1)
            # The history is the past: a burst in it that is over raises nothing, but
            # a story that was bursting when it became hot, and still is, counts now.
            recent = max(1, round(self._config.spikes.end_after_seconds / self._bs))
            burst = watch.warm((counts.get(b, 0) for b in range(first, target)), recent=recent)
            if burst is not None:
                self._warm_bursts[watch.series] = burst

    def _count_of(self, watch: SeriesWatch, b: _Bucket, topic_counts: dict[str, int]) -> int:
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
        b = self._buckets.get(bucket) or _Bucket()
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
                    members=self._members_of(bucket, watch),
                )
            )
        self._explain_bucket = bucket
        self._events.extend(
            self.incidents.observe((bucket + 1) * self._bs, points, self._explain_incident)
        )

    def _members_of(self, bucket: int, watch: SeriesWatch) -> Callable[[], list[Mention]]:
        """A sample of the series' mentions in the bucket, looked up only if asked."""

        def sample() -> list[Mention]:
            if watch.kind == "topic":
                term = watch.series[6:]
                return [m for m in self._window_sample() if term in m.terms]
            if watch.kind == "negative":
                return self._sample(bucket, f"brand:{watch.brand}", True)
            return self._sample(bucket, watch.series, False)

        return sample

    def _explain_incident(self, incident: Incident) -> Incident:
        """Terms, sources, authors and examples of an incident, from its newest bucket."""
        bucket = self._explain_bucket
        if incident.brand:
            series, negative = f"brand:{incident.brand}", incident.kind == "negative"
        else:
            series, negative = "total", False
        sample = self._sample(bucket, series, negative)
        self._prefetch_terms(self._repeated_terms(sample))
        why = self._why(bucket, series, negative)
        topics = [s.series[6:] for s in incident.signals if s.kind == "topic"]
        terms = [t for t in dict.fromkeys([*topics, *why.top_terms]) if meaningful(t)]
        terms.sort(key=lambda t: not t.startswith("#"))  # a story's hashtag names it
        return msgspec.structs.replace(
            incident,
            top_terms=terms[:TOP_TERMS_PER_ALERT] or incident.top_terms,
            top_sources=why.top_sources or incident.top_sources,
            examples=why.examples or incident.examples,
            top_authors=why.top_authors or incident.top_authors,
        )

    # ------------------------------------------------------------------ explanations

    def _why(self, bucket: int, series: str, negative: bool) -> Explanation:
        """Top terms, sources and examples of ``series`` in ``bucket``."""
        e = self._explain.get(bucket)
        if e is None:
            return Explanation([], [], [], [])
        key = f"neg:{series}" if negative else series
        examples: list[str] = []
        for m in e.examples.get(key, []):
            text = _cut(m.text, EXAMPLE_CHARS)
            if text and text not in examples:
                examples.append(text)
        if series.startswith("source:"):
            sources = [series[7:]]
        elif key in e.sources:
            sources = [s for s, _ in e.sources[key].most_common(TOP_SOURCES_PER_ALERT)]
        else:
            b = self._buckets.get(bucket) or _Bucket()
            ranked = sorted(b.sources.items(), key=lambda kv: (-kv[1][0], kv[0]))
            sources = [s for s, _ in ranked[:TOP_SOURCES_PER_ALERT]]
        sample = self._sample(bucket, series, negative)
        return Explanation(
            self._over_represented(sample, series),
            sources,
            examples,
            self._top_authors(sample, e.examples.get(key, [])),
        )

    def _sample(self, bucket: int, series: str, negative: bool) -> list[Mention]:
        e = self._explain.get(bucket)
        if e is None:
            return []
        return [m for _p, m in e.samples.get(f"neg:{series}" if negative else series, [])]

    @staticmethod
    def _repeated_terms(sample: list[Mention]) -> Counter[str]:
        """Terms in at least two mentions of the sample: once says nothing."""
        counts: Counter[str] = Counter()
        for m in sample:
            counts.update(set(m.terms))
        return Counter({t: c for t, c in counts.items() if c >= 2})

    def _prefetch_terms(self, terms: Iterable[str]) -> None:
        """Look up the baseline counts of many terms in one polars call."""
        missing = [t for t in terms if t not in self._seen_terms]
        if not missing:
            return
        found = self._term_agg.filter(pl.col("term").is_in(missing)).select(
            "term", seen=pl.col("rs") + pl.col("p") + pl.col("h")
        )
        self._seen_terms.update(dict.fromkeys(missing, 0))
        self._seen_terms.update(found.iter_rows())

    def _over_represented(self, sample: list[Mention], series: str) -> list[str]:
        """Terms the sample uses far more than the whole stream did in the history."""
        if not sample:
            return []
        counts = self._repeated_terms(sample)
        # The brand's own name is in every mention of a brand spike: true, not news.
        own = series[6:].lower().replace(" ", "") if series.startswith("brand:") else ""
        terms = [t for t in counts if t.lstrip("#") != own]
        self._prefetch_terms(terms)
        seen = self._seen_terms
        total = sum(self._term_totals)
        n = len(sample)
        scored = []
        for term in terms:
            c = counts[term]
            expected = n * seen.get(term, 0) / total if total else 0.0
            score = math.log((c + 1) / (expected + 1)) * math.sqrt(c)
            if score > 0:
                scored.append((-score, term))
        scored.sort()
        return [term[:TOPIC_TERM_CHARS] for _s, term in scored[:TOP_TERMS_PER_ALERT]]

    # ------------------------------------------------------------------ topics

    def _summed_terms(self, hist: pl.LazyFrame) -> pl.LazyFrame:
        """Per-term sums over the recent, previous and older windows of sealed buckets."""
        assert self._cur is not None
        c, w = self._cur, self._window
        r0, p0 = c - w + 1, c - 2 * w + 1
        bucket = pl.col("bucket")
        recent = bucket >= r0
        prev = (bucket >= p0) & (bucket < r0)
        older = bucket < p0
        zero = pl.lit(0, dtype=pl.Int64)
        return (
            hist.select(
                "term",
                rs=pl.when(recent).then("count").otherwise(zero),
                rpos=pl.when(recent).then("pos").otherwise(zero),
                rneg=pl.when(recent).then("neg").otherwise(zero),
                p=pl.when(prev).then("count").otherwise(zero),
                h=pl.when(older).then("count").otherwise(zero),
            )
            .group_by("term")
            .agg(pl.col("rs", "rpos", "rneg", "p", "h").sum())
        )

    def _shifted_terms(self, hist: pl.LazyFrame) -> pl.LazyFrame:
        """The sums after the current bucket moved on by one.

        Bucket c-1 enters the recent window, c-w moves from recent to previous, c-2w
        from previous to older, and c-h drops out. Each move is a separate signed term
        so that coinciding buckets (w == 1, or h == 2w) still add up.
        """
        assert self._cur is not None
        c, w, h = self._cur, self._window, self._history
        bucket = pl.col("bucket")
        zero = pl.lit(0, dtype=pl.Int64)

        def at(b: int, column: str) -> pl.Expr:
            return pl.when(bucket == b).then(pl.col(column)).otherwise(zero)

        moves = hist.filter(bucket.is_in([c - 1, c - w, c - 2 * w, c - h])).select(
            "term",
            rs=at(c - 1, "count") - at(c - w, "count"),
            rpos=at(c - 1, "pos") - at(c - w, "pos"),
            rneg=at(c - 1, "neg") - at(c - w, "neg"),
            p=at(c - w, "count") - at(c - 2 * w, "count"),
            h=at(c - 2 * w, "count") - at(c - h, "count"),
        )
        return (
            pl.concat([self._term_agg.lazy(), moves])
            .group_by("term")
            .agg(pl.col("rs", "rpos", "rneg", "p", "h").sum())
            .filter((pl.col("rs") != 0) | (pl.col("p") != 0) | (pl.col("h") != 0))
        )

    def _candidates(self, agg: pl.LazyFrame) -> pl.LazyFrame:
        """Mention totals per window, and the terms worth rescoring every tick."""
        assert self._cur is not None
        c, w = self._cur, self._window
        r0, p0 = c - w + 1, c - 2 * w + 1
        totals = [0, 0, 0]
        for b, data in self._buckets.items():
            if b < c:
                totals[0 if b >= r0 else 1 if b >= p0 else 2] += data.total
        self._term_totals = (totals[0], totals[1], totals[2])
        # A term's score grows with its count, so a term outside the top candidates on
        # sealed data can overtake them only by appearing in the current bucket; the
        # candidates are several times ``top_topics`` to absorb the small shifts the
        # growing recent volume causes in between.
        scored = self._score(agg.with_columns(r=pl.col("rs")), totals[0], float(w - 1), w)
        return scored.head(TOPIC_CANDIDATES).select("term")

    def _hot_topics(self, now: float) -> list[Topic]:
        assert self._cur is not None
        c, w = self._cur, self._window
        current = self._open_terms.get(c)
        if current is None:
            current = pl.DataFrame(schema={"bucket": pl.Int64, **_TERM_SCHEMA})
        cands = [*self._topic_cands, *current["term"].to_list()]
        frame = (
            self._term_agg.lazy()
            .filter(pl.col("term").is_in(cands))
            .join(current.lazy().drop("bucket"), on="term", how="full", coalesce=True)
            .fill_null(0)
            .with_columns(
                r=pl.col("rs") + pl.col("count"),
                rpos=pl.col("rpos") + pl.col("pos"),
                rneg=pl.col("rneg") + pl.col("neg"),
            )
        )
        cur_bucket = self._buckets.get(c)
        n_recent = self._term_totals[0] + (cur_bucket.total if cur_bucket else 0)
        r_start = max((c - w + 1) * self._bs, self._origin)
        span = max(now - r_start, 1.0) / self._bs
        scored = (
            self._score(frame, n_recent, span, w)
            .head(STORY_CANDIDATES_FACTOR * self._config.analytics.top_topics)
            .select("term", "r", "p", "score", "rpos", "rneg", "trend")
            .collect()
        )
        topics = []
        for term, r, p, score, rpos, rneg, trend in scored.iter_rows():
            topics.append(
                Topic(
                    term=term[:TOPIC_TERM_CHARS],
                    count=r,
                    previous=p,
                    score=round(score, 2),
                    trend=trend,
                    net=_ratio(rpos - rneg, r),
                )
            )
        return topics

    def _score(self, frame: pl.LazyFrame, n_recent: int, span: float, w: int) -> pl.LazyFrame:
        """Rank terms bursting against their own baseline.

        The expected count in the recent window is the term's share of all mentions
        in the previous window and in the older history (averaged), times the recent
        volume, so a daily rise in traffic does not make every word hot. The score
        is a smoothed log-ratio times sqrt(count): a new hashtag at 30 beats a word
        that is always at 3,000, and a word at 5 needs a big ratio to rank.
        """
        _rs, n_prev, n_old = self._term_totals
        shares = []
        if n_prev:
            shares.append(pl.col("p") / n_prev)
        if n_old:
            shares.append(pl.col("h") / n_old)
        expected = pl.sum_horizontal(shares) / len(shares) * n_recent if shares else pl.lit(0.0)
        r = pl.col("r").cast(pl.Float64)
        score = ((r + 1) / (expected + 1)).log() * r.sqrt()
        prev_span = self._prev_span(w)
        rate_ratio = (r / span) / (pl.col("p") / prev_span) if prev_span else pl.lit(math.inf)
        trend = (
            pl.when(pl.col("p") == 0)
            .then(pl.lit("new"))
            .when(rate_ratio >= TREND_UP)
            .then(pl.lit("up"))
            .when(rate_ratio <= 1 / TREND_UP)
            .then(pl.lit("down"))
            .otherwise(pl.lit("flat"))
        )
        return (
            frame.with_columns(score=score, trend=trend)
            .filter((pl.col("r") >= MIN_TOPIC_COUNT) & (pl.col("score") > 0))
            .sort(["score", "r", "term"], descending=[True, True, False])
        )

    def _prev_span(self, w: int) -> float:
        """Buckets of the previous window the analytics actually saw."""
        assert self._cur is not None
        p_start = (self._cur - 2 * w + 1) * self._bs
        p_end = (self._cur - w + 1) * self._bs
        return max(0.0, p_end - max(p_start, self._origin)) / self._bs

    # ------------------------------------------------------------------ stories

    def _window_sample(self) -> list[Mention]:
        return [m for part in self._story_sample.values() for _p, m in part]

    def _stories(self, terms: list[Topic]) -> list[Topic]:
        """Group hot terms that travel together into stories, each with a readable label.

        Terms are taken hottest first; each joins the first story whose lead it shares
        enough sampled mentions with (:data:`STORY_LINK` of the rarer term's, and at
        least :data:`STORY_MIN_SHARED`), or leads a story of its own. Comparing with the
        lead only, not with every member, keeps one busy word from chaining unrelated
        stories together.
        """
        top = self._config.analytics.top_topics
        # A watched brand's own name is in its every mention: true, not a story (its
        # volume has a panel and a detector of its own).
        own = {b.lower().replace(" ", "") for b in self._brands}
        terms = [t for t in terms if t.term.lstrip("#") not in own]
        if not terms:
            return []
        wanted = {t.term for t in terms}
        carriers: dict[str, list[Mention]] = {t: [] for t in wanted}
        for m in self._window_sample():
            for term in wanted.intersection(m.terms):
                carriers[term].append(m)
        ids = {t: {id(m) for m in ms} for t, ms in carriers.items()}
        groups: list[tuple[Topic, list[Topic]]] = []
        for topic in terms:
            mine = ids[topic.term]
            home = None
            for lead, members in groups:
                theirs = ids[lead.term]
                shared = len(mine & theirs)
                rarer = min(len(mine), len(theirs))
                if shared >= STORY_MIN_SHARED and rarer and shared / rarer >= STORY_LINK:
                    home = members
                    break
            if home is not None:
                home.append(topic)
            elif len(groups) < top:
                groups.append((topic, [topic]))
        out = []
        for lead, members in groups:
            out.append(
                msgspec.structs.replace(
                    lead,
                    label=self._label(members),
                    terms=[t.term for t in members],
                    brand=self._story_brand(carriers[lead.term]),
                )
            )
        return out

    @staticmethod
    def _label(members: list[Topic]) -> str:
        """ "#aerogate: battery, swelling": a hashtag leads when the story has one."""
        tags = [t.term for t in members if t.term.startswith("#")]
        head = tags[0] if tags else members[0].term
        rest = [t.term for t in members if t.term != head][:STORY_LABEL_TERMS]
        label = f"{head}: {', '.join(rest)}" if rest else head
        return _cut(label, TOPIC_TERM_CHARS)

    def _story_brand(self, carriers: list[Mention]) -> str:
        if not carriers:
            return ""
        counts: Counter[str] = Counter()
        for m in carriers:
            counts.update(set(m.brands))
        for brand, n in counts.most_common(1):
            if brand in self._brands and n >= STORY_BRAND_SHARE * len(carriers):
                return brand
        return ""

    def _why_topic(self, term: str) -> Explanation:
        """Sources, authors and examples of a spiking topic, from the sampled mentions."""
        carriers = [m for m in self._window_sample() if term in m.terms]
        story = next((t for t in self._topics if term in t.terms), None)
        terms = [t for t in (story.terms if story else []) if t != term]
        sources = Counter(m.source for m in carriers)
        by_reach = sorted(carriers, key=lambda m: -m.author_reach)
        examples: list[str] = []
        for m in by_reach:
            text = _cut(m.text, EXAMPLE_CHARS)
            if text and text not in examples:
                examples.append(text)
            if len(examples) >= EXAMPLES_PER_SERIES:
                break
        return Explanation(
            [term, *terms][:TOP_TERMS_PER_ALERT],
            [s for s, _ in sources.most_common(TOP_SOURCES_PER_ALERT)],
            examples,
            self._top_authors(carriers, by_reach),
        )

    @staticmethod
    def _top_authors(sample: list[Mention], examples: list[Mention]) -> list[str]:
        """Authors who posted most in the sample (twice or more), then the loudest."""
        counts = Counter(f"{m.author}@{m.source}" for m in sample if m.author)
        out = [a for a, n in counts.most_common(TOP_AUTHORS_PER_ALERT) if n >= 2]
        for m in examples:
            name = f"{m.author}@{m.source}"
            if len(out) >= TOP_AUTHORS_PER_ALERT:
                break
            if m.author and name not in out:
                out.append(name)
        return out

    # ------------------------------------------------------------------ influencers

    @staticmethod
    def _author_query(base: pl.LazyFrame) -> pl.LazyFrame:
        """Per bucket and author: mentions, reach, engagement, sentiment, brands."""
        return (
            base.filter(pl.col("author") != "")
            .group_by("bucket", "source", "author")
            .agg(
                pl.len().cast(pl.Int64).alias("n"),
                pl.col("reach").max(),
                pl.col("eng").sum(),
                pl.col("pos").sum(),
                pl.col("neg").sum(),
                pl.col("brand").filter(pl.col("brand") != "").unique().alias("brands"),
            )
        )

    def _merge_authors(self, authors: pl.DataFrame) -> None:
        if authors.is_empty():
            return
        known = self._known_authors
        for bucket, source, author in authors.select("bucket", "source", "author").iter_rows():
            key = f"{source}:{author}"
            seen = known.get(key)
            if seen is None:
                if len(known) >= MAX_KNOWN_AUTHORS:
                    del known[next(iter(known))]
                known[key] = bucket
            elif bucket < seen:
                known[key] = bucket
        for (bucket,), part in authors.partition_by("bucket", as_dict=True).items():
            held = self._author_frames.get(int(bucket))
            if held is not None:
                part = (
                    pl.concat([held, part])
                    .group_by("bucket", "source", "author")
                    .agg(
                        pl.col("n", "eng", "pos", "neg").sum(),
                        pl.col("reach").max(),
                        pl.col("brands").explode().drop_nulls().unique(),
                    )
                    .select(part.columns)
                )
            if part.height > 3 * AUTHORS_PER_BUCKET:
                keep = pl.concat(
                    [
                        part.top_k(AUTHORS_PER_BUCKET, by=[col, "author"], reverse=[False, True])
                        for col in ("reach", "eng", "n")
                    ]
                ).unique(subset=["source", "author"], keep="first")
                part = keep
            self._author_frames[int(bucket)] = part

    def _rank_authors(self) -> list[Influencer]:
        """Authors of the window, ranked by reach, engagement and how often they post.

        The score adds log10 of reach, half of log10 of engagement, and twice log10 of
        mentions (plus one each): a million followers is 6, a thousand likes 1.5, ten
        posts about us 2. A voice is new when its author was first seen inside the window
        and the analytics had already been running for a whole window before that.
        """
        if self._cur is None or not self._author_frames:
            return []
        lo = self._cur - self._window + 1
        frames = [f for b, f in self._author_frames.items() if b >= lo]
        if not frames:
            return []
        ranked = (
            pl.concat(frames)
            .group_by("source", "author")
            .agg(
                pl.col("n", "eng", "pos", "neg").sum(),
                pl.col("reach").max(),
                pl.col("brands").explode().drop_nulls().unique().sort(),
            )
            .with_columns(
                score=pl.col("reach").cast(pl.Float64).log1p() / math.log(10)
                + 0.5 * pl.col("eng").cast(pl.Float64).log1p() / math.log(10)
                + 2.0 * pl.col("n").cast(pl.Float64).log1p() / math.log(10)
            )
            .sort(["score", "author"], descending=[True, False])
            .head(INFLUENCERS_IN_TICK)
        )
        settled = lo > self._start_bucket + self._window
        out = []
        for source, author, n, eng, pos, neg, reach, brands, score in ranked.select(
            "source", "author", "n", "eng", "pos", "neg", "reach", "brands", "score"
        ).iter_rows():
            first = self._known_authors.get(f"{source}:{author}", lo)
            out.append(
                Influencer(
                    author=author,
                    source=source,
                    reach=reach,
                    mentions=n,
                    engagement=eng,
                    net=_ratio(pos - neg, n),
                    score=round(score, 2),
                    new=settled and first >= lo,
                    brands=[b for b in brands if b in self._brands],
                )
            )
        return out

    # ------------------------------------------------------------------ output

    def _window_sums(self, lo: int, hi: int) -> _Window:
        out = _Window()
        for bucket in range(lo, hi + 1):
            b = self._buckets.get(bucket)
            if b is None:
                continue
            out.total += b.total
            out.pos += b.pos
            out.neg += b.neg
            for key, (n, pos, neg) in b.sources.items():
                _add3(out.sources, key, n, pos, neg)
            out.langs.update(b.langs)
            for key, (n, pos, neg) in b.brands.items():
                _add3(out.brands, key, n, pos, neg)
            out.categories.update(b.categories)
            out.review += b.review
            out.flagged += b.flagged
        return out

    def _last_seconds(self, now: float, c: int, seconds: float) -> float:
        """Mentions in (now - seconds, now], counting a straddled bucket pro rata."""
        start = now - seconds
        total = 0.0
        for bucket in range(int(start // self._bs), c + 1):
            b = self._buckets.get(bucket)
            if b is None or not b.total:
                continue
            b_start = bucket * self._bs
            b_end = min(b_start + self._bs, max(now, b_start))
            width = b_end - b_start
            inside = b_end - max(b_start, start)
            total += b.total * (min(1.0, max(0.0, inside / width)) if width > 0 else 1.0)
        return total

    def _build(self, now: float, river: list[RiverItem]) -> Tick:
        c = self._cur if self._cur is not None else int(now // self._bs)
        w = self._window
        win = self._window_sums(c - w + 1, c)
        series_range = range(c - self._series_len + 1, c + 1)
        empty = _Bucket()
        cols = [self._buckets.get(b, empty) for b in series_range]

        elapsed = max(min(RATE_SECONDS, now - self._origin), 1.0)
        last_minute = self._last_seconds(now, c, RATE_SECONDS)
        win_span = max(now - max((c - w + 1) * self._bs, self._origin), 1.0)

        ranked_sources = sorted(win.sources.items(), key=lambda kv: (-kv[1][0], kv[0]))
        # The per-source series cover more time than the window: rank over what is drawn.
        drawn: Counter[str] = Counter()
        for b in cols:
            for key, counts in b.sources.items():
                drawn[key] += counts[0]
        ranked = sorted(drawn.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = [s for s, _ in ranked[:SOURCE_SERIES_IN_TICK]]
        by_source = {s: [b.sources.get(s, [0])[0] for b in cols] for s in shown}
        rest = [b.total - sum(by_source[s][i] for s in shown) for i, b in enumerate(cols)]
        if any(rest):
            by_source[OTHER] = [
                x + y for x, y in zip(by_source.get(OTHER, [0] * len(cols)), rest, strict=True)
            ]

        brand_total = sum(win.brands.get(b, [0])[0] for b in self._brands)
        brands = []
        for name in self._brands:
            n, pos, neg = win.brands.get(name, [0, 0, 0])
            brands.append(
                BrandStat(
                    brand=name,
                    count=n,
                    share_of_voice=_ratio(n, brand_total),
                    net=_ratio(pos - neg, n),
                    negative_share=_ratio(neg, n),
                    series=[b.brands.get(name, [0])[0] for b in cols],
                )
            )

        tick = Tick(
            seq=self._seq,
            at=now,
            demo=False,
            bucket_seconds=self._bs,
            window_seconds=self._config.analytics.window_seconds,
            ingested_total=self._seen,
            rate_per_s=round(last_minute / elapsed, 3),
            volume=Volume(
                last_minute=round(last_minute),
                window=win.total,
                per_minute=round(win.total / win_span * 60, 2),
                series=[b.total for b in cols],
                by_source=by_source,
            ),
            sentiment=SentimentView(
                positive=win.pos,
                neutral=win.total - win.pos - win.neg,
                negative=win.neg,
                net=_ratio(win.pos - win.neg, win.total),
                negative_share=_ratio(win.neg, win.total),
                series_net=[_ratio(b.pos - b.neg, b.total) for b in cols],
                series_negative_share=[_ratio(b.neg, b.total) for b in cols],
            ),
            sources=[
                SourceStat(
                    source=s,
                    count=n,
                    share=_ratio(n, win.total),
                    net=_ratio(pos - neg, n),
                    negative_share=_ratio(neg, n),
                )
                for s, (n, pos, neg) in ranked_sources
            ],
            languages=[
                KeyCount(key=k, count=n)
                for k, n in sorted(win.langs.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            brands=brands,
            topics=list(self._topics),
            incidents=self.incidents.current(now),
            river=river,
            influencers=list(self._influencers),
            triage=TriageView(
                categories=[KeyCount(key=c, count=win.categories[c]) for c in CATEGORIES],
                review=win.review,
                queue=list(self._review)[:REVIEW_IN_TICK],
                flagged=win.flagged,
                flags=list(self._flags)[:FLAGS_IN_TICK],
            ),
        )
        return self._fit(tick)

    @staticmethod
    def _fit(tick: Tick) -> Tick:
        """Trim a tick that would be too large on the wire (only with hostile input)."""
        if len(encode(tick)) <= MAX_TICK_BYTES:
            return tick
        incidents = [
            msgspec.structs.replace(i, examples=[], history=i.history[-3:]) for i in tick.incidents
        ]
        tick = msgspec.structs.replace(tick, incidents=incidents)
        if len(encode(tick)) <= MAX_TICK_BYTES:
            return tick
        river = [msgspec.structs.replace(r, text=_cut(r.text, 80)) for r in tick.river]
        return msgspec.structs.replace(
            tick,
            river=river,
            sources=tick.sources[:SOURCE_SERIES_IN_TICK],
            languages=tick.languages[:16],
        )
