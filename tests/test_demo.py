"""The demo feed's generator: determinism, realism, the scripted day and its noise."""

from __future__ import annotations

import ast
import itertools
import re
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

import feeds.demo as demo
from feeds.demo import CYCLE_SECONDS, INFLUENCER_HANDLE, TIMELINE, DemoStream, timeline_markdown
from groundcontrol.model import Mention

#: Noon UTC: busy enough for steady counts, and not on the daily peak.
START = datetime(2026, 5, 12, 12, 0, tzinfo=UTC).timestamp()
RATE = 40.0
#: The stories are checked at a lower rate: their windows are long.
STORY_RATE = 20.0
H = 3600.0
AEROGATE, RUMOUR, REVIEW, PULSE, OUTAGE, BREACH = TIMELINE

# The brand queries of config/default.toml, as regular expressions.
NORTHWIND = re.compile(
    r"(?<![\w#@])[#@]?northwind(?!\w)|aero 14|#aerogate|northwind pulse", re.IGNORECASE
)
CONTOSO = re.compile(r"(?<![\w#@])[#@]?contoso(?!\w)", re.IGNORECASE)
FABRIKAM = re.compile(r"(?<![\w#@])[#@]?fabrikam(?!\w)", re.IGNORECASE)
BRAND_RE = {"Northwind": NORTHWIND, "Contoso": CONTOSO, "Fabrikam": FABRIKAM}
ANY_BRAND = re.compile(
    r"(?<![\w#@])[#@]?(northwind|contoso|fabrikam)(?!\w)|aero 14|#aerogate", re.IGNORECASE
)
NEGATIVE = re.compile(
    r"swollen|swelling|bulging|overheat|burn|recall|refund|denied|hazard|not safe|not okay"
    r"|never buying|terrible|awful|garbage|broken|disappoint|mess|joke|pathetic|not good"
    r"|not great|hung up|on hold|no reply|nothing|is bad|hard disagree|down|stuck|brick"
    r"|boot loop|useless|can't|leaked|hacked|phishing|breach|locked"
    r"|aufgebläht|überhitzt|heiß|rückruf|gefahr|nicht gut|kaputt|keine antwort|nie wieder"
    r"|schlecht|mies|katastrophal|enttäuschend|zumutung|warteschleife|übel|hängt|gehackt"
    r"|bootschleife|unbrauchbar|datenleck"
    r"|svulmet|overophed|varm|tilbagekald|farlig|ikke god|katastrofe|skuffelse|skod|ringe"
    r"|aldrig mere|intet svar|ingen svar|buler|slemt|nede|hænger|ubrugelig|hacket|lækket"
    r"|ikke i orden|under al kritik",
    re.IGNORECASE,
)
POSITIVE = re.compile(
    r"ordered|nailed|steal|great|amazing|excellent|fantastic|superb|solid|perfect|dream"
    r"|awesome|excited|pre-order|take my money|fair|unreal|chef's kiss|top tier|best"
    r"|gorgeous|agreed|spot on|good|congrats|gut passen|passe godt"
    r"|super|richtig gut|mega|stark|genial|klasse|hammer|vorbestellt|richtig gemacht"
    r"|fantastisk|perfekt|helt i top|imponerende|ramt plet|forudbestilt|god pris|en drøm",
    re.IGNORECASE,
)


def window(mentions: list[Mention], a: float, b: float) -> list[Mention]:
    """Mentions created between ``a`` and ``b`` seconds after START."""
    lo = datetime.fromtimestamp(START + a, UTC)
    hi = datetime.fromtimestamp(START + b, UTC)
    return [m for m in mentions if lo <= m.created_at < hi]


def about(brand: str, mentions: list[Mention]) -> list[Mention]:
    return [m for m in mentions if BRAND_RE[brand].search(m.text)]


def per_second(mentions: list[Mention], a: float, b: float, brand: str) -> float:
    return len(about(brand, window(mentions, a, b))) / (b - a)


def negative_share(ms: list[Mention]) -> float:
    return sum(1 for m in ms if NEGATIVE.search(m.text)) / len(ms)


