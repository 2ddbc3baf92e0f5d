"""Triage and compliance: what kind of mention this is, and whether it is a risk.

**Triage.** Each mention is classified as a support request, a sales lead, a product
problem, praise, a compliance risk or other, by rules written in the query language
(``[[triage.rules]]`` in the config). Every rule that matches votes for its category
with its weight; sentiment adds a small vote where it is evidence (praise is rarely
negative, a product problem rarely positive). The confidence is the winner's share of
the votes, with a prior standing for "none of these", so one weak rule gives a low
confidence and two agreeing rules a high one. Below ``review_below`` the mention
goes to the review queue for a person to classify.

**Compliance.** Posts from the company's own accounts (``[compliance] accounts``) are
flagged when they state financial figures (revenue, earnings, guidance... next to a
number) without the safe-harbour wording, and whenever they are posted during a quiet
period.

Pure code: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from groundcontrol.config import parse_moment
from groundcontrol.model import CATEGORIES
from groundcontrol.query import Query, parse_query
from groundcontrol.text import TextInfo, analyse

__all__ = [
    "CATEGORIES",
    "ComplianceRules",
    "Triage",
    "TriageRule",
    "Triager",
    "compliance_flags",
    "states_financial_figures",
]

#: The categories, in the order the wall lists them.

#: Votes that stand for "none of these" when confidence is computed.
PRIOR = 0.5
#: How much sentiment votes: a fraction of one rule's weight.
SENTIMENT_VOTE = 0.3


@dataclass(frozen=True)
class TriageRule:
    """One rule: mentions matching ``query`` vote for ``category`` with ``weight``."""

    category: str
    query: str
    weight: float = 1.0


@dataclass(frozen=True)
class Triage:
    """A mention's class, how sure the rules are, and whether a person should look."""

    category: str
    confidence: float
    needs_review: bool
    votes: dict[str, float] = field(default_factory=dict)


class Triager:
    """Classifies analysed texts by the configured rules."""

    def __init__(self, rules: Sequence[TriageRule], *, review_below: float = 0.6) -> None:
        for rule in rules:
            if rule.category not in CATEGORIES:
                raise ValueError(
                    f"triage category {rule.category!r} is not one of {', '.join(CATEGORIES)}"
                )
            if rule.weight <= 0:
                raise ValueError(f"triage rule weight must be above 0, not {rule.weight}")
        self.rules: list[tuple[TriageRule, Query]] = [(r, parse_query(r.query)) for r in rules]
        self.review_below = review_below

    def classify(self, text: str | TextInfo, sentiment: float = 0.0) -> Triage:
        info = analyse(text) if isinstance(text, str) else text
        votes: dict[str, float] = {}
        for rule, query in self.rules:
            if query.matches(info):
                votes[rule.category] = votes.get(rule.category, 0.0) + rule.weight
        if votes:
            # Sentiment is evidence only alongside a rule: it never makes a category alone.
            if sentiment > 0.3 and "praise" in votes:
                votes["praise"] += SENTIMENT_VOTE
            if sentiment < -0.3:
                for category in ("product_problem", "support"):
                    if category in votes:
                        votes[category] += SENTIMENT_VOTE
            if sentiment < -0.3 and "praise" in votes:
                votes["praise"] = max(0.0, votes["praise"] - SENTIMENT_VOTE)
        if not votes or max(votes.values()) <= 0:
            return Triage("other", 1.0 - PRIOR / (PRIOR + 1.0), False, votes)
        # Ties go to the earlier category in CATEGORIES (support before praise...).
        best = max(CATEGORIES, key=lambda c: (votes.get(c, 0.0), -CATEGORIES.index(c)))
        confidence = votes[best] / (sum(votes.values()) + PRIOR)
        return Triage(best, round(confidence, 3), confidence < self.review_below, votes)


# --------------------------------------------------------------------------- compliance

_FINANCE_WORDS = (
    r"revenue|revenues|sales|earnings|profit|profits|income|ebitda|eps|margin|margins|"
    r"guidance|outlook|forecast|dividend|buyback|turnover|umsatz|gewinn|prognose|"
    r"omsætning|overskud|indtjening|resultat"
)
_AMOUNT = (
    r"(?:[$€£¥]|usd|eur|dkk|kr\.?)\s?\d[\d.,]*\s?(?:%|percent|bn|billion|m|million|mio\.?|"
    r"mia\.?|mrd\.?|k|thousand)?"
    r"|\d[\d.,]*\s?(?:%|percent|bn|billion|million|mio\.?|mia\.?|mrd\.?|milliarder|millioner)"
    r"|\d[\d.,]*\s?(?:[$€£¥]|usd|eur|dkk|kr\.?)"
)
#: A finance word (with any ending: "omsætningen", "earnings") and an amount within
#: a few words of each other, either order.
_FIGURE = re.compile(
    rf"\b(?:{_FINANCE_WORDS})\w*(?:\W+\w+){{0,6}}?\W+(?:{_AMOUNT})"
    rf"|(?:{_AMOUNT})(?:\W+\w+){{0,6}}?\W+(?:{_FINANCE_WORDS})\w*",
    re.IGNORECASE,
)


def states_financial_figures(text: str) -> bool:
    """True when ``text`` puts a financial term next to a number ("revenue grew 12%",
    "$1.2B in Q3 sales", "Umsatz von 3,4 Mrd. Euro")."""
    return _FIGURE.search(text) is not None


@dataclass(frozen=True)
class QuietPeriod:
    """From ``start`` (inclusive) to ``end`` (exclusive), unix seconds."""

    start: float
    end: float


@dataclass(frozen=True)
class ComplianceRules:
    accounts: frozenset[str] = frozenset()
    """The company's own handles, lower case without '@'."""
    safe_harbour: tuple[str, ...] = (
        "forward-looking statement",
        "safe harbor",
        "safe harbour",
    )
    """Wording that makes a statement of figures acceptable (case-insensitive)."""
    quiet_periods: tuple[QuietPeriod, ...] = ()

    @classmethod
    def build(
        cls,
        accounts: Sequence[str],
        safe_harbour: Sequence[str] | None,
        quiet_periods: Sequence[tuple[str, str]],
    ) -> ComplianceRules:
        """From config values; ValueError names a bad date."""
        periods = []
        for start, end in quiet_periods:
            a, b = parse_moment(start), parse_moment(end)
            if b <= a:
                raise ValueError(f"quiet period {start} to {end} ends before it starts")
            periods.append(QuietPeriod(a, b))
        return cls(
            accounts=frozenset(a.lower().lstrip("@") for a in accounts if a.strip()),
            safe_harbour=tuple(s.lower() for s in safe_harbour)
            if safe_harbour is not None
            else cls.safe_harbour,
            quiet_periods=tuple(periods),
        )


def compliance_flags(author: str, text: str, at: float, rules: ComplianceRules) -> list[str]:
    """The compliance flags of a post by ``author`` at ``at`` (unix seconds): empty
    unless the author is one of the company's own accounts."""
    if author.lower().lstrip("@") not in rules.accounts:
        return []
    flags = []
    if states_financial_figures(text):
        lower = text.lower()
        if not any(wording in lower for wording in rules.safe_harbour):
            flags.append("financial figures without safe-harbour wording")
    if any(p.start <= at < p.end for p in rules.quiet_periods):
        flags.append("posted during a quiet period")
    return flags
