"""Backtest: run the online detector over a saved series.

Input is a CSV with a header naming at least ``timestamp`` and ``value`` (any order,
other columns ignored): one row per bucket, at a fixed interval, oldest first. The
output adds ``anomaly_score`` (0 to 1) to each row, as the detector would have scored
it live, and a summary lists the alerts it would have raised.

Choices, also in ``--help``:

* **Timestamps** are ISO 8601 (``2015-02-26 21:42:53``, ``2015-02-26T21:42:53+01:00``)
  or Unix seconds. The time of day and the day of the week are read as written (the
  local wall-clock time); Unix seconds and naive times are taken as UTC.
* **Interval** is the most common step between rows. A step that is not a whole number
  of intervals is an error. A step of several intervals is a **gap**: an error by
  default (a gap often means a broken export); with ``--allow-gaps`` the missing
  buckets are skipped (the detector simply sees no data for them, never zeros).
* **Rows** must be sorted by time with no duplicates; a value must be a finite number,
  not negative (a share: from 0 to 1).

The ``groundcontrol backtest`` command (where the output goes, exit codes, and
``--mentions``) is :mod:`groundcontrol.cli.backtest`.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TextIO

from groundcontrol.signals.detector import (
    ALERT_SCORE,
    DEFAULT_CONFIG,
    BurstDetector,
    DetectorConfig,
    Reading,
    severity_for_ratio,
)

Kind = Literal["count", "share"]

#: An alert ends after this many buckets below the threshold.
END_AFTER_BUCKETS = 3


class BacktestError(ValueError):
    """Bad input: the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class Series:
    """A parsed input file."""

    stamps: list[str]
    """Timestamps as written (echoed in the output)."""
    raw_values: list[str]
    """Values as written (echoed in the output)."""
    wall: list[float]
    """Local wall-clock seconds of each row (gives time of day and day of week)."""
    values: list[float]
    counts: list[float] | None
    """Mentions per bucket, for share series."""
    interval: float
    gaps: int
    """Buckets missing between rows (only with allow_gaps)."""


@dataclass(frozen=True)
class AlertSpan:
    start: str
    end: str
    first_row: int
    last_row: int
    peak_score: float
    peak_value: float
    expected: float
    severity: str


