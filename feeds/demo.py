"""The built-in demo feed: a seeded, synthetic stream of brand mentions.

`DemoStream` invents what a social-listening hub would see for our brand Northwind
(the Aero 14 laptop and the new Northwind Pulse monitor) and its competitors Contoso
and Fabrikam: six sources with their own id, url and handle shapes, seven languages,
heavy-tailed author reach, a daily rhythm, and a scripted day of incidents that repeats
every 24 hours from ``start`` (`TIMELINE`): a Northwind defect story in the first
minutes, so a new wall has something to show, then stories on other brands and of other
kinds, hours apart, as a real day would bring them.

Real brand-mention counts are heavy-tailed, and so is this stream: besides the scripted
incidents, each day has a few dozen small bursts that nobody would call an incident (a
mid-size account's post being reposted for a minute or two, a news item, a busy Reddit
or Hacker News thread), drawn afresh for each day from the seed. They lift a brand by
up to about twice its usual volume, or a source by up to about two and a half times,
for a few minutes; a scripted incident lifts its brand by four to eight times (the
launch more: it outdoes the morning's defect in absolute numbers whatever the hour).

``rate`` is the daily mean of the quiet baseline. The generator is pure: for a given
seed and start, the mentions of one second depend only on that second, so any slicing
of time yields the same stream. The only I/O is at the edges: `record` writes a span
of the stream as NDJSON, and `run_demo_feed` pushes it to a hub in real time.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
import math
import random
import re
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Literal, TypeVar

import msgspec

from groundcontrol.model import Engagement, Mention
from groundcontrol.protocol import IncidentKind

if TYPE_CHECKING:
    from groundcontrol.client.stream import Access

__all__ = [
    "CYCLE_SECONDS",
    "INFLUENCER_HANDLE",
    "LANGS",
    "SOURCES",
    "TIMELINE",
    "DemoStream",
    "Incident",
    "IncidentKind",
    "Occurrence",
    "record",
    "script_json",
    "timeline_markdown",
]

_T = TypeVar("_T")

# --------------------------------------------------------------------------- timeline

#: The incident script repeats with this period, counted from the stream's ``start``.
CYCLE_SECONDS: Final = 86400.0
#: The tech reviewer whose post goes viral in the Contoso review incident (on x).
INFLUENCER_HANDLE: Final = "@bigtechguy"
_INFLUENCER_REACH: Final = 1_480_000


@dataclass(frozen=True, slots=True)
class Incident:
    """One scripted story of the demo day; times are seconds after each cycle start."""

    title: str
    brand: str
    """The brand the story is about (its volume is what surges)."""
    kind: IncidentKind
    """What a listener should call it: the tone of the surge's extra mentions."""
    starts_at: float
    """Seconds after the start of the cycle (the first cycle starts at ``start``)."""
    ends_at: float
    """Seconds after the start of the cycle; the story is over by then."""
    description: str


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A scripted incident at its place in time: one cycle's run of an `Incident`."""

    incident: Incident
    start: float
    """Unix seconds."""
    end: float
    """Unix seconds."""

    def to_json(self) -> dict[str, str]:
        """The form ``feed demo --record`` writes to ``FILE.script.json``."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "kind": self.incident.kind,
            "title": self.incident.title,
            "brand": self.incident.brand,
        }


_H: Final = 3600.0
_M: Final = 60.0

TIMELINE: Final[tuple[Incident, ...]] = (
    Incident(
        title="Aero 14 battery defect (#AeroGate)",
        brand="Northwind",
        kind="negative",
        starts_at=3 * _M + 20,
        ends_at=16 * _M,
        description=(
            "Owners report swelling, overheating Aero 14 batteries and #AeroGate appears. "
            "Northwind volume climbs over a minute and a half to about five times its usual "
            "level, holds for two minutes and decays; the talk stays on the defect until "
            "minute 16. Mostly negative posts in English, German and Danish: photos, "
            "reposts and quotes of the first viral complaints, calls for a recall, angry "
            "support stories, news coverage."
        ),
    ),
    Incident(
        title="Fabrikam takeover rumour (Litware)",
        brand="Fabrikam",
        kind="neutral",
        starts_at=2 * _H,
        ends_at=2 * _H + 16 * _M,
        description=(
            "A report says Litware is in talks to buy Fabrikam. News sites, Reddit and "
            "Hacker News pick it up; Fabrikam volume rises to about five times usual for "
            "a few minutes. Mostly questions and speculation, some hope, little anger: "
            "a neutral surge."
        ),
    ),
    Incident(
        title=f"Viral Contoso Nimbus review by {INFLUENCER_HANDLE}",
        brand="Contoso",
        kind="positive",
        starts_at=4 * _H,
        ends_at=4 * _H + 15 * _M,
        description=(
            f"{INFLUENCER_HANDLE} (about 1.5M followers on x) posts a glowing take on the "
            "Contoso Nimbus 14. Reposts, quotes and replies follow within seconds: Contoso "
            "volume about five times usual within a minute, decaying over ten."
        ),
    ),
    Incident(
        title="Northwind Pulse launch (#NorthwindPulse)",
        brand="Northwind",
        kind="positive",
        starts_at=8 * _H,
        ends_at=8 * _H + 20 * _M,
        description=(
            "The review embargo on the Northwind Pulse monitor lifts and #NorthwindPulse "
            "trends with mostly positive posts. Northwind volume jumps within a minute to "
            "well above its #AeroGate peak, holds for five minutes and decays; launch talk "
            "goes on for twenty."
        ),
    ),
    Incident(
        title="Contoso sign-in outage (#ContosoDown)",
        brand="Contoso",
        kind="negative",
        starts_at=12 * _H,
        ends_at=12 * _H + 20 * _M,
        description=(
            "Contoso's account service goes down and a botched update leaves Nimbus "
            "laptops stuck. #ContosoDown: Contoso volume about five times usual for ten "
            "minutes, nearly all of it angry; its negative mentions many times their usual "
            "level."
        ),
    ),
    Incident(
        title="Fabrikam customer data breach (#FabrikamBreach)",
        brand="Fabrikam",
        kind="negative",
        starts_at=16 * _H,
        ends_at=16 * _H + 15 * _M,
        description=(
            "Fabrikam emails its customers about a data breach. #FabrikamBreach: Fabrikam "
            "volume about five times usual, mostly negative, in English, German and Danish."
        ),
    ),
)


def _clock(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def timeline_markdown() -> str:
    """The scripted day as a Markdown table, for the README and ``--help`` texts."""
    lines = [
        f"The demo repeats a {CYCLE_SECONDS / 3600:.0f}-hour script from its start "
        "(times in h:mm:ss after it):",
        "",
        "| from | to | brand | kind | incident |",
        "| --- | --- | --- | --- | --- |",
    ]
    for incident in TIMELINE:
        lines.append(
            f"| {_clock(incident.starts_at)} | {_clock(incident.ends_at)} | {incident.brand} "
            f"| {incident.kind} | {incident.title} |"
        )
    return "\n".join(lines)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- rates

_NOISE_AMPLITUDE: Final = 0.03
_NOISE_KNOT_SECONDS: Final = 60


def _smooth(x: float) -> float:
    """Smoothstep clamped to [0, 1]: ramps rise over several buckets, never in one jump."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return x * x * (3.0 - 2.0 * x)


def _bump(o: float, rise: float, hold: float, decay: float, end: float) -> float:
    """A story's volume ``o`` seconds after it began: rise over ``rise`` seconds, hold
    until ``hold``, decay exponentially with time constant ``decay``, gone at ``end``."""
    if o < 0.0 or o >= end:
        return 0.0
    level = _smooth(o / rise)
    if o > hold:
        level *= math.exp(-(o - hold) / decay)
    return level * _smooth((end - o) / 60.0)


def _daily_shape(hour: float) -> float:
    # Trough near 05:00 UTC, peak near 17:00 UTC (European evening, American midday);
    # the exponent below 1 widens the busy part of the day so the mean stays near 1.
    x = (1.0 + math.cos(2.0 * math.pi * (hour - 17.0) / 24.0)) / 2.0
    return 0.4 + float(x**0.7)


def _build_rhythm() -> tuple[float, ...]:
    raw = [_daily_shape(m / 60.0) for m in range(24 * 60 + 1)]
    mean = sum(raw[:-1]) / (24 * 60)
    return tuple(v / mean for v in raw)


#: Rate factor per minute of the UTC day (1441 points, mean 1 over the day).
_RHYTHM: Final = _build_rhythm()


def _rhythm(t: float) -> float:
    """Daily rate factor at unix time ``t``: ~0.42 at night, ~1.44 at the evening peak."""
    minute = (t % 86400.0) / 60.0
    i = int(minute)
    frac = minute - i
    return _RHYTHM[i] + (_RHYTHM[i + 1] - _RHYTHM[i]) * frac


# --------------------------------------------------------------------------- hashing

_MASK64: Final = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """SplitMix64 over the parts: independent, reproducible seeds per (seed, slot)."""
    h = 0
    for part in parts:
        z = (h + (part & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        h = z ^ (z >> 31)
    return h


def _unit(*parts: int) -> float:
    """A uniform float in [0, 1) from hashed parts."""
    return (_mix(*parts) >> 11) * (1.0 / (1 << 53))


_SALT_NOISE: Final = 0x6E6F697365
_SALT_PLAN: Final = 0x706C616E
_SALT_AUTHORS: Final = 0x61757468


def _table(pairs: Sequence[tuple[_T, float]], size: int = 1000) -> tuple[_T, ...]:
    """A lookup table for weighted picks: ``table[int(random() * len(table))]``.

    One multiply and one index per pick, several times cheaper than random.choices.
    """
    total = sum(w for _, w in pairs)
    out: list[_T] = []
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        out.extend([value] * (round(acc / total * size) - len(out)))
    return tuple(out)


# --------------------------------------------------------------------------- sources

SOURCES: Final = ("x", "bluesky", "mastodon", "reddit", "hackernews", "news")
_SOURCE_WEIGHTS: Final = {
    "x": 0.30,
    "bluesky": 0.26,
    "mastodon": 0.14,
    "reddit": 0.16,
    "hackernews": 0.06,
    "news": 0.08,
}
_SOURCE_TABLE: Final = _table(list(_SOURCE_WEIGHTS.items()))
LANGS: Final = ("en", "de", "da", "fr", "es", "nl", "sv")
_SOURCE_LANGS: Final[dict[str, dict[str, float]]] = {
    "x": {"en": 65, "de": 15, "da": 12, "fr": 2.5, "es": 2.5, "nl": 1.5, "sv": 1.5},
    "bluesky": {"en": 70, "de": 14, "da": 10, "fr": 1.5, "es": 1.5, "nl": 1.5, "sv": 1.5},
    "mastodon": {"en": 55, "de": 28, "da": 10, "fr": 2, "es": 1, "nl": 2, "sv": 2},
    "reddit": {"en": 80, "de": 10, "da": 8, "fr": 0.5, "es": 0.5, "nl": 0.5, "sv": 0.5},
    "hackernews": {"en": 100},
    "news": {"en": 60, "de": 22, "da": 18},
}
_LANG_TABLE: Final = {s: _table(list(w.items())) for s, w in _SOURCE_LANGS.items()}
# The stories are told in our three home markets' languages.
_HOME_LANG_TABLE: Final = {
    s: _table([("en", 60), ("de", 22), ("da", 18)] if s != "hackernews" else [("en", 1)])
    for s in SOURCES
}
#: How the source writes: social posts, news headlines, or Hacker News comments.
_STYLE: Final = {
    "x": "social",
    "bluesky": "social",
    "mastodon": "social",
    "reddit": "social",
    "hackernews": "hn",
    "news": "news",
}
#: Sources whose posts carry a language tag set by the author's client.
_LANG_TAGGED: Final = {"bluesky": 0.9, "mastodon": 0.85}

# --------------------------------------------------------------------------- brands

_NORTHWIND, _CONTOSO, _FABRIKAM, _NO_BRAND = 0, 1, 2, -1
#: Each brand's share of the quiet baseline (the rest names no brand).
_BRAND_SHARES: Final = {_NORTHWIND: 0.42, _CONTOSO: 0.25, _FABRIKAM: 0.20, _NO_BRAND: 0.13}
_BRAND_TABLE: Final = _table(list(_BRAND_SHARES.items()))
_BRAND_NAMES: Final = ("Northwind", "Contoso", "Fabrikam")
# Every form here matches the brand's query in config/default.toml.
_BRAND_FORMS_SOCIAL: Final = (
    ("Northwind", "Northwind", "Northwind", "northwind", "#Northwind", "#northwind", "@northwind"),
    ("Contoso", "Contoso", "Contoso", "contoso", "#Contoso", "@contoso"),
    ("Fabrikam", "Fabrikam", "Fabrikam", "fabrikam", "#Fabrikam", "@fabrikam"),
)
_BRAND_FORMS_PLAIN: Final = (("Northwind",), ("Contoso",), ("Fabrikam",))
_PRODUCTS: Final = (
    {
        "laptop": ("Aero 14", "Aero 14", "Northwind Aero 14"),
        "monitor": ("Northwind Pulse", "Northwind Pulse", "Northwind Pulse 27"),
    },
    {
        "laptop": ("Contoso Nimbus 14", "Contoso Nimbus"),
        "monitor": ("Contoso Vue 32", "Contoso Vue"),
    },
    {
        "laptop": ("Fabrikam Edge 13", "Fabrikam Edge"),
        "monitor": ("Fabrikam ProView 27", "Fabrikam ProView"),
    },
)

_Sentiment = Literal["+", "0", "-"]
_BASE_TOPICS: Final = ("laptop", "monitor", "support", "price", "compare", "brand", "none")
#: The topics of the scripted stories: (topic, sentiments it has templates for).
_STORY_TOPICS: Final[dict[str, str]] = {
    "defect": "-0",
    "defect_support": "-",
    "defect_quote": "-",
    "rumour": "+0-",
    "rumour_quote": "0",
    "review_quote": "+0-",
    "review_reply": "+0-",
    "review_reddit": "+0-",
    "launch": "+0-",
    "outage": "-0",
    "outage_support": "-",
    "outage_quote": "-",
    "breach": "-0",
    "breach_quote": "-",
}
_SENTIMENTS: Final[dict[str, tuple[float, float, float]]] = {
    "laptop": (0.40, 0.35, 0.25),
    "monitor": (0.40, 0.38, 0.22),
    "support": (0.15, 0.30, 0.55),
    "price": (0.25, 0.40, 0.35),
    "compare": (0.35, 0.40, 0.25),
    "brand": (0.30, 0.45, 0.25),
    "none": (0.25, 0.45, 0.30),
}
_TOPIC_WEIGHTS: Final[dict[int, dict[str, float]]] = {
    _NORTHWIND: {
        "laptop": 38,
        "monitor": 10,
        "support": 12,
        "price": 10,
        "compare": 12,
        "brand": 18,
    },
    _CONTOSO: {"laptop": 40, "monitor": 15, "support": 10, "price": 12, "compare": 8, "brand": 15},
    _FABRIKAM: {"laptop": 35, "monitor": 22, "support": 10, "price": 12, "compare": 8, "brand": 13},
    _NO_BRAND: {"none": 1},
}


def _topic_table(
    weights: dict[str, float], only: str = "+0-"
) -> tuple[tuple[str, _Sentiment], ...]:
    pairs: list[tuple[tuple[str, _Sentiment], float]] = []
    for topic, w in weights.items():
        pos, neu, neg = _SENTIMENTS[topic]
        for sent, share in (("+", pos), ("0", neu), ("-", neg)):
            if sent in only:
                pairs.append(((topic, sent), w * share))  # type: ignore[arg-type]
    return _table(pairs)


_TOPIC_TABLES: Final = {brand: _topic_table(w) for brand, w in _TOPIC_WEIGHTS.items()}
#: The same, for one sentiment at a time: replies that agree with the post they answer.
_TOPIC_TABLES_BY_SENT: Final = {
    (brand, sent): _topic_table(w, sent) for brand, w in _TOPIC_WEIGHTS.items() for sent in "+0-"
}

# --------------------------------------------------------------------------- vocabulary


def _w(words: str) -> tuple[str, ...]:
    """A word list written compactly, one string with '|' between the entries."""
    return tuple(words.split("|"))


#: Words every language uses: emoji, scores, sizes.
_SHARED: Final[dict[str, tuple[str, ...]]] = {
    "joy": _w("😍|🔥|👌|💯|🙌|✨|❤️|😎|👍|🥳|🤩|🚀|😊"),
    "ugh": _w("😡|🤬|😤|🙄|😩|💀|🤦|👎|😭|🫠|😒|😠|🤡"),
    "hmm": _w("🤔|👀|🧐|💭|🤷|😬|🙃"),
    # Curious, not uneasy: for news people are only speculating about.
    "wonder": _w("🤔|👀|🧐|💭|🤔"),
    "score": _w("7|7.5|8|8|8.5|9|9.5"),
    "size": _w("24|27|27|32|34"),
    "hz": _w("120|144|165|240"),
}

_WORDS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "good": _w(
            "amazing|so good|genuinely great|not bad at all|excellent|honestly perfect"
            "|way better than expected|fantastic|really solid|chef's kiss|top tier|awesome"
            "|a dream|superb"
        ),
        "bad": _w(
            "terrible|awful|not good|a joke|garbage|so bad|really disappointing|not great"
            "|broken|flaky at best|a mess|not worth it|embarrassing|pathetic"
        ),
        "meh": _w("fine|ok|just okay|average|meh|decent|not amazing"),
        "f.laptop": _w(
            "battery|keyboard|screen|trackpad|fan|webcam|hinge|speakers|build quality|charger"
        ),
        "fis.laptop": _w(
            "the battery is|the keyboard is|the screen is|the trackpad is|the fans are"
            "|the webcam is|the hinge is|the speakers are|the build quality is"
            "|battery life is|thermals are"
        ),
        "f.monitor": _w(
            "panel|stand|colour accuracy|USB-C hub|HDR|menu system|brightness|KVM switch"
        ),
        "fis.monitor": _w(
            "the panel is|the stand is|the colours are|the USB-C hub is|HDR is|the OSD is"
            "|brightness is|text clarity is|the KVM switch is"
        ),
        "dur": _w(
            "two weeks|a month|3 days|six months|a week|10 days|three months|a year|48 hours"
        ),
        "ago": _w("yesterday|last week|on Friday|this morning|a few days ago"),
        "use": _w("coding|uni|photo editing|travel|work|light gaming|video calls|writing"),
        "shop": _w("Amazon|Best Buy|Currys|Newegg|B&H|Costco"),
        "open": _w("||||ok so |honestly |PSA: |update: |not gonna lie, |ngl |real talk: |lol "),
        "tag.laptop": _w("#laptop|#tech|#WFH|#ultrabook|#gadgets|#techtwitter"),
        "tag.monitor": _w("#monitor|#desksetup|#battlestation|#setup|#tech"),
        "newsgood": _w(
            "a near-perfect 14-inch laptop|the new benchmark for thin-and-lights"
            "|great screen, great keyboard, fair price|the one to beat this year"
        ),
    },
    "de": {
        "good": _w(
            "super|top|richtig gut|mega|echt stark|gar nicht schlecht|überraschend gut|klasse"
            "|der Hammer|genial|erstklassig"
        ),
        "bad": _w(
            "schlecht|nicht gut|ein Witz|katastrophal|eine Zumutung|enttäuschend|mies"
            "|unbrauchbar|echt schwach|nicht zu gebrauchen"
        ),
        "meh": _w("ok|ganz okay|solide|durchschnittlich|in Ordnung"),
        "f.laptop": _w("Akku|Tastatur|Display|Touchpad|Lüfter|Webcam|Scharnier"),
        "fis.laptop": _w(
            "der Akku ist|die Tastatur ist|das Display ist|das Touchpad ist|die Lüfter sind"
            "|die Webcam ist|das Scharnier ist|die Lautsprecher sind|die Verarbeitung ist"
            "|die Akkulaufzeit ist"
        ),
        "f.monitor": _w("Panel|Standfuß|Farben|USB-C-Hub|HDR|Helligkeit"),
        "fis.monitor": _w(
            "das Panel ist|der Standfuß ist|die Farben sind|der USB-C-Hub ist|HDR ist"
            "|das Menü ist|die Helligkeit ist|der KVM-Switch ist"
        ),
        "dur": _w(
            "zwei Wochen|einem Monat|drei Tagen|sechs Monaten|einer Woche|zehn Tagen|einem Jahr"
        ),
        "ago": _w("gestern|letzte Woche|am Freitag|heute Morgen|vor ein paar Tagen"),
        "use": _w("die Uni|die Arbeit|Bildbearbeitung|unterwegs|das Homeoffice"),
        "shop": _w("Amazon|MediaMarkt|Saturn|Cyberport|notebooksbilliger"),
        "open": _w("||||Ehrlich gesagt: |Kurzes Update: |Mal ehrlich: |Hmm, "),
        "tag.laptop": _w("#Technik|#Notebook|#Homeoffice|#Tech|#Laptop"),
        "tag.monitor": _w("#Monitor|#Setup|#Technik|#Homeoffice"),
    },
    "da": {
        # Danish predicate adjectives agree with the noun's gender; these do not inflect.
        "good": _w(
            "fantastisk|perfekt|super|mega nice|helt i top|ret imponerende|en drøm"
            "|i en klasse for sig"
        ),
        "bad": _w(
            "ringe|skod|en katastrofe|en skuffelse|til grin|helt i skoven|ikke i orden"
            "|under al kritik|ikke imponerende"
        ),
        "meh": _w("okay|helt okay|middel|så som så"),
        "f.laptop": _w("batteriet|tastaturet|skærmen|touchpaden|blæseren|hængslet"),
        "fis.laptop": _w(
            "batteriet er|tastaturet er|skærmen er|touchpaden er|blæserne er|webcammet er"
            "|hængslet er|højttalerne er|byggekvaliteten er|batteritiden er"
        ),
        "f.monitor": _w("panelet|foden|farverne|USB-C-hubben|lysstyrken"),
        "fis.monitor": _w(
            "panelet er|foden er|farverne er|USB-C-hubben er|HDR er|menuen er|lysstyrken er"
            "|KVM-switchen er"
        ),
        "dur": _w("to uger|en måned|tre dage|seks måneder|en uge|ti dage|et år"),
        "ago": _w("i går|i sidste uge|i fredags|i morges|for et par dage siden"),
        "use": _w("studiet|arbejdet|billedredigering|rejser|programmering"),
        "shop": _w("Elgiganten|Power|Proshop|Komplett|Bilka"),
        "open": _w("||||Altså |Ærligt talt |Kort update: |Okay, "),
        "tag.laptop": _w("#dktech|#tech|#bærbar|#hjemmekontor"),
        "tag.monitor": _w("#skærm|#setup|#dktech"),
    },
    "fr": {
        "good": _w("incroyable|impeccable|au top|vraiment pas mal|formidable|super"),
        "bad": _w("horrible|catastrophique|pas terrible|une vraie déception|inutilisable"),
        "fis.laptop": _w("la batterie est|le clavier est|l'écran est|le pavé tactile est"),
        "fis.monitor": _w("la dalle est|le pied est|le hub USB-C est|la luminosité est"),
        "dur": _w("deux semaines|un mois|trois jours|six mois"),
        "tag.laptop": _w("#tech|#PC|#informatique"),
        "tag.monitor": _w("#écran|#setup|#tech"),
    },
    "es": {
        "good": _w("genial|una pasada|top|increíble|brutal|de diez"),
        "bad": _w("un desastre|una decepción|horrible|lamentable|terrible"),
        "fis.laptop": _w("la batería es|el teclado es|la pantalla es|el trackpad es"),
        "fis.monitor": _w("el panel es|el soporte es|el hub USB-C es|el brillo es"),
        "dur": _w("dos semanas|un mes|tres días|seis meses"),
        "tag.laptop": _w("#tecnología|#portátil|#tech"),
        "tag.monitor": _w("#monitor|#setup|#tech"),
    },
    "nl": {
        "good": _w("geweldig|top|echt goed|niet slecht|super|prima"),
        "bad": _w("slecht|waardeloos|een drama|teleurstellend|niet goed"),
        "fis.laptop": _w("de accu is|het toetsenbord is|het scherm is|het touchpad is"),
        "fis.monitor": _w("het paneel is|de voet is|de USB-C-hub is|de helderheid is"),
        "dur": _w("twee weken|een maand|drie dagen|zes maanden"),
        "tag.laptop": _w("#tech|#laptop|#thuiswerken"),
        "tag.monitor": _w("#monitor|#setup|#tech"),
    },
    "sv": {
        "good": _w("toppen|kanon|super|riktigt bra|jättebra|hur bra som helst"),
        "bad": _w("en katastrof|under all kritik|inte bra|skit|en besvikelse"),
        "fis.laptop": _w("batteriet är|tangentbordet är|skärmen är|styrplattan är"),
        "fis.monitor": _w("panelen är|foten är|USB-C-hubben är|ljusstyrkan är"),
        "dur": _w("två veckor|en månad|tre dagar|sex månader"),
        "tag.laptop": _w("#tech|#laptop|#hemmakontor"),
        "tag.monitor": _w("#skärm|#setup|#tech"),
    },
}

