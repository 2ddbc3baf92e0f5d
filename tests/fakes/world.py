"""A world of fake sources for trying Ground Control by hand, every feed live at once.

    .venv/bin/python -m tests.fakes.world --dir /tmp/gcworld [--rate 3] [--hub-port 8765]

It starts the fake of every source the hub has an adapter for on 127.0.0.1 (free
ports) and keeps a steady trickle of posts about the brands of config/default.toml
(Northwind, ours; Contoso and Fabrikam, competitors) coming on all of them, as the
real services show new posts: new Jetstream events (with the firehose's unrelated
posts and likes, and the odd delete), new Mastodon statuses on the hashtag streams and
timelines, new Reddit posts in search, new Hacker News hits, new RSS and Atom entries
(with fresh ETags) on a blog, a magazine, a Google Alerts and a Google News feed, new
lines on the X filtered stream (and in recent search), and every few seconds a signed
batch POSTed by a listening vendor to the hub's ``/webhooks/webhook``. Posts praise,
complain, ask for support or just report, a few of them in German or Danish; in all
roughly ``--rate`` posts a second.

It writes ``DIR/world.toml`` (a hub config with one feed per adapter pointed at the
fakes, including a replay of ``DIR/replay.ndjson``) and ``DIR/world.env`` (the
credentials the config names, fake values the fakes accept, and the hub's tokens),
then runs until SIGINT or SIGTERM::

    source DIR/world.env
    groundcontrol hub --config DIR/world.toml &
    groundcontrol wall

The fakes take the ports an earlier world in DIR had when they are free (so a running
hub carries on after a restart of the world), else new ones: then restart the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import secrets
import shlex
import signal
import sys
import time
import tomllib
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.deadline import SAFETY
from tests.fakes import bluesky, hn_algolia, mastodon, reddit, rss, webhook, x

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "config" / "default.toml"
HOST = "127.0.0.1"

#: Share of the posts each source gets (the replay's comes from its file).
SHARES: dict[str, float] = {
    "bluesky": 0.24,
    "x": 0.20,
    "mastodon": 0.14,
    "reddit": 0.12,
    "rss": 0.12,
    "hackernews": 0.07,
    "webhook": 0.07,
    "replay": 0.04,
}
#: Seconds between the vendor's webhook deliveries (each a batch of what came since).
WEBHOOK_EVERY = 4.0
#: Most entries a feed document lists, as real feeds keep only their latest.
FEED_ITEMS = 30
#: Most posts kept by the polled fakes (search goes back this far).
KEEP = 3000
REPLAY_LINES = 48
REPLAY_LAPS = 500

GNEWS_QUERY = "?q=northwind+OR+contoso+OR+fabrikam&hl=en-US&gl=US&ceid=US:en"
REDDIT_USER_AGENT = "linux:groundcontrol-world:0.1 (by /u/groundcontrol_dev)"
MASTODON_TAGS = ["northwind", "aerogate", "northwindpulse", "contoso", "fabrikam"]
X_RULES = [
    "northwind -is:retweet",
    '"aero 14" -is:retweet',
    "contoso -is:retweet",
    "fabrikam -is:retweet",
]
WEBHOOK_NETWORKS = ["facebook", "instagram", "tiktok", "youtube", "forums"]

# ------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Brand:
    name: str
    products: tuple[str, ...]
    tag: str
    weight: float
    help_handle: str


BRANDS = (
    Brand(
        "Northwind",
        ("Aero 14", "Aero 14 Pro", "Northwind Pulse", "Northwind Dock 2"),
        "northwind",
        0.5,
        "NorthwindHelp",
    ),
    Brand(
        "Contoso",
        ("Contoso Book 15", "Contoso Beam", "Contoso Slate 11"),
        "contoso",
        0.25,
        "ContosoSupport",
    ),
    Brand(
        "Fabrikam",
        ("Fabrikam Flex 13", "Fabrikam Orbit", "Fabrikam Studio 16"),
        "fabrikam",
        0.25,
        "FabrikamCares",
    ),
)

KINDS = {"praise": 0.3, "complaint": 0.32, "support": 0.23, "news": 0.15}
LANGS = {"en": 0.8, "de": 0.12, "da": 0.08}

# {p}: a product (it names the brand or matches its query), {b}: the brand,
# {r}: a rival's product, {n}: a number, {h}: the brand's support handle.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        "praise": [
            "Three weeks with the {p} and the battery still gets me through a full workday.",
            "Honestly the {p} keyboard is the best I've typed on in years.",
            "Switched from the {r} to the {p}. No regrets, the fans are whisper quiet.",
            "{b} support swapped my charger in two days, no questions asked. That's how it's done.",
            "The {p} screen at this price? {b} nailed it.",
            "Took the {p} on a {n}-hour flight and landed with 40% left. Wow.",
            "Small thing, but the {p} hinge opens with one finger. Love it.",
        ],
        "complaint": [
            "My {p} battery is swelling after {n} months. The trackpad is lifting.",
            "{p} overheating again during a simple video call. 95°C on the CPU. Not ok.",
            "Third firmware update and the {p} still drops wifi every hour. Come on {b}.",
            "Waited {n} minutes on hold with {b} customer service and got cut off. Twice.",
            "The {p} charger died after two months. Cheap parts, expensive laptop.",
            "Returned my {p}. Coil whine so loud I could hear it over music.",
            "Why does the {p} fan spin up when it's asleep in my bag?? It was hot to the touch.",
        ],
        "support": [
            "Does the {p} warranty cover battery swelling? {b} support isn't answering. @{h}",
            "How do I get a refund for a {p} ordered from the {b} store? The form errors out.",
            "Is there a fix for the {p} fan noise after the latest BIOS update? Need help.",
            "@{h} help: my {p} won't charge past 80%, is that the new battery-care mode?",
            "Anyone know how long {b} warranty repairs take right now? Mine's been gone {n} days.",
            "{p} stuck on the logo after the update. Any way to roll back? @{h}",
        ],
        "news": [
            "{b} announces the {p} with a bigger battery, shipping next month.",
            "Comparing the {p} vs the {r} for a student budget, thoughts?",
            "{b} says a fix for the {p} charging bug is rolling out this week.",
            "The {p} is {n}% off today at most retailers.",
            "Spotted: {b} is hiring {n} support agents in Dublin.",
        ],
    },
    "de": {
        "praise": [
            "Der Akku vom {p} hält locker zehn Stunden. Sehr zufrieden mit {b}!",
            "Das {p} ist leise, leicht und schnell. Klare Empfehlung.",
            "Endlich ein Laptop ohne Lüfterlärm: das {p} überzeugt mich total.",
        ],
        "complaint": [
            "Mein {p} wird beim Laden extrem heiß. Hat jemand das gleiche Problem?",
            "Nach {n} Monaten bläht sich der Akku im {p} auf. Unglaublich, {b}.",
            "Das {p} verliert ständig das WLAN. So macht Arbeiten keinen Spaß.",
        ],
        "support": [
            "Hilfe: der {b} Kundenservice antwortet seit einer Woche nicht. Garantie fürs {p}?",
            "Weiß jemand, wie lange eine Reparatur beim {b} Support dauert? Mein {p} lädt nicht.",
        ],
        "news": [
            "{b} bringt das {p} mit größerem Akku nach Deutschland.",
            "Test: {p} gegen {r}, wer hat die bessere Tastatur?",
        ],
    },
    "da": {
        "praise": [
            "Virkelig glad for min nye {p} fra {b}. Skærmen er fantastisk.",
            "Batteriet i {p} holder hele dagen. Godt gået, {b}.",
        ],
        "complaint": [
            "Batteriet i min {p} er begyndt at svulme op. Helt uacceptabelt.",
            "Min {p} bliver alt for varm under opladning. Skuffende.",
        ],
        "support": [
            "Min {p} lader ikke længere. Nogen der ved om garantien dækker det? {b} svarer ikke.",
            "Hvordan får jeg refusion for en {p}? {b} kundeservice er umulig at få fat i.",
        ],
        "news": ["{b} sænker prisen på {p} i Danmark.", "{p} eller {r}? Hvad ville I vælge?"],
    },
}

HN_STORIES = [
    "Northwind Aero 14 teardown: why the batteries swell",
    "Show HN: An open-source fan curve tool for the Northwind Aero 14",
    "Northwind Pulse firmware {n}.2 adds an offline mode",
    "Northwind recalls {n}k Aero 14 battery packs",
    "Ask HN: Northwind Aero 14 or Fabrikam Flex 13 for Linux development?",
    "Northwind's new repairability policy: parts and manuals for ten years",
    "Contoso and Northwind both move to USB-C PD 3.1 chargers",
    "Northwind upstreams its embedded controller driver to Linux",
]
HN_COMMENTS = [
    "I've had the Northwind Aero 14 for a year. Battery health is at 91%, no swelling."
    "<p>YMMV, the early batches seem to be the problem.",
    "Northwind support was useless for me. Took {n} days to get a replacement board.",
    "Linux on the Aero 14 is great: everything works except the fingerprint reader. "
    "Northwind even upstreamed the EC driver.",
    "Compared to Contoso, Northwind's build quality is in another league.",
    "The Northwind Pulse is fine hardware with terrible software. The app wants an "
    "account just to change the EQ.",
    "We bought {n} Aero 14s for the team. Two have swollen batteries already; Northwind "
    "replaced them under warranty without fuss.",
    "Fabrikam's Flex is cheaper but the Northwind screen is worth the difference.",
]
NEWS_HEADLINES = [
    "{b} {p} review: {v}",
    "{b} confirms battery swelling reports on some {b} {p} units",
    "{b} cuts {p} price by ${n}",
    "Hands-on: {b} {p} vs {r}",
    "{b} extends warranty for {p} batteries to three years",
    "{b} shares slip after {p} recall",
    "The best laptops of the year: the {b} {p} makes the list",
]
VERDICTS = [
    "a near-perfect ultraportable",
    "great screen, middling battery",
    "the one to beat",
    "fast but loud",
    "good, not great",
]
LEDES = [
    "We spent a week with it. Here is what we found.",
    "The company confirmed the news in a statement on Tuesday.",
    "Readers have been writing to us about it all month.",
    "It is the most talked-about laptop of the season, for better or worse.",
]
PUBLISHERS = ["The Verge", "Reuters", "Wired", "heise online", "Engadget", "Ars Technica"]
PEOPLE = [
    "maria_k", "jonas.dev", "lena_writes", "tobi", "sofie.h", "mads_p", "priya.codes",
    "sam_reviews", "kat_on_tech", "oskar", "felix_m", "anna.b", "dmitri", "yuki",
    "carlos_r", "ines", "theo", "nora.l", "ahmed", "bea_travels",
]  # fmt: skip
INSTANCES = ["mastodon.social", "chaos.social", "fosstodon.org", "social.example"]
OFF_TOPIC = [
    "Anyone else watching the match tonight?",
    "Made sourdough for the first time and it actually rose.",
    "Reminder to drink water and touch grass.",
    "The new season of that show is so good.",
    "Rainy Monday. Coffee number three.",
]
FOLLOW_UPS = [
    "",
    "Edit: contacted support, waiting to hear back.",
    "Bought it in March, 32 GB model.",
    "Anyone else?",
    "Update: it happened again this morning.",
]
SUBREDDITS = {"en": ["laptops", "SuggestALaptop", "techsupport"], "de": ["de"], "da": ["Denmark"]}


@dataclass(frozen=True)
class Say:
    """One thing someone says about a brand, before a source gives it its shape."""

    brand: Brand
    product: str
    kind: str
    lang: str
    text: str
    tags: tuple[str, ...]

    def tagged(self, rng: random.Random, chance: float = 0.5) -> str:
        """The text with a hashtag or two, as people add them (sometimes)."""
        if not self.tags or rng.random() >= chance:
            return self.text
        return self.text + " " + " ".join("#" + t for t in self.tags)


class Writer:
    """Makes varied, brand-mentioning posts from the templates."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def person(self) -> str:
        return self.rng.choice(PEOPLE)

    def reach(self) -> int:
        return int(self.rng.lognormvariate(5.5, 1.6))

    def say(self, lang: str | None = None) -> Say:
        rng = self.rng
        brand = rng.choices(BRANDS, [b.weight for b in BRANDS])[0]
        kind = self.pick(KINDS)
        lang = lang or self.pick(LANGS)
        product = rng.choice(brand.products)
        rival = rng.choice([p for b in BRANDS if b is not brand for p in b.products])
        text = rng.choice(TEMPLATES[lang][kind]).format(
            p=product, b=brand.name, r=rival, n=rng.randint(2, 45), h=brand.help_handle
        )
        tags = [brand.tag]
        if product.startswith("Aero") and kind == "complaint" and rng.random() < 0.7:
            tags.append("aerogate")
        if product == "Northwind Pulse":
            tags.append("northwindpulse")
        return Say(brand, product, kind, lang, text, tuple(tags))

    def headline(self) -> Say:
        s = self.say(lang="en")
        rival = self.rng.choice([p for b in BRANDS if b is not s.brand for p in b.products])
        text = self.rng.choice(NEWS_HEADLINES).format(
            b=s.brand.name,
            p=s.product.removeprefix(s.brand.name + " "),
            r=rival,
            n=self.rng.choice([50, 100, 150, 200]),
            v=self.rng.choice(VERDICTS),
        )
        return Say(s.brand, s.product, "news", "en", text, s.tags)


