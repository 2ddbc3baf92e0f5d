"""Incidents from bursts (groundcontrol.signals.incidents): grouping, kind, severity, lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from groundcontrol.config import SpikeConfig
from groundcontrol.model import Mention
from groundcontrol.protocol import IncidentEvent, SignalKind
from groundcontrol.signals.detector import Reading
from groundcontrol.signals.incidents import IncidentBook, IncidentError, SeriesPoint, tone_of

BS = 10.0
T0 = 1_765_000_800.0


def mention(brands: Sequence[str], text: str = "x") -> Mention:
    return Mention(
        source="x",
        source_id=text,
        text=text,
        created_at=datetime.fromtimestamp(T0, UTC),
        brands=list(brands),
    )


def point(
    series: str,
    kind: SignalKind,
    *,
    brand: str = "",
    score: float = 0.0,
    rate: float = 5.0,
    expected: float = 5.0,
    active: bool | None = None,
    total: int | None = None,
    positive: int = 0,
    negative: int = 0,
    members: Sequence[Mention] = (),
) -> SeriesPoint:
    """One series' bucket: ``rate`` and ``expected`` are mentions per 10-s bucket."""
    is_active = rate > 1.5 * expected if active is None else active
    reading = Reading(score, 0.5 if score else -1.0, expected, rate, is_active, score > 0)
    n = int(rate) if total is None else total
    return SeriesPoint(
        series=series,
        kind=kind,
        label=series.split(":")[-1],
        brand=brand,
        reading=reading,
        total=n,
        positive=positive,
        negative=negative,
        members=lambda: list(members),
    )


def brand(name: str, **kw: object) -> SeriesPoint:
    return point(f"brand:{name}", "volume", brand=name, **kw)  # type: ignore[arg-type]


def quiet(name: str, n: int = 5) -> SeriesPoint:
    return brand(name, rate=float(n), expected=5.0, positive=1, negative=1)


class Book:
    """An IncidentBook driven bucket by bucket."""

    def __init__(self, **config: object) -> None:
        self.book = IncidentBook(SpikeConfig(**config), bucket_seconds=BS)  # type: ignore[arg-type]
        self.bucket = 0

    def step(self, *points: SeriesPoint) -> list[IncidentEvent]:
        self.bucket += 1
        return self.book.observe(T0 + self.bucket * BS, list(points))

    @property
    def now(self) -> float:
        return T0 + self.bucket * BS


def learn_baselines(b: Book, buckets: int = 30) -> None:
    for _ in range(buckets):
        b.step(
            brand("Northwind", rate=5.0, positive=1, negative=1),
            brand("Contoso", rate=5.0, positive=1, negative=1),
        )


def test_a_brand_burst_opens_one_incident_and_its_topic_and_source_join() -> None:
    b = Book()
    learn_baselines(b)
    ours = [mention(["Northwind"], f"m{i}") for i in range(10)]
    ev = b.step(brand("Northwind", score=0.9, rate=40.0, negative=30, positive=2))
    assert [e.change for e in ev] == ["opened"]
    inc = ev[0].incident
    assert inc.brand == "Northwind" and inc.status == "open"
    assert inc.started_at == b.now - BS
    ev = b.step(
        brand("Northwind", rate=45.0, negative=35, positive=2),
        point("topic:#aerogate", "topic", score=0.95, rate=20.0, expected=0.1, members=ours),
        point("source:x", "source", score=0.7, rate=30.0, expected=5.0, members=ours),
        point("source:rss", "source", score=0.7, rate=30.0, members=[mention(["Contoso"])]),
    )
    assert len(b.book.all()) == 1
    inc = b.book.all()[0]
    assert [s.series for s in inc.signals] == ["brand:Northwind", "topic:#aerogate", "source:x"]
    assert inc.kind == "negative"
    assert "#aerogate" in inc.title
    assert all(e.incident.id == inc.id for e in ev)


def test_bursts_no_brand_incident_claims_open_nothing() -> None:
    b = Book()
    learn_baselines(b)
    ev = b.step(
        quiet("Northwind"),
        point("topic:hub", "topic", score=0.9, rate=30.0, members=[mention(["Northwind"])]),
        point("source:news", "source", score=0.9, rate=30.0),
        point("total", "volume", score=0.9, rate=30.0),
    )
    assert ev == []
    assert b.book.all() == []


def test_two_brands_bursting_in_the_same_bucket_are_two_incidents() -> None:
    b = Book()
    learn_baselines(b)
    ev = b.step(
        brand("Northwind", score=0.9, rate=40.0, negative=30),
        brand("Contoso", score=0.8, rate=40.0, positive=30),
    )
    assert sorted(e.incident.brand for e in ev) == ["Contoso", "Northwind"]
    kinds = {i.brand: i.kind for i in b.book.all()}
    assert kinds == {"Northwind": "negative", "Contoso": "positive"}


