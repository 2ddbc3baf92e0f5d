"""Terms for hot topics: hashtags and salient words, per language."""

from __future__ import annotations

import pytest

from groundcontrol.listen.terms import MAX_TERMS, STOPWORDS, extract_terms
from groundcontrol.text import analyse


def terms(text: str, lang: str = "en") -> list[str]:
    return extract_terms(analyse(text), lang)


def test_hashtags_and_salient_words_in_order() -> None:
    assert terms("The #AeroGate battery is swelling again, my Aero 14 is done #Northwind") == [
        "#aerogate",
        "battery",
        "swelling",
        "aero",
        "done",
        "#northwind",
    ]


def test_drops_stopwords_numbers_handles_links_and_short_words() -> None:
    assert terms("@northwind it is 2024 and I got 3 of 14 ok https://t.co/xYz wow") == []


def test_keeps_words_with_digits_and_short_hashtags() -> None:
    assert terms("rtx4090 #ai #5g 4k") == ["rtx4090", "#ai", "#5g"]


def test_dedupes_preserving_first_appearance() -> None:
    assert terms("battery Battery BATTERY screen battery #screen") == [
        "battery",
        "screen",
        "#screen",
    ]


def test_caps_at_max_terms() -> None:
    words = " ".join(f"topic{i}" for i in range(30))
    result = terms(words)
    assert len(result) == MAX_TERMS == 12
    assert result[0] == "topic0"
    assert result[-1] == "topic11"


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        (
            "de",
            "Der Akku ist nach einem Monat kaputt, echt schade",
            ["akku", "monat", "kaputt", "schade"],
        ),
        (
            "da",
            "Batteriet er gået i stykker efter en uge, og det er ikke okay",
            ["batteriet", "gået", "stykker", "uge"],
        ),
        ("fr", "La batterie de mon ordinateur est morte", ["batterie", "ordinateur", "morte"]),
        ("es", "La batería de mi portátil no dura nada", ["batería", "portátil", "dura"]),
        ("nl", "De batterij van mijn laptop is kapot", ["batterij", "laptop", "kapot"]),
        ("sv", "Batteriet i min dator är helt slut", ["batteriet", "dator", "slut"]),
    ],
)
def test_stopwords_per_language(lang: str, text: str, expected: list[str]) -> None:
    assert terms(text, lang) == expected


def test_each_language_uses_its_own_list() -> None:
    # "die" and "man" are German stopwords but English words; "the" the reverse.
    assert terms("my laptop will die, man", "en") == ["laptop", "die", "man"]
    assert terms("the Akku die Kamera", "de") == ["the", "akku", "kamera"]


def test_unknown_language_uses_every_list() -> None:
    assert terms("der Akku und the battery og skærmen", "") == ["akku", "battery", "skærmen"]
    assert terms("der Akku", "ja") == ["akku"]


def test_stopword_lists_are_substantial() -> None:
    for lang in ("en", "de", "da", "fr", "es", "nl", "sv"):
        assert 100 <= len(STOPWORDS[lang]) <= 400, lang
    assert STOPWORDS[""] >= STOPWORDS["en"] | STOPWORDS["de"]


def test_sigil_only_and_markdown_tokens_are_not_terms() -> None:
    assert terms("### Update ## # @ #@") == ["update"]


def test_results_are_stable_across_calls() -> None:
    # Decisions are cached per token; the second call must agree with the first.
    text = "Battery swelling on the Aero, #AeroGate"
    assert terms(text) == terms(text) == ["battery", "swelling", "aero", "#aerogate"]