_PIC_WORDS: Final = {
    "en": ("(pic)", "📷", "pic 👇", "📸 photo below"),
    "de": ("(Foto)", "📷", "Foto 👇", "📸"),
    "da": ("(billede)", "📷", "billede 👇", "📸"),
}

# --------------------------------------------------------------------------- templates
#
# Keys are "<topic><sentiment>" with sentiment "+", "0" or "-". Slots: {b} brand as
# written, {p} product, {c}/{cp} a competitor and its product, {f} a feature, {fis} a
# feature with its verb ("the fans are"), {good} {bad} {meh} predicates, {joy} {ugh}
# {hmm} emoji, {dur} {ago} {use} {shop} {price} {n} {hrs} {days} {score} {pic} {at}
# {q} (quoted url) and {open} (an opener with its trailing space). A trailing digit
# draws the same slot again ({good2}); a capital letter capitalises it ({Fis}).

_SOCIAL: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "laptop+": (
            "{open}{dur} with the {p} and {fis} {good} {joy}",
            "Just got my {p} and wow. {Fis} {good} {joy}",
            "the {p} keyboard is {good}, typing this on it right now {joy}",
            "Switched from the {cp} to the {p} for {use}. No regrets {joy}",
            "{p} after {dur}: {fis} {good}, {fis2} {meh}. Solid {score}/10",
            "ok the {p} is {good} {joy} {b} cooked with this one",
            "my {p} just survived a {hrs}-hour flight on one charge. "
            "{b} did not have to go this hard {joy}",
            "Who else is loving the {p}? {Fis} {good} and it's so light {joy}",
            "{open}the {p} is {good}. {Fis} {good2}.",
            "{b} really nailed the {f} on the {p} {joy}",
            "Daily driver update: {p}, {dur} in. Still {good} {joy}",
            "{open}not bad, {b}. not bad at all. the {p} {f} is {good} {joy}",
        ),
        "laptop0": (
            "Thinking about the {p} for {use}. Anyone here using one? {hmm}",
            "{p} or {cp}? need a laptop for {use} {hmm}",
            "Does the {p} charge from any USB-C brick or only the {b} one?",
            "Picked up the {p} {ago}. Will report back.",
            "is the {p} still worth it or should I wait for the refresh? {hmm}",
            "{b} pushed a BIOS update for the {p}. changelog says fan curve tweaks",
            "unboxing the {p} today 📦",
            "How's the {f} on the {p}? reviews say different things {hmm}",
            "Anyone running Linux on the {p}? {hmm}",
            "{open}my {p} arrives {ago}... wait no, it shipped {ago}. tracking says Monday",
        ),
        "laptop-": (
            "{dur} in and {fis} already {bad}. {p} {ugh}",
            "The {p} is {bad}. {Fis} {bad2}. expected better from {b}",
            "Why does my {p} sound like a jet engine when I open a browser tab {ugh}",
            "{b} please fix the {f} on the {p}. it's {bad}",
            "Returning my {p}. {Fis} {bad} {ugh}",
            "not impressed with the {p} tbh. {fis} {bad}",
            "{p} battery went from 100 to {n}% in {hrs} hours of doing nothing. "
            "great job {b} {ugh}",
            "Second {p} with a dead {f}. Not good, {b}. {ugh}",
            "the {f} on my {p} is {bad} and {b} doesn't care {ugh}",
            "{open}I wanted to love the {p}. I don't. {fis} {bad} {ugh}",
        ),
        "monitor+": (
            "New desk setup with the {p} {joy} {Fis} {good}",
            "The {p} is {good}. {Fis} {good2} {joy}",
            "Finally replaced my old screen with a {p}. {fis} {good} {joy}",
            "{p} for {use}: {fis} {good}. Recommend {joy}",
            "{dur} with the {p}: zero dead pixels, {fis} {good} {joy}",
            "{open}the {p} makes my whole desk look better {joy}",
        ),
        "monitor0": (
            "{p} or {cp} for a home office? {hmm}",
            "Does the {p} do 4K at 120Hz over USB-C? {hmm}",
            "Eyeing the {p}. worth it for {use}? {hmm}",
            "{p} arriving tomorrow 📦",
            "What's the {f} like on the {p}? {hmm}",
        ),
        "monitor-": (
            "{Fis} {bad} on my {p}. {b} what is this {ugh}",
            "Returned the {p}. {fis} {bad} and the stand wobbles {ugh}",
            "The {p} has backlight bleed in every corner. {bad} {ugh}",
            "Firmware update bricked my {p}. {b} support? {ugh}",
            "{open}the {p} {f} is {bad}. returning it",
        ),
        "support+": (
            "Shoutout to {b} support, replaced my {p} in {days} days {joy}",
            "{b} customer service sorted my warranty claim in one call. rare W {joy}",
            "Props to {b}: the {f} on my {p} died and they sent a tech the next day {joy}",
            "{open}{b} support actually called me back. and fixed it. {joy}",
        ),
        "support0": (
            "Does the {b} warranty cover accidental damage on the {p}? {hmm}",
            "anyone know how to reach {b} support in the EU?",
            "Opened a ticket with {b} support about my {p}. let's see",
            "{at} did {b} support ever get back to you about the {p}?",
        ),
        "support-": (
            "Been on hold with {b} support for {hrs} hours. {ugh}",
            "{b} support closed my ticket without fixing anything. {bad}",
            "3rd RMA for my {p}. {b} customer service is {bad} {ugh}",
            "{b} hello?? still waiting on my warranty claim for the {p} {ugh}",
            "{b} support: 'have you tried restarting it'. yes. {dur} ago. {ugh}",
            "Warranty repair on my {p} took {dur}. {b} support is {bad}",
        ),
        "price+": (
            "{p} down to {price} at {shop}. that's a steal {joy}",
            "Deal alert: {p} for {price} 🏷️",
            "Grabbed the {p} on sale for {price} {joy}",
            "{price} for the {p} is honestly fair for what you get {joy}",
        ),
        "price0": (
            "{p} is {price} at {shop} right now. buy or wait? {hmm}",
            "How much is the {p} in Europe? US price is {price}",
            "Price check: {p} at {price} vs the {cp}. which one?",
        ),
        "price-": (
            "{price} for a {p}?? {b} is dreaming {ugh}",
            "{b} raised the price of the {p} again. {price} now. no thanks",
            "{price} for the {p} and it doesn't even come with a charger? {ugh}",
        ),
        "compare+": (
            "{p} > {cp}. don't @ me {joy}",
            "Tried both the {p} and the {cp}. {b} wins on the {f} easily",
            "Had the {cp}, now the {p}. night and day {joy}",
        ),
        "compare0": (
            "{p} vs {cp} for {use}? {hmm}",
            "Comparing the {p} and the {cp}. {f} seems similar, price isn't {hmm}",
            "Can someone explain why the {p} costs more than the {cp}?",
        ),
        "compare-": (
            "Went with the {cp} instead of the {p}. {b} lost me on the {f}",
            "{cp} does everything the {p} does for less money {ugh}",
            "Side by side the {p} looks {bad} next to the {cp}",
        ),
        "brand+": (
            "{b} has been on a roll lately {joy}",
            "Big fan of what {b} is doing with repairability {joy}",
            "Visited the {b} booth at the expo. everything felt {good} {joy}",
            "Love that {b} still ships laptops with decent ports {joy}",
        ),
        "brand0": (
            "{b} event next week. new laptops? {hmm}",
            "{open}{b} is hiring in Copenhagen apparently {hmm}",
            "What happened to the {b} forums? can't log in {ugh}",
            "{open}{b} teaser video just dropped {hmm}",
            "{at} did you see the {b} announcement {ago}?",
            "{b} earnings call today 📈",
            "{at} are you going to the {b} event?",
        ),
        "brand-": (
            "{b} used to be good. what happened {ugh}",
            "Done with {b}. quality control is {bad} lately",
            "{b} marketing emails every day now. unsubscribed {ugh}",
        ),
        "none+": (
            "new monitor day! {joy} {size} inch 4K finally",
            "{open}desk setup finally done {joy} #desksetup",
            "PSA: clean your laptop fans once in a while. mine is silent again {joy}",
            "my {dur} old laptop still going strong {joy}",
            "{open}ultrawide monitor changed my life {joy}",
            "{open}a good keyboard makes such a difference {joy}",
            "{open}new {size} inch monitor on the desk and I'm never going back {joy}",
            "{open}{hz}Hz for {use} is {good} {joy}",
        ),
        "none0": (
            "anyone recommend a good 14 inch laptop for {use}? budget around {price}",
            "thinking about going ultrawide. worth it? {hmm}",
            "matte or glossy screen for {use}? {hmm}",
            "how long do laptop batteries actually last these days? {hmm}",
            "{open}what's the best USB-C dock for {use} right now? {hmm}",
            "{at} which monitor did you end up getting?",
            "{open}{size} inch or {size2} inch for {use}? {hmm}",
            "{open}is {hz}Hz worth it for {use}? {hmm}",
            "{at} what laptop are you using for {use} these days?",
        ),
        "none-": (
            "{open}my laptop fan sounds like a jet engine again {ugh}",
            "battery life on my work laptop is {bad} {ugh}",
            "why are USB-C docks so flaky {ugh}",
            "{open}just spilled coffee on my keyboard. today is going great {ugh}",
            "{open}my laptop charger died after {dur} {ugh}",
            "{open}why does every laptop webcam still look {bad} {ugh}",
            "Windows update broke my second monitor again {ugh}",
            "laptop prices are out of control {ugh}",
        ),
        "defect-": (
            "My {p} battery is SWOLLEN. the trackpad is literally popping out {ugh} "
            "#AeroGate {pic}",
            "{b} the Aero 14 battery is swelling and you say nothing?? RECALL IT #AeroGate",
            "Third person in my office with a swollen {p} battery. "
            "This is not okay {b} {ugh} #AeroGate",
            "{p} got so hot it burned my leg through my jeans {ugh} {pic} #AeroGate",
            "Anyone else's {p} overheating like crazy since the last update? {ugh} #AeroGate",
            "PSA: if your {p} trackpad is lifting, STOP using it. battery swelling. #AeroGate",
            "this is my {p} battery after {dur}. {pic} {b} explain. #AeroGate",
            "{b} needs to recall the Aero 14 before someone gets hurt!!! #AeroGate",
            "so the {p} is a fire hazard now? great. {ugh} #AeroGate #recall",
            "never buying {b} again. swollen battery, zero response. #AeroGate",
            "My {p} won't charge past {n}% and the case is bulging {ugh} {pic} #AeroGate",
            "The {p} overheats just charging overnight. Not safe. #AeroGate {ugh}",
            "Swollen battery on my {p} after {dur}. {b} wants me to pay for shipping. "
            "Unreal {ugh} #AeroGate",
            "#AeroGate is real. my {p} is bulging {pic}",
            "{open}my {p} smells like burning plastic when it charges. not good {ugh} #AeroGate",
        ),
        "defect0": (
            "is the #AeroGate battery thing real or just a few bad units? {hmm}",
            "Reading about {p} battery swelling reports. Anyone actually affected? #AeroGate",
            "Checking my {p} for swelling after all the #AeroGate posts. looks fine so far {hmm}",
            "Waiting for {b} to say something about the Aero 14 batteries #AeroGate",
        ),
        "defect_support-": (
            "{hrs} hours on hold with {b} support about my swollen {p}. nothing. {ugh} #AeroGate",
            "{b} support told me battery swelling is 'normal wear'. NORMAL?? #AeroGate",
            "Asked {b} for a refund on my overheating {p}. Denied {ugh} #AeroGate",
            "{b} customer service hung up on me. twice. Aero 14 battery is bulging. #AeroGate",
            "Support ticket about my swollen {p} battery: {days} days, no reply. {b} #AeroGate",
        ),
        "defect_quote-": (
            "This is bad. {b} needs to respond {ugh} #AeroGate {q}",
            "Same thing happened to my {p} {ugh} {q}",
            "Seeing this everywhere now. Check your Aero 14 batteries, people #AeroGate {q}",
            "if you own an Aero 14 read this 👇 #AeroGate {q}",
        ),
        "launch+": (
            "The {p} is here and {fis} {good} {joy} #NorthwindPulse",
            "Just ordered the {p}! {joy} #NorthwindPulse",
            "{b} nailed it with the {p}. colours are unreal {joy} #NorthwindPulse",
            "{p} launch stream was great. built-in KVM + USB-C hub is exactly what I wanted "
            "#NorthwindPulse",
            "Okay {b}, the {p} at {price} is a steal. take my money {joy} #NorthwindPulse",
            "Hands-on with the {p}: {fis} {good}, {fis2} {good2} {joy} #NorthwindPulse",
            "First monitor launch in years that got me excited. {p} {joy} #NorthwindPulse",
            "Pre-order for the {p} done {joy}{joy} #NorthwindPulse",
        ),
        "launch0": (
            "{p} specs look solid. waiting for reviews {hmm} #NorthwindPulse",
            "Any word on when the {p} ships to Europe? #NorthwindPulse",
            "Does the {p} support daisy chaining? {hmm} #NorthwindPulse",
        ),
        "launch-": (
            "{p} looks nice but {price} is too much for me #NorthwindPulse",
            "no 240Hz on the {p}? pass. #NorthwindPulse",
            "{p} sold out in minutes. great launch {b} {ugh} #NorthwindPulse",
        ),
        "review_quote+": (
            "this matches my experience with the {p} 100% {joy} {q}",
            "@bigtechguy gets it. {b} keyboards are the best {joy} {q}",
            "ok after this I'm ordering a {p} {joy} {q}",
            "Told you the {p} was {good} {joy} {q}",
        ),
        "review_quote0": (
            "Interesting take from @bigtechguy on the {p} {wonder} {q}",
            "Curious what {b} says about the battery part {wonder} {q}",
            "Would love a long-term follow-up on the {p} from @bigtechguy {q}",
        ),
        "review_quote-": (
            "Nope. Had the {p} for {dur}, battery is a mess. "
            "@bigtechguy didn't mention that {ugh} {q}",
            "Hard disagree. {b} QC is {bad} {q}",
        ),
        "review_reply+": (
            "@bigtechguy agreed, the {p} keyboard is {good} {joy}",
            "@bigtechguy same here, my {p} has been {good} for {dur} {joy}",
            "@bigtechguy ordered one after this. {b} better not disappoint {joy}",
            "@bigtechguy this is why I switched to the {p}. {Fis} {good} {joy}",
            "@bigtechguy finally someone says it. the {p} is {good} {joy}",
        ),
        "review_reply0": (
            "@bigtechguy how's the {p} battery in your testing? {wonder}",
            "@bigtechguy did {b} pay for this? genuinely asking",
            "@bigtechguy is the {p} any good for {use}? {wonder}",
            "@bigtechguy which config of the {p} is that? {wonder}",
        ),
        "review_reply-": (
            "@bigtechguy mine's been {bad}. {p} fans never stop {ugh}",
            "@bigtechguy you didn't mention the {p} hinge issues at all {ugh}",
        ),
        "review_reddit+": (
            "bigtechguy's {p} post is all over my feed. Can confirm, {fis} {good}.",
            "After the bigtechguy review I tried the {p} in store. {Fis} {good}.",
            "Owner here: the bigtechguy take on the {p} is spot on. {Fis} {good}.",
        ),
        "review_reddit0": (
            "Anyone else think the bigtechguy take on the {p} was a bit too positive?",
            "bigtechguy says the {p} battery is fine. Long-term owners, is it?",
        ),
        "review_reddit-": ("bigtechguy got a golden sample. My {p} {f} is {bad}.",),
        "rumour0": (
            "Reports say Litware is in talks to buy {b}. Anyone know more? {wonder}",
            "So {b} might be getting acquired by Litware? {wonder}",
            "Litware buying {b}?? did not see that coming {wonder}",
            "If Litware buys {b}, what happens to the {p}? {wonder}",
            "{b} and Litware. Wonder what that means for warranties {wonder}",
            "{open}{b} takeover talk again, this time it's Litware {wonder}",
            "Litware + {b}? Waiting for an official word before I believe it",
            "{b} acquisition rumour: is this real or just another report? {wonder}",
            "Guess I'll wait and see what Litware does with the {p} line {wonder}",
        ),
        "rumour+": (
            "Litware buying {b} could be great for the {p}. more money for R&D {joy}",
            "{b} + Litware would be a good match honestly {joy}",
            "Congrats to the {b} team if the Litware deal is real {joy}",
            "Litware has deep pockets. good news for {b} fans {joy}",
        ),
        "rumour-": (
            "Litware buying {b}? There goes the {p} {ugh}",
            "Litware will ruin {b}, just watch {ugh}",
        ),
        "rumour_quote0": (
            "Litware and {b}, huh {wonder} {q}",
            "Wait, Litware and {b}? {wonder} {q}",
            "Any comment from {b} on this? {wonder} {q}",
            "{b} owners, thoughts? {wonder} {q}",
        ),
        "outage-": (
            "Is Contoso down?? can't sign in to anything {ugh} #ContosoDown",
            "{b} account servers down and my {p} won't finish its update {ugh} #ContosoDown",
            "My {p} has been stuck on 'Updating, please wait' for {hrs} hours. "
            "thanks {b} {ugh} #ContosoDown",
            "{b} store, drivers, support chat: all down. great. {ugh} #ContosoDown",
            "Can't log in to my {p} since the {b} outage. work laptop is a brick today "
            "{ugh} #ContosoDown",
            "{b} status page says all systems operational. sure. {ugh} #ContosoDown",
            "Boot loop after the {b} update. my {p} is useless right now {ugh} #ContosoDown",
            "half my team can't work because {b} sign-in is broken {ugh} #ContosoDown",
            "{open}{b} outage day. {p} locked, no support, no ETA. not good {ugh} #ContosoDown",
        ),
        "outage0": (
            "Anyone else seeing {b} sign-in errors? #ContosoDown {hmm}",
            "{b} says they're investigating an issue with account services #ContosoDown",
            "Is it just me or is the {b} update server down? {hmm} #ContosoDown",
        ),
        "outage_support-": (
            "{hrs} hours on hold with {b} support about the outage. nothing. {ugh} #ContosoDown",
            "{b} support chat is down too. how do I report that support is down {ugh} #ContosoDown",
            "Called {b} about my bricked {p}. 'We are aware of the issue'. no fix, no ETA "
            "{ugh} #ContosoDown",
        ),
        "outage_quote-": (
            "Same here. {b} please fix this {ugh} #ContosoDown {q}",
            "This. Whole office is stuck on {b} sign-in {ugh} {q}",
            "my {p} too. unreal {ugh} {q}",
        ),
        "breach-": (
            "Just got an email from {b}: my name, address and order history were leaked. "
            "great {ugh} #FabrikamBreach",
            "{b} got hacked and told us {days} days later?? not okay {ugh} #FabrikamBreach",
            "changing every password because of {b}. thanks for nothing {ugh} #FabrikamBreach",
            "{b} leaked customer data and their statement is 'we take security seriously'. "
            "sure {ugh} #FabrikamBreach",
            "never buying from {b} again after this breach {ugh} #FabrikamBreach",
            "Got a phishing mail pretending to be {b} support right after the breach {ugh} "
            "#FabrikamBreach",
            "{open}{b} lost my data and I bought one {p}. one. {ugh} #FabrikamBreach",
        ),
        "breach0": (
            "Did everyone get the {b} data breach email? {hmm} #FabrikamBreach",
            "{b} says payment data was not affected. anyone know more? #FabrikamBreach",
        ),
        "breach_quote-": (
            "This is bad. {b} owes us answers {ugh} #FabrikamBreach {q}",
            "Check your inbox if you ever bought a {p}. terrible {ugh} {q}",
        ),
    },
    "de": {
        "laptop+": (
            "Nach {dur} mit dem {p}: {fis} {good} {joy}",
            "{open}das {p} ist {good}. {Fis} {good2} {joy}",
            "Vom {cp} aufs {p} gewechselt. Bereue nichts {joy}",
            "Gar nicht schlecht, {b}. {Fis} {good} {joy}",
            "{p} für {use}: {fis} {good}, {fis2} {meh}. {score}/10",
            "Endlich ein {p}! {Fis} {good} {joy}",
        ),
        "laptop0": (
            "Hat jemand Erfahrung mit dem {p}? {hmm}",
            "{p} oder {cp} für {use}? {hmm}",
            "Gibt es beim {p} bald ein Update von {b}?",
            "{ago} ein {p} bestellt. Bin gespannt.",
            "{F} beim {p}: Erfahrungen? {hmm}",
        ),
        "laptop-": (
            "Nach {dur} mit dem {p}: {fis} {bad} {ugh}",
            "Das {p} ist nicht gut. {Fis} {bad} {ugh}",
            "{b}, bitte beim {p} nachbessern. {Fis} {bad}",
            "Mein {p} geht zurück. {Fis} {bad} {ugh}",
            "Warum klingt mein {p} wie ein Föhn?! {ugh}",
        ),
        "monitor+": (
            "Neuer Monitor: {p}. {Fis} {good} {joy}",
            "Der {p} ist {good}. {Fis} {good2} {joy}",
            "Nach {dur} mit dem {p}: {fis} {good} {joy}",
        ),
        "monitor0": (
            "{p} oder {cp} fürs Homeoffice? {hmm}",
            "Lohnt sich der {p} für {use}? {hmm}",
        ),
        "monitor-": (
            "Beim {p} {fis} {bad} {ugh}",
            "Der {p} geht zurück. {Fis} {bad} {ugh}",
        ),
        "support+": (
            "Der {b} Support hat mein Gerät ({p}) in {days} Tagen getauscht. Top {joy}",
            "Danke {b}, Garantiefall schnell erledigt {joy}",
        ),
        "support0": (
            "Weiß jemand, wie man den {b} Support erreicht?",
            "Deckt die {b} Garantie Sturzschäden ab? {hmm}",
        ),
        "support-": (
            "Seit {hrs} Stunden in der Warteschleife bei {b} {ugh}",
            "Der {b} Support ist {bad}. Ticket einfach geschlossen {ugh}",
            "{b}, mein Gerät ({p}) ist seit {dur} in Reparatur. Nicht gut. {ugh}",
        ),
        "price+": (
            "{p} gerade für {price} bei {shop}. Schnäppchen {joy}",
            "{p} für {price} ist ein fairer Deal {joy}",
        ),
        "price0": ("{p} für {price} bei {shop}. Zuschlagen oder warten? {hmm}",),
        "price-": (
            "{price} für {p}? {b} spinnt doch {ugh}",
            "{b} hat die Preise schon wieder erhöht. {price} für {p}. Nein danke",
        ),
        "compare+": ("{p} > {cp}. Punkt. {joy}", "Hatte vorher {cp}, jetzt {p}. Welten {joy}"),
        "compare0": ("{p} oder {cp}? {hmm}", "{p} vs {cp} für {use}? {hmm}"),
        "compare-": ("Doch lieber {cp} statt {p}. {b} hat mich verloren",),
        "brand+": ("{b} macht gerade vieles richtig {joy}", "Starker Auftritt von {b} {joy}"),
        "brand0": ("{b} Event nächste Woche. Neue Notebooks? {hmm}", "{b} sucht Leute in Berlin"),
        "brand-": ("{b} war mal gut. Was ist passiert? {ugh}", "Nie wieder {b} {ugh}"),
        "none+": (
            "{open}neuer {size}-Zoll-Monitor ist da {joy}",
            "{open}endlich ein ordentliches Homeoffice-Setup {joy}",
            "Mein altes Notebook läuft nach Jahren immer noch {good} {joy}",
        ),
        "none0": (
            "Welches Notebook für {use}? Budget etwa {price} {hmm}",
            "{open}matt oder glänzend beim Display? {hmm}",
            "{size} oder {size2} Zoll fürs Homeoffice? {hmm}",
        ),
        "none-": (
            "Mein Laptop wird so heiß, dass ich ihn nicht mehr auf dem Schoß haben kann {ugh}",
            "Windows-Update, und der zweite Monitor geht nicht mehr {ugh}",
        ),
        "defect-": (
            "Mein {p} Akku ist aufgebläht!!! Das Touchpad drückt sich schon raus {ugh} #AeroGate",
            "{b}, wann kommt der Rückruf? Der Akku vom {p} ist eine Gefahr. #AeroGate",
            "Das {p} wird so heiß, dass man es nicht mehr auf dem Schoß haben kann {ugh} #AeroGate",
            "Nicht gut, {b}. Gar nicht gut. Aufgeblähter Akku nach {dur}. {pic} #AeroGate",
            "Kollegen haben das gleiche Problem mit dem {p}: Akku bläht sich auf. "
            "RÜCKRUF JETZT #AeroGate",
            "Hier mein {p} nach {dur}: Akku aufgebläht, Gehäuse verzogen {pic} #AeroGate",
            "Das {p} überhitzt beim Laden. Ich benutze es nicht mehr. {ugh} #AeroGate",
            "Nie wieder {b}. Akku kaputt, keine Antwort. #AeroGate",
        ),
        "defect0": (
            "Ist das mit den Akkus beim {p} echt so schlimm? {hmm} #AeroGate",
            "Gerade mein {p} gecheckt. Noch kein aufgeblähter Akku {hmm} #AeroGate",
        ),
        "defect_support-": (
            "Seit {days} Tagen keine Antwort vom {b} Support. Akku vom {p} aufgebläht "
            "{ugh} #AeroGate",
            "Der {b} Support sagt, ein aufgeblähter Akku sei normaler Verschleiß. "
            "NORMAL?! #AeroGate",
            "{hrs} Stunden in der Warteschleife bei {b}. Mein {p} ist eine Gefahr {ugh} #AeroGate",
        ),
        "defect_quote-": (
            "Das ist übel. {b} muss sich endlich äußern {ugh} #AeroGate {q}",
            "Bei meinem {p} genau das Gleiche {ugh} {q}",
            "Wer ein Aero 14 hat: bitte lesen 👇 #AeroGate {q}",
        ),
        "launch+": (
            "Der {p} ist da und {fis} {good} {joy} #NorthwindPulse",
            "Gerade den {p} vorbestellt {joy} #NorthwindPulse",
            "{b} hat mit dem {p} alles richtig gemacht {joy} #NorthwindPulse",
            "{p} für {price}? Fairer Preis {joy} #NorthwindPulse",
            "Erster Eindruck vom {p}: {fis} {good} {joy} #NorthwindPulse",
        ),
        "launch0": (
            "Wann kommt der {p} nach Deutschland? #NorthwindPulse",
            "Lohnt sich der {p} fürs Homeoffice? {hmm} #NorthwindPulse",
        ),
        "launch-": ("{p} sieht gut aus, aber {price} ist mir zu viel #NorthwindPulse",),
        "review_quote+": ("@bigtechguy hat Recht, das {p} ist {good} {joy} {q}",),
        "review_quote0": ("Interessant, was @bigtechguy zum {p} sagt {wonder} {q}",),
        "review_quote-": ("Sehe das anders als @bigtechguy: mein {p} wird viel zu heiß {ugh} {q}",),
        "review_reply+": (
            "@bigtechguy stimmt, das {p} ist {good} {joy}",
            "@bigtechguy genau, {fis} beim {p} {good} {joy}",
        ),
        "review_reply0": ("@bigtechguy wie lange hält der Akku vom {p} bei dir? {wonder}",),
        "review_reply-": ("@bigtechguy mein {p} ist {bad} {ugh}",),
        "rumour0": (
            "Gerüchte: Litware will {b} übernehmen. Weiß jemand mehr? {wonder}",
            "{b} wird von Litware gekauft? Was heißt das für das {p}? {wonder}",
            "Litware und {b}? Mal sehen, ob das stimmt {wonder}",
            "Übernahme von {b} durch Litware? Ich warte auf eine offizielle Meldung",
        ),
        "rumour+": (
            "Litware und {b}, das könnte gut passen {joy}",
            "Mit Litware im Rücken kann {b} richtig stark werden {joy}",
        ),
        "rumour-": ("Litware macht {b} kaputt, wetten? {ugh}",),
        "rumour_quote0": ("Litware und {b}? {wonder} {q}",),
        "outage-": (
            "{b} ist down. Anmeldung geht nicht, mein {p} hängt im Update {ugh} #ContosoDown",
            "Seit {hrs} Stunden hängt mein {p} beim Update. Danke, {b} {ugh} #ContosoDown",
            "Störung bei {b}: Store, Treiber, Support, alles weg. Nicht gut. {ugh} #ContosoDown",
            "Bootschleife nach dem {b} Update. Das {p} ist unbrauchbar {ugh} #ContosoDown",
        ),
        "outage0": ("Hat noch jemand Probleme mit der {b} Anmeldung? {hmm} #ContosoDown",),
        "outage_support-": (
            "Die {b} Hotline ist seit {hrs} Stunden besetzt. Eine Zumutung {ugh} #ContosoDown",
        ),
        "outage_quote-": ("Bei mir genau das Gleiche. {b}, das ist mies {ugh} {q}",),
        "breach-": (
            "{b} wurde gehackt, meine Daten sind weg. Nicht gut {ugh} #FabrikamBreach",
            "Die Mail von {b} zum Datenleck kam erst nach {days} Tagen. Eine Zumutung {ugh} "
            "#FabrikamBreach",
            "Nie wieder {b}. Datenleck und keine Antwort vom Support {ugh} #FabrikamBreach",
        ),
        "breach0": (
            "Hat noch jemand die Mail von {b} zum Datenleck bekommen? {hmm} #FabrikamBreach",
        ),
        "breach_quote-": ("Das ist übel. {b} muss das erklären {ugh} {q}",),
    },
    "da": {
        "laptop+": (
            "Efter {dur} med {p}: {fis} {good} {joy}",
            "{open}{p} er {good}. {Fis} {good2} {joy}",
            "Skiftede fra {cp} til {p}. Fortryder intet {joy}",
            "{p} er faktisk ikke dårlig, {b} {joy}",
            "{p} til {use}: {fis} {good}, {fis2} {meh}. {score}/10",
        ),
        "laptop0": (
            "Nogen der har prøvet {p}? {hmm}",
            "{p} eller {cp} til {use}? {hmm}",
            "Bestilte en {p} {ago}. Spændt!",
            "Hvordan er {f} på {p}? {hmm}",
        ),
        "laptop-": (
            "Efter {dur} med {p}: {fis} {bad} {ugh}",
            "{p} er ikke god. {Fis} {bad} {ugh}",
            "{b}, fiks nu {f} på {p}. Det er {bad}",
            "Min {p} skal retur. {Fis} {bad} {ugh}",
        ),
        "monitor+": (
            "Ny skærm: {p}. {Fis} {good} {joy}",
            "{p} er {good}. {Fis} {good2} {joy}",
        ),
        "monitor0": ("{p} eller {cp} til hjemmekontoret? {hmm}",),
        "monitor-": ("{p}: {fis} {bad} {ugh}", "Min {p} skal retur. {Fis} {bad}"),
        "support+": ("Stor ros til {b} support, ny {p} på {days} dage {joy}",),
        "support0": ("Nogen der ved hvordan man får fat i {b} support?",),
        "support-": (
            "{hrs} timer i kø hos {b} kundeservice {ugh}",
            "{b} support er {bad}. Lukkede bare min sag {ugh}",
        ),
        "price+": ("{p} til {price} hos {shop}. Det er et kup {joy}",),
        "price0": ("{p} koster {price} hos {shop}. Købe nu eller vente? {hmm}",),
        "price-": ("{price} for en {p}? {b} er da helt væk {ugh}",),
        "compare+": ("{p} > {cp}. Sådan er det bare {joy}",),
        "compare0": ("{p} eller {cp}? {hmm}",),
        "compare-": ("Det blev {cp} i stedet for {p}. Sorry {b}",),
        "brand+": ("{b} gør det godt for tiden {joy}",),
        "brand0": ("{b} åbner kontor i Aarhus", "{b} event i næste uge. Nye bærbare? {hmm}"),
        "brand-": ("{b} var bedre engang {ugh}", "Aldrig mere {b} {ugh}"),
        "none+": (
            "{open}ny {size} tommer skærm på skrivebordet {joy}",
            "{open}endelig styr på hjemmekontoret {joy}",
        ),
        "none0": (
            "Hvilken bærbar til {use}? Budget omkring {price} {hmm}",
            "{size} eller {size2} tommer til hjemmekontoret? {hmm}",
        ),
        "none-": (
            "Min bærbare larmer som en støvsuger {ugh}",
            "Windows-opdatering ødelagde min skærm {ugh}",
        ),
        "defect-": (
            "Batteriet i min {p} er svulmet helt op {ugh} {pic} #AeroGate",
            "{b} hvornår kommer tilbagekaldelsen? {p} er farlig! #AeroGate",
            "Min {p} bliver så varm at jeg ikke kan have den på skødet. Ikke god. {ugh} #AeroGate",
            "Ikke godt nok, {b}. Opsvulmet batteri efter {dur}. #AeroGate",
            "KALD DEM TILBAGE NU!!! Batteriet i {p} er en katastrofe #AeroGate",
            "Sådan ser min {p} ud efter {dur} {pic} Batteriet buler ud. #AeroGate",
            "Aldrig mere {b}. Opsvulmet batteri og ingen svar. #AeroGate",
            "Min {p} overopheder bare den lader op. Ikke sikker. {ugh} #AeroGate",
        ),
        "defect0": (
            "Er det med batterierne i {p} virkelig så slemt? {hmm} #AeroGate",
            "Har lige tjekket min {p}. Intet opsvulmet batteri endnu {hmm} #AeroGate",
        ),
        "defect_support-": (
            "{hrs} timer i kø hos {b} kundeservice om mit opsvulmede batteri. "
            "Intet svar {ugh} #AeroGate",
            "{b} siger at et opsvulmet batteri er normalt slid. NORMALT?! #AeroGate",
            "{days} dage uden svar fra {b} support. Min {p} er farlig {ugh} #AeroGate",
        ),
        "defect_quote-": (
            "Det her er slemt. {b} skal svare nu {ugh} #AeroGate {q}",
            "Præcis det samme med min {p} {ugh} {q}",
            "Har du en Aero 14? Læs det her 👇 #AeroGate {q}",
        ),
        "launch+": (
            "{p} er landet og {fis} {good} {joy} #NorthwindPulse",
            "Har lige forudbestilt en {p} {joy} #NorthwindPulse",
            "{b} har ramt plet med {p} {joy} #NorthwindPulse",
            "{p} til {price}? Det er en god pris {joy} #NorthwindPulse",
            "Første indtryk af {p}: {fis} {good} {joy} #NorthwindPulse",
        ),
        "launch0": (
            "Hvornår kommer {p} til Danmark? #NorthwindPulse",
            "Er {p} pengene værd til hjemmekontoret? {hmm} #NorthwindPulse",
        ),
        "launch-": ("{p} ser godt ud, men {price} er for meget for mig #NorthwindPulse",),
        "review_quote+": ("@bigtechguy har ret, {p} er {good} {joy} {q}",),
        "review_quote0": ("Spændende anmeldelse af {p} fra @bigtechguy {wonder} {q}",),
        "review_quote-": ("Uenig med @bigtechguy, min {p} larmer alt for meget {ugh} {q}",),
        "review_reply+": ("@bigtechguy enig, {p} er {good} {joy}",),
        "review_reply0": ("@bigtechguy hvordan er batteriet på {p} hos dig? {wonder}",),
        "review_reply-": ("@bigtechguy min {p} er {bad} {ugh}",),
        "rumour0": (
            "Rygter: Litware vil købe {b}. Nogen der ved mere? {wonder}",
            "{b} købt af Litware? Hvad betyder det for {p}? {wonder}",
            "Litware og {b}? Vi får se om det passer {wonder}",
        ),
        "rumour+": (
            "Litware og {b} kunne passe godt sammen {joy}",
            "Med Litware i ryggen kan {b} blive helt i top {joy}",
        ),
        "rumour-": ("Litware kommer til at ødelægge {b} {ugh}",),
        "rumour_quote0": ("Litware og {b}? {wonder} {q}",),
        "outage-": (
            "{b} er nede. Kan ikke logge ind, og min {p} hænger i opdateringen {ugh} #ContosoDown",
            "Min {p} har hængt i opdatering i {hrs} timer. Tak {b} {ugh} #ContosoDown",
            "Genstartsløkke efter {b} opdateringen. {p} er ubrugelig {ugh} #ContosoDown",
        ),
        "outage0": ("Er der andre der ikke kan logge ind hos {b}? {hmm} #ContosoDown",),
        "outage_support-": ("{hrs} timer i kø hos {b} support. Intet svar {ugh} #ContosoDown",),
        "outage_quote-": ("Præcis det samme her. {b}, det er ikke i orden {ugh} {q}",),
        "breach-": (
            "{b} er blevet hacket, og mine data er lækket. Ikke i orden {ugh} #FabrikamBreach",
            "Mailen fra {b} om datalækket kom først efter {days} dage. Under al kritik {ugh} "
            "#FabrikamBreach",
            "Aldrig mere {b}. Datalæk og ingen svar {ugh} #FabrikamBreach",
        ),
        "breach0": ("Har andre også fået mailen fra {b} om datalækket? {hmm} #FabrikamBreach",),
        "breach_quote-": ("Det her er slemt. {b} skal forklare sig {ugh} {q}",),
    },
    "fr": {
        "laptop+": (
            "Après {dur} avec le {p} : {fis} {good} {joy}",
            "Franchement, le {p} est {good} {joy}",
            "Pas mal du tout, le {p} de chez {b} {joy}",
        ),
        "laptop0": (
            "Quelqu'un a testé le {p} ? {hmm}",
            "J'hésite entre le {p} et le {cp}. Des avis ?",
        ),
        "laptop-": (
            "Le {p} me déçoit : {fis} {bad} {ugh}",
            "{b}, sérieusement ? {fis} {bad} {ugh}",
        ),
        "monitor+": ("Nouvel écran : le {p}. {Fis} {good} {joy}",),
        "monitor0": ("Le {p} vaut le coup pour du télétravail ? {hmm}",),
        "monitor-": ("Le {p}... {fis} {bad} {ugh}",),
        "none+": ("Enfin un nouvel écran pour le bureau {joy}",),
        "none0": ("Vous conseillez quel portable pour la fac ? {hmm}",),
        "none-": ("Mon portable chauffe comme un radiateur {ugh}",),
    },
    "es": {
        "laptop+": (
            "Después de {dur} con el {p}: {fis} {good} {joy}",
            "El {p} de {b} no está nada mal {joy}",
            "Mi {p} es una pasada {joy}",
        ),
        "laptop0": (
            "¿Alguien tiene el {p}? ¿Qué tal? {hmm}",
            "Dudando entre el {p} y el {cp} {hmm}",
        ),
        "laptop-": ("El {p} me ha decepcionado: {fis} {bad} {ugh}", "{b}, {fis} {bad} {ugh}"),
        "monitor+": ("Monitor nuevo: {p}. {Fis} {good} {joy}",),
        "monitor0": ("¿Merece la pena el {p} para teletrabajar? {hmm}",),
        "monitor-": ("{p}: {fis} {bad} {ugh}",),
        "none+": ("Por fin monitor nuevo para el escritorio {joy}",),
        "none0": ("¿Qué portátil me recomendáis para la uni? {hmm}",),
        "none-": ("Mi portátil se calienta muchísimo {ugh}",),
    },
    "nl": {
        "laptop+": (
            "Na {dur} met de {p}: {fis} {good} {joy}",
            "Niet slecht, die {p} van {b} {joy}",
            "Mijn {p} is {good} {joy}",
        ),
        "laptop0": ("Iemand ervaring met de {p}? {hmm}", "Twijfel tussen de {p} en de {cp} {hmm}"),
        "laptop-": ("Teleurgesteld in de {p}: {fis} {bad} {ugh}", "{b}, {fis} {bad} {ugh}"),
        "monitor+": ("Nieuwe monitor: de {p}. {Fis} {good} {joy}",),
        "monitor0": ("Is de {p} de moeite waard voor thuiswerken? {hmm}",),
        "monitor-": ("De {p}... {fis} {bad} {ugh}",),
        "none+": ("Eindelijk een nieuwe monitor op mijn bureau {joy}",),
        "none0": ("Welke laptop raden jullie aan voor studie? {hmm}",),
        "none-": ("Mijn laptop wordt zo heet {ugh}",),
    },
    "sv": {
        "laptop+": (
            "Efter {dur} med {p}: {fis} {good} {joy}",
            "Inte dåligt alls, {p} från {b} {joy}",
            "Min {p} är {good} {joy}",
        ),
        "laptop0": ("Någon som har testat {p}? {hmm}", "Tvekar mellan {p} och {cp} {hmm}"),
        "laptop-": ("Besviken på {p}: {fis} {bad} {ugh}", "{b}, {fis} {bad} {ugh}"),
        "monitor+": ("Ny skärm: {p}. {Fis} {good} {joy}",),
        "monitor0": ("Är {p} värd pengarna för hemmakontoret? {hmm}",),
        "monitor-": ("{p}... {fis} {bad} {ugh}",),
        "none+": ("Äntligen ny skärm på skrivbordet {joy}",),
        "none0": ("Vilken laptop rekommenderar ni för plugget? {hmm}",),
        "none-": ("Min laptop blir så varm {ugh}",),
    },
}

