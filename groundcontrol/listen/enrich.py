"""The hub's enrichment step: language, sentiment, brands, saved queries and terms.

:class:`Enricher` is built once from the configuration (queries compiled, lexicons
loaded) and then fills the enriched fields of each :class:`~groundcontrol.model.Mention`
in place. Each text is analysed once (:func:`groundcontrol.text.analyse`) and every
step reads that analysis. Pure and synchronous: the hub calls it on a batch between
dedupe and analytics (in a worker thread if it wants the event loop free).
"""

from __future__ import annotations

from collections.abc import Sequence

from groundcontrol.config import BrandConfig, ComplianceConfig, QueryConfig, TriageConfig
from groundcontrol.listen.lang import detect_language
from groundcontrol.listen.sentiment import SentimentScorer
from groundcontrol.listen.terms import extract_terms
from groundcontrol.listen.triage import ComplianceRules, Triager, TriageRule, compliance_flags
from groundcontrol.model import Mention, label_for
from groundcontrol.query import Query, parse_query
from groundcontrol.text import analyse

__all__ = ["Enricher"]


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

    def enrich(self, mentions: list[Mention]) -> None:
        """Enrich every mention of a batch in place."""
        enrich_one = self.enrich_one
        for m in mentions:
            enrich_one(m)

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
