"""Prometheus text exposition (format 0.0.4), written by hand: a few dozen lines do
what a client library would, with nothing global and nothing to install.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MetricType = Literal["counter", "gauge", "summary", "untyped"]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Metric:
    """One metric family: a name, a help line, a type and labelled samples."""

    name: str
    help: str
    type: MetricType
    samples: list[tuple[dict[str, str], float, str]] = field(default_factory=list)

    def add(
        self, value: float, labels: Mapping[str, str] | None = None, *, suffix: str = ""
    ) -> Metric:
        """Add a sample; ``suffix`` names a summary's ``_sum`` and ``_count`` samples."""
        self.samples.append((dict(labels or {}), value, suffix))
        return self


def render(metrics: Iterable[Metric]) -> str:
    """The exposition text for ``metrics``."""
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {_escape_help(m.help)}")
        lines.append(f"# TYPE {m.name} {m.type}")
        for labels, value, suffix in m.samples:
            if labels:
                inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                lines.append(f"{m.name}{suffix}{{{inner}}} {_number(value)}")
            else:
                lines.append(f"{m.name}{suffix} {_number(value)}")
    return "\n".join(lines) + "\n"


def process_rss_bytes() -> float:
    """Resident memory of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 0.0


def sqlite_memory_bytes() -> float:
    """Memory SQLite has allocated in this process (all connections), or -1 if unknown."""
    try:
        import _sqlite3
        import ctypes

        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
        used.restype = ctypes.c_int64
        return float(used())
    except (OSError, AttributeError):  # pragma: no cover - a build without the symbol
        return -1.0


class StageCpu:
    """CPU seconds spent per stage of the pipeline, in this process and its workers.

    Stages add the CPU time (``time.thread_time`` differences, so a thread waiting on
    the GIL or the disk costs nothing) of whole batches, never of one mention: a clock
    read per batch is free, one per mention is not. ``groundcontrol bench`` reads the
    counters before and after a run and divides by the mentions taken.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def add_all(self, stages: Mapping[str, float]) -> None:
        for stage, seconds in stages.items():
            self.add(stage, seconds)


#: The hub process's stage counters (one hub per process; tests that start several
#: share them, as they share the process's CPU).
STAGE_CPU = StageCpu()


def stage_cpu_metric(*extra: Mapping[str, float]) -> Metric:
    """``groundcontrol_stage_cpu_seconds_total``: :data:`STAGE_CPU` and ``extra``
    (the store writer's own counters, kept on its thread)."""
    metric = Metric(
        "groundcontrol_stage_cpu_seconds_total",
        "CPU time spent per pipeline stage (worker stages are the workers' CPU).",
        "counter",
    )
    stages = dict(STAGE_CPU.seconds)
    for more in extra:
        for stage, seconds in more.items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    for stage, seconds in sorted(stages.items()):
        metric.add(seconds, {"stage": stage})
    return metric


#: What the threads the standard library starts for the enrichment pool do, by class
#: or by name.
_THREAD_ROLES = {
    "_ExecutorManagerThread": "enrich-results",  # takes the workers' results (unpickles)
    "QueueFeederThread": "enrich-sends",  # writes work items to the workers (pickles)
}


def thread_cpu_metric() -> Metric:
    """``groundcontrol_thread_cpu_seconds_total``: CPU time of each of this process's
    Python threads by name (Linux /proc; threads of the same name are added up)."""
    metric = Metric(
        "groundcontrol_thread_cpu_seconds_total",
        "CPU time (user + system) of each of the hub's threads, by name.",
        "counter",
    )
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    by_name: dict[str, float] = {}
    for thread in threading.enumerate():
        tid = thread.native_id
        if tid is None:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        # After the name: state is field 3, utime and stime are fields 14 and 15.
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        name = _THREAD_ROLES.get(type(thread).__name__) or _THREAD_ROLES.get(thread.name)
        name = name or thread.name
        if name.startswith("enrich-feeder"):
            name = "enrich-feeder"
        by_name[name] = by_name.get(name, 0.0) + seconds
    for name, seconds in sorted(by_name.items()):
        metric.add(seconds, {"thread": name})
    return metric
