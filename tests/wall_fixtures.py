"""Deterministic stream events for the wall's tests and snapshots.

``demo_events()`` is a scripted, realistic session as a wall would receive it from a
demo hub: connected, hello (demo, three brands), a snapshot, a few ticks, then a
critical negative incident opening (the battery crisis). It is built by hand with
fixed values (no clock, no unseeded randomness) so screenshots are stable; tests
depend only on it returning such a list, so its insides can later be swapped for a
seeded simulation of the real demo.

Incidents: ``CRISIS`` (critical, negative, open), ``ENDED`` (a warning that ended by
itself), ``INFO`` (plain volume, too small to take over) and ``LAUNCH`` (good news, a
positive warning); ``acknowledged``, ``snoozed`` and ``resolved`` give an incident as
the hub sends it after someone acted on it.

Ticks carry what the listening scene shows too: stories with readable labels, grouped
terms and brands, influencers (some of them new voices), and a triage view with
category counts, a review queue and compliance-flagged posts of the brands' own
accounts. ``make_tick(seq, listening=False)`` is the same tick as an older hub sends
it: no influencers, the default triage view, stories without labels.

``scripted(events)`` turns a list into an event source for ``WallApp``;
``QueueSource`` is a source tests push events into while the app runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import msgspec

from groundcontrol.client.stream import Connected, StreamEvent
from groundcontrol.protocol import (
    BrandStat,
    FeedInfo,
    FlaggedPost,
    Incident,
    IncidentAction,
    IncidentChange,
    IncidentEvent,
    Influencer,
    KeyCount,
    ReviewItem,
    RiverItem,
    SentimentView,
    Signal,
    Snapshot,
    SourceStat,
    StreamHello,
    Tick,
    Topic,
    TriageView,
    Volume,
)

#: Hub time of the first tick: 2025-06-12 14:03:00 UTC.
T0 = 1_749_736_980.0
#: The fixed wall clock tests inject: just after the last scripted tick arrived.
FIXED_NOW = T0 + 2.0
TICK_INTERVAL = 0.5
BUCKET_SECONDS = 10
WINDOW_SECONDS = 300
BRANDS = ["Northwind", "Contoso", "Fabrikam"]
HUB_URL = "ws://127.0.0.1:8765/stream"

# Per-bucket baseline per source (mentions per 10 s), and how much each joins the spike.
SOURCES: dict[str, tuple[int, float]] = {
    "x": (11, 7.0),
    "reddit": (8, 4.5),
    "bluesky": (7, 4.0),
    "mastodon": (5, 1.5),
    "news": (3, 2.0),
    "hackernews": (3, 0.6),
}
#: Buckets of the window before the spike started (of WINDOW_SECONDS / BUCKET_SECONDS).
CALM_BUCKETS = 22
# A gentle, repeatable wobble so the trends do not look ruled.
WOBBLE = [0, 2, -1, 3, 1, -2, 0, 2, 4, 1, -1, 0, 3, -2, 1, 2, 0, -1, 2, 3, 1, 0, 2, -1, 1, 3, 0, 2]

# Each post is two lines: "source | author | reach | lang | sentiment | brand", then its text.
_POSTS = """\
x | @gadgetgrrl | 48200 | en | -0.72 | Northwind
    Northwind X2 battery swelled overnight and the case cracked. Anyone else? #aerogate
reddit | u/commuter_dk | 310 | da | -0.41 | Northwind
    Har nogen andre problemer med Northwind X2 batteriet? Min blev varm i toget #aerogate
bluesky | @kestrel.bsky.social | 12900 | en | 0.68 | Contoso
    Contoso's sync update is honestly great, finally fast on Linux
news | @techwire | 2400000 | en | -0.38 | Northwind
    Northwind shares slip as regulators look into X2 battery reports
mastodon | @lena@chaos.social | 3100 | de | -0.66 | Northwind
    Akku vom Northwind X2 nach zwei Wochen hinüber, der Support antwortet nicht
