"""Prometheus text exposition (format 0.0.4), written by hand: a few dozen lines do
what a client library would, with nothing global and nothing to install.
"""

from __future__ import annotations

import math
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