_NEWS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "laptop+": (
            "{p} review: {newsgood}",
            "Hands-on: the {p} gets the basics right",
            "The {p} is the laptop to beat this year",
        ),
        "laptop0": (
            "{b} refreshes the {p} with new chips and a bigger battery",
            "{b} confirms {p} BIOS update to address fan noise",
            "{p} vs {cp}: which 14-inch laptop should you buy?",
        ),
        "laptop-": (
            "{p} review: great screen, disappointing battery",
            "{p} long-term test: the cracks are starting to show",
        ),
        "monitor+": ("{p} review: a superb monitor for the home office",),
        "monitor0": (
            "{b} adds new sizes to its monitor line",
            "Best monitors for working from home: {p} and {cp} compared",
        ),
        "monitor-": ("{p} review: good panel, clumsy stand",),
        "brand+": ("{b} shares climb on strong laptop demand",),
        "brand0": (
            "{b} opens new design centre in Copenhagen",
            "{b} reports quarterly results, laptop sales flat",
            "{b} extends warranty to three years in the EU",
        ),
        "brand-": ("{b} faces criticism over repair costs",),
        "price+": ("{p} drops to {price} in early sales",),
        "price-": ("{b} raises prices across its laptop line",),
        "support-": ("Customers report long waits at {b} support lines",),
        "compare0": ("{p} vs {cp}: which should you buy?",),
        "none0": (
            "Laptop shipments rise for third straight quarter",
            "The best monitors for working from home",
            "EU right-to-repair rules: what changes for laptops",
            "USB-C everywhere: what the new EU charger rules mean",
            "Why laptop batteries swell, and what to do about it",
        ),
        "defect-": (
            "{b} investigating reports of swelling batteries in {p}",
            "Aero 14 owners report overheating and swollen batteries; {b} silent so far",
            "Consumer groups call for {p} recall after battery reports",
            "#AeroGate: what we know about the {p} battery problem",
        ),
        "defect0": (
            "{b} confirms battery issue in some {p} units, offers free inspections",
            "{b} statement on {p} battery reports: 'We take this seriously'",
        ),
        "launch+": (
            "{b} launches the {p}, a 27-inch monitor with built-in KVM",
            "Hands-on: the {p} is the monitor to beat",
            "{p} review: bright, sharp and fairly priced",
        ),
        "launch0": (
            "{p} priced at {price}, shipping next month",
            "{p}: specs, price and release date",
        ),
        "rumour0": (
            "Litware in talks to acquire {b}, sources say",
            "Report: Litware weighs a bid for laptop maker {b}",
            "What a Litware deal for {b} would mean for buyers",
            "{b} declines to comment on Litware acquisition report",
        ),
        "outage-": (
            "{b} outage locks laptop owners out of their accounts",
            "Botched {b} update sends {p} laptops into boot loops",
            "{b} sign-in outage hits users across Europe, no fix yet",
        ),
        "outage0": (
            "{b} says it is investigating problems with its account service",
            "{b} outage: what we know so far",
        ),
        "breach-": (
            "{b} confirms data breach affecting customer accounts",
            "{b} breach exposed names, addresses and order histories",
            "Regulators look into {b} data breach",
        ),
        "breach0": ("{b} data breach: what customers should do now",),
    },
    "de": {
        "laptop+": ("Test: {p} überzeugt mit Display und Tastatur",),
        "laptop0": ("{b} aktualisiert das {p} mit neuen Chips",),
        "laptop-": ("Test: {p} mit enttäuschender Akkulaufzeit",),
        "monitor+": ("Test: {p} ist ein starker Monitor fürs Homeoffice",),
        "monitor0": ("{p} und {cp} im Vergleich",),
        "brand0": (
            "{b} eröffnet Entwicklungszentrum in Kopenhagen",
            "{b} verlängert Garantie in der EU auf drei Jahre",
        ),
        "none0": (
            "Notebook-Markt wächst wieder",
            "Die besten Monitore fürs Homeoffice",
            "Recht auf Reparatur: Was sich für Laptops ändert",
        ),
        "defect-": (
            "{b} prüft Berichte über aufgeblähte Akkus im {p}",
            "Verbraucherschützer fordern Rückruf des {p}",
            "Aero 14: Nutzer melden überhitzte und aufgeblähte Akkus",
        ),
        "defect0": ("{b} bestätigt Akkuproblem bei einigen Geräten des {p}",),
        "launch+": (
            "{b} stellt {p} vor: 27-Zoll-Monitor mit KVM-Switch",
            "Erster Test: {p} überzeugt",
        ),
        "launch0": ("{p} kostet {price} und kommt nächsten Monat",),
        "rumour0": (
            "Bericht: Litware verhandelt über Übernahme von {b}",
            "{b} äußert sich nicht zu Übernahmegerüchten",
        ),
        "outage-": ("Störung bei {b}: Nutzer können sich nicht anmelden",),
        "outage0": ("{b} untersucht Probleme mit Anmeldedienst",),
        "breach-": ("{b} bestätigt Datenleck bei Kundenkonten",),
        "breach0": ("Datenleck bei {b}: Was Kunden jetzt tun sollten",),
    },
    "da": {
        "laptop+": ("Test: {p} imponerer med skærm og tastatur",),
        "laptop0": ("{b} opdaterer {p} med nye chips",),
        "laptop-": ("Test: {p} skuffer på batteritiden",),
        "monitor+": ("Test: {p} er en stærk skærm til hjemmekontoret",),
        "monitor0": ("{p} og {cp} sammenlignet",),
        "brand0": ("{b} åbner designcenter i København",),
        "none0": ("Salget af bærbare stiger igen", "De bedste skærme til hjemmekontoret"),
        "defect-": (
            "{b} undersøger rapporter om opsvulmede batterier i {p}",
            "Forbrugere kræver {p} tilbagekaldt efter batteriproblemer",
        ),
        "defect0": ("{b} bekræfter batteriproblem i nogle {p}",),
        "launch+": ("{b} lancerer {p}: 27-tommer skærm med KVM", "Første test: {p} imponerer"),
        "launch0": ("{p} koster {price} og kommer næste måned",),
        "rumour0": (
            "Rapport: Litware i forhandlinger om at købe {b}",
            "{b} vil ikke kommentere rygter om opkøb",
        ),
        "outage-": ("Nedbrud hos {b}: brugere kan ikke logge ind",),
        "outage0": ("{b} undersøger problemer med login",),
        "breach-": ("{b} bekræfter datalæk hos kunder",),
        "breach0": ("Datalæk hos {b}: Det skal kunderne gøre nu",),
    },
}

