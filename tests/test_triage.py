"""Triage by rules, with confidence and a review queue; compliance flags for the
company's own accounts. Checked on labelled mentions written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from groundcontrol.listen.sentiment import SentimentScorer
from groundcontrol.listen.triage import (
    ComplianceRules,
    Triager,
    TriageRule,
    compliance_flags,
    states_financial_figures,
)

FIXTURE = Path(__file__).parent / "fixtures" / "triage_labelled.tsv"

#: Rules like the ones an operator writes (and config/default.toml ships).
RULES = [
    TriageRule(
        "support",
        '"how do i" OR "how to" OR help OR hilfe OR hjælp OR support OR refund OR warranty'
        ' OR "customer service" OR repair OR reparatur OR "can\'t log in" OR hvordan OR wie',
    ),
    TriageRule("support", '"@northwind" AND (order OR claim OR need)', 0.5),
    TriageRule(
        "sales",
        "buy OR kaufen OR quote OR pricing OR discount OR reseller OR bulk OR angebot"
        ' OR "business" OR units OR fleet',
    ),
    TriageRule(
        "product_problem",
        "battery OR akku OR swell* OR aufgebläht OR overheat* OR varm OR crack* OR risse"
        ' OR broken OR defect OR bug OR disconnect* OR flicker* OR stopped OR "lader ikke"',
    ),
    TriageRule(
        "praise",
        "love OR liebe OR elsker OR best OR fantastic OR fantastisk OR amazing OR great"
        " OR super OR happy OR shoutout",
    ),
    TriageRule(
        "compliance_risk",
        "insider OR leaked OR (revenue OR earnings OR guidance) AND (buy OR sell OR shares"
        " OR cut OR grow)",
        2.0,
    ),
]


def labelled() -> list[tuple[str, str]]:
    rows = []
    for line in FIXTURE.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            category, text = line.split("\t", 1)
            rows.append((category, text))
    return rows


def test_rules_classify_the_labelled_mentions() -> None:
    triager = Triager(RULES)
    scorer = SentimentScorer()
    rows = labelled()
    right = 0
    wrong = []
    for category, text in rows:
        got = triager.classify(text, scorer.score_text(text)).category
        right += got == category
        if got != category:
            wrong.append((category, got, text))
    accuracy = right / len(rows)
    assert len(rows) >= 35
    assert accuracy >= 0.85, wrong


def test_confidence_and_the_review_queue() -> None:
    triager = Triager(RULES, review_below=0.6)
    two_agree = triager.classify("My Aero 14 battery swelled and is broken", -0.6)
    assert two_agree.category == "product_problem" and not two_agree.needs_review
    torn = triager.classify("Love the Aero 14 but the battery swelled", 0.0)
    assert torn.needs_review and torn.confidence < 0.6
    nothing = triager.classify("Northwind opened an office")
    assert (nothing.category, nothing.needs_review) == ("other", False)
    # Sentiment alone never makes a category.
    assert triager.classify("Northwind!!! :)", 0.9).category == "other"


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Triager([TriageRule("complaint", "bad")])
    with pytest.raises(ValueError, match="above 0"):
        Triager([TriageRule("praise", "good", 0.0)])


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("Q3 revenue grew 12% to $1.4B", True),
        ("We expect full-year guidance of EUR 3.2 billion", True),
        ("$250 million in sales this quarter", True),
        ("Umsatz von 3,4 Mrd. Euro im dritten Quartal", True),
        ("Omsætningen steg til 2,1 milliarder kr.", True),
        ("Our new laptop has 14 inch screen and 16 GB memory", False),
        ("Sales of the Aero 14 start on Monday", False),
        ("Earnings call at 3pm, join us", False),
    ],
)
def test_financial_figures_are_found(text: str, figures: bool) -> None:
    assert states_financial_figures(text) is figures


def test_compliance_flags_only_for_our_accounts() -> None:
    rules = ComplianceRules.build(
        ["@Northwind", "northwind_ir"], None, [("2026-12-15", "2027-01-28")]
    )
    in_quiet = datetime(2026, 12, 20, tzinfo=UTC).timestamp()
    after = datetime(2027, 2, 1, tzinfo=UTC).timestamp()
    figures = "Q4 revenue grew 12% to $1.4B"
    assert compliance_flags("northwind", figures, after, rules) == [
        "financial figures without safe-harbour wording"
    ]
    safe = figures + ". This post contains forward-looking statements; see our filings."
    assert compliance_flags("northwind_ir", safe, after, rules) == []
    assert compliance_flags("@northwind", "New colours for the Pulse!", in_quiet, rules) == [
        "posted during a quiet period"
    ]
    # Anyone else may say what they like.
    assert compliance_flags("analyst_jo", figures, in_quiet, rules) == []
    with pytest.raises(ValueError, match="ends before it starts"):
        ComplianceRules.build([], None, [("2027-01-28", "2026-12-15")])
    with pytest.raises(ValueError, match="not an ISO 8601"):
        ComplianceRules.build([], None, [("next week", "2026-12-15")])
