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
bounded alert history.

Pure code: no sockets, no clock. ``now`` is always passed in.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal

import msgspec
import polars as pl

from groundcontrol.config import Config
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    Alert,
    AlertEvent,
    BrandStat,
    KeyCount,
    RiverItem,
    SentimentView,
    Snapshot,
    SourceStat,
    Tick,
    Topic,
    Volume,
    encode,
)
from groundcontrol.spikes import Explanation, SpikeDetector, SpikeEvent

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
#: How long an ended alert stays in ticks.
ALERT_RETENTION_SECONDS = 600.0
MAX_ALERTS_IN_TICK = 20
#: Alerts kept in memory (open ones are never dropped; they are bounded by detectors).
MAX_ALERTS_KEPT = 100
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
        self._detectors: dict[tuple[str, str], SpikeDetector] = {}
        self._alerts: dict[str, Alert] = {}
        self._events: list[AlertEvent] = []
        self._river: deque[RiverItem] = deque(maxlen=SNAPSHOT_RIVER)

        self._add_detector("volume", "total", "Total")
        self._add_detector("negative_share", "total", "all mentions")
        for brand in self._brands:
            self._add_detector("volume", f"brand:{brand}", brand)
            self._add_detector("negative_share", f"brand:{brand}", brand)

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

    def tick(self, now: float) -> tuple[Tick, list[AlertEvent]]:
        """Aggregate what was added since the last tick; return the tick and alert events."""
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
            self._topics = self._hot_topics(now)
        self._river.extendleft(reversed(river))
        self._seq += 1
        tick = self._build(now, river)
        events, self._events = self._events, []
        return tick, events

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
            "detectors": len(self._detectors),
            "detector_history": sum(d.history_size for d in self._detectors.values()),
            "alerts": len(self._alerts),
            "explain_buckets": len(self._explain),
            "explain_items": sum(
                sum(len(v) for v in e.examples.values())
                + sum(len(v) for v in e.samples.values())
                + sum(len(v) for v in e.sources.values())
                for e in self._explain.values()
            ),
            "river": len(self._river),
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
        t = self._exploded(b, [m.terms for m in mentions], "term", ["bucket", "pos", "neg"])
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
        src, lang, brand, term, tot, negtot, negbrand, brand_src, river = pl.collect_all(
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

        rows = self._round_robin(river["row"].to_list(), river["slot"].to_list())
        rows.sort(key=lambda i: (recv[i], i), reverse=True)
        return [self._river_item(mentions[i]) for i in rows]

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
            },
            schema={
                "recv": pl.Float64,
                "source": pl.String,
                "lang": pl.String,
                "label": pl.String,
                "reach": pl.Int64,
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
                    self._add_detector("volume", f"source:{name}", f"Source {name}")
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
            if target - previous > self._history:
                # The hub was away for longer than the history: old baselines describe
                # a world that is gone, and a run of empty buckets is not news.
                for detector in self._detectors.values():
                    detector.reset()
            for bucket in range(max(previous, target - self._history), target):
                if bucket != self._start_bucket:
                    self._feed(bucket)
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
        for detector in self._detectors.values():
            if detector.alert is not None:
                self._alerts[detector.alert.id] = detector.alert
        self._prune_alerts(now)
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
        for name in [s for s, last in self._source_last.items() if last <= cutoff]:
            detector = self._detectors.get(("volume", f"source:{name}"))
            if detector is not None and detector.alert is not None:
                continue
            del self._source_last[name]
            self._detectors.pop(("volume", f"source:{name}"), None)
        for name in [s for s, last in self._lang_last.items() if last <= cutoff]:
            del self._lang_last[name]

    def _add_detector(
        self, kind: Literal["volume", "negative_share"], series: str, label: str
    ) -> None:
        self._detectors[(kind, series)] = SpikeDetector(
            kind, series, self._config.spikes, bucket_seconds=self._bs, label=label
        )

    def _feed(self, bucket: int) -> None:
        b = self._buckets.get(bucket) or _Bucket()
        changed: list[tuple[SpikeDetector, SpikeEvent]] = []
        for (kind, series), detector in self._detectors.items():
            if kind == "volume":
                if series == "total":
                    n = b.total
                elif series.startswith("brand:"):
                    n = b.brands.get(series[6:], [0])[0]
                else:
                    n = b.sources.get(series[7:], [0])[0]
                event = detector.observe(bucket, n, count=n)
            else:
                if series == "total":
                    n, neg = b.total, b.neg
                else:
                    n, _pos, neg = b.brands.get(series[6:], [0, 0, 0])
                event = detector.observe(bucket, neg / n if n else 0.0, count=n)
            if event is not None:
                changed.append((detector, event))
        # A surge opens dozens of alerts in one bucket: explain them together, with
        # one lookup of the baseline counts of every term their samples share.
        wanted: set[str] = set()
        for d, e in changed:
            if e.change != "ended":
                sample = self._sample(bucket, d.series, d.kind == "negative_share")
                wanted.update(self._repeated_terms(sample))
        self._prefetch_terms(wanted)
        for detector, event in changed:
            alert = event.alert
            if event.change != "ended":
                negative = detector.kind == "negative_share"
                alert = detector.annotate(self._why(bucket, detector.series, negative))
            self._record(alert)

    def _record(self, alert: Alert) -> None:
        self._alerts[alert.id] = alert
        self._events.append(AlertEvent(alert=alert))

    def _prune_alerts(self, now: float) -> None:
        horizon = now - ALERT_RETENTION_SECONDS
        for key in [
            k for k, a in self._alerts.items() if a.ended_at is not None and a.ended_at < horizon
        ]:
            del self._alerts[key]
        if len(self._alerts) > MAX_ALERTS_KEPT:
            ended = sorted(
                (a for a in self._alerts.values() if a.ended_at is not None),
                key=lambda a: (a.ended_at or 0.0, a.id),
            )
            for a in ended[: len(self._alerts) - MAX_ALERTS_KEPT]:
                del self._alerts[a.id]

    # ------------------------------------------------------------------ explanations

    def _why(self, bucket: int, series: str, negative: bool) -> Explanation:
        """Top terms, sources and examples of ``series`` in ``bucket``."""
        e = self._explain.get(bucket)
        if e is None:
            return Explanation([], [], [])
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
        return Explanation(
            self._over_represented(self._sample(bucket, series, negative), series),
            sources,
            examples,
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
            .head(self._config.analytics.top_topics)
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
            alerts=self._alert_list(),
            river=river,
        )
        return self._fit(tick)

    def _alert_list(self) -> list[Alert]:
        # Open alerts first so the cap never hides a live one behind an ended one.
        ordered = sorted(
            self._alerts.values(),
            key=lambda a: (a.ended_at is None, a.started_at, a.id),
            reverse=True,
        )
        return ordered[:MAX_ALERTS_IN_TICK]

    @staticmethod
    def _fit(tick: Tick) -> Tick:
        """Trim a tick that would be too large on the wire (only with hostile input)."""
        if len(encode(tick)) <= MAX_TICK_BYTES:
            return tick
        alerts = [msgspec.structs.replace(a, examples=[]) for a in tick.alerts]
        tick = msgspec.structs.replace(tick, alerts=alerts)
        if len(encode(tick)) <= MAX_TICK_BYTES:
            return tick
        river = [msgspec.structs.replace(r, text=_cut(r.text, 80)) for r in tick.river]
        return msgspec.structs.replace(
            tick,
            river=river,
            sources=tick.sources[:SOURCE_SERIES_IN_TICK],
            languages=tick.languages[:16],
        )
