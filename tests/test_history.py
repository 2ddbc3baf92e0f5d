"""History: the brand_hours rollup kept in step with every change, buckets by hour, day
and week, GET /history as JSON and CSV on a real hub, and ``groundcontrol history``."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest

from groundcontrol.cli.history import format_history
from groundcontrol.cli.main import main as cli_main
from groundcontrol.hub.auth import Role
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.protocol import HistoryRow
from groundcontrol.store.database import Store
from groundcontrol.store.search import MAX_BUCKETS, HistoryError, bucket_start
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, auth, tokens
from tests.test_search import T0, corpus, mention

DAY = 86400.0
#: 2026-01-05, a Monday (T0, 2026-01-01, is a Thursday).
MONDAY = T0 + 4 * DAY


def recount(store: Store) -> list[tuple[str, float, int, int]]:
    """brand_hours as it should be: a GROUP BY over the brand index and the mentions."""
    return store._db.execute(
        "SELECT b.brand, CAST(b.received_at / 3600 AS INTEGER) * 3600.0, count(*),"
        " sum(m.sentiment_label = 'negative') FROM mention_brands b"
        " JOIN mentions m ON m.rowid = b.mention GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()


def rollup(store: Store) -> list[tuple[str, float, int, int]]:
    return store._db.execute(
        "SELECT brand, hour, mentions, negative FROM brand_hours WHERE mentions != 0 ORDER BY 1, 2"
    ).fetchall()


def hours(store: Store) -> list[tuple[float, int]]:
    """mention_hours' counts, and what they should be."""
    return store._db.execute(
        "SELECT hour, mentions FROM mention_hours WHERE mentions != 0 ORDER BY 1"
    ).fetchall()