# ------------------------------------------------------------------------- the world


def tid(time_us: int, clock: int) -> str:
    """A record key in the shape of an atproto TID (13 sortable base32 characters)."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    n = (time_us << 10) | (clock & 0x3FF)
    return "".join(alphabet[(n >> (5 * i)) & 31] for i in range(12, -1, -1))


def trim(items: list[Any], keep: int = KEEP) -> None:
    if len(items) > 2 * keep:
        del items[:-keep]


@dataclass
class Served:
    name: str
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


async def serve(name: str, app: web.Application, port: int = 0) -> Served:
    """Serve ``app`` on ``port`` if it is free, else on a free one."""
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
    except OSError:
        await web.TCPSite(runner, HOST, 0).start()
    port = int(runner.addresses[0][1])
    return Served(name, runner, port)


@dataclass
class World:
    dir: Path
    rate: float
    hub_port: int
    rng: random.Random
    writer: Writer = field(init=False)
    jetstream: bluesky.FakeJetstream = field(default_factory=bluesky.FakeJetstream)
    masto: mastodon.FakeMastodon = field(init=False)
    red: reddit.FakeReddit = field(default_factory=reddit.FakeReddit)
    algolia: hn_algolia.FakeAlgolia = field(default_factory=hn_algolia.FakeAlgolia)
    feeds: rss.FakeFeeds = field(default_factory=rss.FakeFeeds)
    xapi: x.FakeX = field(default_factory=lambda: x.FakeX(keepalive_every=5.0))
    webhook_secret: str = field(default_factory=webhook.new_standard_secret)
    served: dict[str, Served] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    pending: list[dict[str, Any]] = field(default_factory=list)
    deliveries: Counter[int] = field(default_factory=Counter)
    _serial: int = 0
    _sky_posts: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer = Writer(self.rng)
        now_ms = int(time.time() * 1000)
        # Ids that grow with time, so cursors a hub kept from an earlier world still work.
        self.masto = mastodon.FakeMastodon(_next_id=now_ms << 16)
        self._serial = int(time.time() * 1000) - 1_700_000_000_000
        self.feeds.feeds = {
            "/feeds/laptopmag.xml": rss.Feed("rss", title="LaptopMag"),
            "/blog/atom.xml": rss.Feed("atom", title="The Portable Desk"),
            "/alerts/feeds/06172839405162738495/11223344556677889900": rss.Feed(
                "alerts", title="northwind"
            ),
            "/rss/search": rss.Feed("gnews", title="Northwind OR Contoso OR Fabrikam"),
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        apps: dict[str, Callable[[], web.Application]] = {
            "bluesky": self.jetstream.app,
            "mastodon": self.masto.app,
            "reddit": self.red.app,
            "hackernews": self.algolia.app,
            "rss": self.feeds.app,
            "x": self.xapi.app,
        }
        ports = old_ports(self.dir / "world.toml")
        for name, make in apps.items():
            self.served[name] = await serve(name, make(), ports.get(name, 0))

    async def stop(self) -> None:
        cleanups = [asyncio.wait_for(s.runner.cleanup(), SAFETY) for s in self.served.values()]
        await asyncio.gather(*cleanups, return_exceptions=True)

    def next_serial(self) -> int:
        self._serial += 1
        return self._serial

    # ------------------------------------------------------------------ sources

    def to_bluesky(self, s: Say) -> None:
        now = time.time_ns() // 1000
        did = bluesky.did_of(zlib.crc32(self.writer.person().encode()))
        rkey = tid(now, self.next_serial())
        self.jetstream.add(bluesky.post(now, did, rkey, s.tagged(self.rng), langs=[s.lang]))
        self._sky_posts.append((did, rkey))
        trim(self._sky_posts, 50)
        # The firehose carries everything else too; the adapter keeps what matches.
        if self.rng.random() < 0.5:
            other = bluesky.did_of(self.rng.randrange(10**9))
            self.jetstream.add(
                bluesky.post(now + 1, other, tid(now + 1, 1), self.rng.choice(OFF_TOPIC))
            )
        if self.rng.random() < 0.5:
            self.jetstream.add(bluesky.like(now + 2, did, tid(now + 2, 2)))
        if self.rng.random() < 0.02 and len(self._sky_posts) > 10:
            gone = self._sky_posts.pop(self.rng.randrange(len(self._sky_posts) - 5))
            self.jetstream.add(bluesky.delete(now + 3, *gone))

    def to_mastodon(self, s: Say) -> None:
        self.masto.post(
            s.text,
            tags=list(s.tags),
            at=datetime.now(UTC),
            acct=self.writer.person().replace(".", "_") + "@" + self.rng.choice(INSTANCES),
            lang=s.lang,
            followers=self.writer.reach(),
            favourites=self.rng.randint(0, 40),
            reblogs=self.rng.randint(0, 10),
            replies=self.rng.randint(0, 6),
        )
        trim(self.masto.statuses)

    def to_reddit(self, s: Say) -> None:
        title, _, rest = s.text.partition(". ")
        title = title + "." if rest else title
        sub = self.rng.choice(SUBREDDITS[s.lang])
        if s.brand.name == "Northwind" and s.lang == "en" and self.rng.random() < 0.3:
            sub = "Northwind"
        body = (rest + "\n\n" + self.rng.choice(FOLLOW_UPS)).strip()
        self.red.posts.append(
            reddit.post(
                self.next_serial(),
                time.time(),
                title,
                body,
                subreddit=sub,
                score=self.rng.randint(1, 300),
                comments=self.rng.randint(0, 80),
                author=self.writer.person().replace(".", "_"),
            )
        )
        trim(self.red.posts)

    def to_hackernews(self, _s: Say) -> None:
        n = self.rng.randint(2, 40)
        at = int(time.time())
        oid = 40_000_000 + self.next_serial()
        if self.rng.random() < 0.35:
            title = self.rng.choice(HN_STORIES).format(n=n)
            hit = hn_algolia.story(oid, at, title, points=self.rng.randint(1, 400))
        else:
            on = self.rng.choice(HN_STORIES).format(n=n)
            html = self.rng.choice(HN_COMMENTS).format(n=n).replace("'", "&#x27;")
            hit = hn_algolia.comment(oid, at, html, on=on, story_id=oid - 17)
        self.algolia.hits.append(hit)
        trim(self.algolia.hits)

    def to_rss(self, _s: Say) -> None:
        path = self.rng.choice(list(self.feeds.feeds))
        feed = self.feeds.feeds[path]
        n = self.next_serial()
        at = int(time.time())
        h = self.writer.headline()
        slug = re.sub(r"[^a-z0-9]+", "-", h.text.lower()).strip("-")[:60]
        publisher = self.rng.choice(PUBLISHERS)
        site = re.sub(r"[^a-z]+", "", publisher.lower())
        real = f"https://www.{site}.example/2026/{slug}"
        if feed.kind == "gnews":
            item = rss.gnews_item(n, at, h.text, publisher, real, old=self.rng.random() < 0.7)
        elif feed.kind == "alerts":
            word = h.brand.name
            item = rss.Item(
                id=str(10_395_837_749_120_392_738 + n),
                title=h.text.replace(word, f"<b>{word}</b>", 1),
                html=f"... {h.text.replace(word, f'<b>{word}</b>')} &middot; what we know so far",
                link=rss.alerts_link(real),
                published=at,
            )
        else:
            base = "https://www.laptopmag.example" if feed.kind == "rss" else "https://desk.example"
            item = rss.Item(
                id=f"{base}/?p={n}",
                title=h.text,
                html=f"<p>{self.rng.choice(LEDES)}</p><p>{self.writer.say(lang='en').text}</p>",
                link=f"{base}/{slug}/",
                published=at,
                author=self.rng.choice(["Dana Reyes", "Jamie Ortiz", "Sam Lindqvist"]),
            )
        feed.items.insert(0, item)
        del feed.items[FEED_ITEMS:]

    def to_x(self, s: Say) -> None:
        user = self.writer.person().replace(".", "_")
        now = x.now_ms()
        p = x.post(
            now,
            s.tagged(self.rng, 0.4),
            self.next_serial(),
            username=user,
            user_id=str(1_000_000 + zlib.crc32(user.encode())),
            followers=self.writer.reach(),
            lang=s.lang,
            likes=self.rng.randint(0, 200),
            reposts=self.rng.randint(0, 40),
        )
        self.xapi.publish(p)
        if self.rng.random() < 0.1:  # a retweet: the rules leave it out
            rt = x.post(now + 1, f"RT @{user}: {p.text}", self.next_serial(), username="rt_bot")
            self.xapi.publish(rt)
        trim(self.xapi.posts)

    def to_webhook(self, s: Say) -> None:
        network = self.rng.choice(WEBHOOK_NETWORKS)
        doc = webhook.document(
            f"{network[:2]}{self.next_serial()}",
            int(time.time()),
            s.tagged(self.rng, 0.3),
            source_type=network,
            handle=self.writer.person().replace(".", "_"),
            followers=self.writer.reach(),
            language=s.lang,
        )
        doc["url"] = f"https://www.{network}.example/p/{doc['id']}"
        doc["matched_keywords"] = [s.brand.name.lower()]
        self.pending.append(doc)

    # ------------------------------------------------------------------ loops

    async def trickle(self) -> None:
        """Posts at ``rate`` a second on average (a Poisson process), spread by SHARES."""
        emit: dict[str, Callable[[Say], None]] = {
            "bluesky": self.to_bluesky,
            "x": self.to_x,
            "mastodon": self.to_mastodon,
            "reddit": self.to_reddit,
            "rss": self.to_rss,
            "hackernews": self.to_hackernews,
            "webhook": self.to_webhook,
        }
        weights = [SHARES[name] for name in emit]
        live_rate = self.rate * sum(weights)
        while True:
            await asyncio.sleep(self.rng.expovariate(live_rate))
            name = self.rng.choices(list(emit), weights)[0]
            emit[name](self.writer.say())
            self.counts[name] += 1

    async def vendor(self) -> None:
        """Deliver what the vendor collected every WEBHOOK_EVERY seconds, signed."""
        url = f"http://{HOST}:{self.hub_port}/webhooks/webhook"
        sender = webhook.Vendor(url, attempts=3, delay=0.5)
        while True:
            await asyncio.sleep(WEBHOOK_EVERY)
            if not self.pending:
                continue
            docs, self.pending = self.pending, []
            attempt = await sender.post(
                webhook.body(docs), webhook.sign_standard(self.webhook_secret)
            )
            self.deliveries[attempt.status] += 1
            if not 200 <= attempt.status < 300 and self.deliveries[attempt.status] == 1:
                what = f"HTTP {attempt.status}" if attempt.status else "no answer"
                print(f"world: webhook delivery to {url}: {what} (is the hub up?)", flush=True)
            del sender.log[:]

    async def report(self, every: float = 60.0) -> None:
        while True:
            await asyncio.sleep(every)
            shown = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
            ok = sum(v for k, v in self.deliveries.items() if 200 <= k < 300)
            print(f"world: posted so far: {shown}; webhook deliveries ok {ok}", flush=True)

    # ------------------------------------------------------------------ files

    def config_toml(self, default: Path = DEFAULT_CONFIG) -> str:
        base = tomllib.loads(default.read_text())
        d = self.dir
        u = {name: s.url for name, s in self.served.items()}
        brand_query = " OR ".join(f"({b['query']})" for b in base.get("brands", []))
        feeds: dict[str, dict[str, Any]] = {
            "bluesky": {
                "endpoint": u["bluesky"].replace("http://", "ws://"),
                "query": brand_query,
            },
            "mastodon": {
                "endpoint": u["mastodon"],
                "tags": MASTODON_TAGS,
                "transport": "sse",
                "token_env": "MASTODON_TOKEN",
            },
            "reddit": {
                "query": 'northwind OR "aero 14" OR contoso OR fabrikam',
                "user_agent": REDDIT_USER_AGENT,
                "endpoint": u["reddit"],
                "auth_endpoint": u["reddit"],
                "client_id_env": "REDDIT_CLIENT_ID",
                "client_secret_env": "REDDIT_CLIENT_SECRET",
                "interval": 10.0,
            },
            "hackernews": {"query": "northwind", "endpoint": u["hackernews"], "interval": 10.0},
            "rss": {
                "endpoint": u["rss"],
                "urls": [
                    u["rss"] + path + GNEWS_QUERY * (path == "/rss/search")
                    for path in self.feeds.feeds
                ],
                "interval": 10.0,
                "source": "news",
            },
            "x": {"endpoint": u["x"], "rules": X_RULES, "bearer_token_env": "X_BEARER_TOKEN"},
            "webhook": {
                "signature": "standard",
                "secret_env": "GROUNDCONTROL_WEBHOOK_SECRET",
                "source": "webhook",
            },
            "replay": {
                "file": str(d / "replay.ndjson"),
                "shift_time": True,
                "source": "replay",
                "loop": REPLAY_LAPS,
            },
        }
        out = [
            "# Ground Control hub config for the fake world (tests/fakes/world.py).",
            "# Written at start; the fakes' ports change every time the world starts.",
            "",
            "[hub]",
            f'host = "{HOST}"',
            f"port = {self.hub_port}",
            f"feed_state_dir = {toml_value(str(d / 'state'))}",
            "",
            "[store]",
            f"path = {toml_value(str(d / 'gc.db'))}",
            "",
        ]
        for kind in ("brands", "queries"):
            for table in base.get(kind, []):
                out.append(f"[[{kind}]]")
                out += [f"{k} = {toml_value(v)}" for k, v in table.items()]
                out.append("")
        for name, table in feeds.items():
            out.append(f"[feeds.{name}]")
            out += [f"{k} = {toml_value(v)}" for k, v in table.items()]
            out.append("")
        return "\n".join(out)

    def env_lines(self, admin_token: str) -> str:
        values = {
            "MASTODON_TOKEN": self.masto.token,
            "REDDIT_CLIENT_ID": self.red.client_id,
            "REDDIT_CLIENT_SECRET": self.red.client_secret,
            "X_BEARER_TOKEN": self.xapi.token,
            "GROUNDCONTROL_WEBHOOK_SECRET": self.webhook_secret,
            "GROUNDCONTROL_TOKEN_ADMIN": admin_token,
            "GROUNDCONTROL_TOKEN": admin_token,
        }
        head = "# Credentials for the fake world: fake values its fakes accept, and the hub's.\n"
        return head + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())

    def replay_ndjson(self) -> str:
        """REPLAY_LINES forum posts, spaced for the replay's share of the rate."""
        gap = 1.0 / max(1e-6, self.rate * SHARES["replay"])
        start = time.time() - 86_400 - REPLAY_LINES * gap
        lines = []
        for i in range(REPLAY_LINES):
            s = self.writer.say()
            at = datetime.fromtimestamp(start + i * gap, UTC)
            mention = {
                "source": "forum",
                "source_id": f"t{7000 + i}",
                "text": s.text,
                "created_at": at.isoformat().replace("+00:00", "Z"),
                "url": f"https://forum.example/t/{7000 + i}",
                "author": self.writer.person(),
                "author_reach": self.writer.reach(),
                "lang": s.lang,
                "engagement": {"likes": self.rng.randint(0, 30), "replies": i % 7},
            }
            lines.append(json.dumps(mention, ensure_ascii=False))
        return "\n".join(lines) + "\n"

    def write_files(self) -> tuple[Path, Path]:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "state").mkdir(exist_ok=True)
        replay = self.dir / "replay.ndjson"
        text = self.replay_ndjson()
        if not replay.exists():  # the same file on a restart: the replay resumes
            replay.write_text(text)
        config = self.dir / "world.toml"
        config.write_text(self.config_toml())
        env = self.dir / "world.env"
        admin = _old_token(env) or secrets.token_urlsafe(32)
        env.write_text(self.env_lines(admin))
        env.chmod(0o600)
        return config, env


