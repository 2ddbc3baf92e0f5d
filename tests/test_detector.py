"""The burst detector (groundcontrol.signals.detector) and the NAB scorer (lab.nab).

The series here are built in the test with a known generating process, so each test
knows exactly where the bursts are. The detector's quality is measured on real,
human-labelled series (README, "Spikes"); these tests pin its mechanics.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from groundcontrol.lab.nab import (
    STANDARD,
    LabelledFile,
    optimise_threshold,
    probation_rows,
    row_weights,
    scaled_sigmoid,
    score_corpus,
    score_file,
    window_length,
    windows_for,
)
from groundcontrol.signals.detector import (
    ALERT_SCORE,
    DAY,
    HOUR,
    BurstDetector,
    DetectorConfig,
    Reading,
    excess_of,
    scale_buckets,
    score_of,
    severity_for_ratio,
)
from tests.fixtures.series.evaluate import Labelled, burst_scores, evaluate
from tests.fixtures.series.synth import generate, poisson

STEP = 300.0  # 5-minute buckets
PER_DAY = 288


def make_series(
    days: float, mean: Callable[[int], float], seed: int = 1, step: float = STEP
) -> list[float]:
    """Poisson counts with ``mean(row)``, one per bucket of ``step`` seconds."""
    rng = random.Random(seed)
    per_day = int(DAY / step)
    return [float(poisson(rng, mean(i))) for i in range(int(days * per_day))]


def daily(i: int, low: float, high: float, per_day: int = PER_DAY) -> float:
    """A smooth daily cycle from ``low`` (04:00) to ``high`` (16:00), row 0 at midnight."""
    hour = 24 * (i % per_day) / per_day
    return low + (high - low) * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2


def run(
    values: list[float], config: DetectorConfig | None = None, step: float = STEP
) -> list[Reading]:
    det = BurstDetector(step, config or DetectorConfig())
    return [det.update(v) for v in values]


def alerts(readings: list[Reading], threshold: float = ALERT_SCORE) -> list[int]:
    return [i for i, r in enumerate(readings) if r.score >= threshold]


# ---------------------------------------------------------------------- detector


def test_prefix_gets_the_same_scores() -> None:
    values = make_series(6, lambda i: daily(i, 10, 60) * (12 if i == 1300 else 1))
    full = run(values)
    cut = run(values[:1000])
    assert [r.score for r in full[:1000]] == [r.score for r in cut]
    changed = values[:1000] + [v * 50 for v in values[1000:]]
    assert [r.score for r in run(changed)[:1000]] == [r.score for r in cut]


def test_warms_up_quietly() -> None:
    values = [5.0, 0.0, 40.0, 3.0, 90.0, 1.0] + [4.0] * 10
    readings = run(values)
    assert all(r.score == 0.0 and r.excess == -math.inf for r in readings[:6])


def test_a_single_extreme_bucket_reaches_a_top_score_on_its_own() -> None:
    values = make_series(4, lambda i: daily(i, 10, 40) * (50 if i == 3 * PER_DAY + 100 else 1))
    readings = run(values)
    spike = 3 * PER_DAY + 100
    assert readings[spike].score > 0.9
    assert readings[spike].onset
    assert alerts(readings[PER_DAY + 12 :]) == [spike - PER_DAY - 12]


def test_the_score_falls_to_zero_inside_an_episode_and_stays_quiet_for_hours() -> None:
    onset = 3 * PER_DAY
    # Ten times normal for two hours: one onset, then nothing while it lasts.
    values = make_series(4, lambda i: 20 * (10 if onset <= i < onset + 24 else 1))
    readings = run(values)
    hits = alerts(readings[PER_DAY:])
    assert [i + PER_DAY for i in hits][:1] == [onset]
    assert all(r.score == 0.0 for r in readings[onset + 3 : onset + 24])
    assert all(r.active for r in readings[onset + 6 : onset + 24])
    assert not readings[onset + 30].active


def test_a_repeat_of_what_was_seen_is_no_news() -> None:
    # The same 8x spike every day: the first after the learning day is news; its repeats
    # are the series' normal. A repeat that happens to come out a little higher than all
    # before it is a (small) record: rare, and it scores well below real news.
    values = make_series(9, lambda i: 15 * (8 if i % PER_DAY == 200 else 1))
    readings = run(values)
    first = PER_DAY + 200
    assert readings[first].score > 0.9
    repeats = [readings[d * PER_DAY + 200].score for d in range(2, 9)]
    assert sum(score >= ALERT_SCORE for score in repeats) <= 2
    assert max(repeats) < 0.8
    # Nothing else speaks: only a spike and the two buckets after it (its onset).
    assert all(r.score == 0.0 for i, r in enumerate(readings) if i % PER_DAY not in (200, 201, 202))


def test_escalation_within_the_quiet_time_speaks_only_when_much_larger() -> None:
    base = 3 * PER_DAY
    shape = {base: 12.0, base + 24: 18.0, base + 48: 60.0}
    values = make_series(4, lambda i: 10 * shape.get(i, 1.0))
    readings = run(values)
    assert readings[base].score >= ALERT_SCORE
    assert readings[base + 24].score == 0.0  # 1.5 times the episode's peak: quiet
    assert readings[base + 48].score >= ALERT_SCORE  # over twice anything before: reported
    assert all(r.score == 0.0 for r in readings[base + 49 : base + 72])


def test_a_smooth_busy_series_needs_a_clear_multiple() -> None:
    # 600 a bucket with Poisson noise: its two-week maximum is barely above normal,
    # so the floor (min_ratio) decides: 2x is not a burst, 5x is.
    onset_2x = 3 * PER_DAY
    onset_5x = 4 * PER_DAY

    def mean(i: int) -> float:
        if onset_2x <= i < onset_2x + 6:
            return 1200.0
        if onset_5x <= i < onset_5x + 6:
            return 3000.0
        return 600.0

    hits = alerts(run(make_series(5, mean))[PER_DAY:])
    assert [i + PER_DAY for i in hits] == [onset_5x]


def test_a_long_rise_ranks_below_a_big_spike() -> None:
    rise = 3 * PER_DAY
    spike = 5 * PER_DAY + 100

    def mean(i: int) -> float:
        if rise <= i < rise + 48:  # four hours at 4x
            return 80.0
        if i == spike:
            return 1500.0
        return 20.0

    readings = run(make_series(6, mean))
    rise_best = max(r.score for r in readings[rise : rise + 48])
    assert readings[spike].score > rise_best


def test_a_burst_that_builds_over_a_quarter_hour_is_found() -> None:
    # 6x for three buckets on a spiky series (one bucket in fifty is 6x): no single
    # bucket need beat its extremes, the fifteen-minute rate does.
    rng = random.Random(4)
    values = []
    for i in range(5 * PER_DAY):
        spike = 6.0 if rng.random() < 0.02 else 1.0
        burst = 6.0 if 4 * PER_DAY <= i < 4 * PER_DAY + 3 else 1.0
        values.append(float(poisson(rng, 30 * spike * burst)))
    readings = run(values)
    assert any(r.score >= ALERT_SCORE for r in readings[4 * PER_DAY : 4 * PER_DAY + 4])


def test_the_first_day_is_learning() -> None:
    # A monster burst in the first hours would hide everything below it for two weeks;
    # once the first day is over it is forgotten.
    first = 50
    later = 3 * PER_DAY

    def mean(i: int) -> float:
        if i == first:
            return 2000.0
        if i == later:
            return 600.0
        return 20.0

    readings = run(make_series(4, mean))
    assert readings[later].score >= ALERT_SCORE
    kept = run(make_series(4, mean), DetectorConfig(learning=0.0))
    assert kept[later].score == 0.0


def test_timescales_are_seconds_so_the_hub_and_the_backtest_agree() -> None:
    c = DetectorConfig()
    assert scale_buckets(c, 300) == [1, 3]
    assert scale_buckets(c, 10) == [6, 30, 90]
    assert scale_buckets(c, 3600) == [1]


def test_state_is_bounded() -> None:
    det = BurstDetector(10.0)
    sizes = []
    for i in range(30 * 8640 // 10):  # three days of 10-second buckets, sampled
        det.update(10.0 + (i % 7))
        if i % 5000 == 0:
            sizes.append(det.state_size)
    hour_blocks = 14 * 24
    assert max(sizes) <= 3 * (hour_blocks + 6) + 90


def test_bad_values_do_not_break_it() -> None:
    readings = run([5.0] * 20 + [math.nan, -3.0, math.inf] + [5.0] * 5)
    assert all(0.0 <= r.score <= 1.0 for r in readings)


def test_score_and_severity() -> None:
    assert score_of(0.0) == 0.0
    assert score_of(-3.0) == 0.0
    assert score_of(0.05) == pytest.approx(0.5)
    assert excess_of(score_of(0.3)) == pytest.approx(0.3)
    assert score_of(1e9) < 1.0
    assert severity_for_ratio(3.0, "negative", 0.7) == "critical"
    assert severity_for_ratio(6.0, "negative", 0.3) == "critical"
    assert severity_for_ratio(3.0, "negative", 0.4) == "warning"
    assert severity_for_ratio(50.0, "positive") == "warning"  # never critical
    assert severity_for_ratio(4.0, "positive") == "info"
    assert severity_for_ratio(4.0, "neutral") == "info"
    with pytest.raises(ValueError, match="interval"):
        BurstDetector(0)
    assert HOUR * 24 == DAY


# ---------------------------------------------------------------------- NAB scoring


def test_scaled_sigmoid_and_sizes() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0
    assert probation_rows(1000) == 150
    assert probation_rows(15840) == 750
    assert window_length(1000, 2) == 50
    assert windows_for([300, 700], 1000) == [(275, 325), (675, 725)]
    assert windows_for([300, 320], 1000) == [(275, 345)]  # touching windows merge
    assert windows_for([5], 100) == [(0, 10)]


def test_row_weights() -> None:
    w = row_weights(100, [(40, 59)], STANDARD)
    assert w[0] == pytest.approx(-0.11)  # before any window: the full cost
    assert w[40] == pytest.approx(1.0)  # first row of the window: the full reward
    assert w[50] == pytest.approx(scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0))
    assert 0 < w[59] < w[50] < w[40]
    assert -0.11 < w[60] < 0  # just after a window a false positive costs less
    assert w[99] == pytest.approx(0.11 * scaled_sigmoid(40 / 19))


def _file(scores: dict[int, float], rows: int = 1000) -> LabelledFile:
    s = [0.0] * rows
    for i, v in scores.items():
        s[i] = v
    return LabelledFile("f", s, windows_for([400, 800], rows))


def test_perfect_null_and_costs() -> None:
    perfect = _file({375: 1.0, 775: 1.0})
    r = score_corpus([perfect])
    assert r.normalised == pytest.approx(100.0)
    assert r.null == pytest.approx(-2.0)
    assert score_corpus([_file({})]).normalised == pytest.approx(0.0)
    # One false positive before the windows costs exactly 0.11.
    fp = score_file(_file({375: 1.0, 775: 1.0, 200: 1.0}), 0.5)
    assert fp.raw == pytest.approx(2.0 - 0.11)
    assert (fp.tp, fp.fp, fp.fn) == (2, 1, 0)
    # A missed window costs 1; later detections in a window are free.
    late = score_file(_file({375: 1.0, 376: 1.0, 390: 1.0}), 0.5)
    assert late.raw == pytest.approx(1.0 - 1.0)
    # Detections inside probation (first 150 rows) count for nothing.
    assert score_file(_file({10: 1.0}), 0.5).raw == pytest.approx(-2.0)


def test_threshold_is_optimised_over_the_corpus() -> None:
    a = _file({400: 0.9, 100 + 200: 0.5})
    b = _file({800: 0.7, 500: 0.6})
    threshold, raw = optimise_threshold([a, b])
    # Detecting down to 0.7 gets two windows; going lower adds false positives only.
    assert threshold == pytest.approx(0.7)
    expected = 2 * (scaled_sigmoid(-26 / 51) / scaled_sigmoid(-1)) - 2  # two hits, two misses
    assert raw == pytest.approx(expected, abs=1e-9)
    r = score_corpus([a, b])
    assert r.raw == pytest.approx(raw)
    assert sum(f.raw for f in r.files) == pytest.approx(raw)


def test_generated_series_with_unlabelled_bursts_are_scored_well() -> None:
    # Generated series test the mechanics only (the figures that count are on real
    # data): seeds used by neither set, three weeks each.
    series = []
    for seed in range(300, 306):
        s = generate(seed, 6048)
        series.append(
            Labelled(
                s.name,
                float(s.interval),
                [float(v) for v in s.values],
                windows_for(s.anomalies, 6048),
            )
        )
    ours = evaluate(series, burst_scores).normalised
    shipped = evaluate(series, burst_scores, ALERT_SCORE).normalised
    assert ours > 75
    assert shipped > 70


def test_state_survives_a_restart_through_json() -> None:
    import json

    values = make_series(5, lambda i: daily(i, 10, 60) * (20 if i == 4 * PER_DAY else 1))
    whole = run(values)
    first = BurstDetector(STEP)
    for v in values[: 3 * PER_DAY + 17]:
        first.update(v)
    saved = json.loads(json.dumps(first.state()))
    second = BurstDetector(STEP)
    assert second.restore(saved)
    rest = [second.update(v) for v in values[3 * PER_DAY + 17 :]]
    assert rest == whole[3 * PER_DAY + 17 :]
    assert rest[PER_DAY - 17].score > 0.9  # the spike after the restart is still news
    # Another bucket width, another version or garbage: refused, nothing changed.
    other = BurstDetector(60.0)
    assert not other.restore(saved)
    assert not BurstDetector(STEP).restore({**saved, "version": 0})
    assert not BurstDetector(STEP).restore({"version": 1, "interval": STEP})
    broken = BurstDetector(STEP)
    assert not broken.restore({**saved, "per_scale": [{"blocks": "x"}] * 2})
    assert broken.buckets_seen == 0


def test_a_record_too_small_to_count_does_not_silence_the_series() -> None:
    # Ten-second buckets: a blip just over three times the usual level scores under
    # the threshold; the ten-times burst an hour later must still be reported.
    det = BurstDetector(10.0)
    for _ in range(720):
        det.update(50.0)
    blip = max(det.update(158.0).score for _ in range(6))
    assert 0 < blip < ALERT_SCORE
    for _ in range(360):
        det.update(50.0)
    burst = [det.update(500.0).score for _ in range(12)]
    assert max(burst) >= 0.8
    assert sum(score > 0 for score in burst) <= 3  # its onset, then quiet
