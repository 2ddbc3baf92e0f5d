"""Sentiment: the English port against vaderSentiment, German and Danish on labelled posts."""

from __future__ import annotations

import argparse
import ast
import io
import json
import math
import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from groundcontrol.cli import sentiment as sentiment_cli
from groundcontrol.listen.sentiment import SentimentScorer, normalize
from groundcontrol.model import label_for
from groundcontrol.text import analyse
from tests.deadline import SAFETY

vader = pytest.importorskip("vaderSentiment.vaderSentiment")

# Tweet-like English posts written for this test: plain opinions, negation, boosters
# and dampeners, ALL CAPS, emoji and emoticons, 'but', punctuation, VADER's idioms.
EN_BASE = [
    "I love my new Aero 14, the screen is gorgeous",
    "The battery life is terrible",
    "Northwind support was helpful and friendly",
    "This laptop is not good at all",
    "It's not bad, actually",
    "The keyboard is very comfortable",
    "The fans are extremely loud",
    "The speakers are kind of weak",
    "The speakers are kinda weak",
    "The case is sort of flimsy",
    "Delivery was slightly late",
    "The screen is barely usable outdoors",
    "I am SO happy with this purchase",
    "This is the WORST laptop I have ever owned",
    "BEST. LAPTOP. EVER.",
    "I HATE THIS",
    "I HATE this update",
    "The update is GREAT",
    "The update is great!",
    "The update is great!!!",
    "The update is great!!!!!!!",
    "Why is it so slow??",
    "Why is it so slow???",
    "Why is it so slow?????",
    "Is this good?",
    "The design is nice, but the battery is awful",
    "The battery is awful, but the design is nice",
    "Great screen but terrible speakers but nice keyboard",
    "Not great, not terrible",
    "Never been so happy with a laptop",
    "Never been this disappointed",
    "I have never been happy with their service",
    "Without a doubt the best laptop I have used",
    "Without doubt a great machine",
    "At least it isn't a horrible experience",
    "This is the least helpful support team ever",
    "It was very least useful",
    "No problems so far",
    "No good options here",
    "No, this is not acceptable",
    "There is no way this is worth it",
    "No love or care went into this",
    "No joy nor fun in using it",
    "This laptop is the shit",
    "The Pulse is the bomb",
    "Yeah right, best support ever",
    "That update was the kiss of death for my laptop",
    "Screen to die for",
    "Waiting at the bus stop with my Aero 14",
    "Bad ass machine",
    "I love it :)",
    "Not happy :(",
    "Broken again :-(",
    "It works ;)",
    "Nice one :D",
    "Totally worth it <3",
    "Meh :/",
    "I love it 😍",
    "Broke after a week 😡",
    "Crying 😭😭 my laptop died",
    "Thanks Northwind 🙏🙏",
    "The new Pulse 🔥🔥🔥",
    "Delivered today 📦",
    "Works great 👍",
    "Terrible support 👎",
    "😂😂😂 this update",
    "Love it❤️",
    "lol what a disaster",
    "omg this is amazing",
    "wtf is this update",
    "Thank you so much for the quick help!",
    "Thanks for nothing",
    "The fan noise is driving me crazy",
    "My laptop died during the presentation",
    "The charger overheats and smells like burning plastic",
    "Refund denied, what a scam",
    "Customer service hung up on me twice",
    "Absolutely brilliant machine",
    "Absolutely horrible experience",
    "Really really good",
    "Quite disappointing",
    "Pretty good overall",
    "Somewhat disappointed with the screen",
    "Hardly a great deal",
    "Incredibly fast boot times",
    "Unbelievably bad customer service",
    "Totally useless",
    "Utterly amazing",
    "The product is fine",
    "It's ok I guess",
    "Not sure how I feel about it",
    "I don't like the new logo",
    "I don't hate it",
    "I can't recommend this enough",
    "I can't stand this keyboard",
    "I couldn't be happier",
    "Doesn't work, doesn't charge, doesn't boot",
    "Wasn't expecting much but it's great",
    "Nothing good to say about this",
    "Nobody at support knows anything",
    "It never fails to disappoint",
    "I rarely complain but this is awful",
    "Seldom have I seen such quality",
    "Despite the price, it is excellent",
    "Just enough battery to get through the day",
    "The Aero 14 ships on Monday",
    "Northwind announces new Pulse headphones",
    "Unboxing video of the Aero 14",
    "Firmware version 2.1 is out",
    "Is anyone going to the launch event?",
    "Price drop on the Pulse today",
    "My order number is 12345",
    "Trying the new update now",
    "The store opens at 9",
    "Live blog: Northwind keynote",
    "Battery swelling reported by several users #aerogate",
    "Is the swollen battery dangerous? #aerogate",
    "Happy birthday to my trusty Aero 14 🎉",
    "Sad to see the old model go",
    "Angry customers flood the forum",
    "Fantastic support, they replaced it within a day",
    "Worst purchase of my life",
    "I regret buying this",
    "I'm impressed by the build quality",
    "Such a pleasant surprise",
    "What a joke",
    "LOL the fan sounds like a jet",
    "The screen is AMAZING but the battery SUCKS",
    "This is NOT okay",
    "NOT happy",
    "not HAPPY",
    "VERY good",
    "very GOOD",
    "Good good good",
    "Bad bad bad",
    "Love love love this",
    "Hate hate hate this",
    "Not bad, not bad at all",
    "Not the worst, but not the best",
    "It is good but not great",
    "It is not great, but it is good",
    "I'd say it's decent",
    "Highly recommended!",
    "Would not recommend",
    "Avoid at all costs",
    "Five stars, flawless",
    "One star, broken on arrival",
    "Great, another update that breaks everything",
    "Thanks for the update, everything is slower now",
    "Sure, because waiting 3 weeks for a refund is fun",
    "I guess it's fine if you like bugs",
    "Best decision ever, switched to the Aero",
    "Switched away from Northwind, best decision ever",
    "Hmm, the new update is interesting",
    "Ugh, again?",
    "Yay, it finally arrived!",
    "Wow. Just wow.",
    "Well done Northwind!",
    "Shame on you Northwind",
    "Congrats to the team on the launch",
    "Sorry, but this is unacceptable",
    "Please fix the wifi bug",
    "Help! My screen went black",
    "The support agent was rude and unhelpful",
    "Smooth, quiet and fast. Love it.",
    "Slow, loud and hot. Hate it.",
    "Beautiful design, poor execution",
    "Cheap materials, expensive price",
    "Excellent value for money",
    "Outstanding performance for the price",
    "Mediocre at best",
    "A solid choice for students",
    "Disappointed with the Pulse, the sound is flat",
    "The Pulse sounds amazing, very happy",
    "Feeling blessed with this new toy",
    "Stressful week, and now my laptop crashes",
    "Perfect for travel, light and strong",
    "Horrible hinge design, it cracked",
    "It's kind of good, kind of bad",
    "The display is sort of amazing",
    "I'm not not happy",
    "It's not that I hate it",
    "The fans are not too loud",
    "Not a fan of the new design",
    "This isn't what I paid for",
    "Aren't you ashamed of this quality?",
    "Free shipping and a gift, thank you!",
    "Lost all my files after the update",
    "They fixed it for free, amazing service",
    "Won't buy again",
    "Will buy again",
    "Couldn't care less about the logo",
    "I'm so done with Northwind",
    "Brilliant! Just brilliant!",
    "What a mess!!",
    "Really? REALLY?",
    "Ok.",
    "ok",
    "Okay then",
    "Great!",
    "Bad.",
    "No.",
    "Yes!",
    "Hmm",
    "",
    "!!!",
    ":)",
    "😍",
    "The screen is amazing 😍 but the battery 😡",
    "I was happy until the update 🙄",
    "So far so good 🤞",
    "Fingers crossed the repair works",
    "Don’t buy this laptop",
    "I don’t love it",
    "It’s great",
]


