"""Online spike detection: a robust baseline and an alert state machine per series.

The analytics feed each :class:`SpikeDetector` one value per *completed* bucket (never
the partial current one): a count for volume series, a negative share for sentiment
series. The detector keeps the last ``baseline_buckets`` values and measures the new
value against their median and MAD, so one wild bucket cannot drag the baseline.

Volume counts are compared in square-root space. Counts are roughly Poisson, whose
spread grows with the mean and whose right tail is long; the square root makes the
spread about 0.5 whatever the level, so one ``z_threshold`` means the same thing for
a series at 3 mentions per bucket and one at 3,000. Shares are compared in
arcsine-square-root space for the same reason (binomial spread there is
1 / (2 sqrt(n)) whatever the share), scaled by each bucket's size so that a bucket of
20 mentions is not judged as precisely as one of 2,000.

Pure code: no clock, no I/O. Time is the bucket index times ``bucket_seconds``.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from typing import Literal, NamedTuple

import msgspec

from groundcontrol.config import SpikeConfig
from groundcontrol.protocol import Alert

SpikeKind = Literal["volume", "negative_share"]
Severity = Literal["info", "warning", "critical"]
Change = Literal["opened", "escalated", "ended"]

#: Values kept for the median and MAD (60 x 10 s = ten minutes): long enough to be
#: stable, short enough to follow the daily rhythm.
BASELINE_BUCKETS = 60
#: MAD times this estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.4826
#: Least spread of a count series in sqrt space. Pure Poisson counts have 0.5; real
#: streams vary more, and a 60-bucket MAD is itself uncertain by about 15%, so the
#: floor sits a little above: flat traffic then stays quiet for days, and a 2x burst
#: on 40 mentions per bucket still scores above 4.
POISSON_SQRT_SIGMA = 0.6
#: Likewise the least over-dispersion of a share against plain binomial noise.
MIN_DISPERSION = 1.2
#: A volume spike must also be this many times the baseline. On busy series the
#: z-score alone flags rises of a few percent, which nobody wants paged for.
MIN_VOLUME_RATIO = 1.5
#: Likewise, a negative-share spike must add at least five percentage points.
MIN_SHARE_LIFT = 0.05
#: While an alert is open, values enter the baseline clipped to this many spreads
#: above it: a lasting level shift is still learnt, slowly, but a spike is not chased.
OPEN_CLIP_SIGMAS = 1.0

_SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}


class Explanation(NamedTuple):
    """Why a series spiked, as the analytics see the spiking bucket."""

    top_terms: list[str]
    top_sources: list[str]
    examples: list[str]


class SpikeEvent(NamedTuple):
    """An alert changed: it opened, escalated to a higher severity, or ended."""

    change: Change
    alert: Alert


class Baseline(NamedTuple):
    """The detector's current idea of normal."""

    center: float
    """Median: a count per bucket, or a share in [0, 1]."""
    spread: float
    """Robust spread in detector space (sqrt counts, or arcsine-sqrt share)."""


def severity_for(z: float, threshold: float) -> Severity:
    """info from the threshold, warning from twice it, critical from three times."""
    if z >= 3 * threshold:
        return "critical"
    if z >= 2 * threshold:
        return "warning"
    return "info"


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2


