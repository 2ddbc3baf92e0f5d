"""groundcontrol bench runs end to end and reports what the issue asks for."""

from __future__ import annotations

import json
import time

import pytest

from feeds.demo import DemoStream
from groundcontrol.lab.bench import run_bench

pytestmark = pytest.mark.slow


def test_bench_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    def demo(size: int) -> DemoStream:
        return DemoStream(seed=1, rate=max(200.0, size / 300), start=time.time() - 3600)

    assert run_bench(demo, seconds=1.0, as_json=True, batch=200, window=4) == 0
    report = json.loads(capsys.readouterr().out)
    for key in (
        "events_per_s",
        "baseline_events_per_s",
        "ratio",
        "latency_p50_ms",
        "latency_p99_ms",
    ):
        assert isinstance(report[key], float), key
    assert report["events_per_s"] > 0 and report["baseline_events_per_s"] > 0
    assert report["ratio"] == pytest.approx(
        report["events_per_s"] / report["baseline_events_per_s"], abs=0.01
    )
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"]
    assert report["hub_rss_mb_start"] > 0
