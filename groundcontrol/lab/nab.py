"""Numenta Anomaly Benchmark scoring, standard profile, for judging detectors offline.

This follows NAB's sweeper (NAB 1.x) step by step, so a score here means what it means
on NAB's own scoreboard:

* **Windows.** Each labelled anomaly sits in the middle of a window of
  ``int(0.10 * rows / anomalies)`` rows (:func:`windows_for`); windows that touch are
  merged.
* **Probation.** The first ``min(floor(0.15 * rows), 750)`` rows of a file are the
  detector's learning time: detections there count for nothing either way
  (:func:`probation_rows`). A window that lies wholly inside probation is not scored.
* **Row weights.** A detection in a window is worth ``A_TP * sigma(pos) / sigma(-1)``
  where ``pos`` runs from -1 at the window's first row towards 0 at its last and
  ``sigma`` is NAB's scaled sigmoid (:func:`scaled_sigmoid`), so the earliest detection
  is worth exactly ``A_TP``. A detection outside every window costs
  ``A_FP * sigma(distance past the previous window / (its width - 1))``: the full
  ``A_FP`` (0.11) before any window or well after one, less just after a window.
* **Per file.** A window with at least one detection scores the best weight among its
  detections (later detections in it are free); a window with none costs ``A_FN``;
  every detection outside windows adds its (negative) weight.
* **Threshold.** A row is a detection when its score is ``>= threshold``. NAB picks one
  threshold for the whole corpus, the one that maximises the summed raw score
  (:func:`optimise_threshold` sweeps every distinct score exactly).
* **Normalisation.** ``100 * (raw - null) / (perfect - null)``: the null detector (a
  constant score, best threshold) gets 0, a detector that fires on the first row of
  every window and nowhere else gets 100.

Pure code: lists in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: NAB's probationary period: this share of a file, at most ``PROBATION_SHARE * 5000`` rows.
PROBATION_SHARE = 0.15
#: NAB's window size: this share of a file, divided among its anomalies.
WINDOW_SHARE = 0.10


@dataclass(frozen=True)
class Profile:
    """Costs and rewards of one NAB application profile."""

    tp: float
    fp: float
    fn: float


#: NAB's standard profile: A_TP = 1, A_FP = -0.11, A_FN = -1 (costs stored positive).
STANDARD = Profile(tp=1.0, fp=0.11, fn=1.0)


@dataclass(frozen=True)
class LabelledFile:
    """One scored file: the detector's scores per row and the labelled windows."""

    name: str
    scores: Sequence[float]
    windows: Sequence[tuple[int, int]]
    """Inclusive row ranges ``(first, last)``, sorted and not overlapping."""


@dataclass(frozen=True)
class FileResult:
    name: str
    raw: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class CorpusResult:
    threshold: float
    raw: float
    null: float
    perfect: float
    normalised: float
    files: list[FileResult]

    @property
    def tp(self) -> int:
        return sum(f.tp for f in self.files)

    @property
    def fp(self) -> int:
        return sum(f.fp for f in self.files)

    @property
    def fn(self) -> int:
        return sum(f.fn for f in self.files)


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: +0.987 at -1 (window start), 0 at 0, -1 from 3 on."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(rows: int) -> int:
    """Rows at the start of a file where NAB ignores detections."""
    return min(math.floor(PROBATION_SHARE * rows), int(PROBATION_SHARE * 5000))


def window_length(rows: int, anomalies: int) -> int:
    """NAB's window length in rows for a file with ``anomalies`` labelled anomalies."""
    return int(WINDOW_SHARE * rows / anomalies) if anomalies else 0


def windows_for(anomalies: Sequence[int], rows: int) -> list[tuple[int, int]]:
    """Windows centred on the labelled rows, clipped to the file, touching ones merged."""
    length = window_length(rows, len(anomalies))
    half = length // 2
    spans = sorted((max(0, a - half), min(rows - 1, a + half)) for a in anomalies)
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def row_weights(rows: int, windows: Sequence[tuple[int, int]], profile: Profile) -> list[float]:
    """What a detection on each row is worth (NAB's sweep score per row)."""
    max_tp = scaled_sigmoid(-1.0)
    weights = [0.0] * rows
    w = 0
    prev_right: int | None = None
    prev_width = 0.0
    for i in range(rows):
        while w < len(windows) and windows[w][1] < i:
            prev_right = windows[w][1]
            prev_width = float(windows[w][1] - windows[w][0] + 1)
            w += 1
        if w < len(windows) and windows[w][0] <= i <= windows[w][1]:
            first, last = windows[w]
            width = float(last - first + 1)
            position = -(last - i + 1) / width
            weights[i] = scaled_sigmoid(position) * profile.tp / max_tp
        elif prev_right is None:
            weights[i] = -1.0 * profile.fp
        else:
            past = abs(prev_right - i) / max(prev_width - 1.0, 1.0)
            weights[i] = scaled_sigmoid(past) * profile.fp
    return weights