def _fmt_count(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


class SpikeDetector:
    """Watches one series (say the volume of "brand:Northwind") and raises alerts on it.

    ``observe`` takes one completed bucket at a time, in order, and returns a
    :class:`SpikeEvent` when the alert opens, escalates or ends. An open alert is
    updated in place (same id) while the series stays high; it ends after
    ``end_after_buckets`` buckets under the threshold, and the series then stays quiet
    for ``cooldown_seconds``.
    """

    def __init__(
        self,
        kind: SpikeKind,
        series: str,
        config: SpikeConfig,
        *,
        bucket_seconds: int,
        label: str = "",
        baseline_buckets: int = BASELINE_BUCKETS,
    ) -> None:
        self.kind: SpikeKind = kind
        self.series = series
        self.label = label or series
        self._config = config
        self._bucket_seconds = bucket_seconds
        # (value in detector space, mentions in the bucket), oldest first.
        self._history: deque[tuple[float, int]] = deque()
        self._capacity = max(baseline_buckets, config.warmup_buckets)
        # The same values kept sorted, so the median costs nothing per bucket.
        self._sorted: list[tuple[float, int]] = []
        self._open: Alert | None = None
        self._below = 0
        self._cooldown_until = -math.inf

    # ------------------------------------------------------------------ state

    @property
    def alert(self) -> Alert | None:
        """The open alert, if any."""
        return self._open

    @property
    def history_size(self) -> int:
        """Values currently held for the baseline (bounded by ``baseline_buckets``)."""
        return len(self._history)

    def baseline(self) -> Baseline | None:
        """Median and robust spread, or None while warming up.

        For volume the spread is in sqrt-count units. For negative share it is in
        arcsine-sqrt units, for a bucket of ``min_share_count`` mentions (it shrinks
        as sqrt(n) for fuller buckets).
        """
        if len(self._history) < self._config.warmup_buckets:
            return None
        if self.kind == "volume":
            center = _median([x for x, _n in self._sorted])
            mad = _median(sorted([abs(x - center) for x, _n in self._sorted]))
            return Baseline(center * center, max(MAD_TO_SIGMA * mad, POISSON_SQRT_SIGMA))
        # Shares of small buckets are noisy, so the center is the median weighted by
        # mentions, and the spread is the binomial one (1 / (2 sqrt(n)) in arcsine
        # space) times a robust over-dispersion factor: the MAD of the standardised
        # residuals, never below :data:`MIN_DISPERSION`.
        pairs = self._sorted
        half = sum(n for _y, n in pairs) / 2
        seen = 0
        center = pairs[-1][0]
        for y, n in pairs:
            seen += n
            if seen >= half:
                center = y
                break
        residuals = sorted([abs(y - center) * 2 * math.sqrt(n) for y, n in pairs])
        dispersion = max(MIN_DISPERSION, MAD_TO_SIGMA * _median(residuals))
        spread = dispersion / (2 * math.sqrt(self._config.min_share_count))
        return Baseline(math.sin(center) ** 2, spread)

    def annotate(self, why: Explanation) -> Alert:
        """Attach an explanation to the open alert, after the fact.

        The analytics explain all the alerts of a bucket at once (one lookup of the
        terms' baselines for all of them) instead of through ``observe``'s callback.
        """
        assert self._open is not None, "no open alert to annotate"
        self._open = msgspec.structs.replace(
            self._open, top_terms=why.top_terms, top_sources=why.top_sources, examples=why.examples
        )
        return self._open

    def reset(self) -> None:
        """Forget the baseline (after a long gap in the data); an open alert stays."""
        self._history.clear()
        self._sorted.clear()

    # ------------------------------------------------------------------ input

    def observe(
        self,
        bucket: int,
        value: float,
        *,
        count: int,
        explain: Callable[[], Explanation] | None = None,
    ) -> SpikeEvent | None:
        """Take the value of one completed bucket.

        For volume, ``value`` and ``count`` are both the bucket's count. For negative
        share, ``value`` is the share and ``count`` the bucket's mentions; buckets under
        ``min_share_count`` still inform the baseline but cannot alert, and count as
        quiet for an open alert. ``explain`` is called only when an alert opens or
        escalates.
        """
        cfg = self._config
        end_time = (bucket + 1) * self._bucket_seconds
        share = self.kind == "negative_share"
        base = self.baseline()
        z = 0.0
        spiking = False
        if base is not None and not (share and count < cfg.min_share_count):
            z = (self._to_space(value) - self._to_space(base.center)) / self._spread(base, count)
            spiking = z >= cfg.z_threshold and self._big_enough(value, count, base.center)

        event: SpikeEvent | None = None
        if self._open is None:
            if spiking and end_time >= self._cooldown_until and base is not None:
                self._open = self._new_alert(bucket, value, base.center, z, explain)
                self._below = 0
                event = SpikeEvent("opened", self._open)
        elif spiking and base is not None:
            self._below = 0
            event = self._continue(bucket, value, base.center, z, explain)
        else:
            self._below += 1
            if self._below >= cfg.end_after_buckets:
                ended = msgspec.structs.replace(self._open, ended_at=float(end_time))
                self._open = None
                self._cooldown_until = end_time + cfg.cooldown_seconds
                event = SpikeEvent("ended", ended)

        # An empty bucket says nothing about a share.
        if not (share and count == 0):
            self._learn(value, count, base)
        return event

    # ------------------------------------------------------------------ internals

    def _to_space(self, value: float) -> float:
        if self.kind == "volume":
            return math.sqrt(max(value, 0.0))
        return math.asin(math.sqrt(min(max(value, 0.0), 1.0)))

    def _spread(self, base: Baseline, count: int) -> float:
        if self.kind == "volume":
            return base.spread
        return base.spread * math.sqrt(self._config.min_share_count / max(count, 1))

    def _big_enough(self, value: float, count: int, center: float) -> bool:
        if self.kind == "volume":
            return count >= self._config.min_count and value >= MIN_VOLUME_RATIO * center
        return value - center >= MIN_SHARE_LIFT

    def _learn(self, value: float, count: int, base: Baseline | None) -> None:
        x = self._to_space(value)
        if base is not None:
            # Clip outliers so they barely move the median; harder while an alert is
            # open so the baseline does not chase the spike it is measuring.
            sigmas = OPEN_CLIP_SIGMAS if self._open is not None else self._config.z_threshold
            x = min(x, self._to_space(base.center) + sigmas * self._spread(base, count))
        entry = (x, count)
        self._history.append(entry)
        bisect.insort(self._sorted, entry)
        if len(self._history) > self._capacity:
            old = self._history.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def _message(self, value: float, center: float) -> str:
        if self.kind == "volume":
            ratio = value / max(center, 1.0)
            return (
                f"{self.label} volume {ratio:.1f}x baseline "
                f"({_fmt_count(value)} vs {_fmt_count(center)} per {self._bucket_seconds} s)"
            )
        subject = "overall" if self.series == "total" else f"for {self.label}"
        return f"Negative share {subject} at {value:.0%} vs {center:.0%} baseline"

    def _new_alert(
        self,
        bucket: int,
        value: float,
        center: float,
        z: float,
        explain: Callable[[], Explanation] | None,
    ) -> Alert:
        started = float(bucket * self._bucket_seconds)
        why = explain() if explain is not None else Explanation([], [], [])
        return Alert(
            id=f"{self.kind}:{self.series}:{int(started)}",
            kind=self.kind,
            series=self.series,
            severity=severity_for(z, self._config.z_threshold),
            started_at=started,
            updated_at=started + self._bucket_seconds,
            value=float(value),
            baseline=float(center),
            score=round(z, 2),
            message=self._message(value, center),
            top_terms=why.top_terms,
            top_sources=why.top_sources,
            examples=why.examples,
        )

    def _continue(
        self,
        bucket: int,
        value: float,
        center: float,
        z: float,
        explain: Callable[[], Explanation] | None,
    ) -> SpikeEvent | None:
        assert self._open is not None
        old = self._open
        severity = severity_for(z, self._config.z_threshold)
        escalated = _SEVERITY_RANK[severity] > _SEVERITY_RANK[old.severity]
        fields: dict[str, object] = {
            "updated_at": float((bucket + 1) * self._bucket_seconds),
            "value": float(value),
            "baseline": float(center),
            "score": round(z, 2),
            "message": self._message(value, center),
        }
        if escalated:
            fields["severity"] = severity
            if explain is not None:
                why = explain()
                fields.update(
                    top_terms=why.top_terms, top_sources=why.top_sources, examples=why.examples
                )
        # A new struct, never a mutation: ticks already handed out keep their copy.
        self._open = msgspec.structs.replace(old, **fields)
        return SpikeEvent("escalated", self._open) if escalated else None