def test_small_or_weak_bursts_count_for_nothing() -> None:
    b = Book()
    learn_baselines(b)
    # A score under alert_score, or under min_rate (10 a minute = 1.7 per bucket).
    assert b.step(brand("Northwind", score=0.3, rate=40.0)) == []
    assert b.step(brand("Contoso", score=0.9, rate=1.0, expected=0.2)) == []


def test_tone_reads_the_extra_mentions() -> None:
    # Usually 40% negative; a launch triples the volume with praise: positive, though
    # the negative share of all mentions is still well above 0.
    kind, neg, pos = tone_of(300, pos=180, neg=45, expected=100, base_pos=0.2, base_neg=0.4)
    assert kind == "positive" and pos > 0.7 and neg < 0.1
    kind, neg, _ = tone_of(300, pos=20, neg=200, expected=100, base_pos=0.2, base_neg=0.4)
    assert kind == "negative" and neg > 0.7
    assert tone_of(300, pos=80, neg=90, expected=100, base_pos=0.2, base_neg=0.2)[0] == "neutral"
    assert tone_of(10, pos=0, neg=10, expected=2, base_pos=0, base_neg=0)[0] == "neutral"


def test_severity_grows_with_size_and_negativity_and_a_launch_is_never_critical() -> None:
    b = Book()
    learn_baselines(b)
    b.step(brand("Northwind", score=0.9, rate=20.0, negative=16, positive=1))
    b.step(brand("Contoso", score=0.9, rate=150.0, positive=140, negative=2), quiet("Northwind"))
    for _ in range(5):
        b.step(
            brand("Northwind", rate=20.0, negative=16, positive=1),
            brand("Contoso", rate=150.0, positive=140, negative=2),
        )
    by_brand = {i.brand: i for i in b.book.all()}
    assert by_brand["Northwind"].kind == "negative"
    assert by_brand["Northwind"].severity == "critical"  # 4x and 80% negative
    assert by_brand["Contoso"].kind == "positive"
    assert by_brand["Contoso"].ratio == pytest.approx(30.0)
    assert by_brand["Contoso"].severity == "warning"  # 30x, never critical


def test_severity_never_goes_down_and_an_escalation_is_an_event() -> None:
    b = Book()
    learn_baselines(b)
    b.step(brand("Northwind", score=0.9, rate=12.0, negative=6, positive=1))
    changes = []
    for rate in (20.0, 40.0, 12.0, 8.0):
        changes += [e.change for e in b.step(brand("Northwind", rate=rate, negative=int(rate) - 2))]
    assert "escalated" in changes
    assert b.book.all()[0].severity == "critical"


def test_it_ends_by_itself_when_every_signal_is_back_to_normal() -> None:
    b = Book(end_after_seconds=30.0)
    learn_baselines(b)
    b.step(brand("Northwind", score=0.9, rate=40.0, negative=30))
    b.step(brand("Northwind", rate=40.0, negative=30))
    assert b.book.all()[0].status == "open"
    events = []
    for _ in range(5):
        events += b.step(quiet("Northwind"))
    inc = b.book.all()[0]
    assert [e.change for e in events] == ["resolved"]
    assert inc.status == "resolved" and inc.resolved_by == "" and inc.ended_at is not None
    assert inc.history[-1].action == "resolved"
    assert "back to normal" in inc.history[-1].detail


def test_a_new_burst_soon_after_the_end_reopens_the_same_incident() -> None:
    b = Book(end_after_seconds=20.0, regroup_seconds=300.0)
    learn_baselines(b)
    b.step(brand("Northwind", score=0.9, rate=40.0, negative=30))
    for _ in range(4):
        b.step(quiet("Northwind"))
    first = b.book.all()[0]
    assert first.status == "resolved"
    ev = b.step(
        point(
            "negative:brand:Northwind",
            "negative",
            brand="Northwind",
            score=0.8,
            rate=20.0,
            expected=2.0,
            total=30,
            negative=20,
        )
    )
    assert [e.change for e in ev] == ["reopened"]
    assert len(b.book.all()) == 1 and b.book.all()[0].id == first.id