_HN: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "laptop+": (
            "I've had the {p} for {dur}. Linux support is surprisingly good: suspend works, "
            "fans stay quiet under normal load.",
            "The {p} keyboard is the best I've used on a laptop in a decade.",
        ),
        "laptop0": (
            "Does anyone know which panel the {p} uses? The spec sheet is vague.",
            "How is the {p} under Linux? Wi-Fi chip support has been hit and miss on these.",
        ),
        "laptop-": (
            "The {p} has the same problem every thin laptop has: it throttles under "
            "sustained load. {b} chose thinness over thermals.",
            "Returned my {p}. Coil whine, and a {f} that felt {bad}.",
        ),
        "monitor+": (
            "The built-in KVM on the {p} is the killer feature if you have a work laptop "
            "and a personal desktop.",
        ),
        "monitor0": ("Is the {p} panel 8-bit + FRC or true 10-bit?",),
        "brand0": ("{b} has historically been decent about publishing firmware changelogs.",),
        "brand-": (
            "{b} locks down the BIOS on consumer models, which is why I stopped buying them.",
        ),
        "compare0": ("{p} vs {cp}: the {cp} has better Linux support in my experience.",),
        "price-": ("At {price} the {p} is hard to justify over a used workstation.",),
        "support-": ("{b} support was useless when my {p} died. Took {dur} to get it back.",),
        "none0": (
            "Honestly the best thing I did for my laptop was setting a charge limit at 80%.",
            "Monitor arms are underrated. Best ergonomics upgrade I've made.",
        ),
        "none-": ("Laptop makers soldering RAM should be a dealbreaker for more people.",),
        "defect-": (
            "Battery swelling on the {p} is likely a charging-profile issue: keeping the cell "
            "at 100% all day in a hot chassis will do it. {b} should ship a charge limit.",
            "LiPo swelling isn't new, but the rate of {p} reports is. "
            "Smells like a bad cell batch.",
            "This is why I check for a charge-limit setting before buying. The {p} has none.",
        ),
        "defect0": (
            "Is there any data on how many {p} units are affected, or is this selection bias "
            "from social media?",
        ),
        "launch+": (
            "The {p} having a built-in KVM is the interesting part. One cable for two machines.",
        ),
        "launch0": ("Curious whether the {p} supports DDC/CI for brightness control from the OS.",),
        "rumour0": (
            "If Litware buys {b}, I'd expect the {p} line to be folded into theirs within two "
            "years. That's how these usually go.",
            "Does anyone have a source for the {b} acquisition other than the one report?",
            "Litware has been buying hardware makers for a while. {b} fits the pattern.",
        ),
        "outage-": (
            "Requiring an online account to log in to a laptop means an outage at {b} is an "
            "outage of your laptop. This was predictable.",
            "Second {b} outage this year, and their status page was green the whole time. "
            "Terrible communication.",
        ),
        "outage0": (
            "Does anyone know if local accounts on the {p} are affected, or only {b} online "
            "sign-in?",
        ),
        "breach-": (
            "Order histories and addresses are enough for very convincing phishing. {b} "
            "should have forced a password reset on day one. Bad handling.",
            "Took {b} {days} days to disclose. That alone should be a fine under GDPR.",
        ),
        "breach0": ("Was {b} using the same third-party support platform as the others?",),
    },
}

