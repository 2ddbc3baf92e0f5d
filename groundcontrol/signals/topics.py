"""Hot topics and stories: which terms burst against their own baseline, and which
of them travel together.

From each batch's exploded terms (original mentions only: copies count in volume, not
in topics), :class:`Topics` keeps term counts per bucket: running totals for the open
buckets (twice ``max_terms_per_bucket`` each), one frame for the sealed history
(``max_terms_per_bucket`` each), and per-term sums over the recent window, the window
before it and the older history, shifted by one bucket at each seal rather than summed
again. A term is hot when its recent count beats what its share of the earlier traffic
predicts (:meth:`Topics._score`); hot terms that share enough sampled mentions are
grouped into stories with a readable label and, when most of their mentions name one,
a brand. Each bucket keeps a uniform sample of original mentions for that grouping,
and for telling who drives a topic.

Which stories get a burst detector of their own is decided here too
(:meth:`Topics.leads`); the detectors themselves are the analytics'.

Pure code: no sockets, no clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

import msgspec
import polars as pl

from groundcontrol.config import AnalyticsConfig
from groundcontrol.listen.terms import meaningful
from groundcontrol.model import Mention
from groundcontrol.protocol import Topic
from groundcontrol.signals.windows import Batch, cut, ratio

#: A term needs this many mentions in the window to be a hot topic.
MIN_TOPIC_COUNT = 5
#: Terms whose score is recomputed every tick besides those of the current bucket.
TOPIC_CANDIDATES = 100
TOPIC_TERM_CHARS = 64
#: The trend ratio (recent rate / previous rate) that counts as "up", and its inverse.
TREND_UP = 1.25
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


class Topics:
    """Term history, hot topics, stories and the story sample.

    ``cur`` is always the open bucket and ``origin`` the first moment the analytics
    saw, both passed in by the caller.
    """

    def __init__(self, config: AnalyticsConfig, brands: Sequence[str]) -> None:
        self._bs = config.bucket_seconds
        self._window = max(1, config.window_seconds // config.bucket_seconds)
        self._history = config.history_buckets
        self._max_terms = config.max_terms_per_bucket
        self._top = config.top_topics
        self._brands = list(brands)
        # A watched brand's own name is in its every mention: true, not a story (its
        # volume has a panel and a detector of its own).
        self._own = {b.lower().replace(" ", "") for b in self._brands}

        # Running totals for unsealed buckets, one frame for sealed history, and
        # per-term window sums recomputed once per sealed bucket (not per tick).
        self._open_terms: dict[int, pl.DataFrame] = {}
        self.term_hist = pl.DataFrame(schema={"bucket": pl.Int64, **_TERM_SCHEMA})
        self.term_agg = pl.DataFrame(schema=_AGG_SCHEMA)
        """term -> rs, rpos, rneg (recent window), p (previous), h (older history)"""
        self.term_totals = (0, 0, 0)
        """Mentions in the sealed recent window, the previous one and the older history."""
        self._agg_at: int | None = None
        self._candidates: list[str] = []
        self.stories: list[Topic] = []
        """The hot topics, grouped into stories, hottest first."""
        self._sample: dict[int, list[tuple[int, Mention]]] = {}
        """bucket -> (priority, mention), the lowest priorities first"""

    # ------------------------------------------------------------------ ingest

    def queries(self, batch: Batch) -> list[pl.LazyFrame]:
        """Term counts per bucket (merged with the open buckets'), and the story sample
        of each bucket, in that order."""
        return [
            self._term_query(batch.terms),
            batch.base.filter(pl.col("original"))
            .group_by("bucket")
            .agg(
                pl.col("row").bottom_k_by("prio", STORY_SAMPLE),
                pl.col("prio").bottom_k(STORY_SAMPLE),
            ),
        ]

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

    def merge(self, batch: Batch, terms: pl.DataFrame, sample: pl.DataFrame) -> None:
        """Take the results of :meth:`queries`."""
        # Keep twice the sealed cap while the bucket is open so that a term rising
        # late in the bucket is not dropped on its first appearance.
        cap = 2 * self._max_terms
        if terms["bucket"].n_unique() == 1:
            parts = {int(terms["bucket"][0]): terms}
        else:
            parts = {int(k[0]): v for k, v in terms.partition_by("bucket", as_dict=True).items()}
        for bucket, part in parts.items():
            if part.height > cap:
                # Ties broken by term, so the same input always keeps the same terms.
                part = part.top_k(cap, by=["count", "term"], reverse=[False, True])
            self._open_terms[bucket] = part
        mentions = batch.mentions
        for bucket, rows, prios in sample.iter_rows():
            kept = self._sample.get(bucket, []) + [
                (p, mentions[i]) for i, p in zip(rows, prios, strict=True)
            ]
            kept.sort(key=lambda pm: pm[0])
            self._sample[bucket] = kept[:STORY_SAMPLE]

    # ------------------------------------------------------------------ sealing

    def seal(self, target: int) -> dict[int, pl.DataFrame]:
        """Close the open buckets before ``target``: bucket -> its terms, capped."""
        cap = self._max_terms
        sealed = {}
        for bucket in sorted(b for b in self._open_terms if b < target):
            frame = self._open_terms.pop(bucket)
            if frame.height > cap:
                frame = frame.top_k(cap, by=["count", "term"], reverse=[False, True])
            sealed[bucket] = frame
        return sealed

    @staticmethod
    def counts_in(
        parts: Iterable[pl.DataFrame], watched: Collection[str]
    ) -> dict[int, dict[str, int]]:
        """Counts of the ``watched`` terms in freshly sealed buckets: bucket -> term -> n."""
        out: dict[int, dict[str, int]] = {}
        if not watched:
            return out
        terms = list(watched)
        for part in parts:
            rows = part.filter(pl.col("term").is_in(terms)).select("bucket", "term", "count")
            for bucket, term, n in rows.iter_rows():
                out.setdefault(bucket, {})[term] = n
        return out

    def resum(
        self,
        target: int,
        previous: int,
        sealed: dict[int, pl.DataFrame],
        totals: tuple[int, int, int],
        origin: float,
    ) -> None:
        """Add the ``sealed`` buckets to the history, drop what fell out of it, and
        bring the window sums and the candidates to ``target``, the new open bucket.

        ``previous`` was the open bucket before; ``totals`` are the windows' mention
        counts (see :attr:`term_totals`). One polars call.
        """
        hist = pl.concat([self.term_hist, *sealed.values()]).lazy()
        kept = hist.filter(pl.col("bucket") > target - self._history)
        one_step = (
            target == previous + 1 and self._agg_at == previous and list(sealed) == [previous]
        )
        # The common step (one bucket sealed) moves four buckets between windows;
        # shifting the sums is much cheaper than summing the whole history again.
        agg = self._shifted_terms(hist, target) if one_step else self.summed_terms(kept, target)
        self.term_totals = totals
        cands = self._candidates_query(agg, target, origin)
        self.term_hist, self.term_agg, top = pl.collect_all([kept, agg, cands])
        self._candidates = top["term"].to_list()
        self._agg_at = target

    def summed_terms(self, hist: pl.LazyFrame, cur: int) -> pl.LazyFrame:
        """Per-term sums over the recent, previous and older windows of sealed buckets."""
        c, w = cur, self._window
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

    def _shifted_terms(self, hist: pl.LazyFrame, cur: int) -> pl.LazyFrame:
        """The sums after the current bucket moved on by one.

        Bucket c-1 enters the recent window, c-w moves from recent to previous, c-2w
        from previous to older, and c-h drops out. Each move is a separate signed term
        so that coinciding buckets (w == 1, or h == 2w) still add up.
        """
        c, w, h = cur, self._window, self._history
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
            pl.concat([self.term_agg.lazy(), moves])
            .group_by("term")
            .agg(pl.col("rs", "rpos", "rneg", "p", "h").sum())
            .filter((pl.col("rs") != 0) | (pl.col("p") != 0) | (pl.col("h") != 0))
        )

    def _candidates_query(self, agg: pl.LazyFrame, cur: int, origin: float) -> pl.LazyFrame:
        """The terms worth rescoring every tick.

        A term's score grows with its count, so a term outside the top candidates on
        sealed data can overtake them only by appearing in the current bucket; the
        candidates are several times ``top_topics`` to absorb the small shifts the
        growing recent volume causes in between.
        """
        w = self._window
        scored = self._score(
            agg.with_columns(r=pl.col("rs")),
            self.term_totals[0],
            float(w - 1),
            self._prev_span(cur, origin),
        )
        return scored.head(TOPIC_CANDIDATES).select("term")

    # ------------------------------------------------------------------ hot topics

    def update(self, now: float, cur: int, origin: float, current_total: int) -> None:
        """Score the terms afresh and group the hot ones into :attr:`stories`;
        ``current_total`` is the open bucket's mention count."""
        self.stories = self._stories(self._hot_topics(now, cur, origin, current_total))

    def _hot_topics(self, now: float, cur: int, origin: float, current_total: int) -> list[Topic]:
        c, w = cur, self._window
        current = self._open_terms.get(c)
        if current is None:
            current = pl.DataFrame(schema={"bucket": pl.Int64, **_TERM_SCHEMA})
        cands = [*self._candidates, *current["term"].to_list()]
        frame = (
            self.term_agg.lazy()
            .filter(pl.col("term").is_in(cands))
            .join(current.lazy().drop("bucket"), on="term", how="full", coalesce=True)
            .fill_null(0)
            .with_columns(
                r=pl.col("rs") + pl.col("count"),
                rpos=pl.col("rpos") + pl.col("pos"),
                rneg=pl.col("rneg") + pl.col("neg"),
            )
        )
        n_recent = self.term_totals[0] + current_total
        r_start = max((c - w + 1) * self._bs, origin)
        span = max(now - r_start, 1.0) / self._bs
        scored = (
            self._score(frame, n_recent, span, self._prev_span(c, origin))
            .head(STORY_CANDIDATES_FACTOR * self._top)
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
                    net=ratio(rpos - rneg, r),
                )
            )
        return topics

    def _score(
        self, frame: pl.LazyFrame, n_recent: int, span: float, prev_span: float
    ) -> pl.LazyFrame:
        """Rank terms bursting against their own baseline.

        The expected count in the recent window is the term's share of all mentions
        in the previous window and in the older history (averaged), times the recent
        volume, so a daily rise in traffic does not make every word hot. The score
        is a smoothed log-ratio times sqrt(count): a new hashtag at 30 beats a word
        that is always at 3,000, and a word at 5 needs a big ratio to rank.
        """
        _rs, n_prev, n_old = self.term_totals
        shares = []
        if n_prev:
            shares.append(pl.col("p") / n_prev)
        if n_old:
            shares.append(pl.col("h") / n_old)
        expected = pl.sum_horizontal(shares) / len(shares) * n_recent if shares else pl.lit(0.0)
        r = pl.col("r").cast(pl.Float64)
        score = ((r + 1) / (expected + 1)).log() * r.sqrt()
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

    def _prev_span(self, cur: int, origin: float) -> float:
        """Buckets of the previous window the analytics actually saw."""
        w = self._window
        p_start = (cur - 2 * w + 1) * self._bs
        p_end = (cur - w + 1) * self._bs
        return max(0.0, p_end - max(p_start, origin)) / self._bs

    # ------------------------------------------------------------------ stories

    def window_sample(self) -> list[Mention]:
        """The sampled original mentions of the window."""
        return [m for part in self._sample.values() for _p, m in part]

    def _stories(self, terms: list[Topic]) -> list[Topic]:
        """Group hot terms that travel together into stories, each with a readable label.

        Terms are taken hottest first; each joins the first story whose lead it shares
        enough sampled mentions with (:data:`STORY_LINK` of the rarer term's, and at
        least :data:`STORY_MIN_SHARED`), or leads a story of its own. Comparing with the
        lead only, not with every member, keeps one busy word from chaining unrelated
        stories together.
        """
        top = self._top
        own = self._own
        terms = [t for t in terms if t.term.lstrip("#") not in own]
        if not terms:
            return []
        wanted = {t.term for t in terms}
        carriers: dict[str, list[Mention]] = {t: [] for t in wanted}
        for m in self.window_sample():
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
                    label=_label(members),
                    terms=[t.term for t in members],
                    brand=self._story_brand(carriers[lead.term]),
                )
            )
        return out

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

    # ------------------------------------------------------------------ topic watches

    def leads(self, limit: int) -> list[tuple[str, Topic]]:
        """The terms of the hottest stories that deserve a detector of their own, at
        most ``limit``, each with its story."""
        leads: list[tuple[str, Topic]] = []
        for story in self.stories:
            # One detector per story, on its hashtag if it has one (people name a
            # story by it), else on its lead word when the story has more than one
            # word (one hot word alone is no story); never on a watched brand's own
            # name, a stopword, an edit marker or a generic word.
            tags = [t for t in story.terms if t.startswith("#")]
            words = tags if tags else story.terms[:1] if len(story.terms) >= 2 else []
            words = [t for t in words if meaningful(t) and t.lstrip("#") not in self._own]
            if words:
                leads.append((words[0], story))
        return leads[:limit]

    def history_of(self, term: str) -> dict[int, int]:
        """bucket -> count of ``term`` in the sealed history (absent: under the cap)."""
        rows = self.term_hist.filter(pl.col("term") == term).select("bucket", "count")
        return dict(rows.iter_rows())

    # ------------------------------------------------------------------ bounds

    def evict(self, recent: int) -> None:
        """Forget the story sample of buckets up to ``recent`` (out of the window)."""
        for bucket in [b for b in self._sample if b <= recent]:
            del self._sample[bucket]

    def sizes(self) -> dict[str, int]:
        return {
            "term_rows": self.term_hist.height + sum(f.height for f in self._open_terms.values()),
            "term_agg_rows": self.term_agg.height,
            "max_terms_in_bucket": max(
                self.term_hist.group_by("bucket").len()["len"].to_list() or [0]
            ),
            "story_sample": sum(len(v) for v in self._sample.values()),
        }


def _label(members: list[Topic]) -> str:
    """ "#aerogate: battery, swelling": a hashtag leads when the story has one."""
    tags = [t.term for t in members if t.term.startswith("#")]
    head = tags[0] if tags else members[0].term
    rest = [t.term for t in members if t.term != head][:STORY_LABEL_TERMS]
    label = f"{head}: {', '.join(rest)}" if rest else head
    return cut(label, TOPIC_TERM_CHARS)