def test_people_acknowledge_snooze_and_resolve_with_their_names_in_the_history() -> None:
    b = Book()
    learn_baselines(b)
    (ev,) = b.step(brand("Northwind", score=0.9, rate=40.0, negative=30))
    iid = ev.incident.id
    ack = b.book.acknowledge(iid, by="alice", at=b.now + 1)
    assert ack.change == "acknowledged"
    assert ack.incident.acked_by == "alice" and ack.incident.acked_at == b.now + 1
    assert ack.incident.history[-1].by == "alice"
    snooze = b.book.snooze(iid, by="bob", at=b.now + 2, seconds=60)
    assert snooze.incident.status == "snoozed" and snooze.incident.snoozed_until == b.now + 62
    assert snooze.incident.history[-1].detail == "for 1 min"
    # The snooze runs out while it is still going: open again.
    assert b.book.expire_snoozes(b.now + 30) == []
    (reopened,) = b.book.expire_snoozes(b.now + 63)
    assert reopened.change == "reopened" and reopened.incident.status == "open"
    done = b.book.resolve(iid, by="carol", at=b.now + 70, note="recall announced")
    assert done.incident.status == "resolved" and done.incident.resolved_by == "carol"
    assert [h.action for h in done.incident.history] == [
        "opened",
        "acknowledged",
        "snoozed",
        "reopened",
        "resolved",
    ]
    with pytest.raises(IncidentError, match="already resolved"):
        b.book.acknowledge(iid, by="dave", at=b.now + 80)
    with pytest.raises(IncidentError, match="no incident"):
        b.book.acknowledge("inc-nope", by="dave", at=b.now)
    with pytest.raises(IncidentError, match="positive"):
        b.book.snooze(iid, by="dave", at=b.now, seconds=0)
    # A burst after a person resolved it is news: a new incident, not a reopening.
    b.step(quiet("Northwind"))
    (new,) = b.step(brand("Northwind", score=0.9, rate=40.0, negative=30))
    assert new.change == "opened" and new.incident.id != iid


def test_current_puts_the_most_urgent_first_and_drops_old_resolved_ones() -> None:
    b = Book(end_after_seconds=10.0)
    learn_baselines(b)
    b.step(brand("Contoso", score=0.9, rate=30.0, positive=25), quiet("Northwind"))
    b.step(brand("Northwind", score=0.9, rate=40.0, negative=35), brand("Contoso", rate=30.0))
    b.step(brand("Northwind", rate=40.0, negative=35), brand("Contoso", rate=30.0))
    order = [i.brand for i in b.book.current(b.now)]
    assert order == ["Northwind", "Contoso"]  # critical before info
    for _ in range(3):
        b.step(quiet("Northwind"), quiet("Contoso"))
    assert all(i.status == "resolved" for i in b.book.current(b.now))
    assert b.book.current(b.now + 3600) == []


def test_restored_incidents_keep_who_acknowledged_them() -> None:
    b = Book()
    learn_baselines(b)
    (ev,) = b.step(brand("Northwind", score=0.9, rate=40.0, negative=30))
    acked = b.book.acknowledge(ev.incident.id, by="alice", at=b.now).incident
    fresh = IncidentBook(SpikeConfig(), bucket_seconds=BS)
    fresh.restore([acked])
    again = fresh.get(acked.id)
    assert again is not None and again.acked_by == "alice" and again.status == "acknowledged"
    # Still going after the restart: the next burst of that brand joins it.
    ev2 = fresh.observe(
        b.now + BS,
        [
            point(
                "negative:brand:Northwind",
                "negative",
                brand="Northwind",
                score=0.9,
                rate=20.0,
                expected=2.0,
                total=30,
                negative=25,
            )
        ],
    )
    assert [e.incident.id for e in ev2] == [acked.id]


def test_a_word_in_a_few_posts_is_no_signal_and_the_hashtag_always_finds_room() -> None:
    b = Book()
    learn_baselines(b)
    ours = [mention(["Northwind"], f"m{i}") for i in range(10)]
    b.step(brand("Northwind", score=0.9, rate=400.0, positive=300, negative=10))
    sources = [
        point(f"source:s{i}", "source", score=0.8, rate=80.0, members=ours) for i in range(6)
    ]
    b.step(
        brand("Northwind", rate=400.0, positive=300, negative=10),
        point("topic:top", "topic", score=0.9, rate=8.0, expected=0.2, members=ours),
        *sources,
    )
    b.step(
        brand("Northwind", rate=400.0, positive=300, negative=10),
        point("topic:#pulse", "topic", score=0.9, rate=120.0, expected=0.1, members=ours),
    )
    (inc,) = b.book.all()
    kinds = [(s.kind, s.label) for s in inc.signals]
    assert ("topic", "top") not in kinds  # 2% of the brand's talk
    assert kinds[:2] == [("volume", "Northwind"), ("topic", "#pulse")]
    assert sum(kind == "source" for kind, _ in kinds) == 3
    assert inc.title.startswith("Northwind positive surge: #pulse")
