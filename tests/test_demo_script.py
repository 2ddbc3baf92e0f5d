"""The demo's scripted day, recorded with ``feed demo --record`` and run through the hub.

The demo is the first thing people see of the alerts, so its script has to be what the
hub's detector would really report: every scripted incident opens, on time and of the
right kind, and nothing else does, although the stream carries the small unscripted
bursts that real brand-mention series have.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from feeds.demo import CYCLE_SECONDS, TIMELINE, DemoStream
from groundcontrol.cli.feed import DEMO_RECORD_START
from groundcontrol.cli.main import main
from groundcontrol.config import load_config
from groundcontrol.lab.mention_backtest import run_mentions
from groundcontrol.model import Mention

START = datetime.fromisoformat(DEMO_RECORD_START).timestamp()
#: The detector stays quiet this long on a series after a burst (``[spikes]
#: quiet_hours``), and a brand's incidents must also be told apart: half an hour more.
SAME_BRAND_GAP = 6.5 * 3600


def record(path: Path, *args: str) -> int:
    return main(["feed", "demo", "--record", str(path), *args])


def script_of(path: Path) -> list[dict[str, str]]:
    items = json.loads(Path(f"{path}.script.json").read_text(encoding="utf-8"))
    assert isinstance(items, list)
    return items


def iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# --------------------------------------------------------------------------- the script


def test_the_first_incident_is_a_northwind_defect_in_the_first_minutes() -> None:
    first = min(TIMELINE, key=lambda i: i.starts_at)
    assert first.brand == "Northwind"
    assert first.kind == "negative"
    assert "#AeroGate" in first.title
    # It starts by minute 4, so a new `make demo` shows it within five minutes (the
    # hub needs about a minute to tell it from noise; see the slow test below).
    assert 120 <= first.starts_at <= 240


def test_the_day_has_every_kind_on_every_brand_hours_apart() -> None:
    brands = {b.name for b in load_config(None).brands}
    assert {i.brand for i in TIMELINE} == brands
    assert {i.kind for i in TIMELINE} == {"negative", "positive", "neutral"}
    assert all(i.title and i.description for i in TIMELINE)
    for incident in TIMELINE:
        assert 5 * 60 <= incident.ends_at - incident.starts_at <= 20 * 60, incident.title
        assert 0 <= incident.starts_at < incident.ends_at <= CYCLE_SECONDS
    # The first six hours have one incident per brand; the day has more.
    first_six = [i for i in TIMELINE if i.starts_at < 6 * 3600]
    assert sorted(i.brand for i in first_six) == sorted(brands)
    assert len(TIMELINE) > len(first_six)
    # Different stories are hours apart.
    starts = sorted(i.starts_at for i in TIMELINE)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 1.5 * 3600


def test_no_two_incidents_on_one_brand_within_six_and_a_half_hours() -> None:
    # Across the day and into the next one: the script repeats every 24 hours.
    for brand in {i.brand for i in TIMELINE}:
        starts = sorted(i.starts_at for i in TIMELINE if i.brand == brand)
        two_days = [*starts, *(s + CYCLE_SECONDS for s in starts)]
        gaps = [b - a for a, b in itertools.pairwise(two_days)]
        assert min(gaps) >= SAME_BRAND_GAP, (brand, gaps)


def test_occurrences_repeat_every_day() -> None:
    stream = DemoStream(seed=7, rate=10.0, start=START)
    two_days = stream.occurrences(START, START + 2 * CYCLE_SECONDS)
    assert len(two_days) == 2 * len(TIMELINE)
    for n, occurrence in enumerate(two_days):
        day, incident = divmod(n, len(TIMELINE))
        assert occurrence.incident == TIMELINE[incident]
        assert occurrence.start == START + day * CYCLE_SECONDS + TIMELINE[incident].starts_at
        assert occurrence.end == START + day * CYCLE_SECONDS + TIMELINE[incident].ends_at
    # A span gets the incidents that overlap it, including one already running.
    aerogate = TIMELINE[0]
    mid = START + (aerogate.starts_at + aerogate.ends_at) / 2
    assert [o.incident for o in stream.occurrences(mid, mid + 60)] == [aerogate]
    assert stream.occurrences(START, START + aerogate.starts_at) == []


# --------------------------------------------------------------------------- --record


def test_record_writes_the_stream_and_its_script(tmp_path: Path) -> None:
    path = tmp_path / "demo.ndjson"
    assert record(path, "--minutes", "5", "--rate", "20", "--seed", "3") == 0
    lines = path.read_bytes().splitlines()
    expected = DemoStream(seed=3, rate=20.0, start=START).between(START, START + 300)
    assert len(lines) == len(expected) > 5000
    decoded = [msgspec.json.decode(line, type=Mention) for line in lines]
    assert decoded == expected
    script = script_of(path)
    assert script == [
        {
            "start": "2026-06-01T00:03:20Z",
            "end": "2026-06-01T00:16:00Z",
            "kind": "negative",
            "title": TIMELINE[0].title,
            "brand": "Northwind",
        }
    ]
    assert iso(script[0]["start"]) - START == TIMELINE[0].starts_at


def test_record_from_another_start(tmp_path: Path) -> None:
    path = tmp_path / "evening.ndjson"
    assert record(path, "--minutes", "1", "--rate", "5", "--start", "2026-03-02T18:30") == 0
    start = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)
    first = msgspec.json.decode(path.read_bytes().splitlines()[0], type=Mention)
    assert start <= first.created_at < start + timedelta(seconds=1)
    assert script_of(path) == []


def test_the_same_seed_gives_the_same_file(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.ndjson", tmp_path / "b.ndjson", tmp_path / "c.ndjson"
    assert record(a, "--minutes", "2", "--rate", "10") == 0
    assert record(b, "--minutes", "2", "--rate", "10") == 0
    assert record(c, "--minutes", "2", "--rate", "10", "--seed", "8") == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert Path(f"{a}.script.json").read_bytes() == Path(f"{b}.script.json").read_bytes()


def test_record_refuses_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "demo.ndjson"
    assert record(missing, "--minutes", "1") == 2
    assert f"cannot write {missing}" in capsys.readouterr().err
    assert record(tmp_path, "--minutes", "1") == 2  # a directory
    assert "cannot write" in capsys.readouterr().err
    assert record(tmp_path / "x.ndjson") == 2
    assert "--minutes" in capsys.readouterr().err
    assert main(["feed", "demo", "--minutes", "5"]) == 2
    assert "--record" in capsys.readouterr().err


def test_help_documents_record(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["feed", "demo", "--help"])
    text = capsys.readouterr().out
    for option in ("--record FILE", "--minutes N", "--start ISO", "script.json"):
        assert option in text
    assert all(i.title in text for i in TIMELINE)


def test_long_recordings_show_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert record(tmp_path / "long.ndjson", "--minutes", "125", "--rate", "0.5") == 0
    err = capsys.readouterr().err
    assert "recorded 1 h of 2.08333" in err and "recorded 2 h of" in err
    assert "wrote" in err and "2 scripted incident(s)" in err  # the defect, the rumour


# --------------------------------------------------------------------------- through the hub


def test_a_new_demo_shows_the_defect_within_five_minutes(tmp_path: Path) -> None:
    """What `make demo` does: a fresh hub, the demo at its configured rate."""
    config = load_config(None)
    path = tmp_path / "opening.ndjson"
    assert record(path, "--minutes", "5", "--rate", str(config.demo.rate)) == 0
    incidents = run_mentions(path, config).incidents
    assert [(i.brand, i.kind) for i in incidents] == [("Northwind", "negative")]
    opened = incidents[0].history[0].at  # when the hub opened it
    assert opened - START < 5 * 60
    assert "#aerogate" in incidents[0].top_terms


@pytest.mark.slow
def test_hours_of_demo_yield_exactly_the_scripted_incidents(tmp_path: Path) -> None:
    """The issue's check: hours of demo at 10 mentions a second through the hub's own
    pipeline (a fresh hub, the default config) open exactly the scripted incidents,
    each within two minutes of its start and of the scripted kind; nothing else opens,
    though the stream has its unscripted bursts. 4 h 15 min holds the first three
    scripted stories (0:03, 2:00, 4:00) at two thirds of the cost of the issue's six
    hours; `groundcontrol backtest --mentions` over 6 h and 24 h is in the README."""
    path = tmp_path / "hours.ndjson"
    began = time.perf_counter()
    assert record(path, "--minutes", "255", "--rate", "10", "--seed", "7") == 0
    recorded = time.perf_counter()
    result = run_mentions(path, load_config(None))
    done = time.perf_counter()
    print(
        f"\ndemo script: recorded {result.mentions:,} mentions in {recorded - began:.1f} s, "
        f"backtest {done - recorded:.1f} s"
    )
    script = script_of(path)
    assert len(script) == 3
    found = []
    for item in script:
        start = iso(item["start"])
        match = [
            inc
            for inc in result.incidents
            if inc.brand == item["brand"] and abs(inc.started_at - start) <= 120
        ]
        assert len(match) == 1, (item, [(i.brand, i.started_at - start) for i in match])
        assert match[0].kind == item["kind"], (item["title"], match[0].title)
        found.append(match[0].id)
    extra = [(i.title, i.started_at - START) for i in result.incidents if i.id not in found]
    assert not extra, extra
