"""``groundcontrol backtest --mentions``: recorded mentions through the hub in virtual time."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from groundcontrol.cli.main import main
from groundcontrol.model import Mention

T0 = 1_765_000_800.0
CALM = [
    "Using my {b} laptop at work today",
    "Anyone tried the new {b} update?",
    "{b} support got back to me within a day",
    "Thinking about getting a {b} for school",
    "The {b} keyboard feels fine",
]
ANGRY = [
    "My {b} Aero 14 battery is swollen, this is dangerous #aerogate",
    "Terrible: {b} battery overheating again, I want a refund #aerogate",
    "Swollen battery on my {b} laptop, awful and scary #aerogate",
]


def record(path: Path, *, minutes: int, surge_at: float | None, seed: int = 3) -> None:
    """Calm talk about three brands at ~1.5 a second, and optionally five minutes of an
    angry Northwind story at 8 a second from ``surge_at``."""
    rng = random.Random(seed)
    enc = msgspec.json.Encoder()
    n = 0
    with path.open("wb") as f:
        for second in range(minutes * 60):
            t = T0 + second
            count = rng.choice((1, 1, 2, 2, 3))
            items = [(rng.choice(CALM), rng.choice(["Northwind", "Contoso", "Fabrikam"]))]
            items = items * count
            if surge_at is not None and surge_at <= t < surge_at + 300:
                items += [(rng.choice(ANGRY), "Northwind") for _ in range(8)]
            for template, brand in items:
                n += 1
                m = Mention(
                    source=rng.choice(["x", "bluesky", "mastodon"]),
                    source_id=str(n),
                    text=template.format(b=brand) + f" ({n})",
                    created_at=datetime.fromtimestamp(t + rng.random(), UTC),
                    author=f"user{rng.randrange(500)}",
                    author_reach=int(rng.paretovariate(1.3) * 50),
                )
                f.write(enc.encode(m) + b"\n")


def test_a_recorded_story_comes_out_as_one_negative_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rec.ndjson"
    surge = T0 + 20 * 60
    record(path, minutes=40, surge_at=surge)
    assert main(["backtest", "--mentions", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mentions"] > 4000
    (inc,) = out["incidents"]
    start = datetime.fromisoformat(inc["start"]).timestamp()
    assert surge <= start <= surge + 120
    assert inc["kind"] == "negative" and inc["severity"] == "critical"
    assert inc["brand"] == "Northwind" and inc["end"] is not None
    assert "#aerogate" in inc["top_terms"]
    # The text report says the same, for a person.
    assert main(["backtest", "--mentions", str(path)]) == 0
    text = capsys.readouterr().out
    assert "1 incident(s)" in text and "negative critical" in text and "Northwind" in text


def test_calm_talk_opens_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calm.ndjson"
    record(path, minutes=30, surge_at=None)
    assert main(["backtest", "--mentions", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["incidents"] == []


def test_bad_input_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.ndjson"
    record(path, minutes=1, surge_at=None)
    with path.open("a") as f:
        f.write('{"source": "x", "text": 5}\n')
    assert main(["backtest", "--mentions", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "not a mention" in err and "line" in err
    assert main(["backtest", "--mentions", str(tmp_path / "nope.ndjson")]) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n")
    assert main(["backtest", "--mentions", str(empty)]) == 2
    assert "no mentions" in capsys.readouterr().err
    assert main(["backtest", str(path), "--mentions", str(path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["backtest"]) == 2
    assert "--mentions" in capsys.readouterr().err