def _variants(base: list[str]) -> list[str]:
    # Systematic variants stress the rules that interact: shouting, exclamation,
    # a contrast added after, negation in front.
    out = list(base)
    for i, s in enumerate(base):
        if not s:
            continue
        kind = i % 4
        if kind == 0:
            out.append(s.upper() + " for real")
        elif kind == 1:
            out.append(s + "!!")
        elif kind == 2:
            out.append(s + ", but the price is fair")
        else:
            out.append("I don't think " + s[0].lower() + s[1:])
    return out


EN = _variants(EN_BASE)

DE = [
    ("positive", "Der neue Laptop ist wirklich super!"),
    ("positive", "Ich bin total begeistert von dem Display"),
    ("positive", "Sehr gute Verarbeitung, ich bin zufrieden"),
    ("positive", "Der Kundenservice war schnell und sehr freundlich, danke!"),
    ("positive", "Einfach genial, der Akku hält ewig"),
    ("positive", "Das Pulse klingt fantastisch 😍"),
    ("positive", "Bester Laptop, den ich je hatte"),
    ("positive", "Ich liebe mein Aero 14"),
    ("positive", "Kann ich nur empfehlen!"),
    ("positive", "Tolles Gerät, gerne wieder"),
    ("positive", "Kein Problem mit dem Update, alles läuft"),
    ("positive", "Nicht schlecht für den Preis"),
    ("positive", "Die Lieferung war schneller als erwartet, top!"),
    ("positive", "Mega zufrieden mit dem Support"),
    ("positive", "Das Display ist wunderschön"),
    ("negative", "Der Akku ist nach einem Monat kaputt"),
    ("negative", "Furchtbarer Kundenservice, nie wieder Northwind"),
    ("negative", "Das Update ist eine Katastrophe"),
    ("negative", "Ich bin sehr enttäuscht von der Akkulaufzeit"),
    ("negative", "Der Lüfter ist viel zu laut und nervt"),
    ("negative", "Die Kamera funktioniert nicht mehr"),
    ("negative", "Das Ladegerät geht nicht, total ärgerlich"),
    ("negative", "Mein Akku ist aufgebläht, das ist gefährlich"),
    ("negative", "Totaler Schrott 😡"),
    ("negative", "Das gefällt mir gar nicht"),
    ("negative", "Der Bildschirm ist nicht gut"),
    ("negative", "Leider ist die Tastatur defekt"),
    ("negative", "Schlechter Support, keiner antwortet"),
    ("negative", "Ich hasse dieses Update"),
    ("negative", "Überteuert und langsam, finger weg"),
    ("negative", "Das Display ist schön, aber der Akku ist eine Katastrophe"),
    ("neutral", "Das Aero 14 kommt am Montag in den Handel"),
    ("neutral", "Hat jemand Erfahrungen mit dem neuen Pulse?"),
    ("neutral", "Northwind stellt heute neue Kopfhörer vor"),
    ("neutral", "Wann kommt das nächste Update?"),
    ("neutral", "Ich habe das Gerät gestern bestellt"),
    ("neutral", "Welche Farbe nehmt ihr?"),
    ("neutral", "Das Paket ist unterwegs"),
    ("neutral", "Livestream der Präsentation um 18 Uhr"),
    ("neutral", "Der Laptop wiegt 1,3 Kilo"),
]

