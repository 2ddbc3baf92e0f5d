"""Tests for spike detection: the detector on its own, then through the analytics."""

from __future__ import annotations

import math
import random

import pytest

from groundcontrol.analytics import Analytics
from groundcontrol.config import SpikeConfig
from groundcontrol.model import Mention
from groundcontrol.spikes import Explanation, SpikeDetector, severity_for
from tests.test_analytics import T0, Traffic, make_config, mention, poisson, run

CFG = SpikeConfig()


def volume_detector(series: str = "brand:Northwind", label: str = "Northwind") -> SpikeDetector:
    return SpikeDetector("volume", series, CFG, bucket_seconds=10, label=label)


def feed(detector: SpikeDetector, values: list[int], start: int = 0) -> list[str]:
    changes: list[str] = []
    for i, v in enumerate(values):
        event = detector.observe(start + i, v, count=v)
        if event is not None:
            changes.append(event.change)
    return changes


# --------------------------------------------------------------------------- detector


def test_flat_noisy_series_stay_quiet() -> None:
    rng = random.Random(42)
    # Twelve series, from sparse to busy, for twelve hours of 10 s buckets each.
    for lam in (0.5, 2, 5, 15, 40, 120, 400, 1500, 3, 25, 80, 8000):
        detector = volume_detector()
        values = [poisson(rng, lam * math.exp(rng.gauss(0, 0.05))) for _ in range(4320)]
        assert feed(detector, values) == [], lam


def test_flat_negative_share_stays_quiet() -> None:
    rng = random.Random(7)
    for n_mean, p in ((25, 0.2), (60, 0.05), (300, 0.4)):
        detector = SpikeDetector("negative_share", "brand:X", CFG, bucket_seconds=10)
        for b in range(4320):
            n = poisson(rng, n_mean)
            k = sum(rng.random() < p for _ in range(n))
            assert detector.observe(b, k / n if n else 0.0, count=n) is None, (n_mean, b)


def test_warmup_blocks_alerts() -> None:
    detector = volume_detector()
    assert feed(detector, [40] * (CFG.warmup_buckets - 1)) == []
    assert detector.baseline() is None
    assert feed(detector, [400], start=CFG.warmup_buckets - 1) == []
    assert detector.baseline() is not None


def test_small_counts_do_not_alert() -> None:
    detector = volume_detector()
    # Ten times the baseline, but under min_count (15).
    assert feed(detector, [1] * 60 + [10, 12, 14]) == []
    assert feed(detector, [15], start=63) == ["opened"]


def test_a_single_outlier_barely_moves_the_baseline() -> None:
    rng = random.Random(1)
    detector = volume_detector()
    feed(detector, [poisson(rng, 40) for _ in range(60)])
    before = detector.baseline()
    assert before is not None
    assert feed(detector, [900], start=60) == ["opened"]
    feed(detector, [poisson(rng, 40) for _ in range(10)], start=61)
    after = detector.baseline()
    assert after is not None
    assert after.center == pytest.approx(before.center, rel=0.1)
    assert after.spread == pytest.approx(before.spread, rel=0.25)


def test_an_open_alert_does_not_let_the_baseline_chase_the_spike() -> None:
    rng = random.Random(2)
    detector = volume_detector()
    feed(detector, [poisson(rng, 40) for _ in range(60)])
    before = detector.baseline()
    assert before is not None
    # Ten minutes at five times the level: one alert, open the whole time.
    changes = feed(detector, [poisson(rng, 200) for _ in range(60)], start=60)
    assert changes == ["opened"]
    assert detector.alert is not None
    after = detector.baseline()
    assert after is not None
    assert after.center < 1.6 * before.center


def test_a_lasting_level_shift_is_learnt_eventually() -> None:
    rng = random.Random(3)
    detector = volume_detector()
    feed(detector, [poisson(rng, 40) for _ in range(60)])
    changes = feed(detector, [poisson(rng, 100) for _ in range(1000)], start=60)
    assert changes[0] == "opened"
    assert "ended" in changes
    assert detector.alert is None


