"""Agreement and speed of ``groundcontrol.listen.sentiment`` on the labelled fixtures.

    .venv/bin/python benchmarks/sentiment_bench.py eval    # agreement per language
    .venv/bin/python benchmarks/sentiment_bench.py speed   # texts per second, with baselines

``eval`` prints, per language and per split (``tune``: the rows looked at while
improving lexicons and rules; ``held``: every third row, never looked at), the
accuracy of the 3-way label, the Pearson correlation of the score with the gold
score, and the same for the baselines: vaderSentiment itself for English, and a
plain lexicon word count (the same lexicon, no rules) for every language. It also
reports how often the language detector names the fixture's language.

``speed`` scores the same texts with our scorer (language detected per text, as the
hub and the CLI do) and, in the same run, with two baselines: a loop that only
lower-cases and splits each text, and vaderSentiment's ``polarity_scores``. It
reports texts per second for each and the ratios. One core: the loops are plain
Python in one thread.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from groundcontrol.listen.lang import detect_language
from groundcontrol.listen.sentiment import SentimentScorer
from groundcontrol.model import label_for
from groundcontrol.text import analyse

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sentiment"
LANGS = ("en", "de", "da", "fr", "es", "nl", "sv")

Row = tuple[str, str, float, str]  # split, label, gold, text


def load(lang: str) -> list[Row]:
    """The rows of one fixture file."""
    rows: list[Row] = []
    for line in (FIXTURES / f"{lang}.tsv").read_text("utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("split\t"):
            continue
        split, label, gold, text = line.split("\t", 3)
        rows.append((split, label, float(gold), text))
    return rows


def pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy) if vx and vy else 0.0


def agreement(rows: list[Row], score: Callable[[str], float]) -> tuple[float, float]:
    """(label accuracy, Pearson r with the gold score) of ``score`` on ``rows``."""
    scores = [score(text) for _, _, _, text in rows]
    hits = sum(label_for(s) == label for s, (_, label, _, _) in zip(scores, rows, strict=True))
    return hits / len(rows), pearson(scores, [gold for _, _, gold, _ in rows])


def run_eval(show_errors: bool) -> None:
    scorer = SentimentScorer()
    vader_score: Callable[[str], float] | None = None
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()

        def vader_score(text: str) -> float:
            return float(analyzer.polarity_scores(text)["compound"])

    except ImportError:  # a dev dependency
        pass
    print(
        f"{'lang':4} {'split':5} {'n':>4}  {'ours acc/r':>12}  {'auto-lang':>11}"
        f"  {'lexicon acc/r':>13}  {'vader acc/r':>12}  {'lang-id':>7}"
    )
    for lang in LANGS:
        rows = load(lang)

        def ours(text: str, lang: str = lang) -> float:
            return scorer.score(analyse(text), lang)

        def plain(text: str, lang: str = lang) -> float:
            return scorer.lexicon_score(analyse(text), lang)

        for split in ("tune", "held", "all"):
            part = [r for r in rows if split == "all" or r[0] == split]
            a, b, c = (
                agreement(part, ours),
                agreement(part, scorer.score_text),
                agreement(part, plain),
            )
            cols = f"{a[0]:6.3f}/{a[1]:5.3f}  {b[0]:5.3f}/{b[1]:5.3f}  {c[0]:7.3f}/{c[1]:5.3f}"
            if lang == "en" and vader_score is not None:
                v = agreement(part, vader_score)
                cols += f"  {v[0]:6.3f}/{v[1]:5.3f}"
            else:
                cols += f"  {'':>12}"
            ident = sum(detect_language(analyse(r[3])) == lang for r in part) / len(part)
            print(f"{lang:4} {split:5} {len(part):4}  {cols}  {ident:7.3f}")
        if show_errors:
            for split, label, _, text in rows:
                if split == "tune" and label_for(ours(text)) != label:
                    print(f"   {lang} {label:8} {ours(text):+.3f}  {text}")


def corpus(n: int, seed: int = 7) -> list[str]:
    """``n`` texts drawn from every fixture, each with a random number appended or
    not, so that not every text is one the scorer has seen before."""
    texts = [t for lang in LANGS for *_, t in load(lang)]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t = rng.choice(texts)
        out.append(t if rng.random() < 0.5 else f"{t} #{rng.randint(0, 10**6)}")
    return out


def _rate(fn: Callable[[list[str]], object], texts: list[str], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def run_speed(n: int, repeat: int) -> None:
    texts = corpus(n)
    scorer = SentimentScorer()

    def ours(batch: list[str]) -> None:
        score = scorer.score
        for t in batch:
            info = analyse(t)
            score(info, detect_language(info))

    def split_only(batch: list[str]) -> None:
        for t in batch:
            t.lower().split()

    ours(texts[:1000])  # warm the lexicons' caches as a running hub has them
    rates = {"ours": _rate(ours, texts, repeat), "lower+split": _rate(split_only, texts, repeat)}
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = SentimentIntensityAnalyzer()

        def vader_loop(batch: list[str]) -> None:
            for t in batch:
                vader.polarity_scores(t)

        rates["vaderSentiment"] = _rate(vader_loop, texts[: max(1, n // 5)], repeat)
    except ImportError:
        pass
    for name, rate in rates.items():
        print(f"{name:15} {rate:12,.0f} texts/s")
    print(f"ours / lower+split = {rates['ours'] / rates['lower+split']:.3f}")
    if "vaderSentiment" in rates:
        print(f"ours / vaderSentiment = {rates['ours'] / rates['vaderSentiment']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    ev = sub.add_parser("eval", help="agreement per language and split")
    ev.add_argument("--errors", action="store_true", help="list wrong labels (tune rows only)")
    sp = sub.add_parser("speed", help="texts per second, with baselines in the same run")
    sp.add_argument("-n", type=int, default=100_000, help="texts per pass (default 100000)")
    sp.add_argument("--repeat", type=int, default=3, help="passes; the best counts")
    args = parser.parse_args(argv)
    if args.what == "eval":
        run_eval(args.errors)
    else:
        run_speed(args.n, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
