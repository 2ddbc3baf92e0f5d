"""The online seasonal detector (groundcontrol.detector) and the NAB scorer (groundcontrol.nab).

The series here are built in the test with a known generating process, so each test
knows exactly where the anomalies are and what the baseline should be.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from groundcontrol.detector import (
    ALERT_SCORE,
    Reading,
    SeasonalDetector,
    evidence_of,
    score_of,
    severity_for,
)
from groundcontrol.nab import (
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
from tests.fixtures.series.evaluate import evaluate, spikes_mad_scores, static_z_scores
from tests.fixtures.series.synth import Series, generate, poisson

STEP = 300.0  # 5-minute buckets
PER_DAY = 288
# 2015-03-02 00:00 UTC, a Monday.
MONDAY = 1425254400.0


def make_series(
    days: float,
    mean: Callable[[int, float], float],
    seed: int = 1,
) -> tuple[list[float], list[float]]:
    """Poisson counts with ``mean(row, t)``, one per 5 minutes from a Monday midnight."""
    rng = random.Random(seed)
    times = [MONDAY + i * STEP for i in range(int(days * PER_DAY))]
    return times, [float(poisson(rng, mean(i, t))) for i, t in enumerate(times)]


def daily(t: float, low: float, high: float) -> float:
    """A smooth daily cycle from ``low`` (04:00) to ``high`` (16:00)."""
    hour = (t % 86400) / 3600
    return low + (high - low) * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2


def run(times: list[float], values: list[float]) -> list[Reading]:
    det = SeasonalDetector(STEP)
    return [det.update(t, v) for t, v in zip(times, values, strict=True)]


# ---------------------------------------------------------------------- detector


def test_prefix_gets_the_same_scores() -> None:
    times, values = make_series(6, lambda i, t: daily(t, 10, 60) * (3 if i == 1300 else 1))
    full = run(times, values)
    prefix = run(times[:1000], values[:1000])
    assert prefix == full[:1000]
    assert all(0.0 <= r.score <= 1.0 for r in full)


def test_warms_up_quietly() -> None:
    times, values = make_series(1, lambda i, t: 30.0 if i > 5 else 300.0)
    readings = run(times, values)
    assert all(r.score == 0.0 for r in readings[:12])


def test_single_outliers_are_shrugged_off_but_three_in_a_row_are_not() -> None:
    outliers = {PER_DAY * d + 7 * 12 + 5 for d in range(3, 10)}  # 07:25 every day

    def mean(i: int, t: float) -> float:
        base = daily(t, 20, 80)
        return base * 8 if i in outliers else base

    times, values = make_series(10, mean)
    readings = run(times, values)
    scored = readings[PER_DAY * 2 :]
    assert max(r.score for r in scored) < ALERT_SCORE
    # An outlier barely moves the baseline: the next bucket's expectation holds, on a
    # Thursday (a known time of day). On the first Saturday the weekend curve is new and
    # uncertain, so it learns fast and one bucket of 2,000 moves it more (not 2x).
    for day, tolerance in ((3, 0.03), (5, 0.3)):
        det = SeasonalDetector(STEP)
        for t, v in zip(times[: PER_DAY * day], values[: PER_DAY * day], strict=True):
            det.update(t, v)
        before = det.expected(times[PER_DAY * day + 1])
        det.update(times[PER_DAY * day], 2000.0)
        assert det.expected(times[PER_DAY * day + 1]) == pytest.approx(before, rel=tolerance)

    # The same at three buckets in a row is an anomaly.
    burst = {PER_DAY * 6 + 7 * 12 + 5 + k for k in range(3)}
    times, values = make_series(10, lambda i, t: daily(t, 20, 80) * (4 if i in burst else 1))
    readings = run(times, values)
    assert max(readings[i].score for i in burst) >= ALERT_SCORE


def test_daily_rhythm_is_learnt() -> None:
    times, values = make_series(10, lambda i, t: daily(t, 10, 90))
    det = SeasonalDetector(STEP)
    readings = [det.update(t, v) for t, v in zip(times, values, strict=True)]
    assert max(r.score for r in readings[PER_DAY * 2 :]) < ALERT_SCORE
    peak = det.expected(MONDAY + 10 * 86400 + 16 * 3600)
    trough = det.expected(MONDAY + 10 * 86400 + 4 * 3600)
    assert peak == pytest.approx(90, rel=0.15)
    assert trough == pytest.approx(10, rel=0.3)
    # The same rise from the trough to the peak, were it at 04:00, would be an anomaly.
    times2, values2 = make_series(
        10,
        lambda i, t: 90.0 if 8 * PER_DAY + 48 <= i < 8 * PER_DAY + 60 else daily(t, 10, 90),
    )
    readings2 = run(times2, values2)
    assert max(r.score for r in readings2[8 * PER_DAY + 48 : 8 * PER_DAY + 60]) >= ALERT_SCORE


def test_weekends_are_learnt() -> None:
    def mean(i: int, t: float) -> float:
        weekend = ((int(t // 86400) + 3) % 7) >= 5
        return daily(t, 10, 60) * (0.4 if weekend else 1.0)

    times, values = make_series(28, mean)
    det = SeasonalDetector(STEP)
    readings = [det.update(t, v) for t, v in zip(times, values, strict=True)]
    third_week = readings[14 * PER_DAY :]
    assert max(r.score for r in third_week) < ALERT_SCORE
    saturday_noon = MONDAY + 33 * 86400 + 12 * 3600
    tuesday_noon = MONDAY + 29 * 86400 + 12 * 3600
    ratio = det.expected(saturday_noon) / det.expected(tuesday_noon)
    assert ratio == pytest.approx(0.4, abs=0.1)


def test_slow_trend_is_followed() -> None:
    days = 20
    times, values = make_series(days, lambda i, t: daily(t, 20, 60) * (1 + i / (days * PER_DAY)))
    det = SeasonalDetector(STEP)
    readings = [det.update(t, v) for t, v in zip(times, values, strict=True)]
    assert max(r.score for r in readings[PER_DAY * 2 :]) < ALERT_SCORE
    assert det.expected(MONDAY + days * 86400 + 16 * 3600) == pytest.approx(120, rel=0.12)


def test_level_shift_is_reported_at_its_onset_then_accepted() -> None:
    shift = 8 * PER_DAY + 100  # a Tuesday
    times, values = make_series(12, lambda i, t: daily(t, 20, 60) * (2.0 if i >= shift else 1))
    det = SeasonalDetector(STEP)
    readings = [det.update(t, v) for t, v in zip(times, values, strict=True)]
    before = readings[PER_DAY * 2 : shift]
    assert max(r.score for r in before) < ALERT_SCORE
    first = next(i for i in range(shift, len(readings)) if readings[i].score >= ALERT_SCORE)
    assert first - shift <= 6
    # A day later the new level is the baseline: quiet again, expectation doubled.
    assert max(r.score for r in readings[shift + PER_DAY :]) < ALERT_SCORE
    assert det.expected(MONDAY + 12 * 86400 + 16 * 3600) == pytest.approx(120, rel=0.15)
    # Onset, not every bucket: the episode's first buckets and an escalation or two
    # score above the threshold, not the thousand buckets of the new level.
    assert sum(r.score >= ALERT_SCORE for r in readings[shift:]) <= 6


def test_a_burst_on_a_quiet_series_is_found() -> None:
    start = 5 * PER_DAY + 200
    times, values = make_series(
        7, lambda i, t: daily(t, 1, 4) * (4 if start <= i < start + 12 else 1)
    )
    readings = run(times, values)
    assert max(r.score for r in readings[PER_DAY * 2 : start]) < ALERT_SCORE
    assert max(r.score for r in readings[start : start + 12]) >= ALERT_SCORE


def test_share_series() -> None:
    rng = random.Random(3)
    det = SeasonalDetector(STEP, "share")
    jump = range(4 * PER_DAY, 4 * PER_DAY + 24)
    readings: list[Reading] = []
    for i in range(6 * PER_DAY):
        n = 100
        p = 0.4 if i in jump else 0.2
        share = sum(rng.random() < p for _ in range(n)) / n
        if i == 3 * PER_DAY + 50:
            share = 0.7  # one wild bucket
        readings.append(det.update(MONDAY + i * STEP, share, n))
    assert max(r.score for r in readings[PER_DAY : jump.start]) < ALERT_SCORE
    assert max(readings[i].score for i in jump) >= ALERT_SCORE
    assert readings[jump.start - 1].expected == pytest.approx(0.2, abs=0.03)
    # An empty bucket says nothing.
    assert det.update(MONDAY + 6 * 86400, 1.0, 0).score == 0.0


def test_score_and_severity() -> None:
    assert score_of(0.0) == 0.0
    assert score_of(-3.0) == 0.0
    assert evidence_of(score_of(7.5)) == pytest.approx(7.5)
    assert score_of(1e9) < 1.0
    base = evidence_of(ALERT_SCORE)
    assert severity_for(score_of(base)) == "info"
    assert severity_for(score_of(2 * base)) == "warning"
    assert severity_for(score_of(3 * base)) == "critical"
    with pytest.raises(ValueError, match="interval"):
        SeasonalDetector(0)


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


def test_detector_beats_the_baselines_on_labelled_series() -> None:
    # Seeds used by neither the tuning nor the held-out set; three weeks each.
    series = [generate(seed, 6048) for seed in range(300, 306)]
    ours = evaluate(series, lambda s: [r.score for r in _readings(s)]).normalised
    mad = evaluate(series, spikes_mad_scores).normalised
    static = evaluate(series, static_z_scores).normalised
    assert ours > 50
    assert ours > mad + 15
    assert ours > static + 15


def _readings(series: Series) -> list[Reading]:
    det = SeasonalDetector(series.interval)
    return [det.update(t, v) for t, v in zip(series.epoch(), series.values, strict=True)]