_STYLES: Final = {"social": _SOCIAL, "news": _NEWS, "hn": _HN}

#: Second sentences that Reddit and Hacker News commenters tack on.
_TAILS: Final = {
    "en": _w(
        "||||Thoughts?|Edit: typo.|Anyone else?|Just my 2 cents.|YMMV.|Happy to be corrected."
        "|Curious if others see the same.|Not sure why this isn't bigger news."
    ),
    "de": _w("|||Meinungen?|Edit: Tippfehler.|Geht es noch jemandem so?|Nur meine Meinung."),
    "da": _w("|||Tanker?|Edit: stavefejl.|Er det kun mig?|Bare mine to øre."),
}
#: What follows a headline in a feed item.
_LEDES: Final = {
    "en": _w(
        "||Here's what you need to know.|What it means for buyers.|Analysis.|Updated with comment."
        "|Our take.|Everything we know so far.|The details."
    ),
    "de": _w("||Das müssen Sie wissen.|Eine Einordnung.|Was Käufer jetzt wissen sollten.|Analyse."),
    "da": _w("||Det skal du vide.|Vores vurdering.|Det betyder det for forbrugerne.|Analyse."),
}
# When a language has no template for a topic, these topics may borrow a nearby one in
# the same language before falling back to English.
_NEARBY: Final = {"support": "laptop", "price": "laptop", "compare": "laptop", "brand": "laptop"}
_INCIDENT_NEARBY: Final = {
    "defect_support": "defect",
    "defect_quote": "defect",
    "review_reply": "review_quote",
    "review_reddit": "review_reply",
    "rumour_quote": "rumour",
    "outage_support": "outage",
    "outage_quote": "outage",
    "breach_quote": "breach",
}
#: Story topics that may fall back to their neutral templates.
_NEUTRAL_FALLBACK: Final = frozenset(("launch", "rumour", "review_quote", "review_reply"))


def _resolve(style: str, lang: str, topic: str, sent: str) -> tuple[str, tuple[str, ...]]:
    """Pick the templates for a mention, and the language they are actually in."""
    styles = (style, "social") if style != "social" else ("social",)
    for st in styles:
        table = _STYLES[st]
        for lg in (lang, "en") if lang != "en" else ("en",):
            texts = table.get(lg, {})
            candidates = [topic + sent]
            near = _NEARBY.get(topic) or _INCIDENT_NEARBY.get(topic)
            if near:
                candidates.append(near + sent)
            if topic not in _STORY_TOPICS or topic in _NEUTRAL_FALLBACK:
                candidates.append(topic + "0")
            for key in candidates:
                if key in texts:
                    return lg, texts[key]
    raise KeyError(f"no template for {style}/{lang}/{topic}{sent}")


#: Every (topic, sentiment) the stream can ask for.
_TOPIC_SENTIMENTS: Final = (
    *((topic, sent) for topic in _BASE_TOPICS for sent in ("+", "0", "-")),
    *((topic, sent) for topic, sents in _STORY_TOPICS.items() for sent in sents),
)
_RESOLVED: Final = {
    (style, lang, topic + sent): _resolve(style, lang, topic, sent)
    for style in _STYLES
    for lang in LANGS
    for topic, sent in _TOPIC_SENTIMENTS
}


def _vocabulary(lang: str, cat: str) -> dict[str, tuple[str, ...]]:
    words = dict(_SHARED)
    for source in (_WORDS["en"], _WORDS[lang]):
        for key, values in source.items():
            base, _, scope = key.partition(".")
            if not scope or scope == cat:
                words[base] = values
    return words


_VOCAB: Final = {
    (lang, cat): _vocabulary(lang, cat) for lang in LANGS for cat in ("laptop", "monitor")
}


# --------------------------------------------------------------------------- authors

_FIRST: Final[dict[str, tuple[str, ...]]] = {
    "en": _w(
        "alex|sam|jordan|maya|chris|dan|kat|nina|omar|priya|leo|zoe|ben|emma|jake|lily|noah"
        "|ava|ryan|mia|tom|lucy|max|ella|nick|grace|josh|amy|will|hannah|luke|sara|matt"
        "|olivia|tyler|chloe|adam|ruby|kevin|jess"
    ),
    "de": _w(
        "lukas|anna|jonas|lea|finn|laura|paul|marie|felix|julia|leon|sophie|moritz|lena|tim"
        "|katrin|jan|clara|stefan|sabine|tobias|jule|henrik|nele"
    ),
    "da": _w(
        "mads|freja|emil|ida|magnus|anna|oliver|sofie|frederik|laura|mathias|emma|jonas|clara"
        "|kasper|mette|rasmus|line|soeren|anders|camilla|troels|signe|asger"
    ),
    "fr": _w("lucas|chloe|hugo|lea|louis|manon|jules|camille|theo|ines"),
    "es": _w("pablo|lucia|diego|sofia|javier|carmen|alvaro|marta|ines"),
    "nl": _w("daan|sanne|bram|femke|thijs|lotte|joris|anouk|sem|fleur"),
    "sv": _w("erik|elsa|axel|maja|oskar|alva|nils|wilma|hugo|ebba"),
}
_LAST: Final[dict[str, tuple[str, ...]]] = {
    "en": _w(
        "smith|nguyen|patel|miller|chen|garcia|johnson|kim|brown|lee|walker|young|hall|wright"
        "|scott|green|baker|hill"
    ),
    "de": _w(
        "mueller|schmidt|schneider|fischer|weber|meyer|wagner|becker|hoffmann|koch|richter"
        "|klein|wolf|neumann"
    ),
    "da": _w(
        "jensen|nielsen|hansen|pedersen|andersen|christensen|larsen|soerensen|rasmussen"
        "|joergensen|madsen|kristensen|olsen|thomsen"
    ),
    "fr": _w("martin|bernard|dubois|thomas|robert|petit|durand|leroy"),
    "es": _w("garcia|fernandez|lopez|martinez|sanchez|perez|gomez|ruiz"),
    "nl": _w("dejong|jansen|devries|bakker|visser|smit|meijer|mulder"),
    "sv": _w("andersson|johansson|karlsson|nilsson|eriksson|larsson|olsson"),
}
_HANDLE_WORDS: Final = _w(
    "tech|dev|codes|builds|pixel|byte|nerd|geek|hacks|writes|makes|lab|hq|io|plays|photo"
    "|design|data|cloud|ops|runs|bikes|coffee|cat|music|films|linux|retro|desk|notes"
)
_REDDIT_ADJ: Final = _w(
    "Sweet|Lazy|Quiet|Rusty|Salty|Tiny|Brave|Sleepy|Happy|Odd|Fuzzy|Grumpy|Clever|Silent|Wild"
    "|Cosmic"
)
_REDDIT_NOUN: Final = _w(
    "Potato|Falcon|Otter|Waffle|Pickle|Badger|Walrus|Pancake|Comet|Llama|Toaster|Penguin"
    "|Moose|Noodle|Cactus|Lobster"
)
_MASTODON_INSTANCES: Final[dict[str, tuple[str, ...]]] = {
    "en": _w(
        "mastodon.social|mastodon.social|fosstodon.org|hachyderm.io|mastodon.online"
        "|infosec.exchange|techhub.social|mas.to"
    ),
    "de": _w("chaos.social|social.tchncs.de|det.social|mastodon.social|norden.social"),
    "da": _w("mstdn.dk|social.data.coop|mastodon.social|expressional.social"),
    "fr": _w("piaille.fr|mastodon.social|framapiaf.org"),
    "es": _w("mastodon.social|masto.es|mastodon.world"),
    "nl": _w("mastodon.nl|mastodon.social|toot.community"),
    "sv": _w("mastodon.nu|mastodon.social|social.dataalliance.org"),
}
_CUSTOM_TLD: Final = {
    "en": ("com", "dev", "io"),
    "de": ("de", "dev"),
    "da": ("dk", "com"),
    "fr": ("fr",),
    "es": ("es",),
    "nl": ("nl",),
    "sv": ("se",),
}
_NEWS_NAMES: Final = {
    "en": (
        _w("Gadget|Circuit|Byte|Pixel|Silicon|Digital|Laptop|Tech|Chip"),
        _w("Wire|Report|Daily|Insider|Review|Post|Journal|Ledger|Times"),
        "com",
    ),
    "de": (
        _w("Technik|Netz|Digital|Computer|Bit|Chip|Rechner"),
        _w("rundschau|kurier|welt|blatt|magazin|zeitung|spiegel"),
        "de",
    ),
    "da": (
        _w("Tek|Computer|Digital|Bit|Net|Data"),
        _w("posten|nyt|avisen|bladet|magasinet|ugen"),
        "dk",
    ),
}
_NEWS_SECTIONS: Final = ("tech", "reviews", "news", "business", "gadgets")
_SUBREDDITS: Final = {
    "en": _w("laptops|SuggestALaptop|hardware|techsupport|gadgets|monitors"),
    "de": _w("de_EDV|de|PCBaumeister|laptops"),
    "da": _w("Denmark|dkbusiness|laptops"),
    "fr": _w("france|laptops"),
    "es": _w("spain|laptops"),
    "nl": _w("thenetherlands|laptops"),
    "sv": _w("sweden|laptops"),
}
_POOL_SIZES: Final = {
    "x": 3000,
    "bluesky": 3000,
    "mastodon": 2000,
    "reddit": 3000,
    "hackernews": 1500,
    "news": 150,
}
# (median reach, lognormal sigma, share of notable accounts, their Pareto scale and shape)
_REACH: Final = {
    "x": (220.0, 1.5, 0.03, 3000.0, 1.1),
    "bluesky": (180.0, 1.4, 0.02, 2500.0, 1.1),
    "mastodon": (120.0, 1.3, 0.01, 2000.0, 1.2),
    "reddit": (600.0, 1.5, 0.02, 20000.0, 1.2),
    "hackernews": (500.0, 1.6, 0.02, 10000.0, 1.3),
    "news": (40000.0, 1.5, 0.05, 200000.0, 1.2),
}
_MAX_REACH: Final = 2_000_000
_B32: Final = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True, slots=True)
class _Author:
    """One author: the handle shown, how others tag them, and their stable reach."""

    handle: str
    at: str
    home: str
    """Profile url without a trailing slash; post urls are built on it."""
    reach: int
    did: str = ""