DA = [
    ("positive", "Min nye Aero 14 er virkelig god"),
    ("positive", "Jeg elsker den nye Pulse!"),
    ("positive", "Fantastisk skærm og super hurtig"),
    ("positive", "Kundeservice var meget hjælpsomme, tak!"),
    ("positive", "Jeg er så glad for min nye computer"),
    ("positive", "Den bedste bærbare jeg har haft"),
    ("positive", "Kan varmt anbefale den"),
    ("positive", "Fedt produkt, virker perfekt"),
    ("positive", "Flot design og lækker skærm 😍"),
    ("positive", "Ingen problemer efter opdateringen"),
    ("positive", "Ikke dårligt til prisen"),
    ("positive", "Meget tilfreds med leveringen"),
    ("positive", "Jeg kan godt lide tastaturet"),
    ("positive", "Hurtig levering, tak for det"),
    ("positive", "Skøn lyd i de nye høretelefoner"),
    ("negative", "Batteriet er helt dødt efter en måned"),
    ("negative", "Elendig kundeservice, aldrig igen Northwind"),
    ("negative", "Opdateringen er en katastrofe"),
    ("negative", "Jeg er meget skuffet over batteriet"),
    ("negative", "Blæseren larmer, det er virkelig træls"),
    ("negative", "Kameraet virker ikke længere"),
    ("negative", "Opladeren fungerer ikke, så irriterende"),
    ("negative", "Batteriet er opsvulmet, det er farligt"),
    ("negative", "Sikke noget lort 😡"),
    ("negative", "Jeg kan ikke lide den nye opdatering"),
    ("negative", "Skærmen er ikke god"),
    ("negative", "Desværre er tastaturet gået i stykker"),
    ("negative", "Dårlig support, ingen svarer"),
    ("negative", "Jeg hader den her opdatering"),
    ("negative", "Alt for dyr og langsom"),
    ("negative", "Skærmen er flot, men batteriet er elendigt"),
    ("neutral", "Aero 14 kommer i butikkerne på mandag"),
    ("neutral", "Har nogen prøvet den nye Pulse?"),
    ("neutral", "Northwind præsenterer nye høretelefoner i dag"),
    ("neutral", "Hvornår kommer den næste opdatering?"),
    ("neutral", "Jeg bestilte den i går"),
    ("neutral", "Hvilken farve tager I?"),
    ("neutral", "Pakken er på vej"),
    ("neutral", "Livestream af præsentationen klokken 18"),
    ("neutral", "Computeren vejer 1,3 kilo"),
]


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    # English as the exact VADER port: the tests below check it against vaderSentiment.
    # German and Danish are scored the same in both modes.
    return SentimentScorer(english="vader")


def _pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)


def test_english_agrees_with_vader(scorer: SentimentScorer) -> None:
    assert len(EN) >= 300
    reference = vader.SentimentIntensityAnalyzer()
    ours = [scorer.score(analyse(s), "en") for s in EN]
    theirs = [reference.polarity_scores(s)["compound"] for s in EN]
    r = _pearson(ours, theirs)
    agree = sum(label_for(a) == label_for(b) for a, b in zip(ours, theirs, strict=True))
    assert r >= 0.98
    assert agree / len(EN) >= 0.95
    # The port is exact except for typographic apostrophes (’), which we read as '.
    differ = [s for s, a, b in zip(EN, ours, theirs, strict=True) if abs(a - b) > 1e-9]
    assert all("’" in s for s in differ), differ
    # The corpus must exercise both labels heavily, or agreement would be cheap.
    labels = [label_for(b) for b in theirs]
    assert labels.count("positive") > 100
    assert labels.count("negative") > 100


