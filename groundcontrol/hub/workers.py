"""Enrichment off the hub's event loop, in worker processes.

Enrichment is pure CPU (tokenise, detect language, score, match queries) and costs
far more per mention than decoding or aggregating, so the hub hands each batch's
texts to a worker process and keeps its own core for sockets, dedupe and windows.
Only (text, lang) goes out and the enriched fields come back, as plain tuples.

With ``workers=0`` everything runs inline; if a worker dies the pool falls back to
inline enrichment for that batch and starts a new worker, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

from groundcontrol.config import BrandConfig, ComplianceConfig, QueryConfig, TriageConfig
from groundcontrol.listen.enrich import Enricher
from groundcontrol.model import Mention, label_for

log = logging.getLogger("groundcontrol.hub.workers")

#: (lang, sentiment, brands, queries, terms, category, confidence, needs_review).
Enriched = tuple[str, float, list[str], list[str], list[str], str, float, bool]

_enricher: Enricher | None = None
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _init_worker(
    brands: Sequence[BrandConfig], queries: Sequence[QueryConfig], triage: TriageConfig
) -> None:
    global _enricher
    _enricher = Enricher(brands, queries, triage=triage)


def enrich_texts(items: list[tuple[str, str]]) -> list[Enriched]:
    """Enrich (text, lang) pairs in a worker; returns the enriched fields in order."""
    enricher = _enricher
    if enricher is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not initialised")
    mentions = [_scratch(text, lang) for text, lang in items]
    enricher.enrich(mentions)
    return [
        (
            m.lang,
            m.sentiment,
            m.brands,
            m.queries,
            m.terms,
            m.category,
            m.category_confidence,
            m.needs_review,
        )
        for m in mentions
    ]


def _scratch(text: str, lang: str) -> Mention:
    # Enricher works on Mentions; the other fields are irrelevant to it.
    return Mention(source="x", source_id="-", text=text, created_at=_EPOCH, lang=lang)


def _warm() -> bool:
    return _enricher is not None


class EnrichPool:
    """Enriches batches of mentions in place, in worker processes or inline."""

    def __init__(
        self,
        brands: Sequence[BrandConfig],
        queries: Sequence[QueryConfig],
        *,
        workers: int = 1,
        triage: TriageConfig | None = None,
        compliance: ComplianceConfig | None = None,
    ) -> None:
        self.brands = tuple(brands)
        self.queries = tuple(queries)
        self.triage = triage or TriageConfig()
        self.workers = workers
        # Compliance needs the author and date, which stay here: checked inline after.
        self.inline = Enricher(brands, queries, triage=self.triage, compliance=compliance)
        self._pool: ProcessPoolExecutor | None = None
        self.fallbacks = 0

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the hub's process has a running event loop and threads.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.brands, self.queries, self.triage),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has built its enricher."""
        if self.workers <= 0:
            return
        self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _warm) for _ in range(self.workers))
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def enrich(self, mentions: list[Mention]) -> None:
        """Fill the enriched fields of ``mentions`` in place."""
        if self._pool is None or len(mentions) < 8:
            self.inline.enrich(mentions)
            return
        loop = asyncio.get_running_loop()
        items = [(m.text, m.lang) for m in mentions]
        try:
            results = await loop.run_in_executor(self._pool, enrich_texts, items)
        except BrokenProcessPool:
            log.error("an enrichment worker died; enriching inline and starting a new one")
            self.fallbacks += 1
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            self.inline.enrich(mentions)
            return
        flag = self.inline.flag
        for m, (lang, score, brands, queries, terms, category, confidence, review) in zip(
            mentions, results, strict=True
        ):
            m.lang = lang
            m.sentiment = score
            m.sentiment_label = label_for(score)
            m.brands = brands
            m.queries = queries
            m.terms = terms
            m.category, m.category_confidence, m.needs_review = category, confidence, review
            flag(m)
