"""The hub's enrichment step: language, sentiment, brands, saved queries and terms.

:class:`Enricher` is built once from the configuration (queries compiled, lexicons
loaded) and then fills the enriched fields of each :class:`~groundcontrol.model.Mention`
in place. Each text is analysed once (:func:`groundcontrol.text.analyse`) and every
step reads that analysis. Pure and synchronous: the hub calls it on a batch between
dedupe and analytics (in a worker process, :mod:`groundcontrol.hub.workers`).

A batch goes through one step at a time (all texts tokenised, then all languages,
then all scores...), so each step's CPU time is read once per batch, not once per
mention (:meth:`Enricher.fields`, ``cpu``). What a text gives depends on the text,
the language its source gave and the configuration the enricher was built with,
nothing else: a bounded cache of recent texts (:data:`CACHE_SIZE`) answers the
repeats (retweets, copy-paste campaigns, bots: a fifth of the demo's texts) without
enriching them again. The copy fingerprint (:func:`~groundcontrol.listen.copies.copy_print`)
is one of those fields, so the copy index on the hub only looks it up.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

from groundcontrol.config import BrandConfig, ComplianceConfig, QueryConfig, TriageConfig
from groundcontrol.listen.copies import CopyPrint, copy_print
from groundcontrol.listen.lang import detect_language
from groundcontrol.listen.sentiment import SentimentScorer
from groundcontrol.listen.terms import extract_terms
from groundcontrol.listen.triage import ComplianceRules, Triager, TriageRule, compliance_flags
from groundcontrol.model import Mention, label_for
from groundcontrol.query import Query, parse_query
from groundcontrol.text import TextInfo, analyse

__all__ = ["CACHE_SIZE", "Enricher", "Fields"]

#: Texts whose enrichment is remembered, the most recently used (a few hundred bytes
#: each with its text: about 15 MiB in a worker).
CACHE_SIZE = 50_000

#: What enriching one (text, source language) gives: lang, sentiment, brands, queries,
#: terms, category, category confidence, needs review (the last three None when there
#: are no triage rules), and the copy fingerprint. Immutable: the cache hands the
#: same one out again.
Fields = tuple[
    str,
    float,
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    str | None,
    float | None,
    bool | None,
    CopyPrint,
]


class Enricher:
    """Fills lang, sentiment, sentiment_label, brands, queries, terms, the triage
    class and the compliance flags of mentions.

    Raises :class:`~groundcontrol.query.QuerySyntaxError` at construction if a brand or
    query does not parse (``load_config`` has normally caught that already).
    """

    def __init__(
        self,
        brands: Sequence[BrandConfig] = (),
        queries: Sequence[QueryConfig] = (),
        *,
        scorer: SentimentScorer | None = None,
        triage: TriageConfig | None = None,
        compliance: ComplianceConfig | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.brands: tuple[tuple[str, Query], ...] = tuple(
            (b.name, parse_query(b.query)) for b in brands
        )
        """Brand names with their compiled queries, in configuration order."""
        self.queries: tuple[tuple[str, Query], ...] = tuple(
            (q.name, parse_query(q.query)) for q in queries
        )
        """Saved-query names with their compiled queries, in configuration order."""
        self.scorer = scorer if scorer is not None else SentimentScorer()
        """The sentiment scorer (lexicons loaded once)."""
        self._score = self.scorer.score
        self._brand_matchers = tuple((name, q.matches) for name, q in self.brands)
        self._query_matchers = tuple((name, q.matches) for name, q in self.queries)
        triage = triage or TriageConfig()
        self.triager: Triager | None = (
            Triager(
                [TriageRule(r.category, r.query, r.weight) for r in triage.rules],
                review_below=triage.review_below,
            )
            if triage.rules
            else None
        )
        """Classifies mentions; None when the config has no triage rules."""
        compliance = compliance or ComplianceConfig()
        self.compliance = ComplianceRules.build(
            compliance.accounts,
            compliance.safe_harbour,
            [(p.start, p.end) for p in compliance.quiet_periods],
        )
        self.cache_size = cache_size
        """Texts remembered (0: no cache)."""
        # An OrderedDict, not a dict: taking the oldest key off a dict again and again
        # walks over the holes left by the ones taken before (slower and slower).
        self._cache: OrderedDict[tuple[str, str], Fields] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0

    def enrich(self, mentions: list[Mention], cpu: dict[str, float] | None = None) -> None:
        """Enrich every mention of a batch in place (``cpu``: see :meth:`fields`)."""
        fields = self.fields([(m.text, m.lang) for m in mentions], cpu)
        for m, f in zip(mentions, fields, strict=True):
            self.apply(m, f)

    def apply(self, m: Mention, f: Fields) -> None:
        """Set what :meth:`fields` gave for ``m``'s text on ``m``, then its compliance flags."""
        lang, score, brands, queries, terms, category, confidence, review, _print = f
        m.lang = lang
        m.sentiment = score
        m.sentiment_label = label_for(score)
        m.brands = list(brands)
        m.queries = list(queries)
        m.terms = list(terms)
        if category is not None and confidence is not None and review is not None:
            m.category, m.category_confidence, m.needs_review = category, confidence, review
        self.flag(m)

    def fields(
        self, items: Sequence[tuple[str, str]], cpu: dict[str, float] | None = None
    ) -> list[Fields]:
        """Enrich (text, language the source gave or "") pairs; the fields in order.

        With ``cpu``, the thread's CPU seconds of each step are added to it under the
        step's name (cache, tokenise, language, sentiment, brands and queries, terms,
        triage, copy fingerprint).
        """
        started = time.thread_time()
        cache, size = self._cache, self.cache_size
        out: list[Fields | None] = [None] * len(items)
        # The texts to enrich, each once, with where they go (a text may come twice).
        todo: dict[tuple[str, str], list[int]] = {}
        if size:
            move_to_end = cache.move_to_end
            for i, key in enumerate(items):
                hit = cache.get(key)
                if hit is not None:
                    out[i] = hit
                    move_to_end(key)  # the most recently used
                elif key in todo:
                    todo[key].append(i)
                else:
                    todo[key] = [i]
            self.cache_hits += len(items) - len(todo)
            keys = list(todo)
        else:
            keys = list(items)
        self.cache_misses += len(keys)
        times = cpu if cpu is not None else {}
        at = _spent(times, "cache", started)
        if keys:
            texts = [text for text, _lang in keys]
            infos = [analyse(text) for text in texts]
            at = _spent(times, "tokenise", at)
            langs = [
                lang or detect_language(info) for (_t, lang), info in zip(keys, infos, strict=True)
            ]
            at = _spent(times, "language", at)
            score = self._score
            scores = [score(info, lang) for info, lang in zip(infos, langs, strict=True)]
            at = _spent(times, "sentiment", at)
            brand_m, query_m = self._brand_matchers, self._query_matchers
            brands = [tuple(n for n, matches in brand_m if matches(info)) for info in infos]
            queries = [tuple(n for n, matches in query_m if matches(info)) for info in infos]
            at = _spent(times, "brands and queries", at)
            terms = [
                tuple(extract_terms(info, lang)) for info, lang in zip(infos, langs, strict=True)
            ]
            at = _spent(times, "terms", at)
            triage = self._triage(infos, scores)
            at = _spent(times, "triage", at)
            prints = [copy_print(text) for text in texts]
            at = _spent(times, "copy fingerprint", at)
            made = [
                (lang, sc, b, q, t, *tr, p)
                for lang, sc, b, q, t, tr, p in zip(
                    langs, scores, brands, queries, terms, triage, prints, strict=True
                )
            ]
            if size:
                for key, f in zip(keys, made, strict=True):
                    for i in todo[key]:
                        out[i] = f
                    if len(cache) >= size:
                        cache.popitem(last=False)  # the least recently used
                    cache[key] = f
            else:
                out = list(made)
            _spent(times, "cache", at)
        return out  # type: ignore[return-value]

    def _triage(
        self, infos: list[TextInfo], scores: list[float]
    ) -> list[tuple[str, float, bool] | tuple[None, None, None]]:
        if self.triager is None:
            return [(None, None, None)] * len(infos)
        classify = self.triager.classify
        out: list[tuple[str, float, bool] | tuple[None, None, None]] = []
        for info, score in zip(infos, scores, strict=True):
            t = classify(info, score)
            out.append((t.category, t.confidence, t.needs_review))
        return out

    def enrich_one(self, m: Mention) -> None:
        """Enrich one mention in place.

        ``lang`` is detected only when the source left it empty; the other enriched
        fields are always recomputed, so enriching twice gives the same result.
        """
        info = analyse(m.text)
        lang = m.lang
        if not lang:
            lang = m.lang = detect_language(info)
        m.sentiment = score = self._score(info, lang)
        m.sentiment_label = label_for(score)
        m.brands = [name for name, matches in self._brand_matchers if matches(info)]
        m.queries = [name for name, matches in self._query_matchers if matches(info)]
        m.terms = extract_terms(info, lang)
        if self.triager is not None:
            t = self.triager.classify(info, score)
            m.category, m.category_confidence, m.needs_review = (
                t.category,
                t.confidence,
                t.needs_review,
            )
        self.flag(m)

    def flag(self, m: Mention) -> None:
        """Set the compliance flags of a post from one of the company's own accounts; a
        flagged post is a compliance risk for a person to review, whatever its class."""
        if not self.compliance.accounts:
            return
        m.flags = compliance_flags(m.author, m.text, m.created_at.timestamp(), self.compliance)
        if m.flags:
            m.category, m.category_confidence, m.needs_review = "compliance_risk", 1.0, True


def _spent(times: dict[str, float], step: str, since: float) -> float:
    """Add the CPU time since ``since`` to ``step``; the time now."""
    now: float = time.thread_time()
    times[step] = times.get(step, 0.0) + now - since
    return now