def test_typographic_apostrophe_negates(scorer: SentimentScorer) -> None:
    straight = scorer.score(analyse("I don't love it"), "en")
    curly = scorer.score(analyse("I don’t love it"), "en")
    assert straight == curly < 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The book was good.", 0.4404),
        ("The book was only kind of good.", 0.3832),
        ("VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0.9469),
        ("Today only kinda sux! But I'll get by, lol", 0.5249),
        ("Make sure you :) or :D today!", 0.8633),
        ("Not bad at all", 0.431),
        ("", 0.0),
    ],
)
def test_vader_reference_values(scorer: SentimentScorer, text: str, expected: float) -> None:
    # Values from VADER's own README examples.
    assert scorer.score(analyse(text), "en") == pytest.approx(expected, abs=1e-4)


def _label_accuracy(
    scorer: SentimentScorer, lang: str, cases: list[tuple[str, str]]
) -> tuple[float, list[tuple[str, str, float]]]:
    wrong = []
    for label, text in cases:
        score = scorer.score(analyse(text), lang)
        if label_for(score) != label:
            wrong.append((label, text, score))
    return 1 - len(wrong) / len(cases), wrong


@pytest.mark.parametrize(("lang", "cases"), [("de", DE), ("da", DA)])
def test_german_and_danish_labels(
    scorer: SentimentScorer, lang: str, cases: list[tuple[str, str]]
) -> None:
    assert len(cases) >= 30
    accuracy, wrong = _label_accuracy(scorer, lang, cases)
    assert accuracy >= 0.80, wrong


@pytest.mark.parametrize(
    ("lang", "positive", "negative"),
    [
        ("de", "Das ist gut", "Das ist nicht gut"),
        ("de", "Das gefällt mir", "Das gefällt mir nicht"),
        ("de", "Er funktioniert", "Er funktioniert nicht"),
        ("de", "Kein Problem", "Ein Problem"),
        ("da", "Den er god", "Den er ikke god"),
        ("da", "Den virker", "Den virker ikke"),
        ("da", "Ingen problemer", "Mange problemer"),
    ],
)
def test_negation_flips(scorer: SentimentScorer, lang: str, positive: str, negative: str) -> None:
    assert scorer.score(analyse(positive), lang) > 0
    assert scorer.score(analyse(negative), lang) < 0


def test_negator_before_a_sentiment_word_belongs_to_it(scorer: SentimentScorer) -> None:
    # "gut" is not negated by the "nicht" that belongs to "schlecht".
    assert scorer.score(analyse("Gut, nicht schlecht"), "de") > 0
    assert scorer.score(analyse("Super, ikke dårlig"), "da") > 0


def test_boosters_and_caps_intensify(scorer: SentimentScorer) -> None:
    for lang, plain, boosted in [
        ("de", "Das ist gut", "Das ist sehr gut"),
        ("de", "Das ist gut", "Das ist GUT"),
        ("da", "Den er god", "Den er virkelig god"),
        ("da", "Den er dårlig", "Den er meget dårlig"),
    ]:
        a = abs(scorer.score(analyse(plain), lang))
        b = abs(scorer.score(analyse(boosted), lang))
        assert b > a, (plain, boosted)


def test_contrast_weights_the_second_clause(scorer: SentimentScorer) -> None:
    assert scorer.score(analyse("Schön, aber kaputt"), "de") < 0
    assert scorer.score(analyse("Kaputt, aber schön"), "de") > 0
    assert scorer.score(analyse("Flot, men elendig"), "da") < 0


def test_other_languages_score_emoji_and_emoticons_only(scorer: SentimentScorer) -> None:
    # Languages the detector names but that have no lexicon of ours.
    assert scorer.score(analyse("È fantastico"), "it") == 0.0
    assert scorer.score(analyse("È fantastico 😍"), "it") > 0.3
    assert scorer.score(analyse("É um desastre 😡"), "pt") < -0.3
    assert scorer.score(analyse("Ok :)"), "it") > 0
    assert scorer.score(analyse("Nei :("), "no") < 0


def test_unknown_language_is_scored_as_english(scorer: SentimentScorer) -> None:
    assert scorer.score(analyse("love it"), "") == scorer.score(analyse("love it"), "en") > 0


def test_score_text_detects_language(scorer: SentimentScorer) -> None:
    assert scorer.score_text("Das ist wirklich sehr schlecht") < -0.5
    assert scorer.score_text("Det er virkelig godt, jeg elsker det") > 0.5
    assert scorer.score_text("I really love it", lang="en") > 0.5


def test_scores_stay_in_range(scorer: SentimentScorer) -> None:
    texts = [s * 20 for s in EN_BASE[:40]] + ["GOOD " * 200, "bad! " * 200, "😍" * 500]
    for lang in ("en", "de", "da", "fr"):
        for text in texts:
            assert -1.0 <= scorer.score(analyse(text), lang) <= 1.0


def test_normalize() -> None:
    assert normalize(0.0) == 0.0
    assert normalize(4.0) == pytest.approx(4 / math.sqrt(31))
    assert -1.0 <= normalize(-1e9) <= -0.99


def _literal_words(path: Path) -> set[str]:
    forms: set[str] = set()
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            forms.update(line.split()[1:])
    return forms


