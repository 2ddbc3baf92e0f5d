"""groundcontrol bench runs end to end and reports what the issue asks for."""

from __future__ import annotations

import argparse
import json
import time

import pytest

from feeds.demo import DemoStream
from groundcontrol.cli.bench import rate_spec
from groundcontrol.lab.bench import Rate, run_bench

pytestmark = pytest.mark.slow


def test_bench_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    def demo(size: int) -> DemoStream:
        return DemoStream(seed=1, rate=max(200.0, size / 300), start=time.time() - 3600)

    assert (
        run_bench(demo, seconds=1.0, as_json=True, batch=200, window=4, rate=Rate(fraction=0.5))
        == 0
    )
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
    # CPU per mention: in all, and by stage and thread from the hub's /metrics.
    cpu = report["cpu_us_per_mention"]
    assert cpu["total"] == pytest.approx(cpu["server"] + cpu["workers"], abs=0.2)
    assert cpu["total"] > report["baseline_cpu_us_per_mention"] > 0
    for stage in ("decode and screen", "enrich sentiment", "copy index", "analytics tick"):
        assert cpu["stages"][stage] > 0, stage
    assert cpu["stages"]["store rows"] > 0 and cpu["threads"]["store-writer"] > 0
    # The paced run: fed at half the full-speed rate measured first.
    paced = report["paced"]
    assert paced["rate"] == pytest.approx(report["events_per_s"] / 2, rel=0.01)
    assert 0 < paced["events_per_s"] <= paced["rate"] * 1.2
    assert 0 < paced["latency_p50_ms"] <= paced["latency_p99_ms"]


def test_rate_is_mentions_a_second_or_a_share_of_full_speed() -> None:
    assert rate_spec("20000") == Rate(per_second=20000.0)
    assert rate_spec("80%") == Rate(fraction=0.8)
    for bad in ("0", "-5", "inf", "nan", "fast", "0%", "150%"):
        with pytest.raises(argparse.ArgumentTypeError, match="--rate"):
            rate_spec(bad)