def hours_recount(store: Store) -> list[tuple[float, int]]:
    return store._db.execute(
        "SELECT CAST(received_at / 3600 AS INTEGER) * 3600.0, count(*) FROM mentions"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()


def test_the_rollup_follows_inserts_sentiment_edits_and_deletions(tmp_path: Path) -> None:
    store = Store(tmp_path / "gc.db")
    mentions = corpus(300)
    # Duplicates in a batch and brands named twice count once, as in mention_brands.
    mentions[5].brands = ["Northwind", "Northwind"]
    store.write(mentions[:150])
    store.write([*mentions[150:], mentions[3]])
    assert rollup(store) == recount(store) and len(recount(store)) >= 15
    assert hours(store) == hours_recount(store)
    # A source's edit: new sentiment, new brands.
    edited = [
        msgspec.structs.replace(
            mentions[i - 1], text="now it works", brands=brands, sentiment_label=label
        )
        for i, brands, label in [
            (1, ["Contoso"], "negative"),
            (2, [], "negative"),
            (3, ["Northwind", "Fabrikam"], "positive"),
            (4, ["Fabrikam"], "neutral"),
        ]
    ]
    store.write(edits=edited)
    assert rollup(store) == recount(store)
    # A sentiment change made straight in SQL (the trigger follows it).
    store._db.execute(
        "UPDATE mentions SET sentiment_label = 'negative' WHERE sentiment_label = 'positive'"
        " AND rowid % 3 = 0"
    )
    store._db.execute("UPDATE mentions SET sentiment_label = 'neutral' WHERE rowid % 5 = 0")
    assert rollup(store) == recount(store)
    # Retractions, then retention.
    store.write(deleted=[m.id for m in mentions[10:40]])
    assert rollup(store) == recount(store)
    first = store.prune(T0 + 150 * 60, chunk=17)
    assert first > 0
    assert rollup(store) == recount(store) and hours(store) == hours_recount(store)
    assert first + store.prune(T0 + 10**6) == 300 - 30
    assert rollup(store) == [] and hours(store) == []
    # Once the retention has caught up, the emptied hours are gone, not kept as zeros.
    assert store._db.execute("SELECT count(*) FROM brand_hours").fetchone()[0] == 0
    assert store._db.execute("SELECT count(*) FROM mention_hours").fetchone()[0] == 0


def test_buckets_are_utc_hours_days_and_weeks_from_monday() -> None:
    t = MONDAY + 3 * DAY + 5 * 3600 + 17  # Thursday 05:00:17
    assert bucket_start(t, "hour") == MONDAY + 3 * DAY + 5 * 3600
    assert bucket_start(t, "day") == MONDAY + 3 * DAY
    assert bucket_start(t, "week") == MONDAY
    assert bucket_start(MONDAY - 1, "week") == MONDAY - 7 * DAY
    assert bucket_start(MONDAY, "week") == MONDAY


def test_history_counts_shares_and_fills_empty_buckets_with_zeros(tmp_path: Path) -> None:
    store = Store(tmp_path / "gc.db")
    at = MONDAY + 10 * 3600  # Monday 10:00
    rows = [
        # Monday: Northwind 3 (2 negative), Contoso 1; Wednesday: Contoso 2 (1 negative)
        mention(1, "a", at=at, brands=["Northwind"], sentiment="negative"),
        mention(2, "b", at=at + 60, brands=["Northwind"], sentiment="negative"),
        mention(3, "c", at=at + 3600, brands=["Northwind", "Contoso"]),
        mention(4, "d", at=at + 2 * DAY, brands=["Contoso"], sentiment="negative"),
        mention(5, "e", at=at + 2 * DAY + 5, brands=["Contoso"]),
        mention(6, "f", at=at + 2 * DAY + 9),  # no brand: not in any share
    ]
    store.write(rows)
    days = store.history("day", MONDAY + 3600, MONDAY + 3 * DAY, ["Northwind", "Contoso"])
    table = [
        (r.at, r.brand, r.mentions, r.negative, r.share_of_voice, r.negative_share) for r in days
    ]
    assert table == [
        (MONDAY, "Northwind", 3, 2, 0.75, 0.6667),
        (MONDAY, "Contoso", 1, 0, 0.25, 0.0),
        (MONDAY + DAY, "Northwind", 0, 0, 0.0, 0.0),
        (MONDAY + DAY, "Contoso", 0, 0, 0.0, 0.0),
        (MONDAY + 2 * DAY, "Northwind", 0, 0, 0.0, 0.0),
        (MONDAY + 2 * DAY, "Contoso", 2, 1, 1.0, 0.5),
    ]
    by_hour = store.history("hour", at, at + 2 * 3600, ["Northwind"])
    assert [(r.at, r.mentions) for r in by_hour] == [(at, 2), (at + 3600, 1)]
    weeks = store.history("week", MONDAY - DAY, MONDAY + 8 * DAY, None)  # every brand
    assert [(r.at, r.brand, r.mentions) for r in weeks] == [
        (MONDAY - 7 * DAY, "Contoso", 0),
        (MONDAY - 7 * DAY, "Northwind", 0),
        (MONDAY, "Contoso", 3),
        (MONDAY, "Northwind", 3),
        (MONDAY + 7 * DAY, "Contoso", 0),
        (MONDAY + 7 * DAY, "Northwind", 0),
    ]
    with pytest.raises(
        HistoryError, match=f"too many buckets: 8,760 hours \\(at most {MAX_BUCKETS:,}"
    ):
        store.history("hour", T0, T0 + 365 * DAY, ["Northwind"])
    with pytest.raises(HistoryError, match="by must be hour, day or week"):
        store.history("month", T0, T0 + DAY, ["Northwind"])
    with pytest.raises(HistoryError, match="since must be before until"):
        store.history("day", T0, T0, ["Northwind"])


def test_the_table_shows_what_fits(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        HistoryRow(at=MONDAY, brand=b, mentions=n, negative=0, share_of_voice=s, negative_share=0.5)
        for b, n, s in [("Northwind", 1234, 0.6), ("Contoso", 800, 0.4), ("Fabrikam", 0, 0.0)]
    ]
    wide = format_history("day", ["Northwind", "Contoso", "Fabrikam"], rows, width=100)
    assert wide.splitlines()[2] == "2026-01-05" + "     1,234   60%   50%       800   40%   50%" + (
        "         0    0%   50%"
    )
    narrow = format_history("day", ["Northwind", "Contoso", "Fabrikam"], rows, width=60)
    assert "Fabrikam" not in narrow.splitlines()[0] and "not shown" in narrow
    assert all(len(line) <= 60 for line in narrow.splitlines()[:-1])


# --------------------------------------------------------------------------- HTTP


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    path = tmp_path / "gc.db"
    store = Store(path)
    store.write(corpus(300))  # T0 to T0 + 5 h
    store.close()
    h, runner, port = await start_hub(small_config(), port=0, tokens=tokens(), store_path=path)
    h.search.clock = lambda: T0 + DAY  # "now": a day after the first mention
    yield h, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def get(
    base: str, path: str, role: Role = Role.ANALYST, **params: str
) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(base + path, params=params, headers=auth(role)) as resp,
    ):
        return resp.status, resp.content_type, await resp.text()


