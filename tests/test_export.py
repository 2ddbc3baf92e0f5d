"""``groundcontrol export``: formats round-trip, filters, time parsing, streaming, CLI errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import polars as pl
import pytest

from groundcontrol.cli.export import parse_time
from groundcontrol.cli.main import main
from groundcontrol.model import Mention
from groundcontrol.query import QuerySyntaxError
from groundcontrol.store import export as export_module
from groundcontrol.store.database import Store
from groundcontrol.store.export import ExportError, export
from tests.test_store import T0, make

N = 40


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gc.db"
    mentions = make(N)
    # Some texts the query tests can tell apart.
    for i in range(0, N, 4):
        mentions[i].text = f"my aero {i} battery died"
    with Store(path) as store:
        store.add_mentions(mentions)
    return path


def stored(db: Path) -> list[Mention]:
    with Store(db) as store:
        return [m for chunk in store.iter_mentions(since=None, until=None) for m in chunk]


# ---------------------------------------------------------------------- time parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:00:00Z", 1795341600.0),
        ("2026-11-22T11:00:00+01:00", 1795341600.0),
        ("2026-11-22T10:00:00", 1795341600.0),  # naive = UTC
        ("2026-11-22", 1795305600.0),
        ("90s", 1000.0 - 90),
        ("15m", 1000.0 - 900),
        ("2h", 1000.0 - 7200),
        ("7d", 1000.0 - 7 * 86400),
        ("1.5h", 1000.0 - 5400),
        ("2w", 1000.0 - 14 * 86400),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, now=1000.0) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "15 m", "-2h", "2y", "2026-13-01", "h"])
def test_parse_time_rejects_with_the_value_and_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"bad time .*ISO 8601.*15m, 2h, 7d") as info:
        parse_time(text)
    assert repr(text) in str(info.value)


# ---------------------------------------------------------------------- formats


def test_ndjson_round_trip_matches_what_tail_prints(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    assert export(db, fmt="ndjson", out=out) == N
    lines = out.read_bytes().splitlines()
    decoded = [msgspec.json.decode(line, type=Mention) for line in lines]
    assert decoded == stored(db)
    assert lines[0] == msgspec.json.encode(stored(db)[0])


def test_ndjson_to_stdout(db: Path) -> None:
    sink = io.BytesIO()
    assert export(db, fmt="ndjson", out=None, stdout=sink, chunk=7) == N
    assert len(sink.getvalue().splitlines()) == N


def test_csv_round_trip(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    # A small chunk: the header must be written once, not once per chunk.
    assert export(db, fmt="csv", out=out, chunk=7) == N
    frame = pl.read_csv(out)
    mentions = stored(db)
    assert frame.height == N
    assert frame["id"].to_list() == [m.id for m in mentions]
    assert frame["text"].to_list() == [m.text for m in mentions]
    assert frame["likes"].to_list() == [m.engagement.likes for m in mentions]
    assert [json.loads(b) for b in frame["brands"]] == [m.brands for m in mentions]
    assert [json.loads(t) for t in frame["terms"]] == [m.terms for m in mentions]
    assert frame["sentiment"].to_list() == [m.sentiment for m in mentions]


def test_parquet_round_trip_with_list_columns(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    assert export(db, fmt="parquet", out=out, chunk=7) == N
    frame = pl.read_parquet(out)
    mentions = stored(db)
    assert frame["id"].to_list() == [m.id for m in mentions]
    assert frame["brands"].to_list() == [m.brands for m in mentions]
    assert frame["queries"].to_list() == [m.queries for m in mentions]
    assert frame["created_at"].to_list() == [m.created_at for m in mentions]
    assert frame["received_at"].to_list() == [m.received_at for m in mentions]
    assert frame.schema["terms"] == pl.List(pl.String)
    # The chunk files are gone; only the output is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gc.db", "out.parquet"]


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_empty_export_is_a_valid_file(db: Path, tmp_path: Path, fmt: export_module.Format) -> None:
    out = tmp_path / f"empty.{fmt}"
    assert export(db, fmt=fmt, out=out, since=T0 + 10_000) == 0
    if fmt == "csv":
        assert pl.read_csv(out).columns[0] == "id"
    elif fmt == "parquet":
        assert pl.read_parquet(out).height == 0
    else:
        assert out.read_bytes() == b""


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_writers_write_each_chunk_before_reading_the_next(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    sink = io.BytesIO()
    written: list[int] = []

    def output_bytes() -> int:
        if fmt == "parquet":  # the part files next to the output
            return sum(p.stat().st_size for p in tmp_path.glob(".*parts*/*.parquet"))
        return sink.getbuffer().nbytes

    def chunks() -> Iterator[list[Mention]]:
        for k in range(4):
            if k:
                written.append(output_bytes())
            yield make(10, start=T0 + 100 * k)

    if fmt == "parquet":
        n = export_module._write_parquet(chunks(), out)
        assert pl.read_parquet(out).height == 40
    else:
        writer = export_module._write_ndjson if fmt == "ndjson" else export_module._write_csv
        n = writer(chunks(), sink)
    assert n == 40
    assert len(written) == 3 and 0 < written[0] < written[1] < written[2], written


# ---------------------------------------------------------------------- filters


def test_since_until_and_query_filter(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    assert export(db, fmt="ndjson", out=out, since=T0 + 10, until=T0 + 20) == 10
    got = [msgspec.json.decode(x, type=Mention) for x in out.read_bytes().splitlines()]
    assert [m.received_at for m in got] == [T0 + i for i in range(10, 20)]
    assert export(db, fmt="ndjson", out=out, query='"aero" AND battery', since=T0 + 10) == 7
    got = [msgspec.json.decode(x, type=Mention) for x in out.read_bytes().splitlines()]
    assert [m.received_at for m in got] == [T0 + i for i in range(12, N, 4)]
    assert export(db, fmt="ndjson", out=out, query="NOT battery") == N - 10


def test_bad_query_and_missing_store(db: Path, tmp_path: Path) -> None:
    with pytest.raises(QuerySyntaxError):
        export(db, fmt="ndjson", out=None, query="aero OR")
    with pytest.raises(ExportError, match="no such store file"):
        export(tmp_path / "nope.db", fmt="ndjson", out=None)
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(ExportError, match="--out"):
        export(db, fmt="parquet", out=None)


# ---------------------------------------------------------------------- CLI


def test_cli_exports_with_relative_since(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    # Every stored mention is from 2026-09; "3650d" ago is well before them.
    assert (
        main(["export", "--db", str(db), "--format", "csv", "--since", "3650d", "--out", str(out)])
        == 0
    )
    assert pl.read_csv(out).height == N
    assert f"exported {N} mentions to {out}" in capsys.readouterr().err
    assert main(["export", "--db", str(db), "--since", "1h", "--out", str(out)]) == 0
    assert out.read_bytes() == b""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--query", "aero OR"], "bad query 'aero OR': expected a term after OR"),
        (["--format", "parquet"], "parquet needs a file: pass --out FILE"),
        (["--since", "2026-11-22", "--until", "2026-11-21"], "--since must be before --until"),
    ],
)
def test_cli_errors_exit_2(
    db: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--db", str(db), *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_missing_db_and_bad_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.db"
    assert main(["export", "--db", str(missing)]) == 2
    assert f"{missing}: no such store file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["export", "--db", str(missing), "--until", "last tuesday"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --until: bad time 'last tuesday'" in err and "2h" in err


# ---------------------------------------------------------------------- memory

_PEAK = """
import resource, sys
from groundcontrol.cli.main import main
rc = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def _peak_rss_kib(args: list[str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, check=True
    )
    return int(done.stderr.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_export_memory_does_not_grow_with_rows(big_db: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    base = ["export", "--db", str(big_db), "--format", fmt, "--out", str(out)]
    # 50k rows (received_at T0 .. T0+50k) against all 200k rows.
    until = datetime.fromtimestamp(T0 + 50_000, UTC).isoformat()
    small = _peak_rss_kib([*base, "--until", until])
    if fmt == "parquet":
        assert pl.scan_parquet(out).select(pl.len()).collect().item() == 50_000
    large = _peak_rss_kib(base)
    print(f"{fmt}: peak RSS 50k rows {small / 1024:.0f} MiB, 200k rows {large / 1024:.0f} MiB")
    # 150k more mentions are ~100 MiB as Python objects and ~80 MiB on disk: an
    # export that held them would grow by that much. Allow noise, not that.
    assert large - small < 40 * 1024
    assert large < 2 * small


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    with Store(path) as store:
        for k in range(0, 200_000, 5000):
            store.add_mentions(make(5000, start=T0 + k))
    return path