def test_severity_grows_with_the_score() -> None:
    assert severity_for(4.0, 4.0) == "info"
    assert severity_for(7.9, 4.0) == "info"
    assert severity_for(8.0, 4.0) == "warning"
    assert severity_for(12.0, 4.0) == "critical"


def test_alert_lifecycle_on_one_series() -> None:
    detector = volume_detector()
    calls = []

    def explain() -> Explanation:
        calls.append(1)
        return Explanation(["#aerogate"], ["x"], ["it swelled"])

    for b in range(60):
        assert detector.observe(b, 41, count=41, explain=explain) is None
    opened = detector.observe(60, 100, count=100, explain=explain)
    assert opened is not None and opened.change == "opened"
    alert = opened.alert
    assert alert.id == f"volume:brand:Northwind:{60 * 10}"
    assert alert.severity == "info"
    assert alert.started_at == 600.0
    assert alert.ended_at is None
    assert alert.message == "Northwind volume 2.4x baseline (100 vs 41 per 10 s)"
    assert alert.top_terms == ["#aerogate"]
    # Still high but not worse: updated in place, no event.
    assert detector.observe(61, 110, count=110, explain=explain) is None
    assert detector.alert is not None and detector.alert.value == 110.0
    escalated = detector.observe(62, 212, count=212, explain=explain)
    assert escalated is not None and escalated.change == "escalated"
    assert escalated.alert.id == alert.id
    assert escalated.alert.severity == "critical"
    assert escalated.alert.message == "Northwind volume 5.2x baseline (212 vs 41 per 10 s)"
    assert len(calls) == 2  # on open and on escalation only
    assert detector.observe(63, 41, count=41) is None
    assert detector.observe(64, 41, count=41) is None
    ended = detector.observe(65, 41, count=41)
    assert ended is not None and ended.change == "ended"
    assert ended.alert.id == alert.id
    assert ended.alert.ended_at == 660.0
    assert ended.alert.severity == "critical"
    # Cooldown: 120 s after the end nothing may open; then it may, with a new id.
    assert feed(detector, [300] * 11, start=66) == []
    reopened = detector.observe(77, 300, count=300)
    assert reopened is not None and reopened.change == "opened"
    assert reopened.alert.id != alert.id


def test_negative_share_message_and_thin_buckets() -> None:
    detector = SpikeDetector(
        "negative_share", "brand:Northwind", CFG, bucket_seconds=10, label="Northwind"
    )
    for b in range(30):
        detector.observe(b, 0.18, count=50)
    # A thin bucket cannot alert, however negative.
    assert detector.observe(30, 1.0, count=CFG.min_share_count - 1) is None
    event = detector.observe(31, 0.64, count=50)
    assert event is not None and event.change == "opened"
    assert event.alert.kind == "negative_share"
    assert event.alert.message == "Negative share for Northwind at 64% vs 18% baseline"
    overall = SpikeDetector("negative_share", "total", CFG, bucket_seconds=10, label="all")
    for b in range(30):
        overall.observe(b, 0.18, count=50)
    event = overall.observe(30, 0.64, count=50)
    assert event is not None
    assert event.alert.message == "Negative share overall at 64% vs 18% baseline"


# --------------------------------------------------------------------------- analytics


def test_flat_traffic_raises_no_alert_for_hours() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=4, rate=5.0, jitter=0.05)
    # Ticks every three minutes: each seals eighteen buckets, which the detectors see
    # one by one exactly as with ticks every half second.
    tick, events = run(a, traffic, T0, T0 + 2 * 3600, 180)
    assert events == []
    assert tick.alerts == []


