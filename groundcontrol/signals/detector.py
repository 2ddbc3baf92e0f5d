"""An online burst detector for one count series: is this bucket a new extreme?

Feed it one completed bucket at a time with :meth:`BurstDetector.update`; it returns a
:class:`Reading` for that bucket, computed from that bucket and the ones before it
only (a prefix of the input gets exactly the same readings), then learns the bucket.
State is a few hundred floats per series, whatever the series' length.

**What real brand-mention series look like.** Counts are heavy-tailed: bursts far
beyond Poisson or negative-binomial noise happen several times a day, and most are
unremarkable. What people call an incident is the rare burst that is large against the
series' *own recent extremes*, often ten to a hundred times the usual volume, that
mostly peaks within one to three buckets. So the detector does not model a mean and a
spread; it compares each bucket with the upper tail of the series itself:

* **Timescales.** The rate (mentions per bucket) is read over a few windows given in
  seconds (:attr:`DetectorConfig.scales`, by default one, five and fifteen minutes),
  each rounded to whole buckets: a one-bucket spike and a burst that builds over a
  quarter of an hour are both seen.
* **Record.** For each timescale, the log rate is compared with the highest log rate
  the series reached at that timescale over the last :attr:`~DetectorConfig.window`
  (two weeks by default), kept as one maximum per hour-long block. The *excess* is by
  how much (in log units) the bucket beats that record, the largest over timescales.
* **Floor.** The record is never taken below :attr:`~DetectorConfig.min_ratio` times
  the series' typical level (a slow, clipped moving average of the log rate). A smooth,
  busy series whose two-week maximum is only a little above normal does not alert on a
  small rise, and a new series, with little history, needs a clear multiple of what it
  has seen so far.
* **Score.** ``excess / (excess + record_half)``, 0 when the bucket sets no record: a
  single extreme bucket can reach a top score on its own, and one threshold serves
  series from near zero to hundreds per bucket because everything is a ratio.
* **Onsets only.** A series reports the bucket a burst starts in and, for
  :attr:`~DetectorConfig.onset_buckets` buckets, its growth; then, if the onset
  counts (:attr:`~DetectorConfig.quiet_from`, the alert threshold), it stays quiet for
  :attr:`~DetectorConfig.quiet` (six hours by default). Inside a burst the score is 0:
  an alert is the onset, not every bucket of the episode. Only a burst twice as high as
  anything before it, the episode included (:attr:`~DetectorConfig.escalate`), speaks
  again.
* **The first day is learning.** Its extremes are forgotten when it ends, so that a
  new series' first bursts are not the standard for the two weeks after.
* **Seasonality stays in the background.** There is no time-of-day profile dividing
  the counts (which would amplify quiet-hour noise); the daily peak is part of the
  record, and the typical level follows the day slowly.

Measured on real, human-labelled brand-mention series (``groundcontrol backtest`` and
the NAB scorer; see the README), not on generated data.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from groundcontrol.config import ALERT_SCORE

__all__ = [
    "ALERT_SCORE",
    "DAY",
    "DEFAULT_CONFIG",
    "HOUR",
    "BurstDetector",
    "DetectorConfig",
    "Reading",
    "Severity",
    "Tone",
    "excess_of",
    "scale_buckets",
    "score_of",
    "severity_for_ratio",
]

Severity = Literal["info", "warning", "critical"]
Tone = Literal["negative", "positive", "neutral"]

DAY = 86400.0
HOUR = 3600.0


@dataclass(frozen=True)
class DetectorConfig:
    """How the detector reads a series. Times are in seconds, so the same settings
    serve five-minute backtest buckets and the hub's ten-second ones."""

    scales: tuple[float, ...] = (60.0, 300.0, 900.0)
    """Timescales the rate is read over, each rounded to whole buckets (at least one)."""
    window: float = 14 * DAY
    """How long the series' own extremes are remembered."""
    block: float = HOUR
    """The memory keeps one maximum per block of this length and timescale."""
    pseudo_count: float = 1.0
    """Added to the rate before taking logs, so that 0 and 1 are not worlds apart."""
    min_ratio: float = 3.0
    """A record must also be at least this many times the typical level."""
    level_half_life: float = 3 * HOUR
    """The typical level forgets half of what it knew in this long."""
    level_clip: float = 0.5
    """Each step of the typical level is clipped to this many log units times its
    rate, so a burst barely moves it."""
    warmup: float = 120.0
    """Seconds of data before any score (and at least :attr:`warmup_buckets`)."""
    warmup_buckets: int = 6
    """Buckets of data before any score."""
    quiet: float = 6 * HOUR
    """After an onset the series reports nothing new for this long."""
    onset_buckets: int = 3
    """The buckets of an onset in which a growing burst still reports its growth."""
    record_half: float = 0.05
    """Excess over the record (log units) at which the score is 0.5."""
    escalate: float = 0.7
    """Inside the quiet time, a burst that beats the record (which by then holds the
    episode's own peak) by this much (log units: 0.7 is twice) is reported after all."""
    quiet_from: float = ALERT_SCORE
    """Only an onset scoring this much starts the quiet time: a record too small to
    count must not silence the series before the burst that does."""
    learning: float = DAY
    """The extremes of a series' first this-many seconds are forgotten once they are
    over: a new series' first bursts are no standard for the weeks after."""
    end_ratio: float = 1.5
    """A burst is over once the shortest timescale is back under this many times the
    typical level."""


