"""Alerts on the hub's series: a seasonal detector per series and an alert state machine.

The analytics feed each :class:`SpikeDetector` one value per *completed* bucket (never
the partial current one): a count for volume series (total, per brand, per source, per
hot topic), a negative share for sentiment series. Underneath is
:class:`groundcontrol.detector.SeasonalDetector`, the causal detector that
``groundcontrol backtest`` scores: a baseline that knows the time of day and the day of
the week, shrugs off single outliers (clipped learning, CUSUM evidence capped per
bucket) and follows slow trends (a level with a twelve-hour half-life, level shifts
accepted after three hours).

This module turns its scores into alerts people can act on:

* an alert **opens** when the score reaches ``alert_score`` and the bucket is really
  up: at least ``min_count`` mentions and 1.5 times the expected count (a volume
  series), or five points above the expected negative share in a bucket of at least
  ``min_share_count`` mentions. Small relative moves of busy series are real but
  nobody wants to be woken for them;
* it carries a **severity** from the evidence (info, then warning at twice the
  evidence of the threshold, critical at three times), and **escalates** as that grows;
* it is **over** after ``end_after_buckets`` buckets back near the baseline (under
  :data:`END_Z` spreads above it), and the series then stays quiet for
  ``cooldown_seconds``, so a wobbling series does not page every tick.

Pure code: no clock, no I/O. Time is the bucket index times ``bucket_seconds``; the
detector sees it as local wall-clock time through ``local_offset``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import msgspec

from groundcontrol.config import SpikeConfig
from groundcontrol.detector import DetectorConfig, Reading, SeasonalDetector
from groundcontrol.detector import severity_for as detector_severity
from groundcontrol.protocol import Alert

SpikeKind = Literal["volume", "negative_share"]
Severity = Literal["info", "warning", "critical"]
Change = Literal["opened", "escalated", "ended"]

#: A volume spike must also be this many times the expected count.
MIN_VOLUME_RATIO = 1.5
#: Likewise, a negative-share spike must add at least five percentage points.
MIN_SHARE_LIFT = 0.05
#: Relative doubt of a time-of-day knot that has seen nothing. The backtest's 0.3 suits
#: 5-minute buckets; with the hub's 10-second buckets a knot sees hundreds of buckets
#: an hour, and 0.3 would hide a tripling for the hub's first day.
HUB_PROFILE_DOUBT = 0.1
#: The hub's detectors leave out the backtest's "sustained shift" evidence (an hour's
#: mean of z): on 10-second buckets it keeps an episode going for an hour after a
#: burst, and the next incident then looks like more of the same. Slow shifts are
#: still followed by the level, and bursts still build CUSUM evidence.
#: A bucket under this many spreads above the baseline counts as back to normal.
END_Z = 2.0

_SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}


class Explanation(NamedTuple):
    """Why a series spiked, as the analytics see the spiking bucket."""

    top_terms: list[str]
    top_sources: list[str]
    examples: list[str]
    top_authors: list[str] = []  # noqa: RUF012 (a NamedTuple default, never mutated)


class SpikeEvent(NamedTuple):
    """An alert changed: it opened, escalated to a higher severity, or ended."""

    change: Change
    alert: Alert


def severity_for(score: float, threshold: float) -> Severity:
    """info at the threshold score, warning at twice its evidence, critical at three times."""
    return detector_severity(score, threshold)


def _fmt_count(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def _utc(_t: float) -> float:
    return 0.0


class SpikeDetector:
    """Watches one series (say the volume of "brand:Northwind") and raises alerts on it.

    ``observe`` takes one completed bucket at a time, in order, and returns a
    :class:`SpikeEvent` when the alert opens, escalates or ends. An open alert is
    updated in place (same id) while the series stays high.
    """

    def __init__(
        self,
        kind: SpikeKind,
        series: str,
        config: SpikeConfig,
        *,
        bucket_seconds: int,
        label: str = "",
        local_offset: Callable[[float], float] = _utc,
    ) -> None:
        self.kind: SpikeKind = kind
        self.series = series
        self.label = label or series
        self._config = config
        self._bucket_seconds = bucket_seconds
        self._offset = local_offset
        self._detector = SeasonalDetector(
            float(bucket_seconds),
            "count" if kind == "volume" else "share",
            DetectorConfig(
                warmup_buckets=config.warmup_buckets,
                learning_seconds=config.warmup_buckets * bucket_seconds,
                profile_doubt=HUB_PROFILE_DOUBT,
                sustained_weight=0.0,
                held_profile_learns=True,
            ),
        )
        self._open: Alert | None = None
        self._below = 0
        self._quiet = 0
        self._cooldown_until = -math.inf
        self.last: Reading | None = None
        """What the detector made of the last bucket (for tests and the health page)."""

    # ------------------------------------------------------------------ state

    @property
    def alert(self) -> Alert | None:
        """The open alert, if any."""
        return self._open

    @property
    def history_size(self) -> int:
        """Buckets the baseline has learnt from (its state is a fixed few dozen floats)."""
        return self._detector.buckets_seen

    def expected(self, bucket: int) -> float:
        """The baseline's expected value for a bucket (a count, or a share)."""
        return self._detector.expected(self._local(bucket))

    def annotate(self, why: Explanation) -> Alert:
        """Attach an explanation to the open alert, after the fact.

        The analytics explain all the alerts of a bucket at once (one lookup of the
        terms' baselines for all of them).
        """
        assert self._open is not None, "no open alert to annotate"
        self._open = msgspec.structs.replace(
            self._open,
            top_terms=why.top_terms,
            top_sources=why.top_sources,
            examples=why.examples,
            top_authors=why.top_authors,
        )
        return self._open

    def forget_alert(self) -> None:
        """Drop the open alert without an end or a cooldown (one found while warming a
        new detector on history, about a burst that is already over)."""
        self._open = None
        self._below = 0

    # ------------------------------------------------------------------ input

    def observe(self, bucket: int, value: float, *, count: int) -> SpikeEvent | None:
        """Take the value of one completed bucket.

        For volume, ``value`` and ``count`` are both the bucket's count. For negative
        share, ``value`` is the share and ``count`` the bucket's mentions; buckets under
        ``min_share_count`` still inform the baseline but cannot alert, and count as
        quiet for an open alert.
        """
        cfg = self._config
        end_time = (bucket + 1) * self._bucket_seconds
        share = self.kind == "negative_share"
        # While an alert is open the baseline holds: the spike's tail is not normal.
        reading = self._detector.update(
            self._local(bucket), value, count, hold=self._open is not None
        )
        self.last = reading
        thin = share and count < cfg.min_share_count
        up = not thin and reading.z > 0 and self._big_enough(value, count, reading.expected)
        spiking = up and reading.score >= cfg.alert_score
        held = up and reading.level >= cfg.alert_score and reading.z >= END_Z

        # Evidence is for bursts: once the series has been back near its baseline for
        # a few buckets, it is forgotten (an open alert ends at the same moment).
        if reading.z < END_Z:
            self._quiet += 1
            if self._quiet == cfg.end_after_buckets:
                self._detector.settle()
        else:
            self._quiet = 0
        if self._open is None:
            if spiking and end_time >= self._cooldown_until:
                self._open = self._new_alert(bucket, value, reading)
                self._below = 0
                return SpikeEvent("opened", self._open)
            return None
        if spiking or held:
            self._below = 0
            return self._continue(bucket, value, reading)
        self._below += 1
        if self._below >= cfg.end_after_buckets:
            ended = msgspec.structs.replace(self._open, ended_at=float(end_time))
            self._open = None
            self._cooldown_until = end_time + cfg.cooldown_seconds
            return SpikeEvent("ended", ended)
        return None

    # ------------------------------------------------------------------ internals

    def _local(self, bucket: int) -> float:
        t = float(bucket * self._bucket_seconds)
        return t + self._offset(t)

    def _big_enough(self, value: float, count: int, expected: float) -> bool:
        if self.kind == "volume":
            return count >= self._config.min_count and value >= MIN_VOLUME_RATIO * expected
        return value - expected >= MIN_SHARE_LIFT

    def _message(self, value: float, expected: float) -> str:
        if self.kind == "volume":
            ratio = value / max(expected, 1.0)
            return (
                f"{self.label} volume {ratio:.1f}x baseline "
                f"({_fmt_count(value)} vs {_fmt_count(expected)} per {self._bucket_seconds} s)"
            )
        subject = "overall" if self.series == "total" else f"for {self.label}"
        return f"Negative share {subject} at {value:.0%} vs {expected:.0%} baseline"

    def _new_alert(self, bucket: int, value: float, reading: Reading) -> Alert:
        started = float(bucket * self._bucket_seconds)
        return Alert(
            id=f"{self.kind}:{self.series}:{int(started)}",
            kind=self.kind,
            series=self.series,
            severity=severity_for(reading.level, self._config.alert_score),
            started_at=started,
            updated_at=started + self._bucket_seconds,
            value=float(value),
            baseline=float(reading.expected),
            score=round(reading.level, 3),
            message=self._message(value, reading.expected),
        )

    def _continue(self, bucket: int, value: float, reading: Reading) -> SpikeEvent | None:
        assert self._open is not None
        old = self._open
        severity = severity_for(reading.level, self._config.alert_score)
        escalated = _SEVERITY_RANK[severity] > _SEVERITY_RANK[old.severity]
        fields: dict[str, object] = {
            "updated_at": float((bucket + 1) * self._bucket_seconds),
            "value": float(value),
            "baseline": float(reading.expected),
            "score": round(max(reading.level, old.score), 3),
            "message": self._message(value, reading.expected),
        }
        if escalated:
            fields["severity"] = severity
        # A new struct, never a mutation: ticks already handed out keep their copy.
        self._open = msgspec.structs.replace(old, **fields)
        return SpikeEvent("escalated", self._open) if escalated else None