def positive_share(ms: list[Mention]) -> float:
    return sum(1 for m in ms if POSITIVE.search(m.text)) / len(ms)


def quiet(mentions: list[Mention]) -> list[Mention]:
    """The first minutes of the cycle, before anything happens."""
    return window(mentions, 0, AEROGATE.starts_at)


@pytest.fixture(scope="module")
def cycle() -> list[Mention]:
    """The opening of the day at the default rate: quiet minutes, then #AeroGate."""
    return DemoStream(seed=7, rate=RATE, start=START).between(START, START + 1000)


def story(incident: demo.Incident, before: float = 300.0) -> list[Mention]:
    """A scripted story and the minutes before it, at STORY_RATE."""
    stream = DemoStream(seed=7, rate=STORY_RATE, start=START)
    return stream.between(START + incident.starts_at - before, START + incident.ends_at)


# --------------------------------------------------------------------------- determinism


def test_slicing_does_not_change_the_stream() -> None:
    # Around the influencer's post, so scripted posts are part of the slices too.
    t0, t1 = START + REVIEW.starts_at - 30.0, START + REVIEW.starts_at + 30.0
    whole = DemoStream(seed=7, rate=RATE, start=START).between(t0, t1)
    cuts = [t0, t0 + 0.25, t0 + 7.9, t0 + 10.0, t0 + 20.5, t0 + 20.5, t0 + 33.333, t1]
    other = DemoStream(seed=7, rate=RATE, start=START)
    sliced = [m for a, b in itertools.pairwise(cuts) for m in other.between(a, b)]
    assert len(whole) > 1000
    assert sliced == whole
    assert [m.key for m in sliced] == [m.key for m in whole]
    assert any(m.author == INFLUENCER_HANDLE for m in whole)


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    a = DemoStream(seed=7, rate=RATE, start=START).between(START, START + 5)
    b = DemoStream(seed=7, rate=RATE, start=START).between(START, START + 5)
    c = DemoStream(seed=8, rate=RATE, start=START).between(START, START + 5)
    assert a == b
    assert [m.text for m in a] != [m.text for m in c]


def test_mentions_are_in_time_order_inside_the_interval(cycle: list[Mention]) -> None:
    times = [m.created_at for m in cycle]
    assert times == sorted(times)
    assert times[0] >= datetime.fromtimestamp(START, UTC)
    assert times[-1] < datetime.fromtimestamp(START + 1000, UTC)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)


def test_empty_and_reversed_intervals() -> None:
    stream = DemoStream(seed=7, rate=RATE, start=START)
    assert stream.between(START + 10, START + 10) == []
    assert stream.between(START + 10, START + 5) == []


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        DemoStream(rate=0.0, start=START)
    with pytest.raises(ValueError, match="start"):
        DemoStream(start=float("nan"))


def test_early_times_do_not_hang() -> None:
    # Ids are built from the clock; times near 1970 must still give valid ids.
    mentions = DemoStream(seed=7, rate=RATE, start=0.0).between(0.0, 3.0)
    assert mentions
    assert len({m.key for m in mentions}) == len(mentions)


# --------------------------------------------------------------------------- shape


def test_every_mention_validates_and_round_trips(cycle: list[Mention]) -> None:
    encoded = msgspec.json.encode(cycle)
    decoded = msgspec.json.decode(encoded, type=list[Mention])
    assert decoded == cycle
    assert all(not m.sentiment_label and not m.brands and not m.id for m in cycle)


def test_source_ids_are_unique(cycle: list[Mention]) -> None:
    keys = [m.key for m in cycle]
    assert len(set(keys)) == len(keys)