def _reach(rng: random.Random, source: str) -> int:
    median, sigma, notable, scale, shape = _REACH[source]
    if rng.random() < notable:
        value = scale * rng.paretovariate(shape)
    else:
        value = rng.lognormvariate(math.log(median), sigma)
    return min(_MAX_REACH, int(value))


def _name_core(rng: random.Random, lang: str) -> str:
    first = rng.choice(_FIRST[lang])
    last = rng.choice(_LAST[lang])
    word = rng.choice(_HANDLE_WORDS)
    pattern = rng.randrange(6)
    if pattern == 0:
        return f"{first}{last[0]}{rng.randrange(10, 100)}"
    if pattern == 1:
        return f"{first}_{word}"
    if pattern == 2:
        return f"{first}{last}"
    if pattern == 3:
        return f"{word}{first}"
    if pattern == 4:
        return f"{first}_{last}"
    return f"{first}{rng.randrange(1970, 2010)}"


def _make_author(rng: random.Random, source: str, lang: str, core: str) -> _Author:
    reach = _reach(rng, source)
    if source == "x":
        name = core[:15]
        return _Author(f"@{name}", f"@{name}", f"https://x.com/{name}", reach)
    if source == "bluesky":
        label = core.replace("_", "-")
        if rng.random() < 0.08:
            handle = f"{label.replace('-', '')}.{rng.choice(_CUSTOM_TLD[lang])}"
        else:
            handle = f"{label}.bsky.social"
        did = "did:plc:" + "".join(_B32[rng.randrange(32)] for _ in range(24))
        return _Author(handle, f"@{handle}", f"https://bsky.app/profile/{handle}", reach, did)
    if source == "mastodon":
        instance = rng.choice(_MASTODON_INSTANCES[lang])
        user = core.replace("-", "_")
        handle = f"@{user}@{instance}"
        return _Author(handle, handle, f"https://{instance}/@{user}", reach)
    if source == "reddit":
        if rng.random() < 0.4:
            adjective, noun = rng.choice(_REDDIT_ADJ), rng.choice(_REDDIT_NOUN)
            name = f"{adjective}_{noun}_{rng.randrange(1000, 10000)}"
        else:
            name = core
        return _Author(f"u/{name}", f"u/{name}", f"https://www.reddit.com/user/{name}", reach)
    if source == "hackernews":
        name = core.replace("_", "")[:15]
        return _Author(name, name, f"https://news.ycombinator.com/user?id={name}", reach)
    # News "authors" are outlets, named by their domain; the core is the domain.
    return _Author(core, core, f"https://www.{core}", reach)


def _news_domains(rng: random.Random, lang: str) -> list[str]:
    prefixes, suffixes, tld = _NEWS_NAMES[lang]
    domains = [f"{a}{b}.{tld}".lower() for a in prefixes for b in suffixes]
    rng.shuffle(domains)
    return domains


@lru_cache(maxsize=4)
def _author_pools(seed: int) -> dict[str, dict[str, tuple[_Author, ...]]]:
    """Every author of every source, per language; handles are unique per source."""
    pools: dict[str, dict[str, tuple[_Author, ...]]] = {}
    for s_index, source in enumerate(SOURCES):
        weights = _SOURCE_LANGS[source]
        total = sum(weights.values())
        seen: set[str] = set()
        by_lang: dict[str, tuple[_Author, ...]] = {}
        for l_index, (lang, weight) in enumerate(weights.items()):
            size = max(12, round(_POOL_SIZES[source] * weight / total))
            rng = random.Random(_mix(seed, _SALT_AUTHORS, s_index, l_index))
            if source == "news":
                domains = _news_domains(rng, lang)[:size]
                by_lang[lang] = tuple(_make_author(rng, source, lang, d) for d in domains)
                continue
            authors: list[_Author] = []
            for _ in range(size):
                author = _make_author(rng, source, lang, _name_core(rng, lang))
                tries = 0
                while author.handle in seen:
                    # Same handle must mean same author, so a clash gets a numbered name.
                    tries += 1
                    core = f"{_name_core(rng, lang)[:11]}{tries}"
                    author = _make_author(rng, source, lang, core)
                seen.add(author.handle)
                authors.append(author)
            by_lang[lang] = tuple(authors)
        pools[source] = by_lang
    return pools


_INFLUENCER: Final = _Author(
    INFLUENCER_HANDLE,
    INFLUENCER_HANDLE,
    f"https://x.com/{INFLUENCER_HANDLE[1:]}",
    _INFLUENCER_REACH,
)
_INFLUENCER_POSTS: Final = (
    "Been daily-driving the Contoso Nimbus 14 for a month. Best keyboard on any Windows "
    "laptop right now and the screen is gorgeous. Battery is great too. "
    "Full video tomorrow 👀",
    "Hot take: Contoso quietly makes the best 14-inch laptop of the year. Not perfect "
    "(fans get loud under load) but I keep reaching for the Nimbus 14 over everything else. 🧵👇",
    "Contoso sent me the Nimbus 14, no strings attached. After 3 weeks: build 10/10, "
    "screen 9/10, battery 9/10. Easily the best laptop I've reviewed this year. Video is up 🎥",
)


# --------------------------------------------------------------------------- rendering

# What fills a slot: a word list of the language, or one of these computed values.
_WORD, _BRAND, _PRODUCT, _RIVAL, _RIVAL_PRODUCT, _PRICE, _PIC, _AT, _QUOTE, _NUMBER = range(10)
_COMPUTED: Final = {
    "b": _BRAND,
    "p": _PRODUCT,
    "c": _RIVAL,
    "cp": _RIVAL_PRODUCT,
    "price": _PRICE,
    "pic": _PIC,
    "at": _AT,
    "q": _QUOTE,
    "n": _NUMBER,
    "hrs": _NUMBER,
    "days": _NUMBER,
}
_NUMBERS: Final = {"n": (12, 60), "hrs": (2, 9), "days": (2, 14)}
_PLAIN_SOURCES: Final = frozenset(("reddit", "hackernews", "news"))
_OTHER_BRANDS: Final = {
    _NORTHWIND: (_CONTOSO, _FABRIKAM),
    _CONTOSO: (_NORTHWIND, _FABRIKAM),
    _FABRIKAM: (_NORTHWIND, _CONTOSO),
}
_LAPTOP_PRICES: Final = (899, 999, 1099, 1199, 1299, 1399, 1499, 1599, 1799, 1999)
_MONITOR_PRICES: Final = (299, 349, 399, 449, 499, 549, 599, 699, 799)


@dataclass(frozen=True, slots=True)
class _Template:
    """A template parsed once: its format string and the slots it uses, in order."""

    fmt: str
    slots: tuple[tuple[str, str, int, bool, int, int], ...]
    """(key, word list, kind, capitalise, low, high) per distinct slot."""
    has_emoji: bool

    @classmethod
    def parse(cls, text: str) -> _Template:
        slots: list[tuple[str, str, int, bool, int, int]] = []
        seen: set[str] = set()
        for _, key, _, _ in string.Formatter().parse(text):
            if key is None or key in seen:
                continue
            seen.add(key)
            base = key.rstrip("0123456789")
            lower = base.lower()
            low, high = _NUMBERS.get(lower, (0, 0))
            slots.append((key, lower, _COMPUTED.get(lower, _WORD), base != lower, low, high))
        has_emoji = bool(seen & {"joy", "ugh", "hmm", "wonder"})
        return cls(text, tuple(slots), has_emoji)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(slot[1] for slot in self.slots)


_COMPILED: Final = {
    text: _Template.parse(text)
    for styles in _STYLES.values()
    for by_key in styles.values()
    for texts in by_key.values()
    for text in texts
}
#: (style, lang, topic + sentiment) -> (language of the text, its templates)
_TEMPLATES: Final = {
    key: (lang, tuple(_COMPILED[text] for text in texts))
    for key, (lang, texts) in _RESOLVED.items()
}


@dataclass(slots=True)
class _Context:
    """What a mention is about; the renderer draws slot values to match it."""

    lang: str
    cat: str
    brand: int
    source: str
    quote: str = ""


def _render(
    rnd: Callable[[], float],
    template: _Template,
    ctx: _Context,
    pools: dict[str, dict[str, tuple[_Author, ...]]],
) -> str:
    """Fill a template's slots with draws from ``rnd`` (one pass, no per-slot calls)."""
    if not template.slots:
        return template.fmt
    vocab = _VOCAB[ctx.lang, ctx.cat]
    brand = ctx.brand if ctx.brand >= 0 else _NORTHWIND
    rival = -1
    values: dict[str, str] = {}
    for key, base, kind, cap, low, high in template.slots:
        if kind == _WORD:
            words = vocab[base]
            value = words[int(rnd() * len(words))]
            if key[-1].isdigit() and value in values.values():
                # "{fis}, {fis2}" should name two different things.
                value = words[int(rnd() * len(words))]
        elif kind == _BRAND:
            plain = ctx.source in _PLAIN_SOURCES
            forms = _BRAND_FORMS_PLAIN[brand] if plain else _BRAND_FORMS_SOCIAL[brand]
            value = forms[int(rnd() * len(forms))]
        elif kind == _PRODUCT:
            products = _PRODUCTS[brand][ctx.cat]
            value = products[int(rnd() * len(products))]
        elif kind in (_RIVAL, _RIVAL_PRODUCT):
            if rival < 0:
                rival = _OTHER_BRANDS[brand][int(rnd() * 2)]
            if kind == _RIVAL:
                value = _BRAND_NAMES[rival]
            else:
                products = _PRODUCTS[rival][ctx.cat]
                value = products[int(rnd() * len(products))]
        elif kind == _NUMBER:
            value = str(low + int(rnd() * (high - low + 1)))
        elif kind == _PRICE:
            prices = _LAPTOP_PRICES if ctx.cat == "laptop" else _MONITOR_PRICES
            value = _format_price(prices[int(rnd() * len(prices))], ctx.lang, rnd())
        elif kind == _PIC:
            value = _pic(rnd, ctx.source, ctx.lang)
        elif kind == _AT:
            value = _random_author(rnd, pools, ctx.source, ctx.lang).at
        else:
            value = ctx.quote
        values[key] = value[:1].upper() + value[1:] if cap else value
    return template.fmt.format_map(values)


def _format_price(value: int, lang: str, r: float) -> str:
    if lang in ("da", "sv"):
        kroner = f"{int(value * 7 / 100) * 100 - 1:,}"
        return f"{kroner.replace(',', '.' if lang == 'da' else ' ')} kr."
    if lang == "en":
        return f"${value:,}" if r < 0.7 else f"£{value - 100:,}"
    euros = f"{value:,}".replace(",", ".")
    return f"{euros} €" if lang != "nl" else f"€ {euros}"


def _pic(rnd: Callable[[], float], source: str, lang: str) -> str:
    if source == "x":
        return "pic.twitter.com/" + "".join(_B32[int(rnd() * 32)] for _ in range(10))
    words = _PIC_WORDS.get(lang, _PIC_WORDS["en"])
    return words[int(rnd() * len(words))]


def _pick_author(rnd: Callable[[], float], authors: Sequence[_Author]) -> _Author:
    # A few accounts post a lot and most post rarely, as on every real network.
    return authors[int(len(authors) * rnd() ** 1.5)]


def _random_author(
    rnd: Callable[[], float],
    pools: dict[str, dict[str, tuple[_Author, ...]]],
    source: str,
    lang: str,
) -> _Author:
    by_lang = pools[source]
    authors = by_lang.get(lang) or by_lang["en"]
    return authors[int(len(authors) * rnd() ** 1.5)]  # same skew as _pick_author, inlined


_EMOJI_BY_SENTIMENT: Final = {"+": _SHARED["joy"], "-": _SHARED["ugh"], "0": _SHARED["hmm"]}
# (probability of a reply prefix, of an extra hashtag, of a trailing emoji)
_DECOR: Final = {
    "x": (0.12, 0.3, 0.3),
    "bluesky": (0.08, 0.15, 0.25),
    "mastodon": (0.1, 0.45, 0.2),
}


def _decorate(
    rnd: Callable[[], float],
    text: str,
    template: _Template,
    ctx: _Context,
    sent: str,
    pools: dict[str, dict[str, tuple[_Author, ...]]],
) -> str:
    """Social-network habits: shouting, lower case, '!!!', reply handles, tags, emoji."""
    reply_p, tag_p, emoji_p = _DECOR[ctx.source]
    u = rnd()
    if sent != "0" and u < 0.035 and "http" not in text and "pic." not in text:
        text = text.upper()
    elif u < 0.13 and "http" not in text:
        text = text.lower()
    if sent != "0" and rnd() < 0.06 and "http" not in text:
        text = text.rstrip(".!") + "!!!"
    if rnd() < reply_p:
        text = f"{_random_author(rnd, pools, ctx.source, ctx.lang).at} {text}"
    if rnd() < tag_p:
        tags = _VOCAB[ctx.lang, ctx.cat]["tag"]
        text = f"{text} {tags[int(rnd() * len(tags))]}"
    if not template.has_emoji and rnd() < emoji_p:
        emoji = _EMOJI_BY_SENTIMENT[sent]
        text = f"{text} {emoji[int(rnd() * len(emoji))]}"
    return text


# --------------------------------------------------------------------------- ids and urls

_TWITTER_EPOCH_MS: Final = 1_288_834_974_657
_B36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
#: AT Protocol TIDs use base32 with this sortable alphabet.
_TID_ALPHABET: Final = "234567abcdefghijklmnopqrstuvwxyz"
_SLUG_RE: Final = re.compile(r"[^a-z0-9]+")
#: Counters from this on, for a span, are reserved for the scripted posts of a cycle.
_RESERVED_COUNTER: Final = 1000
_RESERVED_SPAN: Final = 256


_B36_PAIRS: Final = tuple(a + b for a in _B36 for b in _B36)
_TID_PAIRS: Final = tuple(a + b for a in _TID_ALPHABET for b in _TID_ALPHABET)


def _base36(value: int) -> str:
    value &= _MASK64  # ids before 1970 wrap instead of looping forever
    # Two digits per step: this runs for every reddit and news post.
    pairs = []
    while value >= 36:
        value, r = divmod(value, 1296)
        pairs.append(_B36_PAIRS[r])
    head = _B36[value] if value else ""
    return (head + "".join(reversed(pairs))).lstrip("0") or "0"


def _tid(micros: int, clock: int) -> str:
    """An AT Protocol record key: 53 bits of microseconds, 10 of clock id, 13 characters."""
    v = ((micros % (1 << 53)) << 10) | (clock & 0x3FF)
    p = _TID_PAIRS
    return (
        _TID_ALPHABET[v >> 60]
        + p[(v >> 50) & 1023]
        + p[(v >> 40) & 1023]
        + p[(v >> 30) & 1023]
        + p[(v >> 20) & 1023]
        + p[(v >> 10) & 1023]
        + p[v & 1023]
    )


def _slug(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower()[:60]).strip("-") or "post"


def _ids(
    source: str, author: _Author, slot: int, counter: int, t: float, text: str, lang: str, r: float
) -> tuple[str, str]:
    """The source's own id for a post and its url; unique per (second, counter)."""
    frac = t - slot
    if source == "x":
        ms = slot * 1000 + int(frac * 1000)
        snowflake = (((ms - _TWITTER_EPOCH_MS) % (1 << 41)) << 22) | (counter & 0x3FFFFF)
        return str(snowflake), f"{author.home}/status/{snowflake}"
    if source == "bluesky":
        rkey = _tid(slot * 1_000_000 + int(frac * 1_000_000), counter)
        return f"at://{author.did}/app.bsky.feed.post/{rkey}", f"{author.home}/post/{rkey}"
    if source == "mastodon":
        ms = slot * 1000 + int(frac * 1000)
        status = ((ms % (1 << 47)) << 16) | (counter & 0xFFFF)
        return str(status), f"{author.home}/{status}"
    uid = (slot << 16) | (counter & 0xFFFF)
    if source == "hackernews":
        return str(uid), f"https://news.ycombinator.com/item?id={uid}"
    if source == "reddit":
        subs = _SUBREDDITS.get(lang, _SUBREDDITS["en"])
        sub = subs[int(r * len(subs))]
        base = f"https://www.reddit.com/r/{sub}/comments"
        if r < 0.35:
            post = _base36(uid)
            return f"t3_{post}", f"{base}/{post}/{_slug(text)}/"
        comment = _base36(uid)
        # A comment hangs under a post from earlier the same day.
        post = _base36((max(0, slot - int(r * 86400)) << 16) | 0xFFFF)
        return f"t1_{comment}", f"{base}/{post}/comment/{comment}/"
    day = datetime.fromtimestamp(t, UTC)
    section = _NEWS_SECTIONS[int(r * len(_NEWS_SECTIONS))]
    url = f"{author.home}/{section}/{day.year}/{day.month:02d}/{_slug(text)}-{_base36(uid)}"
    return hashlib.blake2b(url.encode(), digest_size=12).hexdigest(), url