async def test_get_history_by_hour_as_json(hub: tuple[Hub, str]) -> None:
    _h, base = hub
    status, kind, text = await get(
        base,
        "/history",
        by="hour",
        since="2026-01-01T00:30:00Z",
        until="6h",
        brands="northwind,CONTOSO",
    )
    assert status == 200 and kind == "application/json", text
    body = json.loads(text)
    # Whole hours, from the one holding since to the one before until (now - 6h = T0 + 18h).
    assert body["by"] == "hour" and body["brands"] == ["Northwind", "Contoso"]
    assert (body["since"], body["until"]) == (T0, T0 + 18 * 3600)
    assert len(body["rows"]) == 18 * 2
    store = Store(_h.store_path)  # type: ignore[arg-type]
    try:
        want = store.history("hour", T0, T0 + 18 * 3600, ["Northwind", "Contoso"])
    finally:
        store.close()
    assert body["rows"] == [
        {
            "at": r.at,
            "brand": r.brand,
            "mentions": r.mentions,
            "negative": r.negative,
            "share_of_voice": r.share_of_voice,
            "negative_share": r.negative_share,
        }
        for r in want
    ]
    first = body["rows"][:2]
    assert sum(r["mentions"] for r in first) > 0
    assert sum(r["share_of_voice"] for r in first) == pytest.approx(1.0)
    assert all(r["mentions"] == 0 for r in body["rows"][12:])  # nothing after T0 + 5 h


async def test_get_history_defaults_to_the_config_brands_and_a_range_per_bucket(
    hub: tuple[Hub, str],
) -> None:
    _h, base = hub
    status, _kind, text = await get(base, "/history")
    body = json.loads(text)
    assert status == 200 and body["by"] == "day"
    assert body["brands"] == [b.name for b in small_config().brands]
    assert body["until"] == T0 + DAY and body["since"] == T0 + DAY - 90 * DAY
    status, _kind, text = await get(base, "/history", by="week")
    body = json.loads(text)
    assert body["since"] == bucket_start(T0 + DAY - 365 * DAY, "week")
    assert len(body["rows"]) == 53 * len(body["brands"])


async def test_get_history_as_csv(hub: tuple[Hub, str]) -> None:
    _h, base = hub
    status, kind, text = await get(
        base, "/history", by="day", since=str(T0), until=str(T0 + 2 * DAY), format="csv"
    )
    assert status == 200 and kind == "text/csv"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["start", "brand", "mentions", "negative", "share_of_voice", "negative_share"]
    brands = [b.name for b in small_config().brands]
    assert [r[:2] for r in rows[1:]] == [
        [day, b] for day in ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") for b in brands
    ]
    day_one = [r for r in rows[1:] if r[0].startswith("2026-01-01")]
    assert sum(int(r[2]) for r in day_one) > 0
    assert sum(float(r[4]) for r in day_one) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"by": "month"}, "bad history: by must be hour, day or week"),
        ({"format": "xml"}, "bad history: format must be json or csv"),
        ({"by": "hour", "since": "400d"}, "bad history: too many buckets: 9,600 hours"),
        ({"brands": "nobody"}, "bad history: unknown brand 'nobody' (known: "),
        ({"since": "soon"}, "bad history: since: bad time 'soon'"),
        ({"since": "1h", "until": "2h"}, "bad history: since must be before until"),
        ({"brand": "x"}, "bad history: unknown parameter 'brand'"),
    ],
)
async def test_bad_history_requests_are_400_with_the_reason(
    hub: tuple[Hub, str], params: dict[str, str], reason: str
) -> None:
    _h, base = hub
    status, _kind, text = await get(base, "/history", **params)
    assert status == 400 and text.startswith(reason), text


async def test_history_needs_an_analyst_token_and_a_store(hub: tuple[Hub, str]) -> None:
    _h, base = hub
    assert (await get(base, "/history", Role.DISPLAY))[0] == 403
    _h2, runner, port = await start_hub(small_config(), port=0, tokens=tokens())
    try:
        status, _kind, text = await get(f"http://127.0.0.1:{port}", "/history")
    finally:
        await runner.cleanup()
    assert status == 503 and "without a store" in text


async def test_the_command_line_prints_and_writes_the_history(
    hub: tuple[Hub, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _h, base = hub
    hub_url = base.replace("http://", "ws://")
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.ANALYST])
    since, until = str(T0), str(T0 + 2 * DAY)
    argv = ["history", "--hub", hub_url, "--since", since, "--until", until]
    assert await asyncio.to_thread(cli_main, argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("day (UTC)") and "Northwind" in out[0]
    assert [line[:10] for line in out[2:]] == ["2026-01-01", "2026-01-02"]
    target = tmp_path / "h.csv"
    assert await asyncio.to_thread(cli_main, [*argv, "--csv", str(target)]) == 0
    assert "wrote 6 rows" in capsys.readouterr().err
    assert target.read_text().startswith("start,brand,mentions,negative,share_of_voice,")
    assert await asyncio.to_thread(cli_main, [*argv, "--csv", "-"]) == 0
    assert capsys.readouterr().out == target.read_text()
    assert await asyncio.to_thread(cli_main, [*argv, "--by", "hour", "--since", "400d"]) == 2
    assert "too many buckets" in capsys.readouterr().err


def test_history_help_explains_buckets_and_shares(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["history", "--help"])
    out = capsys.readouterr().out
    for part in ("Monday", "Share of voice", "--csv", "--by", "30d"):
        assert part in out