SHAPES = {
    "x": (r"\d{19}", r"https://x\.com/\w{1,15}/status/\d{19}", r"@\w{1,15}"),
    "bluesky": (
        r"at://did:plc:[a-z2-7]{24}/app\.bsky\.feed\.post/[2-7a-z]{13}",
        r"https://bsky\.app/profile/[a-z0-9.-]+/post/[2-7a-z]{13}",
        r"[a-z0-9-]+\.(bsky\.social|[a-z]{2,3})",
    ),
    "mastodon": (r"\d{17,19}", r"https://[a-z0-9.-]+/@\w+/\d{17,19}", r"@\w+@[a-z0-9.-]+"),
    "reddit": (
        r"t[13]_[0-9a-z]+",
        r"https://www\.reddit\.com/r/\w+/comments/[0-9a-z]+/[\w-]+/([0-9a-z]+/)?",
        r"u/\w+",
    ),
    "hackernews": (r"\d+", r"https://news\.ycombinator\.com/item\?id=\d+", r"\w+"),
    "news": (
        r"[0-9a-f]{24}",
        r"https://www\.[a-z]+\.[a-z]+/\w+/\d{4}/\d{2}/[\w-]+",
        r"[a-z]+\.[a-z]+",
    ),
}


def test_ids_urls_and_handles_have_each_source_s_shape(cycle: list[Mention]) -> None:
    for m in cycle:
        id_re, url_re, author_re = SHAPES[m.source]
        assert re.fullmatch(id_re, m.source_id), (m.source, m.source_id)
        assert re.fullmatch(url_re, m.url), (m.source, m.url)
        assert re.fullmatch(author_re, m.author), (m.source, m.author)
    # Bluesky ids and urls carry the same record key.
    for m in cycle:
        if m.source == "bluesky":
            assert m.url.rsplit("/", 1)[1] == m.source_id.rsplit("/", 1)[1]


# --------------------------------------------------------------------------- rate


def is_quiet(stream: DemoStream, t: float) -> bool:
    """No story and no ripple runs at ``t``."""
    return not stream._parts(t, demo._rhythm(t), 1.0)


def test_expected_rate_follows_a_daily_rhythm_that_averages_to_rate() -> None:
    stream = DemoStream(seed=7, rate=RATE, start=START)
    day = datetime(2026, 5, 12, tzinfo=UTC).timestamp()
    samples = [
        stream.expected_rate(t) / RATE
        for t in range(int(day), int(day) + 86400, 7)
        if is_quiet(stream, t)
    ]
    assert len(samples) > 0.6 * 86400 / 7
    assert statistics.fmean(samples) == pytest.approx(1.0, abs=0.05)
    assert 0.35 < min(samples) < 0.5
    assert 1.3 < max(samples) < 1.55


@pytest.mark.parametrize("hour", [5, 17])
def test_quiet_volume_matches_the_rate_after_the_rhythm(hour: int) -> None:
    start = datetime(2026, 5, 12, hour, 0, tzinfo=UTC).timestamp()
    stream = DemoStream(seed=11, rate=RATE, start=start)
    span = AEROGATE.starts_at
    count = len(stream.between(start, start + span))
    expected = sum(stream.expected_rate(start + s + 0.5) for s in range(int(span)))
    assert count == pytest.approx(expected, rel=0.15)
    # And the rhythm itself: quiet at 05:00 UTC, busy at 17:00 UTC.
    per_second = count / span / RATE
    assert (0.3 < per_second < 0.55) if hour == 5 else (1.25 < per_second < 1.6)