def test_a_burst_opens_one_alert_that_escalates_ends_and_cools_down() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=5, rate=5.0, jitter=0.05)
    run(a, traffic, T0, T0 + 900, 60)
    t = T0 + 900

    def burst(start: float, seconds: float, per_s: float) -> list[Mention]:
        return [
            mention(
                1_000_000 + int(start * 10) + i,
                start + i / per_s,
                source="x",
                brands=["Northwind"],
                label="negative",
                terms=["#aerogate", "battery"],
                reach=1_000_000 + i,
                text=f"aero 14 battery swelled, photo {i} #aerogate",
            )
            for i in range(int(seconds * per_s))
        ]

    # One bucket at about 2.5x, then three at 5x; ticks every half second as the hub does.
    extra = burst(t, 10, 7.5) + burst(t + 10, 30, 20)
    tick, events = run(a, traffic, t, t + 40, 0.5, extra=extra)
    total = [e for e in events if e.alert.series == "total" and e.alert.kind == "volume"]
    assert [e.alert.severity for e in total] == ["info", "critical"]
    assert len({e.alert.id for e in total}) == 1
    alert_id = total[0].alert.id
    assert alert_id == f"volume:total:{int(t)}"
    live = {x.id: x for x in tick.alerts}
    assert live[alert_id].ended_at is None
    assert "Total volume" in live[alert_id].message

    brand = [e for e in events if e.alert.series == "brand:Northwind"]
    assert {e.alert.kind for e in brand} == {"volume", "negative_share"}
    nw = next(e.alert for e in reversed(brand) if e.alert.kind == "volume")
    assert "#aerogate" in nw.top_terms[:2]
    assert nw.top_sources[0] == "x"
    # Highest reach first: reach grows with the photo number.
    photos = [int(text.split()[5]) for text in nw.examples]
    assert len(photos) == 3 and photos == sorted(photos, reverse=True)

    # Back to normal: it ends after three quiet buckets, once.
    tick, events = run(a, traffic, t + 40, t + 120, 10)
    ended = [e.alert for e in events if e.alert.id == alert_id]
    assert len(ended) == 1 and ended[0].ended_at == t + 40 + 30
    assert {x.id: x for x in tick.alerts}[alert_id].ended_at == t + 70

    # Another burst inside the cooldown opens nothing; after it, a new alert opens.
    _, events = run(a, traffic, t + 120, t + 150, 30, extra=burst(t + 120, 30, 25))
    assert [e for e in events if e.alert.series == "total"] == []
    run(a, traffic, t + 150, t + 300, 30)
    _, events = run(a, traffic, t + 300, t + 310, 10, extra=burst(t + 300, 10, 25))
    again = [e.alert for e in events if e.alert.series == "total" and e.alert.kind == "volume"]
    assert len(again) == 1 and again[0].id == f"volume:total:{int(t + 300)}"

    # Ended alerts drop out of ticks ten minutes after they end.
    tick, _ = run(a, traffic, t + 310, t + 70 + 610, 60)
    assert alert_id not in {x.id for x in tick.alerts}


def test_a_partial_bucket_never_alerts() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=6, rate=5.0, jitter=0.05)
    run(a, traffic, T0, T0 + 600, 60)
    a.add([mention(500_000 + i, T0 + 600 + i / 100, source="x") for i in range(500)])
    _, events = a.tick(T0 + 606)
    assert events == []
    _, events = a.tick(T0 + 610)
    assert any(e.alert.series == "total" for e in events)


def test_a_negative_jump_in_one_brand_opens_a_negative_share_alert_for_it() -> None:
    a = Analytics(make_config())
    traffic = Traffic(seed=8, rate=10.0, jitter=0.05, negative=0.2)
    run(a, traffic, T0, T0 + 900, 60)
    _, events = run(a, traffic, T0 + 900, T0 + 960, 10, negative={"Contoso": 0.75})
    share = [e.alert for e in events if e.alert.kind == "negative_share"]
    # The overall share rises too (Contoso is 30% of the traffic) and may alert;
    # the other brands must not.
    assert {x.series for x in share} - {"total"} == {"brand:Contoso"}
    alert = next(x for x in share if x.series == "brand:Contoso")
    assert alert.value > 0.5
    assert alert.baseline == pytest.approx(0.2, abs=0.07)
    assert alert.message.startswith("Negative share for Contoso at ")
    # Volume did not move, so no volume alert.
    assert [e for e in events if e.alert.kind == "volume"] == []