def _window_index(rows: int, windows: Sequence[tuple[int, int]]) -> list[int]:
    index = [-1] * rows
    for k, (first, last) in enumerate(windows):
        for i in range(first, last + 1):
            index[i] = k
    return index


def _scored_windows(f: LabelledFile) -> list[int]:
    """Indices of the windows that reach past probation (the ones NAB can score)."""
    start = probation_rows(len(f.scores))
    return [k for k, (_first, last) in enumerate(f.windows) if last >= start]


def score_file(f: LabelledFile, threshold: float, profile: Profile = STANDARD) -> FileResult:
    """Raw NAB score of one file at one threshold."""
    rows = len(f.scores)
    weights = row_weights(rows, f.windows, profile)
    index = _window_index(rows, f.windows)
    scored = set(_scored_windows(f))
    best: dict[int, float] = {}
    raw = 0.0
    fp = 0
    for i in range(probation_rows(rows), rows):
        if f.scores[i] < threshold:
            continue
        k = index[i]
        if k < 0:
            raw += weights[i]
            fp += 1
        elif k in scored:
            best[k] = max(best.get(k, -math.inf), weights[i])
    raw += sum(best.values())
    missed = len(scored) - len(best)
    raw -= missed * profile.fn
    return FileResult(f.name, raw, tp=len(best), fp=fp, fn=missed)


def optimise_threshold(
    files: Sequence[LabelledFile], profile: Profile = STANDARD
) -> tuple[float, float]:
    """The corpus-wide threshold with the best summed raw score, and that score.

    Sweeps every distinct score from the top down, as NAB's sweeper does, so the
    answer is exact. With no detection at all the corpus scores ``-A_FN`` per window;
    that is returned (with a threshold above every score) if nothing beats it.
    """
    points: list[tuple[float, int, int, float]] = []  # score, file, window, weight
    total_windows = 0
    for n, f in enumerate(files):
        rows = len(f.scores)
        weights = row_weights(rows, f.windows, profile)
        index = _window_index(rows, f.windows)
        scored = set(_scored_windows(f))
        total_windows += len(scored)
        for i in range(probation_rows(rows), rows):
            k = index[i]
            if k >= 0 and k not in scored:
                continue
            points.append((f.scores[i], n, k, weights[i]))
    points.sort(key=lambda p: -p[0])
    raw = -profile.fn * total_windows
    best_raw = raw
    best_threshold = (points[0][0] + 1.0) if points else 1.0
    best: dict[tuple[int, int], float] = {}
    j = 0
    while j < len(points):
        level = points[j][0]
        while j < len(points) and points[j][0] == level:
            _s, n, k, weight = points[j]
            if k < 0:
                raw += weight
            else:
                old = best.get((n, k))
                if old is None:
                    raw += profile.fn + weight
                    best[(n, k)] = weight
                elif weight > old:
                    raw += weight - old
                    best[(n, k)] = weight
            j += 1
        if raw > best_raw + 1e-12:
            best_raw, best_threshold = raw, level
    return best_threshold, best_raw


def score_corpus(
    files: Sequence[LabelledFile],
    profile: Profile = STANDARD,
    *,
    threshold: float | None = None,
) -> CorpusResult:
    """Optimise the threshold over the corpus (or take ``threshold``: a detector's shipped
    default), then normalise against null and perfect."""
    if threshold is None:
        threshold, _raw = optimise_threshold(files, profile)
    results = [score_file(f, threshold, profile) for f in files]
    raw = sum(r.raw for r in results)
    windows = sum(len(_scored_windows(f)) for f in files)
    null_files = [LabelledFile(f.name, [0.5] * len(f.scores), f.windows) for f in files]
    _t, null = optimise_threshold(null_files, profile)
    perfect = profile.tp * windows
    span = perfect - null
    normalised = 100.0 * (raw - null) / span if span else 0.0
    return CorpusResult(threshold, raw, null, perfect, normalised, results)
