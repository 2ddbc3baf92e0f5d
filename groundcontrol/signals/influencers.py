"""Influencers: who drives the conversation in the window, and who is new to it.

From each batch's mention frame, :class:`Influencers` keeps per bucket and author the
mentions, the largest reach, engagement, sentiment and brands named, for the buckets
of the window only, and at most :data:`AUTHORS_PER_BUCKET` authors per bucket by each
of reach, engagement and mentions. It remembers when each author was first seen (at
most :data:`MAX_KNOWN_AUTHORS`) to tell a new voice from a familiar one, and ranks the
window's authors into the tick's influencers. :func:`top_authors` names the authors
behind a sample of mentions, for an incident's explanation.

Pure code: no sockets, no clock.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Sequence

import polars as pl

from groundcontrol.model import Mention
from groundcontrol.protocol import Influencer
from groundcontrol.signals.windows import ratio

#: Authors kept per bucket for the influencer ranking: the top by reach, by
#: engagement and by mentions each.
AUTHORS_PER_BUCKET = 50
INFLUENCERS_IN_TICK = 10
#: Authors remembered to tell a new voice from a familiar one (oldest forgotten first).
MAX_KNOWN_AUTHORS = 200_000
TOP_AUTHORS_PER_ALERT = 3


class Influencers:
    """Author frames per bucket of the window, known authors, and the ranking."""

    def __init__(self, window: int, brands: Sequence[str]) -> None:
        self._window = window
        self._brands = list(brands)
        self._frames: dict[int, pl.DataFrame] = {}
        # An OrderedDict, so that dropping the oldest is cheap (see merge).
        self._known: OrderedDict[str, int] = OrderedDict()
        """"source:author" -> the bucket it was first seen in"""
        self.ranked: list[Influencer] = []
        """The window's influencers, highest score first."""

    @staticmethod
    def query(base: pl.LazyFrame) -> pl.LazyFrame:
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

    def merge(self, authors: pl.DataFrame) -> None:
        """Take the result of :meth:`query`."""
        if authors.is_empty():
            return
        known = self._known
        for bucket, source, author in authors.select("bucket", "source", "author").iter_rows():
            key = f"{source}:{author}"
            seen = known.get(key)
            if seen is None:
                if len(known) >= MAX_KNOWN_AUTHORS:
                    # Not ``del known[next(iter(known))]`` on a dict: each call walks
                    # over the holes the ones before left, slower and slower.
                    known.popitem(last=False)
                known[key] = bucket
            elif bucket < seen:
                known[key] = bucket
        for (bucket,), part in authors.partition_by("bucket", as_dict=True).items():
            held = self._frames.get(int(bucket))
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
            self._frames[int(bucket)] = part

    def update(self, cur: int, start_bucket: int) -> None:
        """Rank the authors of the window ending with ``cur`` into :attr:`ranked`;
        ``start_bucket`` is the first bucket the analytics saw."""
        self.ranked = self._rank(cur, start_bucket)

    def _rank(self, cur: int, start_bucket: int) -> list[Influencer]:
        """Authors of the window, ranked by reach, engagement and how often they post.

        The score adds log10 of reach, half of log10 of engagement, and twice log10 of
        mentions (plus one each): a million followers is 6, a thousand likes 1.5, ten
        posts about us 2. A voice is new when its author was first seen inside the window
        and the analytics had already been running for a whole window before that.
        """
        if not self._frames:
            return []
        lo = cur - self._window + 1
        frames = [f for b, f in self._frames.items() if b >= lo]
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
        settled = lo > start_bucket + self._window
        out = []
        for source, author, n, eng, pos, neg, reach, brands, score in ranked.select(
            "source", "author", "n", "eng", "pos", "neg", "reach", "brands", "score"
        ).iter_rows():
            first = self._known.get(f"{source}:{author}", lo)
            out.append(
                Influencer(
                    author=author,
                    source=source,
                    reach=reach,
                    mentions=n,
                    engagement=eng,
                    net=ratio(pos - neg, n),
                    score=round(score, 2),
                    new=settled and first >= lo,
                    brands=[b for b in brands if b in self._brands],
                )
            )
        return out

    def evict(self, recent: int) -> None:
        """Forget the author frames of buckets up to ``recent`` (out of the window)."""
        for bucket in [b for b in self._frames if b <= recent]:
            del self._frames[bucket]

    def sizes(self) -> dict[str, int]:
        return {
            "author_rows": sum(f.height for f in self._frames.values()),
            "known_authors": len(self._known),
        }


def top_authors(sample: list[Mention], examples: list[Mention]) -> list[str]:
    """Authors who posted most in the sample (twice or more), then the loudest of the
    examples, as "author@source"."""
    counts = Counter(f"{m.author}@{m.source}" for m in sample if m.author)
    out = [a for a, n in counts.most_common(TOP_AUTHORS_PER_ALERT) if n >= 2]
    for m in examples:
        name = f"{m.author}@{m.source}"
        if len(out) >= TOP_AUTHORS_PER_ALERT:
            break
        if m.author and name not in out:
            out.append(name)
    return out
