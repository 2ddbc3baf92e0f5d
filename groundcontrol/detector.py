"""An online anomaly detector for one count series (or one share series).

Feed it one completed bucket at a time with :meth:`SeasonalDetector.update`; it returns
an anomaly score in [0, 1] for that bucket, computed from that bucket and the ones
before it only (a prefix of the input gets exactly the same scores), then learns from
the bucket. State is a few dozen floats, whatever the series' length or bucket size.

**Baseline.** The expected value of a bucket, in variance-stabilised space (``sqrt(x +
3/8)`` for counts, ``asin(sqrt(p))`` for shares), is ``level * profile(time of day) *
weekend``:

* ``profile`` has 24 hourly knots, interpolated linearly, and one curve for weekdays and
  one for weekends (audiences get up later on Saturday);
* ``weekend`` is the weekend's level against the weekdays' (learnt first on weekend
  buckets, so the first Saturday's drop is put down to the weekend, not to a falling
  level that would then make Monday look like a surge);
* ``level`` follows slow trends (half-life twelve hours by default).

Each learns from the residual clipped at ``winsor`` spreads, so one wild bucket barely
moves anything; while the detector thinks it is inside an anomaly the clip tightens
further and the profile, weekend factor and spread stop learning, so a burst is not chased.

**Spread.** A count's spread in sqrt space is ``sqrt(1/4 + phi * mu)``: 1/4 is pure
Poisson, ``phi`` the over-dispersion learnt online (a negative-binomial model). Shares
use ``1 / (4 n)`` for a bucket of ``n`` mentions instead of 1/4. Parts of the baseline
that have seen little data (the first day, the first Saturday) add their own
uncertainty, so the detector is quiet while it learns rather than alarmed.

**Evidence.** The standardised residual ``z`` feeds two things: a one-sided CUSUM whose
step is capped at ``cap`` (so a single outlier adds at most ``cap - slack``, and a
sustained shift of two spreads accumulates steadily), and the smaller of the last two
``z`` (two high buckets in a row). A milder CUSUM watches for drops. The evidence is the
largest of these; the score is ``evidence / (evidence + evidence_half)``.

**Level shifts.** If the evidence stays high for ``accept_after`` seconds, the new level
is accepted (the baseline jumps to a fast-moving level estimate) and the evidence
restarts: a lasting shift is reported at its onset, not for days after.

Pure code: no clock, no I/O. Time is the bucket's start in seconds of *local wall-clock
time* (Unix seconds plus the UTC offset), which gives the time of day and day of week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

Kind = Literal["count", "share"]
Severity = Literal["info", "warning", "critical"]

DAY = 86400.0
HOUR = 3600.0
#: 1970-01-01 was a Thursday: weekday() of day 0 is 3.
_EPOCH_WEEKDAY = 3


@dataclass(frozen=True)
class DetectorConfig:
    """Tuning knobs; the defaults were tuned on the synthetic NAB-like tuning set."""

    level_half_life: float = 12 * HOUR
    """Seconds for the level to forget half of what it knew (follows slow trends)."""
    profile_half_life: float = 10 * DAY
    """Seconds of data for the time-of-day curve to forget half."""
    week_half_life: float = 28 * DAY
    """Seconds of data (all days) for the weekend factor to forget half."""
    spread_half_life: float = 3 * DAY
    """Seconds of data for the over-dispersion estimate to forget half."""
    fast_half_life: float = 0.5 * HOUR
    """The fast level that a lasting shift is accepted to."""
    warmup_buckets: int = 12
    """Buckets before any score above 0."""
    winsor: float = 3.0
    """Residuals are clipped at this many spreads before the baseline learns from them."""
    held_winsor: float = 0.5
    """The clip while the evidence says anomaly."""
    cap: float = 4.0
    """Largest step of the upward CUSUM, in spreads: one outlier adds at most cap - slack."""
    slack: float = 1.0
    """Upward CUSUM slack, in spreads per bucket."""
    down_slack: float = 1.5
    """Downward CUSUM slack (drops need more evidence: quiet is seldom urgent)."""
    down_weight: float = 0.6
    """Downward evidence counts this much against upward."""
    pair_weight: float = 1.0
    """Weight of "two high buckets in a row" evidence."""
    sustained_half_life: float = 1 * HOUR
    """Half-life of the recent mean of z behind the sustained-shift evidence."""
    sustained_weight: float = 1.0
    """Weight of the sustained-shift evidence (0 turns it off)."""
    sustained_offset: float = 2.0
    """Standardised recent mean of z below which it is no evidence at all."""
    hold_evidence: float = 6.0
    """Evidence from which the detector holds its baseline (and counts towards accept)."""
    accept_after: float = 3 * HOUR
    """Seconds of held evidence after which a new level is accepted."""
    onset_buckets: int = 3
    """The first buckets of an episode report their evidence in full."""
    escalation: float = 2.0
    """Inside an episode, only evidence this many times the last reported peak is
    reported again; other buckets report at most ``hold_evidence``."""
    follow_after_accept: float = 3 * HOUR
    """Seconds after accepting a new level during which the level follows at the fast
    rate (0: off)."""
    evidence_half: float = 6.0
    """Evidence at which the score is 0.5."""
    profile_doubt: float = 0.3
    """Relative uncertainty (sqrt space) of a time-of-day knot that has seen nothing."""
    week_doubt: float = 0.1
    """Relative uncertainty of the weekend factor before any weekend data."""
    prior_phi: float = 0.02
    """Over-dispersion assumed before any data (about a negative binomial with k = 12)."""
    held_profile_learns: bool = False
    """Let the time-of-day curve learn while held too (the hub holds while an alert is
    open, which for a busy hour that recurs daily would be for ever)."""
    learning_seconds: float = DAY
    """Seconds of data during which the detector learns everything and holds nothing
    (a backtest's first day). The hub, whose buckets are seconds long, holds from the
    end of its warm-up instead: otherwise its first spikes are learnt as normal."""


DEFAULT_CONFIG = DetectorConfig()
#: Score from which the backtest reports an alert: the NAB-optimal threshold on the
#: tuning set, rounded (see
#: tests/fixtures/series/evaluate.py). Evidence 7.3: two buckets at 7 spreads, or a
#: shift of 2 spreads held for about seven buckets.
ALERT_SCORE = 0.55


class Reading(NamedTuple):
    """What the detector made of one bucket."""

    score: float
    """Anomaly score in [0, 1]."""
    expected: float
    """The baseline's expected value (a count, or a share) before seeing this bucket."""
    z: float
    """Standardised residual of this bucket (0 while warming up)."""
    evidence: float
    """Accumulated evidence behind the score (0 while warming up)."""
    level: float = 0.0
    """``score_of(evidence)``: like the score, but not held down after an episode's
    onset. An alert stays open while this stays high."""


def score_of(evidence: float, config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """The score for an amount of evidence."""
    if evidence <= 0:
        return 0.0
    return evidence / (evidence + config.evidence_half)


def evidence_of(score: float, config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """Inverse of :func:`score_of`."""
    score = min(max(score, 0.0), 1.0 - 1e-12)
    return score * config.evidence_half / (1.0 - score)


def severity_for(peak_score: float, threshold: float = ALERT_SCORE) -> Severity:
    """info at the threshold, warning at twice its evidence, critical at three times."""
    peak = evidence_of(peak_score) * (1 + 1e-9)  # round trips through the score
    base = evidence_of(threshold)
    if peak >= 3 * base:
        return "critical"
    if peak >= 2 * base:
        return "warning"
    return "info"


def _rate(interval: float, half_life: float, updates_per_interval: float = 1.0) -> float:
    """Per-update EWMA weight giving ``half_life`` seconds of data."""
    if half_life <= 0:
        return 1.0
    return 1.0 - math.pow(0.5, interval * updates_per_interval / half_life)


class SeasonalDetector:
    """Scores one series online. See the module docstring for the model."""

    def __init__(
        self,
        interval: float,
        kind: Kind = "count",
        config: DetectorConfig = DEFAULT_CONFIG,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.kind: Kind = kind
        self.interval = float(interval)
        self.config = config
        c = config
        per_bin_day = max(HOUR / interval, 1.0)  # updates a knot gets per day (by weight)
        self._a_level = _rate(interval, c.level_half_life)
        self._a_profile = _rate(interval, c.profile_half_life, 24.0)
        self._a_week = _rate(interval, c.week_half_life, 3.5)  # weekends are 2/7 of data
        self._a_phi = _rate(interval, c.spread_half_life)
        self._a_fast = _rate(interval, c.fast_half_life)
        self._a_mean = _rate(interval, c.sustained_half_life)
        # Spreads of the EW mean of independent z: scales it back to a z-score.
        self._mean_gain = math.sqrt((2.0 - self._a_mean) / self._a_mean)
        self._n0_profile = per_bin_day  # a knot is "known" after about one day of data
        self._n0_week = max(DAY / interval, 1.0)
        self._learning_buckets = c.learning_seconds / interval
        self._accept_buckets = max(1, round(c.accept_after / interval))
        self._boost_buckets = round(c.follow_after_accept / interval)
        self._base_var = 0.25
        # state
        self._n = 0
        self._level = 0.0
        self._fast = 0.0
        self._n_level = 0.0
        self._profile: list[list[float]] = [[1.0] * 24, [1.0] * 24]
        self._n_profile: list[list[float]] = [[0.0] * 24, [0.0] * 24]
        self._profile_prior = [1.0, 1.0]
        self._weekend_started = False
        self._week = [1.0, 1.0]  # weekdays (fixed), weekends
        self._n_week = [0.0, 0.0]
        self._phi = c.prior_phi
        self._n_phi = 0.0
        self._up = 0.0
        self._down = 0.0
        self._prev_z = 0.0
        self._held = 0
        self._peak = 0.0
        self._episode = 0
        self._mean_z = 0.0
        self._boost = 0
        self._day: int | None = None

    # ------------------------------------------------------------------ public

    @property
    def buckets_seen(self) -> int:
        return self._n

    def update(
        self, t: float, value: float, count: float | None = None, *, hold: bool = False
    ) -> Reading:
        """Score the bucket that starts at local wall-clock second ``t``, then learn it.

        For counts ``value`` is the count (``count`` is ignored). For shares ``value`` is
        the share in [0, 1] and ``count`` the bucket's mentions; an empty bucket says
        nothing and scores 0. ``hold`` learns the bucket as if inside an anomaly (the
        hub holds while one of its alerts is open, so a spike's tail is not learnt).
        """
        c = self.config
        if self.kind == "count":
            y = math.sqrt(max(value, 0.0) + 0.375)
            base_var = 0.25
        else:
            n = count if count is not None else 0.0
            if n <= 0:
                return Reading(0.0, self._expected_value(t), 0.0, 0.0)
            y = math.asin(math.sqrt(min(max(value, 0.0), 1.0)))
            base_var = 0.25 / n

        day = int(t // DAY)
        if self._day is not None and day != self._day:
            self._normalise()
        self._day = day
        dow = (day + _EPOCH_WEEKDAY) % 7
        cls = 1 if dow >= 5 else 0
        if cls == 1 and not self._weekend_started:
            # First weekend: start from the weekday curve, marked as unknown.
            self._profile[1] = list(self._profile[0])
            self._weekend_started = True
            # ... which is worth half a day of data to the learning rate (so one wild
            # bucket cannot bend a fresh knot), though its doubt stays until data comes.
            self._profile_prior[1] = self._n0_profile / 2
        h = ((t + self.interval / 2) % DAY) / HOUR - 0.5
        fl = math.floor(h)
        w1 = h - fl
        w0 = 1.0 - w1
        b0 = int(fl) % 24
        b1 = (b0 + 1) % 24
        prof = self._profile[cls]
        nprof = self._n_profile[cls]
        d = w0 * prof[b0] + w1 * prof[b1]
        wk = self._week[cls]

        if self._n == 0:
            self._level = y
            self._fast = y
            self._n = 1
            self._n_level = 1.0
            self._touch_profile(prof, nprof, 1.0, b0, b1, w0, w1, 1.0)
            return Reading(0.0, self._from_space(y), 0.0, 0.0)

        mu = self._level * d * wk
        seen = w0 * nprof[b0] + w1 * nprof[b1]
        doubt_p = c.profile_doubt * self._n0_profile / (self._n0_profile + seen)
        doubt_w = c.week_doubt * self._n0_week / (self._n0_week + self._n_week[1]) if cls else 0.0
        noise_var = base_var + max(self._phi, 0.0) * mu * mu
        sigma = math.sqrt(noise_var + (doubt_p**2 + doubt_w**2) * mu * mu)
        noise = math.sqrt(noise_var)
        e = y - mu
        z = e / sigma
        warm = self._n >= c.warmup_buckets

        # ---- evidence
        if warm:
            self._up = max(0.0, self._up + min(z, c.cap) - c.slack)
            self._down = max(0.0, self._down + min(-z, c.cap) - c.down_slack)
            pair = min(z, self._prev_z)
            # A sustained small shift (a doubling at 3 mentions per bucket is about one
            # spread per bucket) shows in the recent mean of z long before in the CUSUM.
            self._mean_z += self._a_mean * (min(max(z, -c.cap), c.cap) - self._mean_z)
            sustained = self._mean_z * self._mean_gain - c.sustained_offset
            evidence = max(
                self._up,
                c.down_weight * self._down,
                c.pair_weight * pair,
                c.sustained_weight * sustained,
                -c.sustained_weight * c.down_weight * (sustained + 2 * c.sustained_offset),
                0.0,
            )
        else:
            evidence = 0.0
        self._prev_z = z
        # On the first day everything is new: learn it all, hold nothing.
        learning = self._n < self._learning_buckets
        held = hold or (evidence >= c.hold_evidence and not learning)
        # Report the onset of an episode and its escalations, not every bucket of it:
        # a detector that repeats itself pages people for nothing.
        reported = evidence
        if self._peak > 0.0:
            self._episode += 1
            if evidence >= c.escalation * self._peak or self._episode < c.onset_buckets:
                self._peak = max(self._peak, evidence)
            else:
                reported = min(evidence, c.hold_evidence)
            if evidence < c.hold_evidence / 2:
                self._peak = 0.0
        elif held:
            self._peak = evidence
            self._episode = 0
        reading = Reading(
            score_of(reported, c),
            self._from_space(mu),
            z if warm else 0.0,
            evidence,
            score_of(evidence, c),
        )

        # ---- learn
        lim = (c.held_winsor if held else c.winsor) * sigma
        if cls and not held:
            # Weekend: the weekend factor learns first (fast at first: a few hours of
            # data outweigh its prior).
            self._n_week[1] += 1.0
            aw = max(self._a_week, 1.0 / (self._n0_week / 8 + self._n_week[1]))
            g = min(max(y - mu, -lim), lim)
            self._week[1] = max(self._week[1] + aw * g / max(self._level * d, 1e-9), 1e-3)
            wk = self._week[1]
        g = min(max(y - self._level * d * wk, -lim), lim)
        dw = d * wk
        self._n_level += 1.0
        a = max(self._a_level, 1.0 / self._n_level)
        if self._boost > 0:
            # Just after accepting a new level: follow fast, wherever the series goes
            # (on, or back down once a surge is over).
            self._boost -= 1
            a = max(a, self._a_fast)
            g = min(max(e, -c.winsor * noise), c.winsor * noise)
        self._level += a * g / max(dw, 1e-9)
        af = max(self._a_fast, 1.0 / self._n_level)
        self._fast += af * (y / max(dw, 1e-9) - self._fast)
        if not held or c.held_profile_learns:
            # What the level left unexplained goes to the time-of-day curve. With
            # ``held_profile_learns`` it does so while held too, clipped as usual: a
            # busy hour that recurs daily must not stay an anomaly for ever (the curve
            # learns fast for an hour it has seen little of, slowly for one it knows
            # well, so a burst of minutes in a known hour barely moves it).
            clip = c.winsor * sigma  # the usual clip (``lim`` when not held)
            g = min(max(y - self._level * dw, -clip), clip)
            self._touch_profile(
                prof,
                nprof,
                self._profile_prior[cls],
                b0,
                b1,
                w0,
                w1,
                g / max(self._level * wk, 1e-9),
            )
        if not held:
            r2 = min(e * e, (c.winsor * sigma) ** 2)
            self._n_phi += 1.0
            ap = max(self._a_phi, 1.0 / (self._n_phi + 48.0))
            sample = (r2 - base_var) / max(mu * mu, 1e-9) - doubt_p**2 - doubt_w**2
            self._phi += ap * (sample - self._phi)
            self._held = 0
        else:
            self._held += 1
            if self._held >= self._accept_buckets:
                # A lasting change: take the new level and start counting afresh.
                self._level = self._fast
                self._up = 0.0
                self._down = 0.0
                self._prev_z = 0.0
                self._mean_z = 0.0
                self._held = 0
                self._peak = 0.0
                self._boost = self._boost_buckets
        self._n += 1
        return reading

    def settle(self) -> None:
        """Forget the evidence gathered so far: the series is back to normal.

        The hub calls this once a series has been near its baseline for a few buckets,
        so that a burst's evidence does not linger into the next one and the baseline
        goes back to learning.
        """
        self._up = 0.0
        self._down = 0.0
        self._prev_z = 0.0
        self._mean_z = 0.0
        self._held = 0
        self._peak = 0.0

    def expected(self, t: float) -> float:
        """The baseline's expected value for a bucket starting at ``t`` (no learning)."""
        return self._expected_value(t)

    # ------------------------------------------------------------------ internals

    def _touch_profile(
        self,
        prof: list[float],
        nprof: list[float],
        prior: float,
        b0: int,
        b1: int,
        w0: float,
        w1: float,
        ratio_error: float,
    ) -> None:
        for b, w in ((b0, w0), (b1, w1)):
            if w <= 0:
                continue
            nprof[b] += w
            a = max(self._a_profile, w / (prior + nprof[b]))
            if self._n > 0:
                # Normalised LMS: the interpolated curve moves by about a * error.
                prof[b] = max(prof[b] + a * ratio_error * w / (w0 * w0 + w1 * w1), 1e-3)

    def _normalise(self) -> None:
        """Once a day: each curve averages 1; the level and weekend factor take the rest."""
        for cls in (0, 1):
            if any(n <= 0 for n in self._n_profile[cls]):
                continue
            prof = self._profile[cls]
            m = sum(prof) / 24
            if m <= 0:
                continue
            for b in range(24):
                prof[b] /= m
            if cls == 0:
                self._level *= m
                self._fast *= m
                if self._weekend_started:
                    self._week[1] /= m
            else:
                self._week[1] *= m

    def _expected_value(self, t: float) -> float:
        if self._n == 0:
            return 0.0
        day = int(t // DAY)
        dow = (day + _EPOCH_WEEKDAY) % 7
        cls = 1 if dow >= 5 and self._weekend_started else 0
        h = ((t + self.interval / 2) % DAY) / HOUR - 0.5
        fl = math.floor(h)
        w1 = h - fl
        b0 = int(fl) % 24
        prof = self._profile[cls]
        d = (1.0 - w1) * prof[b0] + w1 * prof[(b0 + 1) % 24]
        return self._from_space(self._level * d * self._week[cls])

    def _from_space(self, y: float) -> float:
        if self.kind == "count":
            return max(y * y - 0.375, 0.0)
        return math.sin(min(max(y, 0.0), math.pi / 2)) ** 2
