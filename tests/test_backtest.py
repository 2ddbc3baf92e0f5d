"""``groundcontrol backtest`` (groundcontrol.lab.backtest): parsing, scoring, alerts, errors."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from groundcontrol.cli import backtest as backtest_cli
from groundcontrol.lab import backtest
from groundcontrol.signals.detector import Reading

FIXTURES = Path(__file__).parent / "fixtures" / "series"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="groundcontrol")
    sub = p.add_subparsers(dest="command")
    backtest_cli.add_parser(sub)
    return p


def main(argv: list[str]) -> int:
    return backtest_cli.run(parser().parse_args(["backtest", *argv]))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return path


def rows(n: int, start: int = 1425254400, step: int = 300, value: int = 10) -> list[str]:
    return [f"{start + i * step},{value}" for i in range(n)]


def test_help_documents_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["backtest", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for words in ("anomaly_score", "--allow-gaps", "--out", "stderr", "never counted as zero"):
        assert words in out


def test_scores_the_fixture_and_finds_the_labelled_burst(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    assert main([str(FIXTURES / "synthetic_202.csv"), "--out", str(out)]) == 0
    with out.open(newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["timestamp", "value", "anomaly_score"]
    assert len(table) == 2881
    source = (FIXTURES / "synthetic_202.csv").read_text().splitlines()
    assert [f"{r[0]},{r[1]}" for r in table[1:]] == source[1:]
    assert all(0.0 <= float(r[2]) <= 1.0 for r in table[1:])
    printed = capsys.readouterr()
    assert printed.err == ""
    summary = printed.out.splitlines()
    assert summary[0].startswith("2880 rows at a 5 min interval")
    labels = json.loads((FIXTURES / "labels.json").read_text())["synthetic_202.csv"]
    starts = [datetime.fromisoformat(line[:19]) for line in summary[2:]]
    for label in labels:  # each labelled burst alerted within fifteen minutes
        onset = datetime.fromisoformat(label)
        assert any(0 <= (s - onset).total_seconds() <= 900 for s in starts), printed.out
    # ... and few others in ten days: the first days' (learning) and an unlabelled
    # burst nine times its level, a new record that any reader would look at too.
    assert len(starts) <= len(labels) + 4


def test_without_out_the_csv_goes_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows(50)) + "\n")
    assert main([str(path)]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert len(lines) == 51
    assert "50 rows at a 5 min interval" in printed.err


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ("", "empty file"),
        ("time,value\n1,2\n", "header lacks timestamp"),
        ("timestamp,value\n1425254400,5\n", "need at least 2"),
        ("timestamp,value\n1425254400,5\nyesterday,5\n", "line 3: cannot read timestamp"),
        ("timestamp,value\n1425254400,5\n1425254700,five\n", "line 3: value 'five'"),
        ("timestamp,value\n1425254400,5\n1425254700,-1\n", "line 3: value '-1'"),
        ("timestamp,value\n1425254400,5\n1425254700,nan\n", "line 3: value 'nan'"),
        ("timestamp,value\n1425254400,5\n1425254400,6\n", "line 3: timestamp 1425254400 is not"),
        ("timestamp,value\n1425254700,5\n1425254400,6\n", "sorted by time"),
        ("timestamp,value\n1425254400,5\n1425254700\n", "line 3: 1 fields, expected 2"),
        (
            "timestamp,value\n" + "\n".join([*rows(5), "1425256200,3"]) + "\n",
            "line 7: gap of 1 missing bucket(s) of 5 min",
        ),
        (
            "timestamp,value\n" + "\n".join([*rows(5), "1425255820,3"]) + "\n",
            "line 7: step of 220 s since",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, fault: str
) -> None:
    path = write(tmp_path, body)
    assert main([str(path)]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    err = printed.err.strip()
    assert "\n" not in err
    assert err.startswith(f"groundcontrol backtest: {path}")
    assert fault in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_gaps_can_be_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "timestamp,value\n" + "\n".join([*rows(20), *rows(20, start=1425254400 + 30 * 300)])
    path = write(tmp_path, body + "\n")
    assert main([str(path), "--allow-gaps", "--out", str(tmp_path / "o.csv")]) == 0
    assert "10 missing bucket(s) skipped" in capsys.readouterr().out
    assert len((tmp_path / "o.csv").read_text().splitlines()) == 41


def test_timestamp_forms_and_interval_inference() -> None:
    text = (
        "value,timestamp,extra\n"
        "4,2015-03-02T10:00:00+01:00,x\n"
        "5,2015-03-02T10:10:00+01:00,y\n"
        "6,2015-03-02T10:20:00+01:00,z\n"
    )
    s = backtest.parse_series(text, "t.csv")
    assert s.interval == 600
    assert s.values == [4.0, 5.0, 6.0]
    # Time of day as written (10:00 local), not converted to UTC.
    assert s.wall[0] % 86400 == 10 * 3600
    z = backtest.parse_series("timestamp,value\n2015-03-02 00:00:00Z,1\n2015-03-02 01:00Z,2\n")
    assert z.interval == 3600


def test_share_series_need_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "timestamp,value\n1425254400,0.2\n1425254700,0.3\n")
    assert main([str(path), "--share"]) == 2
    assert "header lacks count" in capsys.readouterr().err
    body = "timestamp,value,count\n" + "\n".join(
        f"{1425254400 + i * 300},{0.2 if i % 2 else 0.25},{40}" for i in range(30)
    )
    path = write(tmp_path, body + "\n")
    assert main([str(path), "--share"]) == 0
    path = write(tmp_path, "timestamp,value,count\n1425254400,1.5,3\n1425254700,0.3,3\n")
    assert main([str(path), "--share"]) == 2
    assert "share from 0 to 1" in capsys.readouterr().err


def test_find_alerts_opens_on_an_onset_and_ends_when_back_to_normal() -> None:
    def r(score: float, active: bool, rate: float = 50.0) -> Reading:
        return Reading(score, 0.3 if score else -1.0, 10.0, rate, active, score > 0)

    readings = [
        r(0.0, False),
        r(0.9, True, 80.0),
        r(0.0, True, 120.0),
        r(0.0, True),
        r(0.0, False),
        r(0.0, True),
        r(0.0, False),
        r(0.0, False),
        r(0.0, False),
        r(0.3, True),  # an onset under the threshold: no alert
        r(0.0, False),
    ]
    stamps = [f"t{i}" for i in range(len(readings))]
    values = [float(x.rate) for x in readings]
    alerts = backtest.find_alerts(stamps, values, readings)
    assert [(a.first_row, a.last_row) for a in alerts] == [(1, 5)]
    assert alerts[0].peak_score == 0.9
    assert alerts[0].peak_value == 120.0
    assert alerts[0].severity == "warning"  # twelve times the usual 10
    summary = backtest.format_summary(
        backtest.parse_series("timestamp,value\n0,1\n300,2\n"), alerts, 0.5
    )
    assert "1 alert(s) at score >= 0.5" in summary
    assert "t1  " in summary


def test_the_shipped_threshold_is_the_hubs() -> None:
    from groundcontrol.config import SpikeConfig

    assert backtest.ALERT_SCORE == SpikeConfig().alert_score == 0.5
    args = parser().parse_args(["backtest", "x.csv"])
    assert args.threshold == SpikeConfig().alert_score


def test_output_is_the_detector_scores(tmp_path: Path) -> None:
    text = (FIXTURES / "synthetic_204.csv").read_text()
    series = backtest.parse_series(text)
    readings = backtest.score_series(series)
    buf = io.StringIO()
    backtest.write_scores(buf, series, readings)
    lines = buf.getvalue().splitlines()
    assert max(float(line.rsplit(",", 1)[1]) for line in lines[1:]) == pytest.approx(
        max(r.score for r in readings), abs=1e-6
    )
