"""Windows: per-bucket counts of the mention stream, and the tick built from them.

The time axis is the hub clock: a mention belongs to bucket
``floor(received_at / bucket_seconds)``. Each :class:`Bucket` counts mentions, positive
and negative ones, per source, language, brand and triage category. :class:`Windows`
keeps them for ``history_buckets`` buckets, with :data:`MAX_SOURCES` sources and
:data:`MAX_LANGS` languages (the rest lumped into "other"), sums runs of them into the
rolling window and the series a :class:`~groundcontrol.protocol.Tick` shows (volume,
sentiment, sources, languages, brands, the triage view) and fits the tick under
:data:`MAX_TICK_BYTES`.

A tick's buffered mentions enter as one :class:`Batch`: polars frames of the mentions,
of their terms and of their brands, which every subject (windows, topics, influencers,
explanations) queries, all in one parallel polars call. The windows also pick the
tick's river of mentions and keep the newest review items and compliance flags.

Pure code: no sockets, no clock.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import msgspec
import polars as pl

from groundcontrol.config import Config
from groundcontrol.model import CATEGORIES, Mention
from groundcontrol.protocol import (
    CLOSED_STATUSES,
    BrandStat,
    FlaggedPost,
    Incident,
    Influencer,
    KeyCount,
    ReviewItem,
    RiverItem,
    SentimentView,
    SourceStat,
    Tick,
    Topic,
    TriageState,
    TriageView,
    Volume,
    encode,
)

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
#: A tick larger than this, encoded, is trimmed (examples first, then the river),
#: leaving room under 64 KiB for what the hub adds (feeds).
MAX_TICK_BYTES = 48 * 1024
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


def priority(index: int) -> int:
    """The sampling priority of the ``index``-th mention ever added (lowest first)."""
    return ((index % _INDEX_MOD) * _HASH_A) % _HASH_MOD


def ratio(num: float, den: float) -> float:
    """``num / den`` rounded for the wire, 0 when there is nothing to divide by."""
    return round(num / den, 4) if den else 0.0


def cut(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(slots=True)
class Bucket:
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
class WindowSums:
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


def _add3(into: dict[str, list[int]], key: str, count: int, pos: int, neg: int) -> None:
    acc = into.get(key)
    if acc is None:
        into[key] = [count, pos, neg]
    else:
        acc[0] += count
        acc[1] += pos
        acc[2] += neg


@dataclass(slots=True)
class Batch:
    """One tick's new mentions as polars frames, shared by every subject's queries.

    ``base`` has one row per mention (``row`` indexes ``mentions``) with its bucket,
    source slot, language, sentiment, reach, author, engagement, first brand and
    sampling priority; ``terms`` one row per term of an original mention; ``brands``
    one row per watched brand a mention names.
    """

    mentions: list[Mention]
    recv: list[float]
    first_index: int
    """The running number of ``mentions[0]``: priorities continue across ticks."""
    lower: int
    upper: int
    """Mentions are placed in buckets ``lower..upper`` (late ones in their own)."""
    base: pl.LazyFrame
    terms: pl.LazyFrame
    brands: pl.LazyFrame
    new_sources: list[str]
    """Sources that took a free slot with this batch (each gets a detector)."""

    def pool(self, rows: Iterable[int]) -> list[tuple[int, Mention]]:
        """The mentions at ``rows`` with their sampling priorities."""
        first, mentions = self.first_index, self.mentions
        return [(priority(first + i), mentions[i]) for i in rows]


def exploded(
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


class Windows:
    """The per-bucket counts behind every window and series of a tick, the source and
    language slots, the newest review items and flags, and the river of mentions."""

    def __init__(self, config: Config, brands: Sequence[str]) -> None:
        a = config.analytics
        self._bs = a.bucket_seconds
        self._window = max(1, a.window_seconds // a.bucket_seconds)
        self._window_seconds = a.window_seconds
        self._series_len = a.series_buckets
        self._river_per_tick = config.hub.river_per_tick
        self._brands = list(brands)
        self.buckets: dict[int, Bucket] = {}
        self._source_last: dict[str, int] = {}
        """named source -> the last bucket it was seen in"""
        self._lang_last: dict[str, int] = {}
        self._review: deque[ReviewItem] = deque(maxlen=REVIEW_KEPT)
        self._flags: deque[FlaggedPost] = deque(maxlen=FLAGS_KEPT)
        self._river: deque[RiverItem] = deque(maxlen=SNAPSHOT_RIVER)

    def get(self, bucket: int) -> Bucket | None:
        return self.buckets.get(bucket)

    def _bucket(self, bucket: int) -> Bucket:
        b = self.buckets.get(bucket)
        if b is None:
            b = self.buckets[bucket] = Bucket()
        return b

    # ------------------------------------------------------------------ ingest

    def prepare(
        self, mentions: list[Mention], recv: list[float], lower: int, upper: int, first_index: int
    ) -> Batch:
        """The batch's frames, in two polars calls: the mention frame, then its terms
        and brands. Materialising these shared frames first is faster than letting
        each subject's query re-derive them."""
        base, new_sources = self._base_frame(mentions, recv, lower, upper, first_index)
        b = base.collect().lazy()
        # Copies (retweets, quotes, near-duplicates) count in volume, not in topics.
        t = exploded(
            b, [[] if m.copy_of else m.terms for m in mentions], "term", ["bucket", "pos", "neg"]
        )
        br = exploded(
            b,
            [m.brands for m in mentions],
            "brand",
            ["row", "bucket", "slot", "pos", "neg", "reach", "prio"],
        ).filter(pl.col("brand").is_in(self._brands))
        t, br = (f.lazy() for f in pl.collect_all([t, br]))
        return Batch(mentions, recv, first_index, lower, upper, b, t, br, new_sources)

    def _base_frame(
        self, mentions: list[Mention], recv: list[float], lower: int, upper: int, first_index: int
    ) -> tuple[pl.LazyFrame, list[str]]:
        sources = [m.source for m in mentions]
        langs = [m.lang or UNKNOWN_LANG for m in mentions]
        lumped_sources, new_sources = _lumped(sources, self._source_last, MAX_SOURCES, upper)
        lumped_langs, _ = _lumped(langs, self._lang_last, MAX_LANGS, upper)
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
        frame = base.lazy().with_columns(
            row=pl.int_range(pl.len(), dtype=pl.Int64),
            bucket=(pl.col("recv") // self._bs).cast(pl.Int64).clip(lower, upper),
            slot=slot.replace(lumped_sources) if lumped_sources else slot,
            lang=lang.replace(lumped_langs) if lumped_langs else lang,
            pos=(pl.col("label") == "positive").cast(pl.Int64),
            neg=(pl.col("label") == "negative").cast(pl.Int64),
            prio=(gidx * _HASH_A) % _HASH_MOD,
            u=((gidx * _HASH_B) % _HASH_MOD + 0.5) / _HASH_MOD,
        )
        return frame, new_sources

    def queries(self, batch: Batch, also: Sequence[pl.Expr]) -> list[pl.LazyFrame]:
        """Counts per bucket and source slot, per bucket and language, per bucket and
        brand, and the river's candidates, in that order.

        ``also`` are more aggregations over the same source and brand groups (the
        explanations' reservoirs): one group_by serves both.
        """
        b, br = batch.base, batch.brands
        counts = (pl.len().alias("n"), pl.col("pos").sum(), pl.col("neg").sum())
        return [
            b.group_by("bucket", "slot").agg(*counts, *also),
            b.group_by("bucket", "lang").len(),
            br.group_by("bucket", "brand").agg(*counts, *also),
            self._river_query(b),
        ]

    def merge(
        self, batch: Batch, sources: pl.DataFrame, langs: pl.DataFrame, brands: pl.DataFrame
    ) -> None:
        """Add the batch's counts (from :meth:`queries`) and triage to the buckets."""
        for bucket, slot, n, pos, neg in sources.select(
            "bucket", "slot", "n", "pos", "neg"
        ).iter_rows():
            bk = self._bucket(bucket)
            bk.total += n
            bk.pos += pos
            bk.neg += neg
            _add3(bk.sources, slot, n, pos, neg)
        for bucket, name, n in langs.iter_rows():
            held = self._bucket(bucket).langs
            held[name] = held.get(name, 0) + n
        for bucket, name, n, pos, neg in brands.select(
            "bucket", "brand", "n", "pos", "neg"
        ).iter_rows():
            _add3(self._bucket(bucket).brands, name, n, pos, neg)
        self._count_triage(batch.mentions, batch.lower, batch.upper)

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
                        text=cut(m.text, RIVER_TEXT_CHARS),
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
                        text=cut(m.text, RIVER_TEXT_CHARS),
                        flags=list(m.flags),
                        at=m.received_at,
                        url=m.url,
                    )
                )

    def reviewed(self, mention_id: str) -> None:
        """A person closed this mention (resolved, ignored): it leaves the review queue."""
        kept = [item for item in self._review if item.id != mention_id]
        if len(kept) != len(self._review):
            self._review.clear()
            self._review.extend(kept)

    def triaged(self, state: TriageState) -> None:
        """A person acted on a mention: a closed one leaves the review queue, an open
        one shows its status, owner and class from now on."""
        if state.status in CLOSED_STATUSES:
            self.reviewed(state.mention_id)
            return
        for i, item in enumerate(self._review):
            if item.id == state.mention_id:
                category = state.category if state.category_by == "person" else item.category
                self._review[i] = msgspec.structs.replace(
                    item, status=state.status, assignee=state.assignee, category=category
                )

    def review_ids(self) -> list[str]:
        """The ids of the mentions the review queue holds, newest first."""
        return [item.id for item in self._review]

    # ------------------------------------------------------------------ slots

    def track_source(self, name: str, bucket: int) -> bool:
        """Give ``name`` a slot if it has none and one is free; whether it has one."""
        if name not in self._source_last and len(self._source_last) >= MAX_SOURCES:
            return False
        self._source_last.setdefault(name, bucket)
        return True

    def evict(self, cutoff: int, keep_source: Callable[[str], bool]) -> list[str]:
        """Forget buckets up to ``cutoff`` and free the slots of sources and languages
        silent since; return the sources let go. A source ``keep_source`` names keeps
        its slot (an open incident still follows it)."""
        for bucket in [b for b in self.buckets if b <= cutoff]:
            del self.buckets[bucket]
        dropped = []
        for name in [s for s, last in self._source_last.items() if last <= cutoff]:
            if keep_source(name):
                continue
            del self._source_last[name]
            dropped.append(name)
        for name in [s for s, last in self._lang_last.items() if last <= cutoff]:
            del self._lang_last[name]
        return dropped

    # ------------------------------------------------------------------ river

    def _river_query(self, base: pl.LazyFrame) -> pl.LazyFrame:
        """Candidates for the river: a weighted sample favouring reach."""
        k = max(self._river_per_tick, 0)
        # Weighted sampling without replacement (Efraimidis-Spirakis: the largest
        # u^(1/w)) with weights growing with log reach: big accounts are favoured,
        # small ones still show. Taking several times k leaves room to spread the
        # picks over sources afterwards.
        return base.select(
            "row", "slot", key=pl.col("u").log() / (1.0 + pl.col("reach").clip(0).log1p())
        ).top_k(k * RIVER_CANDIDATES, by="key")

    def river(self, batch: Batch, candidates: pl.DataFrame) -> list[RiverItem]:
        """The tick's river, newest first, from the candidates of :meth:`queries`; it is
        also kept for the snapshot a new client gets."""
        recv = batch.recv
        rows = self._round_robin(candidates["row"].to_list(), candidates["slot"].to_list())
        rows.sort(key=lambda i: (recv[i], i), reverse=True)
        river = [_river_item(batch.mentions[i]) for i in rows]
        self._river.extendleft(reversed(river))
        return river

    def kept_river(self) -> list[RiverItem]:
        """The newest :data:`SNAPSHOT_RIVER` river items, newest first."""
        return list(self._river)

    def _round_robin(self, rows: list[int], slots: list[str]) -> list[int]:
        """Take candidates best first, one per source per round, until the river is full."""
        k = self._river_per_tick
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

    # ------------------------------------------------------------------ sums

    def sums(self, lo: int, hi: int) -> WindowSums:
        """Everything counted in buckets ``lo..hi``."""
        out = WindowSums()
        for bucket in range(lo, hi + 1):
            b = self.buckets.get(bucket)
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

    def sealed_totals(self, cur: int) -> tuple[int, int, int]:
        """Mentions in the sealed buckets of the recent window, of the window before
        it, and of the older history, when ``cur`` is the open bucket."""
        w = self._window
        r0, p0 = cur - w + 1, cur - 2 * w + 1
        totals = [0, 0, 0]
        for b, data in self.buckets.items():
            if b < cur:
                totals[0 if b >= r0 else 1 if b >= p0 else 2] += data.total
        return totals[0], totals[1], totals[2]

    def _last_seconds(self, now: float, c: int, seconds: float) -> float:
        """Mentions in (now - seconds, now], counting a straddled bucket pro rata."""
        start = now - seconds
        total = 0.0
        for bucket in range(int(start // self._bs), c + 1):
            b = self.buckets.get(bucket)
            if b is None or not b.total:
                continue
            b_start = bucket * self._bs
            b_end = min(b_start + self._bs, max(now, b_start))
            width = b_end - b_start
            inside = b_end - max(b_start, start)
            total += b.total * (min(1.0, max(0.0, inside / width)) if width > 0 else 1.0)
        return total

    # ------------------------------------------------------------------ tick

    def tick(
        self,
        now: float,
        cur: int,
        origin: float,
        river: list[RiverItem],
        *,
        seq: int,
        ingested: int,
        topics: list[Topic],
        incidents: list[Incident],
        influencers: list[Influencer],
    ) -> Tick:
        """The tick at ``now`` with ``cur`` the open bucket and ``origin`` the first
        moment seen; the other subjects' results are passed in as they stand."""
        c, w = cur, self._window
        win = self.sums(c - w + 1, c)
        series_range = range(c - self._series_len + 1, c + 1)
        empty = Bucket()
        cols = [self.buckets.get(b, empty) for b in series_range]

        elapsed = max(min(RATE_SECONDS, now - origin), 1.0)
        last_minute = self._last_seconds(now, c, RATE_SECONDS)
        win_span = max(now - max((c - w + 1) * self._bs, origin), 1.0)

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
                    share_of_voice=ratio(n, brand_total),
                    net=ratio(pos - neg, n),
                    negative_share=ratio(neg, n),
                    series=[b.brands.get(name, [0])[0] for b in cols],
                )
            )

        tick = Tick(
            seq=seq,
            at=now,
            demo=False,
            bucket_seconds=self._bs,
            window_seconds=self._window_seconds,
            ingested_total=ingested,
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
                net=ratio(win.pos - win.neg, win.total),
                negative_share=ratio(win.neg, win.total),
                series_net=[ratio(b.pos - b.neg, b.total) for b in cols],
                series_negative_share=[ratio(b.neg, b.total) for b in cols],
            ),
            sources=[
                SourceStat(
                    source=s,
                    count=n,
                    share=ratio(n, win.total),
                    net=ratio(pos - neg, n),
                    negative_share=ratio(neg, n),
                )
                for s, (n, pos, neg) in ranked_sources
            ],
            languages=[
                KeyCount(key=k, count=n)
                for k, n in sorted(win.langs.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            brands=brands,
            topics=list(topics),
            incidents=incidents,
            river=river,
            influencers=list(influencers),
            triage=TriageView(
                categories=[KeyCount(key=c, count=win.categories[c]) for c in CATEGORIES],
                review=win.review,
                queue=list(self._review)[:REVIEW_IN_TICK],
                flagged=win.flagged,
                flags=list(self._flags)[:FLAGS_IN_TICK],
            ),
        )
        return fit(tick)

    def sizes(self) -> dict[str, int]:
        return {
            "buckets": len(self.buckets),
            "bucket_keys": sum(
                len(b.sources) + len(b.langs) + len(b.brands) for b in self.buckets.values()
            ),
            "sources": len(self._source_last),
            "langs": len(self._lang_last),
            "river": len(self._river),
            "review": len(self._review),
            "flags": len(self._flags),
        }


def _lumped(
    names: list[str], registry: dict[str, int], cap: int, bucket: int
) -> tuple[dict[str, str], list[str]]:
    """Register newcomers while there is room; return the names lumped as "other",
    and the newcomers."""
    lumped: dict[str, str] = {}
    new: list[str] = []
    for name in sorted(set(names)):
        if name in registry:
            registry[name] = bucket
        elif len(registry) < cap:
            registry[name] = bucket
            new.append(name)
        else:
            lumped[name] = OTHER
    return lumped, new


def _river_item(m: Mention) -> RiverItem:
    return RiverItem(
        id=m.id or m.key,
        source=m.source,
        author=m.author,
        reach=m.author_reach,
        text=cut(m.text, RIVER_TEXT_CHARS),
        lang=m.lang,
        sentiment=m.sentiment,
        label=m.sentiment_label,
        brands=list(m.brands),
        created_at=m.created_at.timestamp(),
        url=m.url,
    )


def fit(tick: Tick) -> Tick:
    """Trim a tick that would be too large on the wire (only with hostile input)."""
    if len(encode(tick)) <= MAX_TICK_BYTES:
        return tick
    incidents = [
        msgspec.structs.replace(i, examples=[], history=i.history[-3:]) for i in tick.incidents
    ]
    tick = msgspec.structs.replace(tick, incidents=incidents)
    if len(encode(tick)) <= MAX_TICK_BYTES:
        return tick
    river = [msgspec.structs.replace(r, text=cut(r.text, 80)) for r in tick.river]
    return msgspec.structs.replace(
        tick,
        river=river,
        sources=tick.sources[:SOURCE_SERIES_IN_TICK],
        languages=tick.languages[:16],
    )