def old_ports(config: Path) -> dict[str, int]:
    """The fakes' ports in an earlier world's config: taken again when free, so a hub
    started for that world carries on with this one."""
    try:
        tables = tomllib.loads(config.read_text()).get("feeds", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    ports = {}
    for name, table in tables.items():
        endpoint = table.get("endpoint") if isinstance(table, dict) else None
        port = urlsplit(endpoint).port if isinstance(endpoint, str) else None
        if port:
            ports[name] = port
    return ports


def _old_token(env: Path) -> str:
    """The admin token of an earlier world in the same directory, kept for the walls."""
    if not env.exists():
        return ""
    for line in env.read_text().splitlines():
        if line.startswith("export GROUNDCONTROL_TOKEN_ADMIN="):
            value = shlex.split(line.split("=", 1)[1])
            return value[0] if value and len(value[0]) >= 32 else ""
    return ""


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if math.isfinite(v) else "0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(i) for i in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


async def amain(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    world = World(args.dir, args.rate, args.hub_port, random.Random(seed))
    await world.start()
    config, env = world.write_files()
    print(f"world: {args.rate:g} posts/s (seed {seed}); fakes on {HOST}:", flush=True)
    for name, s in world.served.items():
        print(f"  {name:<11} {s.url}", flush=True)
    print(f"  {'webhook':<11} vendor POSTs to http://{HOST}:{world.hub_port}/webhooks/webhook")
    print(f"  {'replay':<11} {world.dir / 'replay.ndjson'}")
    print(f"config {config}\nenv    {env}\nthen:  source {env}")
    print(f"       groundcontrol hub --config {config}")
    hub = "" if world.hub_port == 8765 else f" --hub ws://{HOST}:{world.hub_port}"
    print(f"       groundcontrol wall{hub}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(c) for c in (world.trickle(), world.vendor(), world.report())]
    try:
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await world.stop()
    shown = ", ".join(f"{k} {v}" for k, v in sorted(world.counts.items()))
    print(f"world: stopped ({shown})", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.world",
        description="Run fakes of every source with a live trickle of brand posts, and "
        "write a hub config (DIR/world.toml) and its credentials (DIR/world.env).",
    )
    parser.add_argument("--dir", required=True, help="where to write config, env, store")
    parser.add_argument("--rate", type=float, default=3.0, help="posts a second (default 3)")
    parser.add_argument("--hub-port", type=int, default=8765, help="the hub's port (8765)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    args.dir = Path(args.dir).resolve()
    if not args.rate > 0:
        parser.error("--rate must be above 0")
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