@pytest.mark.parametrize("name", ["sentiment_de.txt", "sentiment_da.txt"])
def test_own_lexicons_are_well_formed(name: str) -> None:
    path = Path(__file__).resolve().parent.parent / "groundcontrol" / "data" / name
    entries = 0
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        value, *forms = line.split()
        assert -4.0 <= float(value) <= 4.0, line
        assert forms, line
        assert all(f == f.lower() for f in forms), line
        entries += len(forms)
    assert entries >= 300
    assert "gut~" in _literal_words(path) or "god~" in _literal_words(path)


def test_production_code_does_not_import_vader() -> None:
    root = Path(__file__).resolve().parent.parent / "groundcontrol"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.startswith("vaderSentiment") for n in names), path


# Pieces that exercise every VADER rule when thrown together at random: lexicon
# words in several cases, boosters and dampeners, negators, "no", "least", "but",
# "kind of", idioms, "never so", "without doubt", emoticons, emoji, punctuation.
_FUZZ_PIECES = (
    "good GOOD Good bad BAD great terrible love LOVE hate happy sad ok ok. no No NO "
    "not NOT never without doubt isn't don't can't won't nothing nor rarely "
    "very VERY really so SO extremely kinda kind of sort of just enough barely "
    "hardly little least at least very least but BUT and or the shit bomb bad ass "
    "yeah right kiss of death to die for bus stop this never this never so "
    "battery screen laptop Northwind I it is was a :) :( :D <3 :-/ 😍 😡 😂 🔥 👍 "
    "! !! ??? ? , . ... (great) 'good' #love @northwind"
)


def test_english_port_is_exact_on_random_rule_mixes(scorer: SentimentScorer) -> None:
    import random

    reference = vader.SentimentIntensityAnalyzer()
    pieces = _FUZZ_PIECES.split(" ")
    rng = random.Random(20240607)
    mismatches = []
    for _ in range(3000):
        words = [rng.choice(pieces) for _ in range(rng.randint(1, 14))]
        glue = rng.choice([" ", " ", " ", "  ", ", "])
        text = glue.join(words)
        ours = scorer.score(analyse(text), "en")
        theirs = reference.polarity_scores(text)["compound"]
        if abs(ours - theirs) > 1e-9:
            mismatches.append((text, ours, theirs))
    assert not mismatches, mismatches[:5]


# --------------------------------------------------------------------------- fixtures
# tests/fixtures/sentiment/LANG.tsv: short social posts written for Ground Control and
# labelled by hand (split, label, gold score, text). Every third row is "held": it was
# never looked at while lexicons and rules were improved. The floors below sit a few
# points under what was measured, so a regression fails; the comparisons with the
# baselines are the claims themselves.

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sentiment"
MAIN_LANGS = ("en", "de", "da")
MORE_LANGS = ("fr", "es", "nl", "sv")
Row = tuple[str, str, float, str]


