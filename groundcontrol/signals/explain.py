"""Explanations: what a burst or an incident shows, in terms, sources, authors and
examples.

For the buckets still open, :class:`Explanations` keeps per watched series ("total",
"brand:X", "source:Y", and the negative mentions of the total and of each brand) a
reservoir of the highest-reach mentions, a uniform sample and the sources counted.
When a sealed bucket opens or grows an incident, the sample gives the terms it uses
far more than the whole stream did over the history (the baseline counts come from
:class:`~groundcontrol.signals.topics.Topics`), the sources it comes from and the
authors who drive it; a topic's burst is explained from the story sample instead.

Pure code: no sockets, no clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec
import polars as pl

from groundcontrol.listen.terms import meaningful
from groundcontrol.model import Mention
from groundcontrol.protocol import Incident
from groundcontrol.signals.influencers import top_authors
from groundcontrol.signals.series import Explanation, SeriesWatch
from groundcontrol.signals.topics import TOPIC_TERM_CHARS, Topics
from groundcontrol.signals.windows import Batch, Bucket, Windows, cut

#: Example reservoir per series and bucket: the highest-reach mentions...
EXAMPLES_PER_SERIES = 3
EXAMPLE_CHARS = 140
#: ...and a uniform sample, to tell which terms a spiking series over-uses.
SAMPLE_PER_SERIES = 40
TOP_TERMS_PER_ALERT = 5
TOP_SOURCES_PER_ALERT = 3


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


def reservoir_picks() -> tuple[pl.Expr, pl.Expr]:
    """Aggregations picking a group's rows for the reservoirs: ``ex``, the highest
    reach, and ``sample``, the lowest priorities."""
    return (
        pl.col("row").top_k_by("reach", EXAMPLES_PER_SERIES).alias("ex"),
        pl.col("row").bottom_k_by("prio", SAMPLE_PER_SERIES).alias("sample"),
    )


class Explanations:
    """The open buckets' reservoirs, and the explanations drawn from them.

    Reads the bucket counts of ``windows`` (a series' sources when none were counted
    for it), and the term baselines and story sample of ``topics``.
    """

    def __init__(self, windows: Windows, topics: Topics) -> None:
        self._windows = windows
        self._topics = topics
        self._buckets: dict[int, _Explain] = {}
        # Baseline counts of terms looked up for alert explanations, valid until the
        # sums change: a surge opens dozens of alerts at once over the same words.
        self._baselines: dict[str, int] = {}

    # ------------------------------------------------------------------ ingest

    @staticmethod
    def queries(batch: Batch) -> list[pl.LazyFrame]:
        """Reservoir picks per bucket for the total, its negative mentions and each
        brand's negative mentions, then source counts per bucket and brand, in that
        order. The per-source and per-brand picks come with the windows' counts."""
        b, br = batch.base, batch.brands
        neg = pl.col("neg") == 1
        picks = reservoir_picks()
        return [
            b.group_by("bucket").agg(*picks),
            b.filter(neg).group_by("bucket").agg(*picks),
            br.filter(neg).group_by("bucket", "brand").agg(*picks),
            br.group_by("bucket", "brand", "slot").agg(pl.len().alias("n"), pl.col("neg").sum()),
        ]

    def merge(
        self,
        batch: Batch,
        sources: pl.DataFrame,
        brands: pl.DataFrame,
        total: pl.DataFrame,
        negative: pl.DataFrame,
        negative_brands: pl.DataFrame,
        brand_sources: pl.DataFrame,
    ) -> None:
        """Take the windows' per-source and per-brand frames (their ``ex`` and
        ``sample`` columns) and the results of :meth:`queries`."""
        mentions = batch.mentions
        pool = batch.pool
        for bucket, slot, neg, ex, sample in sources.select(
            "bucket", "slot", "neg", "ex", "sample"
        ).iter_rows():
            e = self._for(bucket)
            e.add(f"source:{slot}", [mentions[i] for i in ex], pool(sample))
            if neg:
                e.count_source("neg:total", slot, neg)
        for bucket, name, ex, sample in brands.select(
            "bucket", "brand", "ex", "sample"
        ).iter_rows():
            self._for(bucket).add(f"brand:{name}", [mentions[i] for i in ex], pool(sample))
        for key, frame in (("total", total), ("neg:total", negative)):
            for bucket, ex, sample in frame.iter_rows():
                self._for(bucket).add(key, [mentions[i] for i in ex], pool(sample))
        for bucket, name, ex, sample in negative_brands.iter_rows():
            self._for(bucket).add(f"neg:brand:{name}", [mentions[i] for i in ex], pool(sample))
        for bucket, name, slot, n, neg in brand_sources.iter_rows():
            e = self._for(bucket)
            e.count_source(f"brand:{name}", slot, n)
            if neg:
                e.count_source(f"neg:brand:{name}", slot, neg)

    def _for(self, bucket: int) -> _Explain:
        e = self._buckets.get(bucket)
        if e is None:
            e = self._buckets[bucket] = _Explain()
        return e

    def drop_before(self, target: int) -> None:
        """Forget the reservoirs of buckets before ``target`` (sealed and explained)."""
        for bucket in [b for b in self._buckets if b < target]:
            del self._buckets[bucket]

    def forget_baselines(self) -> None:
        """The term sums changed: looked-up baselines are stale."""
        self._baselines.clear()

    # ------------------------------------------------------------------ explanations

    def members(self, bucket: int, watch: SeriesWatch) -> Callable[[], list[Mention]]:
        """A sample of the series' mentions in the bucket, looked up only if asked."""

        def sample() -> list[Mention]:
            if watch.kind == "topic":
                term = watch.series[6:]
                return [m for m in self._topics.window_sample() if term in m.terms]
            if watch.kind == "negative":
                return self._sample(bucket, f"brand:{watch.brand}", True)
            return self._sample(bucket, watch.series, False)

        return sample

    def incident(self, incident: Incident, bucket: int) -> Incident:
        """Terms, sources, authors and examples of an incident, from ``bucket``, its
        newest."""
        if incident.brand:
            series, negative = f"brand:{incident.brand}", incident.kind == "negative"
        else:
            series, negative = "total", False
        sample = self._sample(bucket, series, negative)
        self._prefetch_terms(_repeated_terms(sample))
        why = self.why(bucket, series, negative)
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

    def topic(self, term: str) -> Explanation:
        """Sources, authors and examples of a spiking topic, from the sampled mentions."""
        carriers = [m for m in self._topics.window_sample() if term in m.terms]
        story = next((t for t in self._topics.stories if term in t.terms), None)
        terms = [t for t in (story.terms if story else []) if t != term]
        sources = Counter(m.source for m in carriers)
        by_reach = sorted(carriers, key=lambda m: -m.author_reach)
        examples: list[str] = []
        for m in by_reach:
            text = cut(m.text, EXAMPLE_CHARS)
            if text and text not in examples:
                examples.append(text)
            if len(examples) >= EXAMPLES_PER_SERIES:
                break
        return Explanation(
            [term, *terms][:TOP_TERMS_PER_ALERT],
            [s for s, _ in sources.most_common(TOP_SOURCES_PER_ALERT)],
            examples,
            top_authors(carriers, by_reach),
        )

    def why(self, bucket: int, series: str, negative: bool) -> Explanation:
        """Top terms, sources and examples of ``series`` in ``bucket``."""
        e = self._buckets.get(bucket)
        if e is None:
            return Explanation([], [], [], [])
        key = f"neg:{series}" if negative else series
        examples: list[str] = []
        for m in e.examples.get(key, []):
            text = cut(m.text, EXAMPLE_CHARS)
            if text and text not in examples:
                examples.append(text)
        if series.startswith("source:"):
            sources = [series[7:]]
        elif key in e.sources:
            sources = [s for s, _ in e.sources[key].most_common(TOP_SOURCES_PER_ALERT)]
        else:
            b = self._windows.get(bucket) or Bucket()
            ranked = sorted(b.sources.items(), key=lambda kv: (-kv[1][0], kv[0]))
            sources = [s for s, _ in ranked[:TOP_SOURCES_PER_ALERT]]
        sample = self._sample(bucket, series, negative)
        return Explanation(
            self._over_represented(sample, series),
            sources,
            examples,
            top_authors(sample, e.examples.get(key, [])),
        )

    def _sample(self, bucket: int, series: str, negative: bool) -> list[Mention]:
        e = self._buckets.get(bucket)
        if e is None:
            return []
        return [m for _p, m in e.samples.get(f"neg:{series}" if negative else series, [])]

    def _prefetch_terms(self, terms: Iterable[str]) -> None:
        """Look up the baseline counts of many terms in one polars call."""
        missing = [t for t in terms if t not in self._baselines]
        if not missing:
            return
        found = self._topics.term_agg.filter(pl.col("term").is_in(missing)).select(
            "term", seen=pl.col("rs") + pl.col("p") + pl.col("h")
        )
        self._baselines.update(dict.fromkeys(missing, 0))
        self._baselines.update(found.iter_rows())

    def _over_represented(self, sample: list[Mention], series: str) -> list[str]:
        """Terms the sample uses far more than the whole stream did in the history."""
        if not sample:
            return []
        counts = _repeated_terms(sample)
        # The brand's own name is in every mention of a brand spike: true, not news.
        own = series[6:].lower().replace(" ", "") if series.startswith("brand:") else ""
        terms = [t for t in counts if t.lstrip("#") != own]
        self._prefetch_terms(terms)
        seen = self._baselines
        total = sum(self._topics.term_totals)
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

    def sizes(self) -> dict[str, int]:
        return {
            "seen_terms": len(self._baselines),
            "explain_buckets": len(self._buckets),
            "explain_items": sum(
                sum(len(v) for v in e.examples.values())
                + sum(len(v) for v in e.samples.values())
                + sum(len(v) for v in e.sources.values())
                for e in self._buckets.values()
            ),
        }


def _repeated_terms(sample: list[Mention]) -> Counter[str]:
    """Terms in at least two mentions of the sample: once says nothing."""
    counts: Counter[str] = Counter()
    for m in sample:
        counts.update(set(m.terms))
    return Counter({t: c for t, c in counts.items() if c >= 2})