def test_quiet_buckets_are_steady(cycle: list[Mention]) -> None:
    counts = Counter(int(m.created_at.timestamp() - START) // 10 for m in quiet(cycle))
    series = [counts[i] for i in range(int(AEROGATE.starts_at) // 10)]
    mean = statistics.fmean(series)
    # Poisson noise is sqrt(mean); allow some slow drift, not bursts.
    assert statistics.pstdev(series) < 2.0 * mean**0.5
    assert max(series) < mean + 5 * mean**0.5


# --------------------------------------------------------------------------- realism


def test_sources_have_plausible_shares(cycle: list[Mention]) -> None:
    base = quiet(cycle)
    shares = {s: n / len(base) for s, n in Counter(m.source for m in base).items()}
    expected = {
        "x": 0.30,
        "bluesky": 0.26,
        "mastodon": 0.14,
        "reddit": 0.16,
        "hackernews": 0.06,
        "news": 0.08,
    }
    for source, share in expected.items():
        assert shares[source] == pytest.approx(share, abs=0.03), source
    assert min(shares["x"], shares["bluesky"]) > max(
        shares["mastodon"], shares["reddit"], shares["news"], shares["hackernews"]
    )


def test_languages_are_reported_by_bluesky_and_mastodon_only(cycle: list[Mention]) -> None:
    base = quiet(cycle)
    tagged = [m for m in base if m.lang]
    assert {m.source for m in tagged} == {"bluesky", "mastodon"}
    social = [m for m in base if m.source in ("bluesky", "mastodon")]
    assert 0.8 < len(tagged) / len(social) < 0.95
    langs = Counter(m.lang for m in tagged)
    share = {lang: n / len(tagged) for lang, n in langs.items()}
    assert 0.55 < share["en"] < 0.78
    assert 0.12 < share["de"] < 0.26
    assert 0.06 < share["da"] < 0.15
    assert {"fr", "es", "nl", "sv"} <= set(langs)
    assert sum(share[lang] for lang in ("fr", "es", "nl", "sv")) < 0.1


def test_texts_are_in_the_language_they_are_tagged_with(cycle: list[Mention]) -> None:
    english = re.compile(r"\b(the|is|and|my|with|this|anyone|just)\b")
    markers = {
        "en": english,
        "de": re.compile(r"\b(ist|sind|nicht|mit|und|der|die|das|den|für|beim|hat|statt)\b"),
        "da": re.compile(r"\b(er|ikke|med|og|til|min|på|har|nogen|eller|hos)\b"),
    }
    base = quiet(cycle)
    for lang, marker in markers.items():
        tagged = [m.text.lower() for m in base if m.lang == lang]
        assert sum(1 for t in tagged if marker.search(t)) / len(tagged) > 0.4, lang
        if lang != "en":
            assert sum(1 for t in tagged if english.search(t)) / len(tagged) < 0.03, lang


def test_about_one_in_eight_quiet_mentions_names_no_brand(cycle: list[Mention]) -> None:
    base = quiet(cycle)
    unbranded = [m for m in base if not ANY_BRAND.search(m.text)]
    assert 0.08 < len(unbranded) / len(base) < 0.18
    northwind = sum(1 for m in base if NORTHWIND.search(m.text))
    contoso = sum(1 for m in base if re.search(r"contoso", m.text, re.I))
    fabrikam = sum(1 for m in base if re.search(r"fabrikam", m.text, re.I))
    assert northwind > contoso > 0.2 * len(base)
    assert fabrikam > 0.2 * len(base)


def test_texts_rarely_repeat_outside_incidents(cycle: list[Mention]) -> None:
    texts = [m.text for m in quiet(cycle)]
    assert len(set(texts)) / len(texts) > 0.85


def test_texts_have_social_habits(cycle: list[Mention]) -> None:
    texts = [m.text for m in quiet(cycle)]
    assert any("!!!" in t for t in texts)
    assert any(re.search(r"\b[A-Z]{4,}\b.*\b[A-Z]{4,}\b", t) for t in texts)  # shouting
    assert any(re.search(r"(^|\s)#\w+", t) for t in texts)
    assert any(re.match(r"@\w", t) for t in texts)  # replies
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", t) for t in texts)
    for negation in ("not bad", "nicht gut", "ikke god"):
        assert any(negation in t.lower() for t in texts), negation


def test_reach_is_heavy_tailed_and_stable_per_author(cycle: list[Mention]) -> None:
    reach = [m.author_reach for m in cycle]
    assert statistics.median(reach) < 2_000
    assert max(reach) > 100_000
    assert sum(1 for r in reach if r < 1_000) / len(reach) > 0.6
    seen: dict[tuple[str, str], int] = {}
    for m in cycle:
        assert seen.setdefault((m.source, m.author), m.author_reach) == m.author_reach


def test_engagement_grows_with_reach(cycle: list[Mention]) -> None:
    ranked = sorted(quiet(cycle), key=lambda m: m.author_reach)
    small = ranked[: len(ranked) // 2]
    big = ranked[-len(ranked) // 10 :]
    mean_small = statistics.fmean(m.engagement.total for m in small)
    mean_big = statistics.fmean(m.engagement.total for m in big)
    assert mean_big > 10 * mean_small


# --------------------------------------------------------------------------- the script


def test_timeline_is_published() -> None:
    stream = DemoStream(seed=7, rate=RATE, start=START)
    incidents = stream.incidents()
    assert incidents == list(TIMELINE)
    assert [(i.brand, i.kind) for i in incidents] == [
        ("Northwind", "negative"),
        ("Fabrikam", "neutral"),
        ("Contoso", "positive"),
        ("Northwind", "positive"),
        ("Contoso", "negative"),
        ("Fabrikam", "negative"),
    ]
    assert CYCLE_SECONDS == 24 * H
    assert (AEROGATE.starts_at, AEROGATE.ends_at) == (200.0, 960.0)
    text = timeline_markdown()
    assert all(i.title in text for i in incidents)
    assert (
        "| 0:03:20 | 0:16:00 | Northwind | negative | Aero 14 battery defect (#AeroGate) |" in text
    )


def test_the_readme_shows_the_timeline() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert timeline_markdown() in readme


def test_defect_story_raises_northwind_volume_and_negativity(cycle: list[Mention]) -> None:
    before = about("Northwind", quiet(cycle))
    peak = about("Northwind", window(cycle, 300, 400))
    story_ = about("Northwind", window(cycle, 200, 960))
    ratio = (len(peak) / 100) / (len(before) / AEROGATE.starts_at)
    assert 4.0 < ratio < 8.0

    def about_defect(ms: list[Mention]) -> float:
        hits = sum(1 for m in ms if "#aerogate" in m.text.lower() or NEGATIVE.search(m.text))
        return hits / len(ms)

    assert negative_share(before) < 0.4
    assert negative_share(peak) > 0.6
    assert about_defect(peak) > 0.85
    assert not any("#aerogate" in m.text.lower() for m in before)
    assert sum(1 for m in story_ if "#aerogate" in m.text.lower()) / len(story_) > 0.5
    # Late in the window volume has settled, but the talk is still about the defect.
    late = about("Northwind", window(cycle, 700, 900))
    assert about_defect(late) > 0.65
    assert {m.lang for m in story_} >= {"en", "de", "da"}
    texts = [m.text for m in story_]
    assert sum(1 for t in texts if t.startswith("RT @")) > 100
    assert any(re.search(r"recall|rückruf|tilbagekald", t, re.I) for t in texts)
    assert any(re.search(r"support|kundeservice", t, re.I) for t in texts)
    assert any("pic.twitter.com/" in t or "📷" in t or "📸" in t for t in texts)


def test_the_rumour_is_talked_about_more_than_judged() -> None:
    mentions = story(RUMOUR)
    before = per_second(mentions, RUMOUR.starts_at - 300, RUMOUR.starts_at, "Fabrikam")
    peak = per_second(mentions, RUMOUR.starts_at + 90, RUMOUR.starts_at + 240, "Fabrikam")
    assert 3.5 < peak / before < 8.0
    talk = [m for m in about("Fabrikam", window(mentions, RUMOUR.starts_at, RUMOUR.ends_at))]
    rumour = [m for m in talk if "litware" in m.text.lower()]
    assert len(rumour) / len(talk) > 0.6
    # Mostly questions, news and speculation: few angry posts, some hopeful ones.
    assert negative_share(rumour) < 0.1
    assert 0.1 < positive_share(rumour) < 0.4
    assert sum(1 for m in rumour if "?" in m.text) / len(rumour) > 0.3
    assert {m.source for m in rumour} >= {"news", "reddit", "hackernews", "x"}
    assert not any(CONTOSO.search(m.text) or NORTHWIND.search(m.text) for m in rumour)


def test_the_influencer_review_goes_viral() -> None:
    mentions = story(REVIEW)
    originals = [m for m in mentions if m.author == INFLUENCER_HANDLE]
    assert len(originals) == 1
    post = originals[0]
    assert post.source == "x"
    assert post.author_reach > 1_000_000
    assert 0 <= post.created_at.timestamp() - START - REVIEW.starts_at < 1
    assert CONTOSO.search(post.text)
    echoes = [
        m for m in window(mentions, REVIEW.starts_at, REVIEW.ends_at) if "bigtechguy" in m.text
    ]
    assert len(echoes) > 1000
    assert sum(1 for m in echoes if m.text.startswith(f"RT {INFLUENCER_HANDLE}:")) > 500
    assert any(post.url in m.text for m in echoes)  # quotes link the post
    before = per_second(mentions, REVIEW.starts_at - 300, REVIEW.starts_at, "Contoso")
    after = per_second(mentions, REVIEW.starts_at + 20, REVIEW.starts_at + 80, "Contoso")
    assert 4.0 < after / before < 10.0
    assert positive_share(about("Contoso", echoes)) > 0.6


def test_the_launch_is_loud_positive_and_bigger_than_the_defect() -> None:
    def pulse(ms: list[Mention]) -> list[Mention]:
        return [m for m in ms if "#northwindpulse" in m.text.lower()]

    mentions = story(PULSE)
    assert not pulse(window(mentions, PULSE.starts_at - 300, PULSE.starts_at))
    launch = pulse(window(mentions, PULSE.starts_at, PULSE.ends_at))
    assert len(launch) > 5000
    assert all(NORTHWIND.search(m.text) for m in launch)  # it counts for the brand
    assert not any(CONTOSO.search(m.text) or FABRIKAM.search(m.text) for m in launch)
    assert positive_share(launch) > 0.5 > 0.15 > negative_share(launch)
    before = per_second(mentions, PULSE.starts_at - 300, PULSE.starts_at, "Northwind")
    peak = per_second(mentions, PULSE.starts_at + 60, PULSE.starts_at + 300, "Northwind")
    assert peak / before > 5.0
    # In absolute numbers the launch outdoes the morning's defect peak (a hub's
    # detector compares a burst with the series' own records, not with the hour).
    opening = DemoStream(seed=7, rate=STORY_RATE, start=START).between(START + 300, START + 400)
    assert peak > 1.3 * len(about("Northwind", opening)) / 100


@pytest.mark.parametrize(
    ("incident", "tag"), [(OUTAGE, "#contosodown"), (BREACH, "#fabrikambreach")]
)
def test_the_negative_stories_are_angry(incident: demo.Incident, tag: str) -> None:
    mentions = story(incident)
    brand = incident.brand
    before = about(brand, window(mentions, incident.starts_at - 300, incident.starts_at))
    peak_a, peak_b = incident.starts_at + 120, incident.starts_at + 300
    peak = about(brand, window(mentions, peak_a, peak_b))
    assert 3.5 < (len(peak) / (peak_b - peak_a)) / (len(before) / 300) < 9.0
    assert negative_share(before) < 0.4
    assert negative_share(peak) > 0.6
    assert not any(tag in m.text.lower() for m in before)
    talk = about(brand, window(mentions, incident.starts_at, incident.ends_at))
    tagged = [m for m in talk if tag in m.text.lower()]
    assert len(tagged) / len(talk) > 0.4
    assert {m.lang for m in tagged} >= {"en", "de", "da"}
    assert {m.source for m in talk} == set(demo.SOURCES)
    assert sum(1 for m in talk if m.text.startswith("RT @")) > 50


# --------------------------------------------------------------------------- the noise


def ripples(stream: DemoStream, cycle: int = 0) -> list[demo._Ripple]:
    plan = stream._plan(cycle)
    unique = {id(r): r for rs in plan.ripples.values() for r in rs}
    return sorted(unique.values(), key=lambda r: r.t)


def test_every_day_has_unscripted_bursts_on_every_brand_and_source() -> None:
    stream = DemoStream(seed=7, rate=RATE, start=START)
    day = ripples(stream)
    assert 20 <= len(day) <= 50
    for brand in (demo._NORTHWIND, demo._CONTOSO, demo._FABRIKAM):
        assert sum(1 for r in day if r.brand == brand and r.kind != demo._THREAD) >= 4
    assert {r.source for r in day if r.kind == demo._THREAD} >= {"reddit", "hackernews"}
    # Small: a brand gains up to about its own volume again, a source up to 1.5 times.
    for r in day:
        limit = 1.5 if r.kind == demo._THREAD else 1.0
        assert 0.15 < r.gain <= limit
        if r.post is not None and r.post.sent == "-":
            assert r.gain <= 0.4  # an angry post is reposted less
        assert r.length <= 50 * 60
    # Never near a story of the same brand, and each day draws its own.
    for r in day:
        o = r.t - START
        for s in TIMELINE:
            if r.brand >= 0 and demo._BRAND_NAMES[r.brand] == s.brand and r.kind != demo._THREAD:
                assert not s.starts_at - 2400 < o < s.ends_at + 2400
    assert [r.t - START for r in ripples(stream, 1)] != [r.t - START for r in day]


def test_a_repost_wave_lifts_its_brand_without_an_incident() -> None:
    stream = DemoStream(seed=7, rate=RATE, start=START)
    wave = max(
        (r for r in ripples(stream) if r.kind == demo._CASCADE and r.brand == demo._NORTHWIND),
        key=lambda r: r.gain,
    )
    assert wave.post is not None
    mentions = stream.between(wave.t - 600, wave.t + 180)
    at = wave.t - START

    def minute(a: float) -> int:
        return len(about("Northwind", window(mentions, a, a + 60)))

    usual = statistics.median(minute(at - 600 + 60 * k) for k in range(10))
    top = max(minute(at + 10 * k) for k in range(12))
    assert 1.3 < top / usual < 2.6
    copies = [m for m in window(mentions, at, at + 180) if wave.post.text in m.text]
    assert len(copies) > 20 or wave.post.source != "x"


# --------------------------------------------------------------------------- internals


def test_every_template_renders_in_its_own_language() -> None:
    import random

    rnd = random.Random(3).random
    pools = demo._author_pools(7)
    sources = {"social": ("x", "bluesky", "mastodon", "reddit"), "news": ("news",)}
    sources["hn"] = ("hackernews",)
    for (style, lang, key), (text_lang, templates) in demo._TEMPLATES.items():
        # A language may borrow only computed slots and emoji, never English words.
        own = set(demo._WORDS[text_lang]) | set(demo._WORDS["en"] if text_lang == "en" else ())
        allowed = {k.partition(".")[0] for k in own} | set(demo._COMPUTED) | set(demo._SHARED)
        for template in templates:
            assert template.keys <= allowed, (text_lang, template.fmt)
            for source in sources[style]:
                for cat in ("laptop", "monitor"):
                    brand = demo._NO_BRAND if key.startswith("none") else demo._NORTHWIND
                    ctx = demo._Context(text_lang, cat, brand, source, "https://x.com/a/status/1")
                    text = demo._render(rnd, template, ctx, pools)
                    assert "{" not in text and "}" not in text, text
                    if key.startswith("none"):
                        assert not ANY_BRAND.search(text), text
                        assert not template.keys & {"b", "p", "c", "cp"}, text
                    else:
                        assert ANY_BRAND.search(text), (style, lang, key, text)


#: What DESIGN.md lets a feed use from the core: the model, the protocol and the clients
#: (and msgspec, the model's own codec, for ``record``).
FEED_MAY_IMPORT = (
    "groundcontrol.model",
    "groundcontrol.protocol",
    "groundcontrol.client.stream",
    "groundcontrol.client.ingest",
    "msgspec",
)


def test_feeds_import_nothing_but_the_core_model_protocol_and_clients() -> None:
    tree = ast.parse(Path(demo.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top != "textual"
            assert (
                top in sys.stdlib_module_names or name in FEED_MAY_IMPORT or top == "__future__"
            ), name


def test_generation_speed() -> None:
    """Not an assertion (machines differ): prints mentions per second for the report."""
    stream = DemoStream(seed=7, rate=400.0, start=START)
    stream.between(START, START + 1)  # author pools are built once per seed
    began = time.perf_counter()
    batch = stream.between(START + 1, START + 101)
    elapsed = time.perf_counter() - began
    rate = len(batch) / elapsed
    print(f"\ndemo: {len(batch)} mentions in {elapsed:.2f} s = {rate:,.0f} mentions/s")
    print(f"demo: 100,000 mentions would take {100_000 / rate:.2f} s")