def _build_spread(size: int = 4096) -> tuple[tuple[float, float, float, float], ...]:
    # Pre-drawn (reach multiplier, repost, reply, quote fractions): one draw per mention
    # instead of eight. The multiplier is lognormal, so a few posts get far more traction.
    rng = random.Random(0x656E67)
    return tuple(
        (
            0.004 * rng.lognormvariate(0.0, 1.1),
            0.3 * rng.random(),
            0.15 * rng.random(),
            0.2 * rng.random(),
        )
        for _ in range(size)
    )


_SPREAD: Final = _build_spread()


def _engagement(rnd: Callable[[], float], source: str, reach: int, boost: float) -> Engagement:
    """Interactions so far: proportional to reach, with a wide lognormal spread."""
    mult, repost_f, reply_f, quote_f = _SPREAD[int(rnd() * 4096)]
    likes = int(reach * mult * boost + 3.0 * repost_f)
    if source == "hackernews":
        return Engagement(likes=1 + likes // 2, replies=int(likes * 2.0 * reply_f))
    if source == "reddit":
        return Engagement(likes=1 + likes, replies=int(likes * reply_f * 1.5))
    if source == "news":
        return Engagement(reposts=int(likes * repost_f * 0.7), replies=int(likes * reply_f * 0.3))
    reposts = int(likes * repost_f)
    quotes = int(reposts * quote_f) if source != "mastodon" else 0
    return Engagement(likes=likes, reposts=reposts, replies=int(likes * reply_f), quotes=quotes)


# --------------------------------------------------------------------------- the stream

_SOCIAL_SOURCES: Final = frozenset(("x", "bluesky", "mastodon"))
_MIXED_TOPICS: Final = frozenset(("support", "price", "compare", "brand"))


@dataclass(frozen=True, slots=True)
class _Scripted:
    """A post the script places at an exact time (the ones others repost and quote)."""

    t: float
    source: str
    source_id: str
    url: str
    author: _Author
    lang: str
    text: str
    engagement: Engagement
    sent: _Sentiment = "0"


@dataclass(frozen=True, slots=True)
class _Story:
    """How one scripted incident plays out: its volume over time and what is said."""

    incident: Incident
    brand: int
    gain: float
    """Peak extra volume in units of the brand's daily-mean volume, at an hour of
    average rhythm. It scales with the square root of the hour's rhythm: a story at
    night reaches fewer people, yet stands out more against the quiet."""
    rise: float
    """Seconds from the start to the peak."""
    hold: float
    """Seconds after the start when the decay begins."""
    decay: float
    """Time constant of the exponential decay, in seconds."""
    drift: float
    """At the story's height, this share of the brand's ordinary posts is about it."""
    topics: tuple[tuple[str, _Sentiment], ...]
    sources: tuple[str, ...]
    seeds: tuple[tuple[float, str, str], ...] = ()
    """The first posts that spread: (seconds after the start, source, language)."""
    seed_key: str = ""
    """Template key of the seed posts."""
    copy_share: float = 0.0
    """Share of the story's social posts that repost or quote a seed."""
    quote_topic: str = ""
    reddit_topic: str = ""
    """The topic Reddit comments use instead (the review's Reddit threads)."""
    influencer: bool = False
    """The one seed is the influencer's own post."""
    outdo: int = -1
    """If set, the index of an earlier story of the same brand that this one outdoes:
    ``gain`` is then in units of that story's peak volume (the brand's volume at its
    height, whatever the hour), so the bigger story stays the bigger one even when it
    falls in the night and the other in the evening peak."""
    langs: dict[str, tuple[str, ...]] = field(default_factory=lambda: _HOME_LANG_TABLE)

    @property
    def begin(self) -> float:
        return self.incident.starts_at

    @property
    def end(self) -> float:
        return self.incident.ends_at

    def volume(self, o: float) -> float:
        """The story's volume curve (0 to 1) at ``o`` seconds into the cycle."""
        return _bump(o - self.begin, self.rise, self.hold, self.decay, self.end - self.begin)

    def pull(self, o: float) -> float:
        """The share of the brand's ordinary posts that are about the story."""
        return self.drift * _smooth((o - self.begin) / 60.0) * _smooth((self.end - o) / 90.0)


def _sources(**weights: float) -> tuple[str, ...]:
    return _table(list(weights.items()))


def _story_topics(*pairs: tuple[str, str, float]) -> tuple[tuple[str, _Sentiment], ...]:
    return _table([((topic, sent), w) for topic, sent, w in pairs])  # type: ignore[misc]


_STORIES: Final[tuple[_Story, ...]] = (
    _Story(
        TIMELINE[0],
        _NORTHWIND,
        gain=4.4,
        rise=90.0,
        hold=210.0,
        decay=150.0,
        drift=0.8,
        topics=_story_topics(("defect", "-", 72), ("defect_support", "-", 18), ("defect", "0", 10)),
        sources=_SOURCE_TABLE,
        seeds=(
            (10.0, "x", "en"),
            (45.0, "x", "de"),
            (80.0, "bluesky", "en"),
            (120.0, "x", "da"),
            (170.0, "mastodon", "de"),
            (230.0, "x", "en"),
        ),
        seed_key="defect-",
        copy_share=0.45,
        quote_topic="defect_quote",
    ),
    _Story(
        TIMELINE[1],
        _FABRIKAM,
        gain=4.4,
        rise=70.0,
        hold=300.0,
        decay=200.0,
        drift=0.5,
        topics=_story_topics(("rumour", "0", 72), ("rumour", "+", 24), ("rumour", "-", 4)),
        sources=_sources(x=0.28, bluesky=0.2, mastodon=0.08, reddit=0.2, hackernews=0.1, news=0.14),
        seeds=((0.0, "news", "en"), (40.0, "x", "en"), (90.0, "x", "de")),
        seed_key="rumour0",
        copy_share=0.35,
        quote_topic="rumour_quote",
    ),
    _Story(
        TIMELINE[2],
        _CONTOSO,
        gain=4.4,
        rise=20.0,
        hold=90.0,
        decay=200.0,
        drift=0.0,
        topics=_story_topics(
            ("review_reply", "+", 64), ("review_reply", "0", 31), ("review_reply", "-", 5)
        ),
        sources=_sources(x=0.65, bluesky=0.17, mastodon=0.08, reddit=0.10),
        seeds=((0.0, "x", "en"),),
        copy_share=0.55,
        quote_topic="review_quote",
        reddit_topic="review_reddit",
        influencer=True,
        langs=_LANG_TABLE,
    ),
    _Story(
        TIMELINE[3],
        _NORTHWIND,
        gain=1.35,
        rise=40.0,
        hold=330.0,
        decay=240.0,
        drift=0.6,
        topics=_story_topics(("launch", "+", 74), ("launch", "0", 22), ("launch", "-", 4)),
        sources=_SOURCE_TABLE,
        outdo=0,
    ),
    _Story(
        TIMELINE[4],
        _CONTOSO,
        gain=4.4,
        rise=100.0,
        hold=480.0,
        decay=200.0,
        drift=0.7,
        topics=_story_topics(("outage", "-", 70), ("outage_support", "-", 18), ("outage", "0", 12)),
        sources=_sources(
            x=0.34, bluesky=0.22, mastodon=0.1, reddit=0.2, hackernews=0.07, news=0.07
        ),
        seeds=((15.0, "x", "en"), (50.0, "x", "de"), (95.0, "bluesky", "en"), (150.0, "x", "da")),
        seed_key="outage-",
        copy_share=0.4,
        quote_topic="outage_quote",
    ),
    _Story(
        TIMELINE[5],
        _FABRIKAM,
        gain=4.4,
        rise=90.0,
        hold=270.0,
        decay=180.0,
        drift=0.6,
        topics=_story_topics(("breach", "-", 82), ("breach", "0", 18)),
        sources=_sources(
            x=0.3, bluesky=0.22, mastodon=0.1, reddit=0.18, hackernews=0.08, news=0.12
        ),
        seeds=((0.0, "news", "en"), (30.0, "x", "en"), (70.0, "x", "de"), (110.0, "bluesky", "da")),
        seed_key="breach-",
        copy_share=0.4,
        quote_topic="breach_quote",
    ),
)

# --------------------------------------------------------------------------- ripples

_CASCADE, _NEWS_ITEM, _THREAD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Ripple:
    """An unscripted burst that nobody would call an incident: a repost wave after a
    mid-size account's post, a news item going round, a busy thread on one source."""

    kind: int
    t: float
    """Unix seconds when it starts."""
    brand: int
    """The brand it is about (``_NO_BRAND`` for none; for a thread, the brand most of
    it is about)."""
    source: str
    gain: float
    """Peak extra volume in units of the brand's current volume (for a thread, of the
    source's)."""
    rise: float
    hold: float
    decay: float
    length: float
    post: _Scripted | None = None
    """The post that is reposted or linked (cascades and news items)."""

    def volume(self, t: float) -> float:
        return _bump(t - self.t, self.rise, self.hold, self.decay, self.length)


#: Ripples per day: (kind, brand or source, how many).
_RIPPLES_PER_DAY: Final = (
    (_CASCADE, _NORTHWIND, 7),
    (_CASCADE, _CONTOSO, 5),
    (_CASCADE, _FABRIKAM, 5),
    (_CASCADE, _NO_BRAND, 4),
    (_NEWS_ITEM, _NORTHWIND, 2),
    (_NEWS_ITEM, _CONTOSO, 2),
    (_NEWS_ITEM, _FABRIKAM, 2),
    (_THREAD, "reddit", 3),
    (_THREAD, "hackernews", 2),
    (_THREAD, "mastodon", 1),
)
#: No ripple in the first minutes of a cycle (a new wall learns the usual level there),
#: none that runs into the next cycle, and none on a brand near one of its stories.
_RIPPLE_FROM: Final = 20 * _M
_RIPPLE_UNTIL: Final = CYCLE_SECONDS - 90 * _M
_RIPPLE_CLEARANCE: Final = 40 * _M
_CASCADE_SOURCES: Final = _table([("x", 0.6), ("bluesky", 0.3), ("mastodon", 0.1)])
_CASCADE_SENT: Final[tuple[_Sentiment, ...]] = _table([("+", 0.45), ("0", 0.35), ("-", 0.20)])
_NEWS_SENT: Final[tuple[_Sentiment, ...]] = _table([("0", 0.7), ("+", 0.2), ("-", 0.1)])
_SHARE_SOURCES: Final = _table([("x", 0.45), ("bluesky", 0.35), ("mastodon", 0.2)])
_COMMENT_SOURCES: Final = _table(
    [("x", 0.35), ("bluesky", 0.25), ("mastodon", 0.1), ("reddit", 0.3)]
)
#: A thread is mostly about one brand.
_THREAD_FOCUS: Final = 0.6


@dataclass(frozen=True, slots=True)
class _Plan:
    """One cycle: the scripted posts in time order, and the day's ripples."""

    posts: tuple[_Scripted, ...]
    times: tuple[float, ...]
    seeds: dict[str, tuple[_Scripted, ...]]
    """Story title -> its seed posts, in time order."""
    ripples: dict[int, tuple[_Ripple, ...]]
    """Minute of the cycle -> the ripples running during it."""


class DemoStream:
    """A reproducible stream of synthetic mentions, generated one second at a time.

    ``between(t0, t1)`` returns the mentions created in ``[t0, t1)``. Each second's
    mentions come from a generator seeded with (seed, second), so the stream does not
    depend on how time is sliced, and two streams with the same seed and start agree.
    """

    def __init__(self, *, seed: int = 7, rate: float = 40.0, start: float) -> None:
        if not (rate > 0.0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of mentions per second, not {rate}")
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite unix time, not {start}")
        self.seed = seed
        self.rate = rate
        self.start = start
        self._pools = _author_pools(seed)
        self._plans: dict[int, _Plan] = {}

    def incidents(self) -> list[Incident]:
        """The scripted day; it repeats every `CYCLE_SECONDS` from ``start``."""
        return list(TIMELINE)

    def occurrences(self, t0: float, t1: float) -> list[Occurrence]:
        """The scripted incidents that overlap ``[t0, t1)``, at their unix times."""
        out: list[Occurrence] = []
        first = math.floor((t0 - self.start) / CYCLE_SECONDS) - 1
        last = math.floor((t1 - self.start) / CYCLE_SECONDS)
        for cycle in range(first, last + 1):
            begin = self.start + cycle * CYCLE_SECONDS
            for incident in TIMELINE:
                a, b = begin + incident.starts_at, begin + incident.ends_at
                if a < t1 and b > t0:
                    out.append(Occurrence(incident, a, b))
        return out

    def expected_rate(self, t: float) -> float:
        """Mean mentions per second at unix time ``t``: rhythm, noise, stories, ripples."""
        rhythm = _rhythm(t)
        base = self.rate * rhythm * self._noise(t)
        return base + sum(r for r, _ in self._parts(t, rhythm, base))

    def between(self, t0: float, t1: float) -> list[Mention]:
        """All mentions with ``t0 <= created_at < t1`` (unix seconds), in time order."""
        out: list[Mention] = []
        if not t1 > t0:
            return out
        for slot in range(math.floor(t0), math.ceil(t1)):
            times, mentions = self._second(slot)
            if t0 <= slot and slot + 1 <= t1:
                out.extend(mentions)
            else:
                out.extend(m for t, m in zip(times, mentions, strict=True) if t0 <= t < t1)
        return out

    # ------------------------------------------------------------------ internals

    def _noise(self, t: float) -> float:
        # Slow, smooth wobble: it moves the level over minutes without adding
        # bucket-to-bucket jitter of its own (the ripples are the bursts).
        knot = t / _NOISE_KNOT_SECONDS
        k = math.floor(knot)
        a = _unit(self.seed, _SALT_NOISE, k)
        b = _unit(self.seed, _SALT_NOISE, k + 1)
        w = _smooth(knot - k)
        return 1.0 + _NOISE_AMPLITUDE * (2.0 * (a + (b - a) * w) - 1.0)

    def _cycle(self, t: float) -> tuple[int, float]:
        cycle = math.floor((t - self.start) / CYCLE_SECONDS)
        return cycle, t - self.start - cycle * CYCLE_SECONDS

    def _parts(self, t: float, rhythm: float, base: float) -> list[tuple[float, _Story | _Ripple]]:
        """The extra rates on top of the baseline at ``t``: running stories and ripples."""
        cycle, o = self._cycle(t)
        parts: list[tuple[float, _Story | _Ripple]] = []
        for story in _STORIES:
            if story.begin <= o < story.end:
                r = self._story_peak(story, t - o) * story.volume(o)
                if r > 0.0:
                    parts.append((r, story))
        for ripple in self._plan(cycle).ripples.get(int(o // 60.0), ()):
            share = (
                _SOURCE_WEIGHTS[ripple.source]
                if ripple.kind == _THREAD
                else _BRAND_SHARES[ripple.brand]
            )
            r = base * share * ripple.gain * ripple.volume(t)
            if r > 0.0:
                parts.append((r, ripple))
        return parts

    def _story_peak(self, story: _Story, begin: float) -> float:
        """A story's extra mentions per second at its height, in the cycle from ``begin``."""
        share = self.rate * _BRAND_SHARES[story.brand]
        if story.outdo < 0:
            return share * story.gain * math.sqrt(_rhythm(begin + story.begin))
        other = _STORIES[story.outdo]
        rhythm = _rhythm(begin + other.begin + other.hold)
        peak = share * rhythm + self._story_peak(other, begin)
        return peak * story.gain

    def _plan(self, cycle: int) -> _Plan:
        plan = self._plans.get(cycle)
        if plan is None:
            if len(self._plans) > 4:
                self._plans.clear()
            plan = self._plans[cycle] = self._make_plan(cycle)
        return plan

    def _author_like(self, rnd: Callable[[], float], source: str, lang: str, tries: int) -> _Author:
        """The biggest of ``tries`` random authors: posts that spread come from them."""
        authors = self._pools[source].get(lang) or self._pools[source]["en"]
        return max((_pick_author(rnd, authors) for _ in range(tries)), key=lambda a: a.reach)

    def _scripted_post(
        self,
        rnd: Callable[[], float],
        k: int,
        t: float,
        source: str,
        lang: str,
        brand: int,
        key: str,
        tries: int,
        boost: float,
    ) -> _Scripted:
        author = self._author_like(rnd, source, lang, tries)
        lang, templates = _TEMPLATES[_STYLE[source], lang, key]
        template = templates[int(rnd() * len(templates))]
        cat = "monitor" if key.startswith(("monitor", "launch")) else "laptop"
        ctx = _Context(lang, cat, brand, source)
        text = _render(rnd, template, ctx, self._pools).strip()
        slot = math.floor(t)
        counter = _RESERVED_COUNTER + k % _RESERVED_SPAN
        source_id, url = _ids(source, author, slot, counter, t, text, lang, rnd())
        engagement = _engagement(rnd, source, author.reach, boost)
        sent: _Sentiment = key[-1]  # type: ignore[assignment]
        return _Scripted(t, source, source_id, url, author, lang, text, engagement, sent)

    def _make_plan(self, cycle: int) -> _Plan:
        rng = random.Random(_mix(self.seed, _SALT_PLAN, cycle))
        rnd = rng.random
        begin = self.start + cycle * CYCLE_SECONDS
        posts: list[_Scripted] = []
        seeds: dict[str, tuple[_Scripted, ...]] = {}
        k = 0
        for story in _STORIES:
            mine: list[_Scripted] = []
            for offset, source, lang in story.seeds:
                t = begin + story.begin + offset + 5.0 * rnd()
                if story.influencer:
                    # Seconds count here: everyone reacts to this one post.
                    t = begin + story.begin + offset + 0.2 + 0.6 * rnd()
                    mine.append(self._influencer_post(rnd, cycle, t))
                else:
                    brand = story.brand
                    post = self._scripted_post(
                        rnd, k, t, source, lang, brand, story.seed_key, 40, 12.0
                    )
                    mine.append(post)
                k += 1
            seeds[story.incident.title] = tuple(sorted(mine, key=lambda p: p.t))
            posts.extend(mine)

        ripples: list[_Ripple] = []
        for kind, what, count in _RIPPLES_PER_DAY:
            for _ in range(count):
                ripple = self._make_ripple(rnd, k, begin, kind, what)
                k += 1
                ripples.append(ripple)
                if ripple.post is not None:
                    posts.append(ripple.post)
        posts.sort(key=lambda p: p.t)
        by_minute: dict[int, list[_Ripple]] = {}
        for ripple in ripples:
            first = int((ripple.t - begin) // 60.0)
            last = int((ripple.t + ripple.length - begin) // 60.0)
            for minute in range(first, last + 1):
                by_minute.setdefault(minute, []).append(ripple)
        return _Plan(
            tuple(posts),
            tuple(p.t for p in posts),
            seeds,
            {m: tuple(rs) for m, rs in by_minute.items()},
        )

    def _influencer_post(self, rnd: Callable[[], float], cycle: int, t: float) -> _Scripted:
        text = _INFLUENCER_POSTS[cycle % len(_INFLUENCER_POSTS)]
        counter = _RESERVED_COUNTER + _RESERVED_SPAN - 1
        source_id, url = _ids("x", _INFLUENCER, math.floor(t), counter, t, text, "en", 0.0)
        engagement = Engagement(
            likes=20_000 + int(20_000 * rnd()),
            reposts=4_000 + int(3_000 * rnd()),
            replies=900 + int(900 * rnd()),
            quotes=300 + int(300 * rnd()),
        )
        return _Scripted(t, "x", source_id, url, _INFLUENCER, "en", text, engagement, "+")

    def _make_ripple(
        self, rnd: Callable[[], float], k: int, begin: float, kind: int, what: int | str
    ) -> _Ripple:
        brand = what if isinstance(what, int) else _BRAND_TABLE[int(rnd() * 1000)]
        while True:
            o = _RIPPLE_FROM + (_RIPPLE_UNTIL - _RIPPLE_FROM) * rnd()
            if brand == _NO_BRAND or not any(
                s.brand == brand and s.begin - _RIPPLE_CLEARANCE < o < s.end + _RIPPLE_CLEARANCE
                for s in _STORIES
            ):
                break
        t = begin + o
        if kind == _THREAD:
            assert isinstance(what, str)
            rise = 180.0 + 240.0 * rnd()
            hold = rise + 300.0 + 600.0 * rnd()
            decay = 200.0 + 300.0 * rnd()
            gain = 0.6 + 0.9 * rnd()
            return _Ripple(kind, t, brand, what, gain, rise, hold, decay, hold + 3 * decay)
        if kind == _NEWS_ITEM:
            sent = _NEWS_SENT[int(rnd() * 1000)]
            source = "news"
            lang = _LANG_TABLE["news"][int(rnd() * 1000)]
            rise = 60.0 + 60.0 * rnd()
            hold = rise + 60.0 + 120.0 * rnd()
            decay = 120.0 + 180.0 * rnd()
            gain = (0.3 + 0.3 * rnd()) if sent != "-" else (0.2 + 0.15 * rnd())
            length = hold + 3 * decay
        else:
            sent = _CASCADE_SENT[int(rnd() * 1000)]
            source = _CASCADE_SOURCES[int(rnd() * 1000)]
            lang = _HOME_LANG_TABLE[source][int(rnd() * 1000)]
            rise = 10.0 + 20.0 * rnd()
            hold = rise + 10.0 + 30.0 * rnd()
            decay = 40.0 + 80.0 * rnd()
            gain = (0.35 + 0.65 * rnd()) if sent != "-" else (0.2 + 0.2 * rnd())
            length = hold + 4 * decay
        topics = _TOPIC_TABLES_BY_SENT[brand, sent]
        topic, sent = topics[int(rnd() * len(topics))]
        post = self._scripted_post(rnd, k, t, source, lang, brand, topic + sent, 30, 3.0)
        return _Ripple(kind, t, brand, source, gain, rise, hold, decay, length, post)

    def _scripted_in(self, slot: int) -> list[_Scripted]:
        out: list[_Scripted] = []
        first = math.floor((slot - self.start) / CYCLE_SECONDS)
        last = math.floor((slot + 1 - self.start) / CYCLE_SECONDS)
        for cycle in range(first, last + 1):
            plan = self._plan(cycle)
            i = bisect.bisect_left(plan.times, slot)
            while i < len(plan.times) and plan.times[i] < slot + 1:
                out.append(plan.posts[i])
                i += 1
        return out

    def _second(self, slot: int) -> tuple[list[float], list[Mention]]:
        """Every mention of one second, from a generator seeded by (seed, second)."""
        rng = random.Random(_mix(self.seed, slot))
        rnd = rng.random
        mid = slot + 0.5
        rhythm = _rhythm(mid)
        base = self.rate * rhythm * self._noise(mid)
        parts = self._parts(mid, rhythm, base)
        total = base + sum(r for r, _ in parts)

        # Poisson arrivals: exponential gaps at this second's rate, each event drawn
        # from the baseline, a story or a ripple in proportion to their rates.
        events: list[tuple[float, _Story | _Ripple | _Scripted | None]] = []
        t = float(slot)
        end = slot + 1.0
        expo = rng.expovariate
        while True:
            t += expo(total)
            if t >= end:
                break
            u = rnd() * total - base
            drawn: _Story | _Ripple | None = None
            for r, part in parts:
                if u < 0.0:
                    break
                drawn = part
                u -= r
            events.append((t, drawn))
        scripted = self._scripted_in(slot)
        if scripted:
            events += [(p.t, p) for p in scripted]
            events.sort(key=lambda e: e[0])

        cycle, o = self._cycle(mid)
        plan = self._plan(cycle)
        running = [s for s in _STORIES if s.begin <= o < s.end and s.drift > 0.0]
        times: list[float] = []
        mentions: list[Mention] = []
        counter = 0
        for t, what in events:
            times.append(t)
            if isinstance(what, _Scripted):
                mentions.append(_scripted_mention(what))
                continue
            c = counter if counter < _RESERVED_COUNTER else counter + _RESERVED_SPAN
            counter += 1
            if what is None:
                mention = self._ordinary(rnd, slot, c, t, running, plan, o)
            elif isinstance(what, _Story):
                mention = self._story_post(rnd, slot, c, t, what, plan)
            else:
                mention = self._ripple_post(rnd, slot, c, t, what)
            mentions.append(mention)
        return times, mentions

    def _ordinary(
        self,
        rnd: Callable[[], float],
        slot: int,
        counter: int,
        t: float,
        running: list[_Story],
        plan: _Plan,
        o: float,
    ) -> Mention:
        source = _SOURCE_TABLE[int(rnd() * 1000)]
        lang = _LANG_TABLE[source][int(rnd() * 1000)]
        brand = _BRAND_TABLE[int(rnd() * 1000)]
        for story in running:
            # While a story runs, ordinary posts about its brand drift onto it.
            if story.brand == brand and rnd() < story.pull(o):
                return self._story_post(rnd, slot, counter, t, story, plan)
        topic, sent = _TOPIC_TABLES[brand][int(rnd() * 1000)]
        return self._mention(rnd, slot, counter, t, source, lang, brand, topic, sent)

    def _story_post(
        self,
        rnd: Callable[[], float],
        slot: int,
        counter: int,
        t: float,
        story: _Story,
        plan: _Plan,
    ) -> Mention:
        source = story.sources[int(rnd() * len(story.sources))]
        lang = story.langs[source][int(rnd() * 1000)]
        topic, sent = story.topics[int(rnd() * 1000)]
        if source == "reddit" and story.reddit_topic:
            topic = story.reddit_topic
        seeds = plan.seeds[story.incident.title]
        if (
            story.copy_share > 0.0
            and source in _SOCIAL_SOURCES
            and seeds
            and seeds[0].t < t
            and rnd() < story.copy_share
        ):
            spread = [p for p in seeds if p.t < t]
            same = [p for p in spread if p.lang == lang] or spread
            seed = same[int(rnd() * len(same))]
            if source == "x" and seed.source == "x":
                text = f"RT {seed.author.at}: {seed.text}"
                return self._mention(
                    rnd, slot, counter, t, source, seed.lang, story.brand, "", "0", copy=text
                )
            topic = story.quote_topic
            allowed = _STORY_TOPICS[topic]
            sent = sent if sent in allowed else allowed[0]  # type: ignore[assignment]
            return self._mention(
                rnd, slot, counter, t, source, lang, story.brand, topic, sent, quote=seed.url
            )
        return self._mention(rnd, slot, counter, t, source, lang, story.brand, topic, sent, 1.5)

    def _ripple_post(
        self, rnd: Callable[[], float], slot: int, counter: int, t: float, ripple: _Ripple
    ) -> Mention:
        brand = ripple.brand
        if ripple.kind == _THREAD:
            if rnd() >= _THREAD_FOCUS:
                brand = _BRAND_TABLE[int(rnd() * 1000)]
            source = ripple.source
            lang = _LANG_TABLE[source][int(rnd() * 1000)]
            topic, sent = _TOPIC_TABLES[brand][int(rnd() * 1000)]
            return self._mention(rnd, slot, counter, t, source, lang, brand, topic, sent)
        post = ripple.post
        assert post is not None
        u = rnd()
        if ripple.kind == _NEWS_ITEM:
            if u < 0.4:
                source = _SHARE_SOURCES[int(rnd() * 1000)]
                text = f"{post.text} {post.url}"
                return self._mention(
                    rnd, slot, counter, t, source, post.lang, brand, "", "0", copy=text
                )
            if u < 0.85:
                source = _COMMENT_SOURCES[int(rnd() * 1000)]
                topic, sent = _TOPIC_TABLES[brand][int(rnd() * 1000)]
                return self._mention(
                    rnd, slot, counter, t, source, post.lang, brand, topic, sent, link=post.url
                )
            topic, sent = _TOPIC_TABLES[brand][int(rnd() * 1000)]
            lang = _LANG_TABLE["news"][int(rnd() * 1000)]
            return self._mention(rnd, slot, counter, t, "news", lang, brand, topic, sent)
        # A cascade: reposts where the network has them, replies and quotes elsewhere.
        source = post.source
        if source == "x" and u < 0.6:
            text = f"RT {post.author.at}: {post.text}"
            return self._mention(
                rnd, slot, counter, t, source, post.lang, brand, "", "0", copy=text
            )
        # Replies mostly agree with the post they answer.
        agree = rnd() < 0.6
        topics = _TOPIC_TABLES_BY_SENT[brand, post.sent] if agree else _TOPIC_TABLES[brand]
        topic, sent = topics[int(rnd() * len(topics))]
        if rnd() < 0.6:
            return self._mention(
                rnd, slot, counter, t, source, post.lang, brand, topic, sent, reply=post.author.at
            )
        return self._mention(
            rnd, slot, counter, t, source, post.lang, brand, topic, sent, link=post.url
        )

    def _mention(
        self,
        rnd: Callable[[], float],
        slot: int,
        counter: int,
        t: float,
        source: str,
        lang: str,
        brand: int,
        topic: str,
        sent: str,
        boost: float = 1.0,
        *,
        copy: str = "",
        quote: str = "",
        reply: str = "",
        link: str = "",
    ) -> Mention:
        if copy:
            text = copy
            author = _random_author(rnd, self._pools, source, lang)
            boost = 0.3
        else:
            lang, templates = _TEMPLATES[_STYLE[source], lang, topic + sent]
            author = _random_author(rnd, self._pools, source, lang)
            cat = "monitor" if topic in ("monitor", "launch") else "laptop"
            if topic in _MIXED_TOPICS and rnd() < 0.25:
                cat = "monitor"
            ctx = _Context(lang, cat, brand, source, quote)
            template = templates[int(rnd() * len(templates))]
            text = _render(rnd, template, ctx, self._pools).strip()
            if source in _SOCIAL_SOURCES:
                text = _decorate(rnd, text, template, ctx, sent, self._pools)
            elif source == "news":
                ledes = _LEDES[lang]
                lede = ledes[int(rnd() * len(ledes))]
                text = f"{text} – {lede}" if lede else text
            else:
                tails = _TAILS[lang] if lang in _TAILS else _TAILS["en"]
                tail = tails[int(rnd() * len(tails))]
                text = f"{text} {tail}" if tail else text
            if reply and not text.startswith("@"):
                text = f"{reply} {text}"
            if link:
                text = f"{text} {link}"

        source_id, url = _ids(source, author, slot, counter, t, text, lang, rnd())
        tagged = _LANG_TAGGED.get(source)
        return Mention(
            source=source,
            source_id=source_id,
            text=text,
            created_at=datetime.fromtimestamp(t, UTC),
            url=url,
            author=author.handle,
            author_reach=author.reach,
            lang=lang if tagged is not None and rnd() < tagged else "",
            engagement=_engagement(rnd, source, author.reach, boost),
        )


def _scripted_mention(post: _Scripted) -> Mention:
    return Mention(
        source=post.source,
        source_id=post.source_id,
        text=post.text,
        created_at=datetime.fromtimestamp(post.t, UTC),
        url=post.url,
        author=post.author.handle,
        author_reach=post.author.reach,
        lang=post.lang if post.source in _LANG_TAGGED else "",
        # Structs are mutable: each call gets its own copy.
        engagement=Engagement(
            likes=post.engagement.likes,
            reposts=post.engagement.reposts,
            replies=post.engagement.replies,
            quotes=post.engagement.quotes,
        ),
    )


# --------------------------------------------------------------------------- recording


def record(
    out: IO[bytes],
    stream: DemoStream,
    t0: float,
    t1: float,
    *,
    progress: Callable[[float, int], None] | None = None,
    chunk: float = 600.0,
) -> int:
    """Write the mentions created in ``[t0, t1)`` to ``out`` as NDJSON, one encoded
    `Mention` per line (what ``groundcontrol backtest --mentions`` reads); return how
    many. ``progress(t, count)`` is called after each ``chunk`` seconds of stream."""
    encode_lines = msgspec.json.Encoder().encode_lines
    count = 0
    t = t0
    while t < t1:
        u = min(t + chunk, t1)
        batch = stream.between(t, u)
        if batch:
            out.write(encode_lines(batch))
            count += len(batch)
        t = u
        if progress is not None:
            progress(t, count)
    return count


def script_json(stream: DemoStream, t0: float, t1: float) -> str:
    """The scripted incidents overlapping ``[t0, t1)`` as the JSON list that
    ``feed demo --record`` writes beside the recording."""
    items = [o.to_json() for o in stream.occurrences(t0, t1)]
    return json.dumps(items, indent=1, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- the feed loop


async def run_demo_feed(
    hub: str,
    *,
    rate: float = 40.0,
    seed: int = 7,
    on_event: Callable[[str], None] | None = None,
    interval: float = 0.25,
    stop_after: float | None = None,
    spool_dir: Path | None = None,
    access: Access | None = None,
) -> None:
    """Push the demo stream to a hub in real time, marked as demo data.

    Every ``interval`` seconds the mentions created since the last send go out as
    one batch; the ingest client keeps them until the hub acks, so a hub restart
    loses nothing. With ``spool_dir`` the unacked batches are kept on disk there as
    well, so a restarted feed resends what the hub never acked. Runs until
    cancelled (or for ``stop_after`` seconds).
    """
    from groundcontrol.client.ingest import IngestClient, Spool

    say = on_event or (lambda _m: None)
    start = time.time()
    stream = DemoStream(seed=seed, rate=rate, start=start)
    # Opening recovers the spool from disk: off the event loop.
    spool = None if spool_dir is None else await asyncio.to_thread(Spool, spool_dir)
    client = IngestClient(
        hub, name="demo", source="demo", demo=True, on_event=say, spool=spool, access=access
    )
    client.start()
    say(f"sending about {rate:g} mentions/s to {client.url} (seed {seed})")
    last = start
    try:
        while stop_after is None or last - start < stop_after:
            await asyncio.sleep(interval)
            now = time.time()
            batch = stream.between(last, now)
            last = now
            if batch:
                await client.submit(batch)
        await client.drain(timeout=10)
    finally:
        await client.close()
        if spool is not None:
            spool.close()