def _load(lang: str) -> list[Row]:
    rows: list[Row] = []
    for line in (FIXTURES / f"{lang}.tsv").read_text("utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("split\t"):
            continue
        split, label, gold, text = line.split("\t", 3)
        rows.append((split, label, float(gold), text))
    return rows


def _agreement(rows: list[Row], score: Callable[[str], float]) -> tuple[float, float]:
    scores = [score(text) for *_, text in rows]
    hits = sum(label_for(s) == r[1] for s, r in zip(scores, rows, strict=True))
    return hits / len(rows), _pearson(scores, [r[2] for r in rows])


@pytest.fixture(scope="module")
def social() -> SentimentScorer:
    return SentimentScorer()


@pytest.mark.parametrize("lang", MAIN_LANGS + MORE_LANGS)
def test_fixture_is_well_formed(lang: str) -> None:
    rows = _load(lang)
    assert len(rows) >= (150 if lang in MAIN_LANGS else 50)
    for i, (split, label, gold, text) in enumerate(rows):
        assert split == ("held" if i % 3 == 2 else "tune"), (i, text)
        assert -1.0 <= gold <= 1.0
        assert label == ("positive" if gold > 0 else "negative" if gold < 0 else "neutral")
        assert text.strip() == text and text
    labels = [r[1] for r in rows]
    for label in ("positive", "negative", "neutral"):
        assert labels.count(label) >= len(rows) * 0.2, label
    assert len({r[3] for r in rows}) == len(rows)


@pytest.mark.parametrize(
    ("lang", "floor_all", "floor_held"),
    [("en", 0.85, 0.75), ("de", 0.80, 0.65), ("da", 0.80, 0.65)]
    + [(lang, 0.80, 0.65) for lang in MORE_LANGS],
)
def test_agreement_on_fixture(
    social: SentimentScorer, lang: str, floor_all: float, floor_held: float
) -> None:
    rows = _load(lang)
    acc_all, r_all = _agreement(rows, lambda t: social.score(analyse(t), lang))
    held = [r for r in rows if r[0] == "held"]
    acc_held, _ = _agreement(held, lambda t: social.score(analyse(t), lang))
    assert acc_all >= floor_all
    assert acc_held >= floor_held
    assert r_all >= 0.7


def test_english_beats_vader_on_fixture(social: SentimentScorer) -> None:
    reference = vader.SentimentIntensityAnalyzer()
    rows = _load("en")
    for part in (rows, [r for r in rows if r[0] == "held"]):
        ours = _agreement(part, lambda t: social.score(analyse(t), "en"))
        theirs = _agreement(part, lambda t: reference.polarity_scores(t)["compound"])
        assert ours[0] >= theirs[0] + 0.1, (ours, theirs)
        assert ours[1] > theirs[1], (ours, theirs)


@pytest.mark.parametrize("lang", MAIN_LANGS + MORE_LANGS)
def test_rules_beat_the_plain_lexicon(social: SentimentScorer, lang: str) -> None:
    # The plain baseline: the same lexicon's valences summed, no rules at all.
    rows = _load(lang)
    for part in (rows, [r for r in rows if r[0] == "held"]):
        ours = _agreement(part, lambda t: social.score(analyse(t), lang))
        plain = _agreement(part, lambda t: social.lexicon_score(analyse(t), lang))
        assert ours[0] >= plain[0] + (0.05 if lang in MAIN_LANGS else 0.0), (ours, plain)
        assert ours[1] > plain[1], (ours, plain)


@pytest.mark.parametrize("lang", MAIN_LANGS + MORE_LANGS)
def test_agreement_with_detected_language(social: SentimentScorer, lang: str) -> None:
    # End to end as the hub and the CLI run it: the language is detected per post.
    acc, _ = _agreement(_load(lang), lambda t: social.score_text(t))
    assert acc >= 0.75


# --------------------------------------------------------------------------- social rules


def _s(scorer: SentimentScorer, text: str, lang: str) -> float:
    return scorer.score(analyse(text), lang)


def test_english_modes(social: SentimentScorer, scorer: SentimentScorer) -> None:
    with pytest.raises(ValueError, match="english"):
        SentimentScorer(english="other")
    # VADER's negation window crosses the sentence end; ours stops there.
    text = "They replaced it without any questions. Impressed."
    assert _s(scorer, text, "en") < 0 < _s(social, text, "en")
    # Our emoji valences: VADER reads 🔥 as "fire", a negative word.
    assert _s(social, "New laptop day 🔥", "en") > 0.05
    assert _s(scorer, "New laptop day 🔥", "en") <= 0
    # Product talk: customer "support" is a thing, not praise; crashes are complaints.
    assert label_for(_s(social, "Northwind support opens at 9", "en")) == "neutral"
    assert _s(social, "The app crashes all the time", "en") < -0.05


@pytest.mark.parametrize(
    ("lang", "plain", "sarcastic"),
    [
        ("en", "Great service, thanks Northwind", "Great service, thanks Northwind /s"),
        ("en", "Wonderful, it works", "Oh wonderful, it works 🙄"),
        ("de", "Super Service", "Ja klar, super Service"),
        ("da", "Fantastisk service", "Ja ja, fantastisk service"),
        ("fr", "Super service", "Oui bien sûr, super service"),
        ("es", "Un servicio estupendo", "Sí claro, un servicio estupendo"),
        ("nl", "Geweldige service", "Ja hoor, geweldige service"),
        ("sv", "Fantastisk service", "Jajamän, fantastisk service"),
    ],
)
def test_sarcasm_markers_flip_praise(
    social: SentimentScorer, lang: str, plain: str, sarcastic: str
) -> None:
    assert _s(social, plain, lang) > 0.05
    assert _s(social, sarcastic, lang) < -0.05


def test_sarcasm_marker_alone_is_a_complaint(social: SentimentScorer) -> None:
    assert _s(social, "Thanks for nothing @northwind", "en") < -0.05
    assert _s(social, "Yeah right, premium build", "en") < -0.05
    # A negative text stays as negative as it was.
    assert _s(social, "It broke again /s", "en") == _s(social, "It broke again", "en") < 0


@pytest.mark.parametrize(
    ("lang", "too", "plain"),
    [
        ("en", "The fans are way too loud", "The fans are loud"),
        ("de", "Der Lüfter ist viel zu laut", "Der Lüfter ist laut"),
        ("da", "Blæseren er alt for høj", "Blæseren er høj"),
        ("fr", "Le ventilateur est trop bruyant", "Le ventilateur est bruyant"),
        ("es", "Es demasiado grande", "Es grande"),
        ("nl", "Het scherm is veel te donker", "Het scherm is donker"),
        ("sv", "Skärmen är alldeles för mörk", "Skärmen är mörk"),
    ],
)
def test_too_plus_adjective_is_a_complaint(
    social: SentimentScorer, lang: str, too: str, plain: str
) -> None:
    assert _s(social, too, lang) < min(_s(social, plain, lang), 0) - 0.05


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "I love it too"),  # "too" at the end
        ("en", "Me too"),
        ("de", "Ich fahre zu meiner Mutter"),  # "zu" as a preposition
        ("da", "Den er for dig"),  # "for" before a function word
        ("nl", "Ik hoef niet te werken vandaag"),  # "te" before a verb, no trigger word
    ],
)
def test_too_rule_leaves_other_uses_alone(social: SentimentScorer, lang: str, text: str) -> None:
    rules_off = SentimentScorer(english="vader")
    if lang == "en":
        assert _s(social, text, lang) == pytest.approx(_s(rules_off, text, lang), abs=0.05)
    else:
        assert _s(social, text, lang) >= 0