DEFAULT_CONFIG = DetectorConfig()
#: Bump when :meth:`BurstDetector.state` changes shape: older states are then ignored.
STATE_VERSION = 1
# ALERT_SCORE (0.5: a new record by 5 %, see ``record_half``) was chosen on the real
# brand-mention series in ../shared/data/brand-volume, where the NAB score is flat for
# thresholds from 0.4 to 0.6; it lives with the config so the hub and ``backtest``
# share it.


class Reading(NamedTuple):
    """What the detector made of one bucket."""

    score: float
    """Anomaly score in [0, 1]: above 0 only in the buckets of an onset."""
    excess: float
    """By how much (log units) the bucket beat the record, at its best timescale;
    ``-inf`` while warming up."""
    expected: float
    """The typical count of a bucket (the level, before seeing this one)."""
    rate: float
    """This bucket's count per bucket at the shortest timescale."""
    active: bool
    """The series is still above normal (:attr:`DetectorConfig.end_ratio`)."""
    onset: bool = False
    """This bucket starts a new episode."""

    @property
    def ratio(self) -> float:
        """How many times the typical level the shortest timescale is."""
        return self.rate / self.expected if self.expected > 0 else math.inf


def score_of(excess: float, config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """The score for an excess over the record (0 for no record)."""
    if not excess > 0:
        return 0.0
    return excess / (excess + config.record_half)


def excess_of(score: float, config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """Inverse of :func:`score_of`."""
    score = min(max(score, 0.0), 1.0 - 1e-12)
    return score * config.record_half / (1.0 - score)


#: A burst this many times the typical level is large whatever its tone.
LARGE_RATIO = 10.0
#: A negative burst this many times the typical level is critical...
CRITICAL_RATIO = 5.0
#: ... and so is a smaller one (this many times) that is mostly negative.
CRITICAL_NEGATIVE_RATIO = 3.0
CRITICAL_NEGATIVE_SHARE = 0.6


def severity_for_ratio(
    ratio: float, tone: Tone = "neutral", negative_share: float = 0.0
) -> Severity:
    """How urgent a burst is, from its size and how negative it is.

    A negative surge (the problem a command center exists for) is at least a warning,
    and critical when large or mostly negative. Praise and plain volume are news, not
    a crisis: info, or a warning when very large, never critical.
    """
    if tone == "negative":
        if ratio >= CRITICAL_RATIO or (
            ratio >= CRITICAL_NEGATIVE_RATIO and negative_share >= CRITICAL_NEGATIVE_SHARE
        ):
            return "critical"
        return "warning"
    return "warning" if ratio >= LARGE_RATIO else "info"


def scale_buckets(config: DetectorConfig, interval: float) -> list[int]:
    """The timescales in whole buckets of ``interval`` seconds, shortest first."""
    return sorted({max(1, round(s / interval)) for s in config.scales})


@dataclass
class _Scale:
    """One timescale: its window in buckets, its record memory and its typical level."""

    buckets: int
    blocks: deque[float]
    """The highest log rate of each closed block, oldest first."""
    record: float = -math.inf
    """The highest of ``blocks`` (kept, not recomputed per bucket)."""
    block_max: float = -math.inf
    """The highest log rate of the open block."""
    level: float = math.nan
    """The typical log rate."""
    seen: int = 0
    total: float = 0.0
    """The rolling sum of the last ``buckets`` counts."""


class BurstDetector:
    """Scores one count series online. See the module docstring for the model."""

    def __init__(self, interval: float, config: DetectorConfig = DEFAULT_CONFIG) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if not config.scales or min(config.scales) <= 0:
            raise ValueError(f"scales must be positive seconds, got {config.scales}")
        c = self.config = config
        self.interval = float(interval)
        n_blocks = max(1, round(c.window / c.block))
        self._block_len = max(1, round(c.block / self.interval))
        self._scales = [_Scale(b, deque(maxlen=n_blocks)) for b in scale_buckets(c, self.interval)]
        self._recent: deque[float] = deque(maxlen=self._scales[-1].buckets)
        self._rate = 1.0 - math.pow(0.5, self.interval / c.level_half_life)
        self._log_floor = math.log(c.min_ratio)
        self._log_end = math.log(c.end_ratio)
        self._warm = max(c.warmup_buckets, math.ceil(c.warmup / self.interval - 1e-9))
        self._quiet = max(1, round(c.quiet / self.interval))
        self._learning = round(c.learning / self.interval) if c.learning > 0 else -1
        self._n = 0
        self._in_block = 0
        self._onset_at = -1
        self._quiet_until = -1
        self._reported = 0.0

    # ------------------------------------------------------------------ public

    @property
    def buckets_seen(self) -> int:
        return self._n

    @property
    def state_size(self) -> int:
        """Floats held, for the health page: bounded once the memory is full."""
        return len(self._recent) + sum(len(s.blocks) + 6 for s in self._scales)

    @property
    def quiet(self) -> bool:
        """Inside the quiet time after an onset."""
        return self._n <= self._quiet_until

    def update(self, value: float) -> Reading:
        """Score the next bucket's count, then learn it."""
        c = self.config
        x = max(float(value), 0.0) if math.isfinite(value) else 0.0
        recent = self._recent
        n = len(recent)
        logs: list[float | None] = []
        for s in self._scales:
            s.total += x
            if n >= s.buckets:
                s.total -= recent[n - s.buckets]
            ready = self._n + 1 >= s.buckets
            logs.append(math.log(max(s.total, 0.0) / s.buckets + c.pseudo_count) if ready else None)
        recent.append(x)

        excess = -math.inf
        if self._n >= self._warm:
            for s, m in zip(self._scales, logs, strict=True):
                if m is None or math.isnan(s.level):
                    continue
                record = max(s.record, s.block_max, s.level + self._log_floor)
                excess = max(excess, m - record)

        short = self._scales[0]
        m0 = logs[0]
        rate = max(short.total, 0.0) / short.buckets if m0 is not None else x
        if math.isnan(short.level):
            expected = rate
            active = False
        else:
            expected = max(math.exp(short.level) - c.pseudo_count, 0.0)
            active = m0 is not None and m0 > short.level + self._log_end

        # Onsets only: the first buckets of an episode, then quiet for hours.
        g = score_of(excess, c)
        score = 0.0
        onset = False
        t = self._n
        if t <= self._quiet_until:
            growing = t - self._onset_at < c.onset_buckets and g > self._reported
            if growing or excess >= c.escalate:
                score = self._reported = max(g, self._reported)
        elif g > 0.0:
            onset = True
            score = self._reported = g
            self._onset_at = t
            span = self._quiet if g >= c.quiet_from else c.onset_buckets
            self._quiet_until = t + span - 1

        self._learn(logs)
        return Reading(score, excess, expected, rate, active, onset)

    def state(self) -> dict[str, Any]:
        """What the detector has learnt, as plain data (JSON-safe: infinities and NaN
        are written as None), for a hub to keep across a restart."""

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "version": STATE_VERSION,
            "interval": self.interval,
            "scales": [s.buckets for s in self._scales],
            "n": self._n,
            "in_block": self._in_block,
            "onset_at": self._onset_at,
            "quiet_until": self._quiet_until,
            "reported": self._reported,
            "recent": list(self._recent),
            "per_scale": [
                {
                    "blocks": [num(b) for b in s.blocks],
                    "block_max": num(s.block_max),
                    "level": num(s.level),
                    "seen": s.seen,
                    "total": s.total,
                }
                for s in self._scales
            ],
        }

    def restore(self, state: Mapping[str, Any]) -> bool:
        """Take back what :meth:`state` gave; False (and nothing changed) if it was
        made with another bucket width, timescales or version, or is malformed."""
        try:
            if (
                state.get("version") != STATE_VERSION
                or float(state["interval"]) != self.interval
                or list(state["scales"]) != [s.buckets for s in self._scales]
            ):
                return False
            per_scale = list(state["per_scale"])
            if len(per_scale) != len(self._scales):
                return False

            def num(x: Any, default: float) -> float:
                return default if x is None else float(x)

            restored = []
            for s, saved in zip(self._scales, per_scale, strict=True):
                blocks = [num(b, -math.inf) for b in saved["blocks"]]
                restored.append(
                    (
                        s,
                        blocks[-(s.blocks.maxlen or len(blocks)) :],
                        num(saved["block_max"], -math.inf),
                        num(saved["level"], math.nan),
                        int(saved["seen"]),
                        float(saved["total"]),
                    )
                )
            recent = [float(x) for x in state["recent"]][-self._scales[-1].buckets :]
            fields = (
                int(state["n"]),
                int(state["in_block"]),
                int(state["onset_at"]),
                int(state["quiet_until"]),
                float(state["reported"]),
            )
        except (KeyError, TypeError, ValueError):
            return False
        for s, blocks, block_max, level, seen, total in restored:
            s.blocks.clear()
            s.blocks.extend(blocks)
            s.record = max(s.blocks, default=-math.inf)
            s.block_max, s.level, s.seen, s.total = block_max, level, seen, total
        self._recent.clear()
        self._recent.extend(recent)
        self._n, self._in_block, self._onset_at, self._quiet_until, self._reported = fields
        return True

    def expected(self) -> float:
        """The typical count of a bucket now (no learning)."""
        level = self._scales[0].level
        return 0.0 if math.isnan(level) else max(math.exp(level) - self.config.pseudo_count, 0.0)

    # ------------------------------------------------------------------ internals

    def _learn(self, logs: list[float | None]) -> None:
        c = self.config
        self._n += 1
        self._in_block += 1
        close = self._in_block >= self._block_len
        for s, m in zip(self._scales, logs, strict=True):
            if m is not None:
                s.block_max = max(s.block_max, m)
                s.seen += 1
                if math.isnan(s.level):
                    s.level = m
                else:
                    a = max(self._rate, 1.0 / s.seen)
                    s.level += a * min(max(m - s.level, -c.level_clip), c.level_clip)
            if close:
                s.blocks.append(s.block_max)
                s.record = max(s.blocks)
                s.block_max = -math.inf
        if close:
            self._in_block = 0
        if self._n == self._learning:
            for s in self._scales:
                s.blocks.clear()
                s.record = s.block_max = -math.inf
