"""Sentiment scores stay exactly what they were while the scorer is made cheaper.

Each case scores a fixed set of texts and compares a digest of every score (repr, in
order) with the one the scorer gave before its speed-ups (issue 15): the demo stream,
and the labelled posts in ../shared/data/sentiment-train when that folder is there,
both in the file's own language and in the detected one. A change meant to move
scores (a new model, issue 16) updates the digests: run this file with ``-s`` to
see the new ones.
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest

from feeds.demo import DemoStream
from groundcontrol.listen.lang import detect_language
from groundcontrol.listen.sentiment import SentimentScorer
from groundcontrol.text import analyse

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment-train"
START = 1_790_000_000.0

# (set, english mode, language: "file" or "detected") -> digest of the scores.
DIGESTS: dict[tuple[str, str, str], str] = {
    ("demo", "social", "file"): "a9f0654f292377aacdf0",
    ("demo", "social", "detected"): "8655623fc91f5be125de",
    ("demo", "vader", "file"): "980ef881cf5ab6bcac98",
    ("demo", "vader", "detected"): "a137faa93c76523f8231",
    ("de_sb10k.tsv", "social", "file"): "0031f02aa8bb9265e176",
    ("de_sb10k.tsv", "social", "detected"): "b4de0098ebad1512e4f8",
    ("de_umsab.tsv", "social", "file"): "59413b2dcc4e50681d26",
    ("de_umsab.tsv", "social", "detected"): "7e59f3d6da9657e94ba0",
    ("en_semeval2017.tsv", "social", "file"): "4532820e84e300781af4",
    ("en_semeval2017.tsv", "social", "detected"): "eb542db076004dbf7316",
    ("en_semeval2017.tsv", "vader", "file"): "696727d7b9a46d134f58",
    ("en_semeval2017.tsv", "vader", "detected"): "edabf32945978aff790d",
    ("en_umsab.tsv", "social", "file"): "a8f4a8235424708235d6",
    ("en_umsab.tsv", "social", "detected"): "a18db855dc8be0479806",
    ("en_umsab.tsv", "vader", "file"): "9af859df83ddf527100d",
    ("en_umsab.tsv", "vader", "detected"): "03ca4e34b4d47296d028",
    ("es_umsab.tsv", "social", "file"): "6ee2888e3eaf50b4a011",
    ("es_umsab.tsv", "social", "detected"): "6a71fd6f590bc3da9b00",
    ("fr_umsab.tsv", "social", "file"): "228b530f6d3dac7d5687",
    ("fr_umsab.tsv", "social", "detected"): "5a8903e70930f7d8e8a0",
    ("it_umsab.tsv", "social", "file"): "8f1c826e01b85d858c4b",
    ("it_umsab.tsv", "social", "detected"): "fb8075a3ebd502cfd1c0",
    ("pt_umsab.tsv", "social", "file"): "de09d92479ecab7215c4",
    ("pt_umsab.tsv", "social", "detected"): "2044dbdd6cb5e7376a2d",
}


def _demo() -> list[tuple[str, str]]:
    mentions = DemoStream(seed=3, rate=100, start=START).between(START, START + 60)
    return [(m.text, m.lang) for m in mentions]


def _labelled(name: str) -> list[tuple[str, str]]:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not there")
    lang = name.split("_")[0]
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [(row[1], lang) for row in rows if len(row) > 1]


@pytest.fixture(scope="module")
def scorers() -> dict[str, SentimentScorer]:
    return {"social": SentimentScorer(), "vader": SentimentScorer(english="vader")}


def digest(scorer: SentimentScorer, items: list[tuple[str, str]], detected: bool) -> str:
    h = hashlib.sha256()
    for text, lang in items:
        info = analyse(text)
        if detected or not lang:
            lang = detect_language(info)
        h.update(repr(scorer.score(info, lang)).encode() + b",")
    return h.hexdigest()[:20]


@pytest.mark.parametrize(("name", "mode", "lang"), list(DIGESTS))
def test_scores_are_unchanged(
    scorers: dict[str, SentimentScorer], name: str, mode: str, lang: str
) -> None:
    items = _demo() if name == "demo" else _labelled(name)
    got = digest(scorers[mode], items, detected=lang == "detected")
    print(f'    ("{name}", "{mode}", "{lang}"): "{got}",')
    assert got == DIGESTS[name, mode, lang], f"scores changed on {name} ({mode}, {lang})"


@pytest.mark.parametrize(
    "text",
    [
        "Great screen. Terrible battery!  Not good?! So GOOD.",
        "I don't like it.\tBut the hinge is nice...\nNever bad",
        "no. no good at all!!! kind of great. THE BOMB. meh",
        "AWFUL. awful. Awful? lovely",
        "nothing here. nothing there. just fine.",
        "fine.",
    ],
)
def test_sentences_scored_apart_as_before(scorers: dict[str, SentimentScorer], text: str) -> None:
    # The one-pass sentence split against the regular-expression split it replaced.
    en = scorers["social"]._en_social
    assert en is not None
    parts = re.split(r"(?<=[.!?])\s+", text)
    expected = 0.0
    for part in parts:
        expected += sum(en.sentiments(part, part.lower()))
    assert en.sentence_total(text, text.lower()) == expected