def _parse_time(text: str) -> tuple[float, float]:
    """(instant, wall-clock) seconds for a timestamp; raises ValueError."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(text)
        return seconds, seconds
    dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    wall = dt.replace(tzinfo=UTC).timestamp()
    instant = dt.timestamp() if dt.tzinfo is not None else wall
    return instant, wall


def _fmt_interval(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def parse_series(
    text: str, source: str = "input", *, kind: Kind = "count", allow_gaps: bool = False
) -> Series:
    """Read and check a ``timestamp,value[,count]`` CSV. Raises :class:`BacktestError`."""
    rows = list(csv.reader(io.StringIO(text)))
    header_line = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if header_line is None:
        raise BacktestError(f"{source}: empty file (expected a header: timestamp,value)")
    header = [c.strip().lower() for c in rows[header_line]]
    need = ["timestamp", "value"] + (["count"] if kind == "share" else [])
    missing = [n for n in need if n not in header]
    if missing:
        raise BacktestError(
            f"{source}: line {header_line + 1}: header lacks {', '.join(missing)} "
            f"(expected columns {','.join(need)}, got {','.join(header) or 'nothing'})"
        )
    ti, vi = header.index("timestamp"), header.index("value")
    ci = header.index("count") if kind == "share" else -1
    width = max(ti, vi, ci) + 1
    stamps: list[str] = []
    raw_values: list[str] = []
    instants: list[float] = []
    wall: list[float] = []
    values: list[float] = []
    counts: list[float] = []
    lines: list[int] = []
    for n, row in enumerate(rows[header_line + 1 :], start=header_line + 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < width:
            raise BacktestError(f"{source}: line {n}: {len(row)} fields, expected {width}")
        stamp = row[ti].strip()
        try:
            instant, local = _parse_time(stamp)
        except ValueError:
            raise BacktestError(
                f"{source}: line {n}: cannot read timestamp {stamp!r} "
                "(expected ISO 8601 such as 2015-02-26 21:42:53, or Unix seconds)"
            ) from None
        raw = row[vi].strip()
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        high = 1.0 if kind == "share" else math.inf
        if not (math.isfinite(value) and 0.0 <= value <= high):
            what = "a share from 0 to 1" if kind == "share" else "a count of 0 or more"
            raise BacktestError(f"{source}: line {n}: value {raw!r} is not {what}")
        if kind == "share":
            try:
                count = float(row[ci])
            except ValueError:
                count = math.nan
            if not (math.isfinite(count) and count >= 0):
                raise BacktestError(
                    f"{source}: line {n}: count {row[ci].strip()!r} is not a number of "
                    "mentions of 0 or more"
                )
            counts.append(count)
        if instants and instant <= instants[-1]:
            raise BacktestError(
                f"{source}: line {n}: timestamp {stamp} is not after the previous row's "
                f"({stamps[-1]}); rows must be sorted by time, without duplicates"
            )
        stamps.append(stamp)
        raw_values.append(raw)
        instants.append(instant)
        wall.append(local)
        values.append(value)
        lines.append(n)
    if len(values) < 2:
        raise BacktestError(
            f"{source}: {len(values)} data row(s): need at least 2 to infer the interval"
        )
    steps = [b - a for a, b in itertools.pairwise(instants)]
    tally: dict[float, int] = {}
    for s in steps:
        key = round(s, 6)
        tally[key] = tally.get(key, 0) + 1
    interval = max(tally, key=lambda k: (tally[k], -k))
    gaps = 0
    for i, s in enumerate(steps):
        k = round(s / interval)
        if abs(s - k * interval) > 1e-6 * interval + 1e-9:
            raise BacktestError(
                f"{source}: line {lines[i + 1]}: step of {_fmt_interval(s)} since "
                f"{stamps[i]} is not a whole number of {_fmt_interval(interval)} buckets"
            )
        if k > 1:
            if not allow_gaps:
                raise BacktestError(
                    f"{source}: line {lines[i + 1]}: gap of {k - 1} missing bucket(s) of "
                    f"{_fmt_interval(interval)} after {stamps[i]} (use --allow-gaps to "
                    "skip missing buckets)"
                )
            gaps += k - 1
    return Series(
        stamps,
        raw_values,
        wall,
        values,
        counts if kind == "share" else None,
        interval,
        gaps,
    )


def counts_of(series: Series) -> list[float]:
    """The counts the detector reads: the values, or for a share series the number of
    negative mentions (share times mentions), since a count has a tail to compare with."""
    if series.counts is None:
        return list(series.values)
    return [v * n for v, n in zip(series.values, series.counts, strict=True)]


def score_series(series: Series, config: DetectorConfig = DEFAULT_CONFIG) -> list[Reading]:
    """Run a fresh detector over the series, one bucket at a time."""
    det = BurstDetector(series.interval, config)
    return [det.update(v) for v in counts_of(series)]


def find_alerts(
    stamps: Sequence[str],
    values: Sequence[float],
    readings: Sequence[Reading],
    threshold: float = ALERT_SCORE,
    end_after: int = END_AFTER_BUCKETS,
) -> list[AlertSpan]:
    """Alerts as the hub would raise them: one opens on an onset scoring at least the
    threshold and ends after ``end_after`` buckets back near normal."""
    spans: list[AlertSpan] = []
    first = -1
    peak = -1
    calm = 0
    best = 0.0

    def close(last: int) -> None:
        r = readings[peak]
        spans.append(
            AlertSpan(
                stamps[first],
                stamps[last],
                first,
                last,
                best,
                values[peak],
                readings[first].expected,
                severity_for_ratio(r.rate / max(readings[first].expected, 1.0)),
            )
        )

    for i, r in enumerate(readings):
        if first < 0:
            if r.score >= threshold:
                first, peak, calm, best = i, i, 0, r.score
            continue
        best = max(best, r.score)
        if values[i] > values[peak]:
            peak = i
        calm = 0 if r.active else calm + 1
        if calm >= end_after:
            close(i - end_after)
            first = -1
    if first >= 0:
        close(len(readings) - 1)
    return spans


def format_summary(series: Series, alerts: Sequence[AlertSpan], threshold: float) -> str:
    head = (
        f"{len(series.values)} rows at a {_fmt_interval(series.interval)} interval, "
        f"{series.stamps[0]} to {series.stamps[-1]}"
        + (f", {series.gaps} missing bucket(s) skipped" if series.gaps else "")
        + f"; {len(alerts)} alert(s) at score >= {threshold:g}"
    )
    lines = [head]
    if alerts:
        w = max(len("start"), *(len(a.start) for a in alerts))
        e = max(len("end"), *(len(a.end) for a in alerts))
        lines.append(f"{'start':<{w}}  {'end':<{e}}  peak   severity  value (expected)")
        for a in alerts:
            lines.append(
                f"{a.start:<{w}}  {a.end:<{e}}  {a.peak_score:.3f}  {a.severity:<8}  "
                f"{a.peak_value:g} ({a.expected:.3g})"
            )
    return "\n".join(lines) + "\n"


def write_scores(out: TextIO, series: Series, readings: Sequence[Reading]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score"])
    for stamp, raw, r in zip(series.stamps, series.raw_values, readings, strict=True):
        writer.writerow([stamp, raw, f"{r.score:.6f}"])
