"""Stories, copies, influencers and the triage view, on labelled fixtures built here."""

from __future__ import annotations

import msgspec

from groundcontrol.model import Engagement, Mention
from groundcontrol.signals.analytics import Analytics
from tests.test_analytics import T0, Traffic, make_config, mention, run


def story(
    base: int, at: float, n: int, terms: list[str], brand: str, **kw: object
) -> list[Mention]:
    """``n`` original posts over ten seconds from ``at``, each carrying ``terms``."""
    return [
        mention(base + i, at + 10 * i / n, brands=[brand], terms=terms, text=f"{terms} {i}", **kw)  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_terms_that_travel_together_are_one_story_with_a_readable_label() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=11, rate=5.0)
    run(a, traffic, T0, T0 + 600, 10)
    t = T0 + 600
    extra: list[Mention] = []
    for k in range(6):  # a minute of two stories, ten seconds at a time
        extra += story(
            100_000 + 100 * k, t + 10 * k, 12, ["battery", "swollen", "#aerogate"], "Northwind"
        )
        extra += story(
            200_000 + 100 * k, t + 10 * k, 10, ["pulse", "#pulselaunch", "monitor"], "Contoso"
        )
        # The brand's own name bursts too: true, but not a story.
        extra += story(300_000 + 100 * k, t + 10 * k, 10, ["northwind"], "Northwind")
    tick, _ = run(a, traffic, t, t + 60, 10, extra=extra)
    led = {s.label.split(":")[0]: s for s in tick.topics}
    aerogate, launch = led["#aerogate"], led["#pulselaunch"]
    assert aerogate.label in ("#aerogate: battery, swollen", "#aerogate: swollen, battery")
    assert launch.label in ("#pulselaunch: pulse, monitor", "#pulselaunch: monitor, pulse")
    assert sorted(aerogate.terms) == ["#aerogate", "battery", "swollen"]
    assert sorted(launch.terms) == ["#pulselaunch", "monitor", "pulse"]
    assert aerogate.brand == "Northwind" and launch.brand == "Contoso"
    # They are the two hottest stories, and no other story holds their terms.
    assert {tick.topics[0].term, tick.topics[1].term} == {aerogate.term, launch.term}
    others = [s for s in tick.topics if s not in (aerogate, launch)]
    assert not any({"battery", "pulse", "#aerogate"} & set(s.terms) for s in others)
    assert all("northwind" not in s.terms for s in tick.topics)


def test_copies_count_in_volume_not_in_topics() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=12, rate=5.0)
    run(a, traffic, T0, T0 + 600, 10)
    t = T0 + 600
    # 300 retweets of one post, and 30 people writing their own about another thing.
    copied = story(400_000, t, 300, ["#copypaste", "giveaway"], "Northwind")
    for m in copied[1:]:
        m.copy_of = copied[0].id
    own = story(500_000, t, 30, ["#realstory", "outage"], "Northwind")
    tick, _ = run(a, traffic, t, t + 20, 10, extra=copied + own)
    assert tick.volume.window >= 330
    labels = [s.label for s in tick.topics]
    assert any(label.startswith("#realstory") for label in labels)
    assert not any("#copypaste" in s.terms for s in tick.topics)


def test_influencers_weigh_reach_engagement_and_how_often_they_talk_about_us() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=13, rate=5.0)
    veteran = mention(599_999, T0 + 5, reach=1_500_000)
    veteran = msgspec.structs.replace(veteran, author="@veteran")
    run(a, traffic, T0, T0 + 900, 10, extra=[veteran])
    t = T0 + 900

    def by(author: str, i: int, reach: int, likes: int) -> Mention:
        m = mention(600_000 + i, t + i % 50, reach=reach, label="negative")
        return msgspec.structs.replace(m, author=author, engagement=Engagement(likes=likes))

    extra = [by("@megastar", 0, 2_000_000, 30_000)]  # once, huge
    extra += [by("@regular_critic", 1 + i, 3_000, 40) for i in range(12)]  # often, small
    extra += [by("@nobody", 100, 20, 0), by("@veteran", 101, 1_500_000, 1000)]
    tick, _ = run(a, traffic, t, t + 60, 10, extra=extra)
    ranked = [i.author for i in tick.influencers]
    assert ranked[:3] == ["@megastar", "@veteran", "@regular_critic"]
    critic = tick.influencers[2]
    assert (critic.mentions, critic.engagement, critic.net) == (12, 480, -1.0)
    assert critic.brands == ["Northwind"]
    # Both first posted inside this window, after fifteen minutes of others: new voices.
    assert tick.influencers[0].new and critic.new
    # Someone heard from fifteen minutes ago is not.
    assert not tick.influencers[1].new
    assert "@nobody" not in ranked


def test_triage_view_counts_categories_queues_reviews_and_flags() -> None:
    a = Analytics(make_config())
    t = T0

    def classified(
        i: int, category: str, review: bool = False, flags: list[str] | None = None
    ) -> Mention:
        m = mention(700_000 + i, t + i, text=f"post {i}")
        return msgspec.structs.replace(
            m,
            category=category,
            category_confidence=0.4 if review else 0.9,
            needs_review=review or bool(flags),
            flags=flags or [],
        )

    batch = [classified(0, "support"), classified(1, "support", review=True)]
    batch += [classified(2, "praise"), classified(3, "sales", review=True)]
    batch += [classified(4, "compliance_risk", flags=["financial figures without safe harbour"])]
    a.add(batch)
    tick, _ = a.tick(t + 10)
    counts = {k.key: k.count for k in tick.triage.categories}
    assert counts == {
        "support": 2,
        "sales": 1,
        "product_problem": 0,
        "praise": 1,
        "compliance_risk": 1,
        "other": 0,
    }
    assert tick.triage.review == 3 and tick.triage.flagged == 1
    assert [q.id for q in tick.triage.queue] == [
        "bluesky:700004",
        "bluesky:700003",
        "bluesky:700001",
    ]
    assert tick.triage.queue[1].category == "sales" and tick.triage.queue[1].confidence == 0.4
    assert tick.triage.flags[0].flags == ["financial figures without safe harbour"]
    a.reviewed("bluesky:700003")
    tick, _ = a.tick(t + 11)
    assert [q.id for q in tick.triage.queue] == ["bluesky:700004", "bluesky:700001"]
