"""The hub's watched series: one burst detector per series, fed bucket by bucket.

The analytics watch the total volume, each brand's volume and its negative mentions,
each source, and the lead terms of the hottest stories. :class:`SeriesWatch` pairs one
:class:`~groundcontrol.signals.detector.BurstDetector` (the detector ``groundcontrol backtest``
scores, with the same defaults) with what the series is, and feeds it one completed
bucket at a time. What the bursts mean, and which of them make an incident, is
:mod:`groundcontrol.signals.incidents`' business.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from groundcontrol.config import SpikeConfig
from groundcontrol.protocol import SignalKind
from groundcontrol.signals.detector import HOUR, BurstDetector, DetectorConfig, Reading


class Explanation(NamedTuple):
    """Why a series burst, as the analytics see the bucket."""

    top_terms: list[str]
    top_sources: list[str]
    examples: list[str]
    top_authors: list[str] = []  # noqa: RUF012 (a NamedTuple default, never mutated)


def detector_config(config: SpikeConfig) -> DetectorConfig:
    """The detector settings a ``[spikes]`` table asks for (defaults: the backtest's)."""
    return DetectorConfig(
        window=config.memory_days * 24 * HOUR,
        min_ratio=config.min_ratio,
        quiet=config.quiet_hours * HOUR,
        warmup=config.warmup_seconds,
        quiet_from=config.alert_score,
    )


class SeriesWatch:
    """One watched series: what it is, its detector and its last reading."""

    def __init__(
        self,
        series: str,
        kind: SignalKind,
        label: str,
        *,
        brand: str = "",
        bucket_seconds: float,
        config: DetectorConfig,
    ) -> None:
        self.series = series
        self.kind: SignalKind = kind
        self.label = label
        self.brand = brand
        self.detector = BurstDetector(bucket_seconds, config)
        self.last: Reading | None = None
        """What the detector made of the last bucket."""
        self.last_bucket: int | None = None

    def observe(self, bucket: int, count: float) -> Reading:
        """Feed one completed bucket's count."""
        reading = self.detector.update(count)
        self.last = reading
        self.last_bucket = bucket
        return reading

    def warm(self, counts: Iterable[float], *, recent: int) -> Reading | None:
        """Feed a new watch its history; return the burst it found in the last
        ``recent`` buckets if the series is still up at the end (a story that was
        already bursting when it became hot), else None: older bursts are the past."""
        burst: Reading | None = None
        readings = [self.detector.update(n) for n in counts]
        for r in readings[-recent:] if recent > 0 else []:
            if r.score > 0 and (burst is None or r.score > burst.score):
                burst = r
        if readings:
            self.last = readings[-1]
        if burst is None or self.last is None or not self.last.active:
            return None
        return burst._replace(rate=self.last.rate, active=True)

    @property
    def state_size(self) -> int:
        return self.detector.state_size