def test_hashtags_ending_in_a_sentiment_word(social: SentimentScorer) -> None:
    assert _s(social, "Screen cracked #northwindfail", "en") < _s(social, "Screen cracked", "en")
    assert _s(social, "Neues Notebook #northwindfail", "de") < -0.05
    assert _s(social, "New laptop #EpicWin", "en") > 0.05
    # A tag that is a word is read once, by the lexicon rules, not again as a tag.
    assert _s(social, "#fail", "en") == _s(social, "fail", "en")
    assert _s(social, "#northwind", "en") == 0.0


def test_mild_questions_are_damped(social: SentimentScorer) -> None:
    assert label_for(_s(social, "Does the Aero 14 support USB-C charging?", "en")) == "neutral"
    assert label_for(_s(social, "Gibt es das Pulse auch in Grün?", "de")) == "neutral"
    # A strong complaint in question form keeps its label.
    assert _s(social, "Why does the app crash every time I open it??", "en") < -0.05
    assert _s(social, "Warum ist der Support so furchtbar schlecht?", "de") < -0.05


@pytest.mark.parametrize(
    ("lang", "positive", "negative"),
    [
        ("fr", "Ça marche", "Ça ne marche pas"),
        ("fr", "C'est bon", "Ce n'est pas bon"),
        ("fr", "Je le recommande", "Je ne le recommande pas"),
        ("es", "Funciona", "No funciona"),
        ("es", "Es bueno", "No es bueno"),
        ("es", "No está mal", "Está mal"),
        ("nl", "Het werkt", "Het werkt niet"),
        ("nl", "Het is goed", "Het is niet goed"),
        ("nl", "Geen problemen", "Veel problemen"),
        ("sv", "Den fungerar", "Den fungerar inte"),
        ("sv", "Den är bra", "Den är inte bra"),
        ("sv", "Inte dåligt", "Dåligt"),
    ],
)
def test_negation_flips_in_more_languages(
    social: SentimentScorer, lang: str, positive: str, negative: str
) -> None:
    assert _s(social, positive, lang) > 0.05
    assert _s(social, negative, lang) < -0.05


@pytest.mark.parametrize(
    ("lang", "plain", "stronger"),
    [
        ("fr", "C'est bon", "C'est très bon"),
        ("fr", "C'est bon", "C'est bon !!!"),
        ("es", "Es bueno", "Es muy bueno"),
        ("es", "Es malo", "Es MALO de verdad"),
        ("nl", "Het is goed", "Het is heel goed"),
        ("nl", "Slecht", "Slecht!!!"),
        ("sv", "Den är bra", "Den är väldigt bra"),
        ("sv", "Den är dålig", "Den är DÅLIG ärligt talat"),
        ("de", "Das ist gut", "Das ist supergut"),
    ],
)
def test_boosters_caps_and_exclamations(
    social: SentimentScorer, lang: str, plain: str, stronger: str
) -> None:
    a, b = _s(social, plain, lang), _s(social, stronger, lang)
    assert abs(b) > abs(a) > 0.05 and (a > 0) == (b > 0)


def test_french_elision_and_spanish_marks(social: SentimentScorer) -> None:
    assert _s(social, "Quel écran, d'excellente qualité", "fr") > 0.05
    assert _s(social, "L’horrible mise à jour", "fr") < -0.05  # typographic apostrophe
    assert _s(social, "¡Genial!", "es") > 0.05
    assert _s(social, "¿Por qué es tan horrible?", "es") < -0.05


@pytest.mark.parametrize(
    "name",
    [
        "sentiment_fr.txt",
        "sentiment_es.txt",
        "sentiment_nl.txt",
        "sentiment_sv.txt",
        "sentiment_en.txt",
    ],
)
def test_new_lexicons_are_well_formed(name: str) -> None:
    path = Path(__file__).resolve().parent.parent / "groundcontrol" / "data" / name
    text = path.read_text("utf-8")
    assert "Apache-2.0" in text.splitlines()[0] + text.splitlines()[1]
    entries = 0
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        value, *forms = line.split()
        assert -4.0 <= float(value) <= 4.0, line
        assert forms and all(f == f.lower() for f in forms), line
        entries += len(forms)
    assert entries >= 50
    licences = (path.parent / "LICENSES.md").read_text("utf-8")
    assert f"`{name}`" in licences


def test_every_language_with_rules_scores_in_range(social: SentimentScorer) -> None:
    texts = ["", "!!!", "#", "?" * 10, "NIE WIEDER " * 50, "😍" * 100, "nicht " * 30 + "gut"]
    for lang in (*social.languages, "", "it"):
        for text in texts:
            assert -1.0 <= _s(social, text, lang) <= 1.0