hackernews | @throwaway_rs | 0 | en | 0.02 | Contoso
    Show HN: we replaced Contoso Sync with rsync and a cron job
x | @fabrikam_fan | 1150 | en | 0.81 | Fabrikam
    Fabrikam delivery came a day early and the packaging is all paper now. Love it
reddit | u/batterynerd | 5600 | en | 0.05 | Northwind
    PSA: Northwind is offering free battery inspections for X2 owners, link in comments
bluesky | @mette.dk | 880 | da | 0.62 | Fabrikam
    Fabrikam kundeservice var hurtige og venlige i dag
x | @memelord | 1240000 | en | -0.05 | Northwind
    the #aerogate memes are out of control lmao
news | @heise_online | 890000 | de | -0.31 | Northwind
    Northwind prüft Berichte über überhitzte X2-Akkus; Rückruf nicht ausgeschlossen
mastodon | @ops_anna@hachyderm.io | 7400 | en | -0.54 | Contoso
    Contoso outage page says all green while our builds fail. Classic.
"""
_LINES = _POSTS.splitlines()
RIVER_POSTS = [
    [*meta.split(" | "), text.strip()] for meta, text in zip(_LINES[::2], _LINES[1::2], strict=True)
]

#: Stories as an older hub sends them: a lead term each, no label, terms or brand.
TOPICS = [
    Topic(term="#aerogate", count=412, previous=0, score=9.8, trend="new", net=-0.58),
    Topic(term="battery", count=388, previous=61, score=7.4, trend="up", net=-0.49),
    Topic(term="x2", count=301, previous=70, score=5.9, trend="up", net=-0.36),
    Topic(term="recall", count=97, previous=12, score=4.1, trend="up", net=-0.62),
    Topic(term="inspection", count=54, previous=3, score=3.3, trend="new", net=0.12),
    Topic(term="sync", count=88, previous=84, score=1.2, trend="flat", net=0.41),
    Topic(term="delivery", count=41, previous=39, score=1.0, trend="flat", net=0.55),
    Topic(term="lieferung", count=19, previous=18, score=0.8, trend="flat", net=0.22),
    Topic(term="outage", count=23, previous=47, score=0.7, trend="down", net=-0.44),
    Topic(term="support", count=35, previous=58, score=0.6, trend="down", net=-0.12),
]

#: Stories as the hub groups them now: a readable label, the terms, the brand.
STORIES = [
    Topic(
        term="#aerogate",
        count=412,
        previous=0,
        score=9.8,
        trend="new",
        net=-0.58,
        label="#aerogate: battery, swelling",
        terms=["#aerogate", "battery", "swelling", "x2"],
        brand="Northwind",
    ),
    Topic(
        term="recall",
        count=97,
        previous=12,
        score=4.1,
        trend="up",
        net=-0.62,
        label="recall: regulators, rückruf",
        terms=["recall", "regulators", "rückruf"],
        brand="Northwind",
    ),
    Topic(
        term="memes",
        count=71,
        previous=9,
        score=3.6,
        trend="up",
        net=-0.05,
        label="memes: #aerogate, lmao",
        terms=["memes", "lmao"],
    ),
    Topic(
        term="inspection",
        count=54,
        previous=3,
        score=3.3,
        trend="new",
        net=0.12,
        label="inspection: free, psa",
        terms=["inspection", "free", "psa"],
        brand="Northwind",
    ),
    Topic(
        term="sync",
        count=88,
        previous=84,
        score=1.2,
        trend="flat",
        net=0.41,
        label="sync: linux, update",
        terms=["sync", "linux", "update"],
        brand="Contoso",
    ),
    Topic(
        term="delivery",
        count=41,
        previous=39,
        score=1.0,
        trend="flat",
        net=0.55,
        label="delivery: paper packaging",
        terms=["delivery", "packaging", "paper"],
        brand="Fabrikam",
    ),
    Topic(
        term="outage",
        count=23,
        previous=47,
        score=0.7,
        trend="down",
        net=-0.44,
        label="outage: builds, status page",
        terms=["outage", "builds", "status"],
        brand="Contoso",
    ),
    Topic(
        term="support",
        count=35,
        previous=58,
        score=0.6,
        trend="down",
        net=-0.12,
        label="support: akku, antwortet",
        terms=["support", "akku"],
    ),
]

INFLUENCERS = [
    Influencer(
        author=author,
        source=source,
        reach=reach,
        mentions=mentions,
        engagement=engagement,
        net=net,
        score=score,
        new=new,
        brands=brands,
    )
    for author, source, reach, mentions, engagement, net, score, new, brands in [
        ("@techwire", "news", 2_400_000, 6, 18_400, -0.38, 9.1, False, ["Northwind"]),
        ("@memelord", "x", 1_240_000, 4, 52_300, -0.05, 8.7, True, ["Northwind"]),
        ("@heise_online", "news", 890_000, 3, 7_900, -0.31, 7.9, False, ["Northwind"]),
        ("@gadgetgrrl", "x", 48_200, 9, 3_120, -0.72, 6.4, False, ["Northwind"]),
        ("@kestrel.bsky.social", "bluesky", 12_900, 5, 1_480, 0.68, 5.2, False, ["Contoso"]),
        ("@ops_anna@hachyderm.io", "mastodon", 7_400, 3, 640, -0.54, 4.6, True, ["Contoso"]),
        ("u/batterynerd", "reddit", 5_600, 7, 2_210, 0.05, 4.4, False, ["Northwind"]),
        ("@lena@chaos.social", "mastodon", 3_100, 2, 190, -0.66, 3.1, False, ["Northwind"]),
        ("@fabrikam_fan", "x", 1_150, 4, 310, 0.81, 2.8, True, ["Fabrikam", "Contoso"]),
        ("u/commuter_dk", "reddit", 310, 3, 45, -0.41, 2.0, False, ["Northwind"]),
    ]
]

TRIAGE = TriageView(
    categories=[
        KeyCount(key="support", count=212),
        KeyCount(key="sales", count=38),
        KeyCount(key="product_problem", count=341),
        KeyCount(key="praise", count=96),
        KeyCount(key="compliance_risk", count=7),
        KeyCount(key="other", count=188),
    ],
    review=14,
    pending=37,
    queue=[
        ReviewItem(
            id="x:2000101",
            source="x",
            author="@jonas_k",
            text="is the X2 safe to charge overnight or should I stop using it "
            "until the recall thing is sorted?",
            category="product_problem",
            confidence=0.48,
            at=T0 - 12.0,
        ),
        ReviewItem(
            id="reddit:2000098",
            source="reddit",
            author="u/quietcoder",
            text="Northwind rep said they'd call back about my refund. That was three days ago.",
            category="support",
            confidence=0.44,
            at=T0 - 41.0,
        ),
        ReviewItem(
            id="bluesky:2000090",
            source="bluesky",
            author="@mads.bsky.social",
            text="Would Contoso do a discount for a 40-seat team? Asking for my boss",
            category="sales",
            confidence=0.51,
            at=T0 - 77.0,
        ),
        ReviewItem(
            id="x:2000087",
            source="x",
            author="@legal_eagle",
            text="Can Northwind still say 'safest battery on the market' in their ads after this?",
            category="compliance_risk",
            confidence=0.39,
            at=T0 - 130.0,
        ),
        ReviewItem(
            id="mastodon:2000080",
            source="mastodon",
            author="@ruth@fosstodon.org",
            text="hmm, Fabrikam again",
            category="",
            confidence=0.0,
            at=T0 - 160.0,
        ),
    ],
    flagged=3,
    flags=[
        FlaggedPost(
            id="x:3000012",
            source="x",
            author="@NorthwindHelp",
            text="Good news: the X2 battery is 100% safe and no recall will ever be needed. "
            "DM us your order number and card details for a replacement.",
            flags=["absolute safety claim", "asks for card details"],
            at=T0 - 95.0,
        ),
        FlaggedPost(
            id="bluesky:3000009",
            source="bluesky",
            author="@contoso.com",
            text="Contoso Sync is guaranteed never to lose a file. Unlike some batteries we know.",
            flags=["guarantee", "competitor disparagement"],
            at=T0 - 820.0,
        ),
        FlaggedPost(
            id="x:3000004",
            source="x",
            author="@FabrikamDeals",
            text="Only today: 70% off everything, ends midnight! (while stocks last)",
            flags=["unclear offer terms"],
            at=T0 - 2_400.0,
        ),
    ],
)


def _action(action: IncidentChange, at: float, by: str = "", detail: str = "") -> IncidentAction:
    return IncidentAction(action=action, at=at, by=by, detail=detail)


#: The battery crisis: a critical negative surge on Northwind, open, nobody on it yet.
CRISIS = Incident(
    id="inc-1749736788-northwind",
    title="Northwind negative surge: #aerogate, battery, x2",
    brand="Northwind",
    kind="negative",
    severity="critical",
    status="open",
    started_at=T0 - 192.0,
    updated_at=T0 + 1.5,
    score=0.94,
    ratio=5.2,
    mentions=1_140,
    negative_share=0.71,
    positive_share=0.06,
    baseline_negative_share=0.28,
    signals=[
        Signal(
            series="negative:brand:Northwind",
            label="Northwind negative",
            kind="negative",
            started_at=T0 - 192.0,
            value=92.0,
            baseline=10.2,
            peak=96.0,
            share=0.71,
            baseline_share=0.28,
        ),
        Signal(
            series="brand:Northwind",
            label="Northwind",
            kind="volume",
            started_at=T0 - 182.0,
            value=181.0,
            baseline=35.8,
            peak=186.0,
        ),
        Signal(
            series="topic:#aerogate",
            label="#aerogate",
            kind="topic",
            started_at=T0 - 170.0,
            value=39.0,
            baseline=0.4,
            peak=41.0,
        ),
        Signal(
            series="source:x",
            label="x",
            kind="source",
            started_at=T0 - 150.0,
            value=118.0,
            baseline=66.0,
            peak=124.0,
        ),
    ],
    top_terms=["#aerogate", "battery", "x2", "recall"],
    top_sources=["x", "reddit", "bluesky"],
    top_authors=["@gadgetgrrl", "@techwire", "@memelord", "u/commuter_dk"],
    examples=[
        "Northwind X2 battery swelled overnight and the case cracked. Anyone else? #aerogate",
        "Northwind shares slip as regulators look into X2 battery reports",
        "Akku vom Northwind X2 nach zwei Wochen hinüber, der Support antwortet nicht",
    ],
    history=[
        _action("opened", T0 - 190.0, detail="warning negative surge, 2.4x usual volume"),
        _action("escalated", T0 - 150.0, detail="critical negative surge, 4.1x usual volume"),
    ],
)

#: A warning on Contoso that ended by itself ten minutes ago.
ENDED = Incident(
    id="inc-1749735520-contoso",
    title="Contoso negative surge: outage, builds, status",
    brand="Contoso",
    kind="negative",
    severity="warning",
    status="resolved",
    started_at=T0 - 1_460.0,
    updated_at=T0 - 610.0,
    ended_at=T0 - 730.0,
    resolved_at=T0 - 610.0,
    score=0.71,
    ratio=2.1,
    mentions=214,
    negative_share=0.47,
    baseline_negative_share=0.19,
    signals=[
        Signal(
            series="negative:brand:Contoso",
            label="Contoso negative",
            kind="negative",
            started_at=T0 - 1_460.0,
            value=3.0,
            baseline=2.6,
            peak=9.4,
            active=False,
            ended_at=T0 - 730.0,
            share=0.47,
            baseline_share=0.19,
        ),
    ],
    top_terms=["outage", "builds", "status"],
    top_sources=["mastodon", "hackernews"],
    top_authors=["@ops_anna@hachyderm.io", "@throwaway_rs"],
    examples=["Contoso outage page says all green while our builds fail. Classic."],
    history=[
        _action("opened", T0 - 1_460.0, detail="warning negative surge, 2.1x usual volume"),
        _action("resolved", T0 - 610.0, detail="every signal back to normal"),
    ],
)

#: Plain volume on Contoso, too small to take over a wall.
INFO = Incident(
    id="inc-1749736905-contoso",
    title="Contoso volume surge: sync, rsync",
    brand="Contoso",
    kind="neutral",
    severity="info",
    status="open",
    started_at=T0 - 75.0,
    updated_at=T0 - 1.0,
    score=0.52,
    ratio=2.6,
    mentions=58,
    negative_share=0.12,
    baseline_negative_share=0.21,
    signals=[
        Signal(
            series="brand:Contoso",
            label="Contoso",
            kind="volume",
            started_at=T0 - 75.0,
            value=21.0,
            baseline=8.1,
            peak=22.0,
        ),
    ],
    top_terms=["sync", "rsync"],
    top_sources=["hackernews"],
    top_authors=["@throwaway_rs"],
    examples=["Show HN: we replaced Contoso Sync with rsync and a cron job"],
    history=[_action("opened", T0 - 75.0, detail="info volume surge, 2.6x usual volume")],
)

#: The well-received launch: a positive surge on Northwind (never critical).
LAUNCH = Incident(
    id="inc-1749736860-northwind",
    title="Northwind positive surge: #northwindpulse, launch",
    brand="Northwind",
    kind="positive",
    severity="warning",
    status="open",
    started_at=T0 - 120.0,
    updated_at=T0 + 1.0,
    score=0.83,
    ratio=3.1,
    mentions=486,
    negative_share=0.05,
    positive_share=0.74,
    baseline_negative_share=0.28,
    signals=[
        Signal(
            series="brand:Northwind",
            label="Northwind",
            kind="volume",
            started_at=T0 - 120.0,
            value=108.0,
            baseline=35.8,
            peak=111.0,
        ),
        Signal(
            series="topic:#northwindpulse",
            label="#northwindpulse",
            kind="topic",
            started_at=T0 - 110.0,
            value=30.0,
            baseline=0.2,
            peak=33.0,
        ),
    ],
    top_terms=["#northwindpulse", "launch", "monitor", "sold out"],
    top_sources=["x", "bluesky", "reddit"],
    top_authors=["@bigtechguy", "@kestrel.bsky.social"],
    examples=["Pulse sold out in minutes. great launch Northwind #NorthwindPulse"],
    history=[_action("opened", T0 - 118.0, detail="warning positive surge, 3.1x usual volume")],
)


def acknowledged(incident: Incident, by: str = "alice", at: float = T0 + 1.8) -> Incident:
    """``incident`` as the hub sends it once ``by`` acknowledged it at ``at``."""
    return msgspec.structs.replace(
        incident,
        status="acknowledged",
        acked_by=by,
        acked_at=at,
        updated_at=at,
        history=[*incident.history, _action("acknowledged", at, by=by)],
    )


def snoozed(incident: Incident, by: str = "bob", at: float = T0 + 1.8) -> Incident:
    """``incident`` snoozed by ``by`` for an hour."""
    return msgspec.structs.replace(
        incident,
        status="snoozed",
        snoozed_until=at + 3_600.0,
        updated_at=at,
        history=[*incident.history, _action("snoozed", at, by=by, detail="for 1 h")],
    )


def resolved(incident: Incident, by: str = "bob", at: float = T0 + 1.8) -> Incident:
    """``incident`` resolved by ``by`` ("" : it ended by itself)."""
    return msgspec.structs.replace(
        incident,
        status="resolved",
        resolved_by=by,
        resolved_at=at,
        ended_at=incident.ended_at or at,
        updated_at=at,
        history=[*incident.history, _action("resolved", at, by=by)],
    )


def opened(incident: Incident) -> IncidentEvent:
    """The event a wall gets when ``incident`` opens."""
    return IncidentEvent(change="opened", incident=incident)


def _series(base: int, surge: float, shift: int) -> list[int]:
    """One source's buckets: calm with a wobble, then the spike ramping up."""
    buckets = WINDOW_SECONDS // BUCKET_SECONDS
    out = []
    for i in range(buckets):
        calm = max(base + WOBBLE[(i + shift) % len(WOBBLE)] * base // 8, 0)
        if i >= CALM_BUCKETS:
            ramp = min(i - CALM_BUCKETS + 1, 4) / 4
            calm += round(base * surge * ramp)
        out.append(calm)
    return out


def _river(seq: int, at: float) -> list[RiverItem]:
    """Four posts per tick, cycling through the scripted ones, each with a new id."""
    items = []
    for k in range(4):
        n = seq * 4 + k
        source, author, reach, lang, sentiment, brand, text = RIVER_POSTS[n % len(RIVER_POSTS)]
        score = float(sentiment)
        label = "positive" if score > 0.25 else "negative" if score < -0.25 else "neutral"
        items.append(
            RiverItem(
                id=f"{source}:{1_000_000 + n}",
                source=source,
                author=author,
                reach=int(reach),
                text=text,
                lang=lang,
                sentiment=score,
                label=label,
                brands=[brand],
                created_at=at - 1.9 + k * 0.4,
            )
        )
    return items


def make_tick(
    seq: int,
    *,
    incidents: Sequence[Incident] = (INFO, ENDED),
    demo: bool = True,
    listening: bool = True,
) -> Tick:
    """The scripted tick number ``seq`` (hub time T0 + seq * TICK_INTERVAL).

    ``listening=False``: as an older hub sends it (no stories, influencers or triage).
    """
    at = T0 + seq * TICK_INTERVAL
    by_source = {
        name: _series(base, surge, shift)
        for shift, (name, (base, surge)) in enumerate(SOURCES.items())
    }
    # Each tick the newest bucket fills up a little more.
    for series in by_source.values():
        series[-1] = series[-1] * (4 + seq) // 8
    total = [sum(col) for col in zip(*by_source.values(), strict=True)]
    window = sum(total)
    last_minute = sum(total[-6:])
    negative = window * 38 // 100
    positive = window * 27 // 100
    neutral = window - negative - positive
    net = (positive - negative) / window
    series_net = [0.21 - 0.02 * WOBBLE[i % len(WOBBLE)] for i in range(CALM_BUCKETS)]
    series_net += [0.05, -0.08, -0.16, -0.22, -0.25, -0.27, -0.26, round(net, 2)]
    series_neg = [0.18 + 0.01 * WOBBLE[i % len(WOBBLE)] for i in range(CALM_BUCKETS)]
    series_neg += [0.25, 0.31, 0.36, 0.41, 0.44, 0.45, 0.46, 0.46]
    source_stats = []
    nets = {"x": -0.31, "reddit": -0.22, "bluesky": 0.04, "mastodon": -0.18, "news": -0.27}
    nets["hackernews"] = 0.12
    for name, series in sorted(by_source.items(), key=lambda kv: -sum(kv[1])):
        count = sum(series)
        source_stats.append(
            SourceStat(
                source=name,
                count=count,
                share=count / window,
                net=nets[name],
                negative_share=0.3 - nets[name] / 2,
            )
        )
    brand_counts = {"Northwind": window * 64 // 100, "Contoso": window * 23 // 100}
    brand_counts["Fabrikam"] = window - sum(brand_counts.values())
    brand_net = {"Northwind": -0.41, "Contoso": 0.18, "Fabrikam": 0.52}
    return Tick(
        seq=seq,
        at=at,
        demo=demo,
        bucket_seconds=BUCKET_SECONDS,
        window_seconds=WINDOW_SECONDS,
        ingested_total=48_211 + seq * 9,
        rate_per_s=18.6,
        volume=Volume(
            last_minute=last_minute,
            window=window,
            per_minute=window / (WINDOW_SECONDS / 60),
            series=total,
            by_source=by_source,
        ),
        sentiment=SentimentView(
            positive=positive,
            neutral=neutral,
            negative=negative,
            net=net,
            negative_share=negative / window,
            series_net=series_net,
            series_negative_share=series_neg,
        ),
        sources=source_stats,
        languages=[
            KeyCount(key="en", count=window * 78 // 100),
            KeyCount(key="de", count=window * 15 // 100),
            KeyCount(key="da", count=window * 7 // 100),
        ],
        brands=[
            BrandStat(
                brand=name,
                count=count,
                share_of_voice=count / window,
                net=brand_net[name],
                negative_share=0.3 - brand_net[name] / 2,
            )
            for name, count in brand_counts.items()
        ],
        topics=list(STORIES if listening else TOPICS),
        influencers=list(INFLUENCERS) if listening else [],
        triage=TRIAGE if listening else TriageView(),
        incidents=list(incidents),
        river=_river(seq, at),
        feeds=[
            FeedInfo(
                name=f"demo-{name}",
                source=name,
                demo=True,
                connected=True,
                last_seen=at - 0.2,
                last_event_at=at - 0.2,
                events_per_min=60.0 * base / BUCKET_SECONDS,
                errors=0,
            )
            for name, (base, _) in SOURCES.items()
        ]
        + [
            # One feed waits out a rate limit, one has gone away: the feeds panel's states.
            FeedInfo(
                name="reddit-eu",
                source="reddit",
                demo=True,
                connected=True,
                last_seen=at - 40.0,
                last_event_at=at - 40.0,
                events_per_min=0.0,
                errors=2,
                rate_limit_wait=42.0,
                detail="429 from oauth.reddit.com",
            ),
            FeedInfo(
                name="x-stream",
                source="x",
                demo=True,
                connected=False,
                last_seen=at - 300.0,
                last_event_at=at - 300.0,
                events_per_min=0.0,
                errors=5,
                down_since=at - 290.0,
                detail="stream stalled: no data or keep-alive for 20s",
            ),
        ],
    )


def demo_hello() -> StreamHello:
    return StreamHello(
        protocol=1,
        hub="groundcontrol-demo",
        demo=True,
        brands=list(BRANDS),
        tick_interval=TICK_INTERVAL,
        bucket_seconds=BUCKET_SECONDS,
        window_seconds=WINDOW_SECONDS,
    )


def demo_events() -> list[StreamEvent]:
    """A scripted demo session: connect, hello, snapshot, ticks, a critical incident opens."""
    return [
        Connected(HUB_URL, T0 - 0.2),
        demo_hello(),
        Snapshot(tick=make_tick(0)),
        make_tick(1),
        make_tick(2),
        make_tick(3),
        opened(CRISIS),
        make_tick(4, incidents=(CRISIS, INFO, ENDED)),
    ]


def scripted(events: Sequence[StreamEvent]) -> Callable[[], AsyncIterator[StreamEvent]]:
    """An event source that yields ``events`` in order, then waits forever.

    Waiting (rather than ending) is what a live hub looks like: the wall stays up
    showing the last data, as it would between ticks.
    """

    async def source() -> AsyncIterator[StreamEvent]:
        for event in events:
            yield event
        await asyncio.Event().wait()

    return source


class QueueSource:
    """An event source that tests feed while the app runs."""

    def __init__(self, events: Sequence[StreamEvent] = ()) -> None:
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self.push(*events)

    def push(self, *events: StreamEvent) -> None:
        for event in events:
            self.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            yield await self.queue.get()