# --------------------------------------------------------------------------- CLI


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="groundcontrol")
    sub = parser.add_subparsers(dest="command")
    sentiment_cli.add_parser(sub)
    return parser.parse_args(["sentiment", *argv])


def _run(
    argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes | None = None
) -> tuple[int, list[str], list[str]]:
    if stdin is not None:
        fake = io.TextIOWrapper(io.BytesIO(stdin))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sys, "stdin", fake)
            code = sentiment_cli.run(_cli(argv))
    else:
        code = sentiment_cli.run(_cli(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


_LINES = [
    "I love my new Aero 14!!!",
    "",
    "Der Akku ist nach einem Monat kaputt",
    "Jeg elsker den nye Pulse",
    "🔥🔥🔥",
    "Does the Aero 14 support USB-C charging?",
]


def test_cli_prints_one_json_line_per_input_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "posts.txt"
    path.write_text("\n".join(_LINES) + "\n", "utf-8")
    code, out, err = _run([str(path)], capsys)
    assert code == 0 and err == []
    rows = [json.loads(line) for line in out]
    assert len(rows) == len(_LINES)
    assert all(set(r) == {"lang", "score", "label"} for r in rows)
    assert [r["lang"] for r in rows] == ["en", "und", "de", "da", "und", "en"]
    assert [r["label"] for r in rows] == [
        "positive",
        "neutral",
        "negative",
        "positive",
        "positive",
        "neutral",
    ]
    assert rows[1]["score"] == 0.0
    assert all(-1.0 <= r["score"] <= 1.0 for r in rows)
    assert all(label_for(r["score"]) == r["label"] for r in rows)


def test_cli_reads_stdin_and_forced_language(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--lang", "de"], capsys, stdin=b"Das ist nicht gut\r\nsuper\n")
    assert code == 0
    rows = [json.loads(line) for line in out]
    assert [r["lang"] for r in rows] == ["de", "de"]
    assert [r["label"] for r in rows] == ["negative", "positive"]
    # The same lines with "-" as FILE.
    code, out2, _ = _run(["--lang", "de", "-"], capsys, stdin=b"Das ist nicht gut\r\nsuper\n")
    assert out2 == out


def test_cli_replaces_invalid_utf8_and_names_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([], capsys, stdin=b"good\nbad \xff\xfe bytes\nfine\n")
    assert code == 0
    assert len(out) == 3
    assert err == ["line 2: invalid UTF-8, replaced with U+FFFD"]


def test_cli_can_stop_at_invalid_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["--invalid-utf8", "error"], capsys, stdin=b"good\nbad \xff\nfine\n")
    assert code == 2
    assert len(out) == 1  # the lines before the bad one were printed
    assert err == ["groundcontrol sentiment: line 2: invalid UTF-8"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["--lang", "xx"], "--lang 'xx'"), (["/no/such/file.txt"], "/no/such/file.txt")],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == []
    assert len(err) == 1 and needle in err[0]


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _cli(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for needle in ("--lang", "FILE", "U+FFFD", '"label"', "--invalid-utf8", "und"):
        assert needle in text, needle


def test_score_lines_is_lazy(social: SentimentScorer) -> None:
    def lines() -> Iterator[bytes]:
        yield b"I love it\n"
        raise AssertionError("read past the first line before yielding its result")

    first = next(iter(sentiment_cli.score_lines(lines(), social)))
    assert json.loads(first)["label"] == "positive"


def test_cli_streams_through_a_pipe() -> None:
    # Each result comes out while the input is still open.
    script = (
        "import argparse, sys\n"
        "from groundcontrol.cli import sentiment as sentiment_cli\n"
        "p = argparse.ArgumentParser(); s = p.add_subparsers(dest='command')\n"
        "sentiment_cli.add_parser(s)\n"
        "sys.exit(sentiment_cli.run(p.parse_args(['sentiment'])))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"Das ist wirklich schlecht\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], SAFETY)
        assert ready, "no output while the input was still open"
        row = json.loads(proc.stdout.readline())
        assert row["lang"] == "de" and row["label"] == "negative"
        proc.stdin.write(b"I love it\n")
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["label"] == "positive"
        assert proc.wait(timeout=SAFETY) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sarcasm_hints_skip_only_texts_that_cannot_match(social: SentimentScorer) -> None:
    # The literal hints gate the marker regex; they must never hide a match.
    texts = [r[3].lower() for lang in (*MAIN_LANGS, *MORE_LANGS) for r in _load(lang)]
    texts += ["yeah, right. great update", "na super, wieder kaputt", "ja ja, fedt", "ok /s"]
    for lang, rules in social._social.items():
        assert rules.sarcasm_hints, lang  # every language takes the fast path
        for text in texts:
            hinted = any(h in text for h in rules.sarcasm_hints)
            assert hinted or rules.sarcasm.search(text) is None, (lang, text)
