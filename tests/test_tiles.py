"""Brand tiles (issue 14): each brand's last 60 minutes against the same 60 minutes a
day and a week before, computed by the hub from a real store, sent to a client when it
connects and again only when they change (not in every tick), and drawn by the tiles
panel at the sizes walls run at."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
import time
from pathlib import Path

import msgspec
import pytest
import websockets
from textual.app import App, ComposeResult

from groundcontrol.client.stream import StreamClient, stream_url
from groundcontrol.hub.server import start_hub
from groundcontrol.hub.tiles import HOUR, LAST_WEEK, YESTERDAY, BrandTiles, compute_tiles
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    BrandTile,
    Snapshot,
    StreamHello,
    StreamMessage,
    Tick,
    TilesEvent,
    decode_stream,
    empty_tick,
)
from groundcontrol.store.database import Store
from groundcontrol.store.writer import StoreWriter
from panels.state import WallState
from panels.tiles import NO_HISTORY, NO_STORE, BrandTilesPanel, TileGrid, plan
from tests.deadline import SAFETY
from tests.test_hub import small_config
from tests.test_search import T0, mention

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
#: "Now" for the store tests: 8 days and a bit after T0, at 14:37, mid-hour.
NOW = T0 + 8 * 86400.0 + 14 * 3600 + 37 * 60
BRANDS = ["Northwind", "Contoso", "Fabrikam"]


def fill(now: float, start: int = 0) -> list[Mention]:
    """Mentions at known times around ``now``, a day and a week before it.

    Last 60 minutes: Northwind 6 (3 negative, 2 positive), Contoso 2 (positive).
    Yesterday's 60 minutes: Northwind 4 (1 negative), Contoso 0.
    Last week's 60 minutes: Northwind 8 (4 negative), Contoso 1.
    Just outside each window (61 minutes back, and at ``now`` itself): not counted.
    """
    rows: list[tuple[float, list[str], str]] = []
    for k, label in enumerate(["negative"] * 3 + ["positive"] * 2 + ["neutral"]):
        rows.append((now - 50 * 60 + k * 60, ["Northwind"], label))
    rows += [(now - 10 * 60, ["Contoso"], "positive"), (now - 59 * 60, ["Contoso"], "positive")]
    for k, label in enumerate(["negative", "neutral", "neutral", "positive"]):
        rows.append((now - YESTERDAY - 30 * 60 + k, ["Northwind"], label))
    for k in range(8):
        rows.append(
            (now - LAST_WEEK - 40 * 60 + k, ["Northwind"], "negative" if k < 4 else "neutral")
        )
    rows.append((now - LAST_WEEK - 20 * 60, ["Contoso"], "neutral"))
    # Outside every window.
    rows += [
        (now - HOUR - 60, ["Northwind", "Contoso"], "negative"),
        (now - YESTERDAY + 60, ["Northwind"], "negative"),
        (now - LAST_WEEK - HOUR - 60, ["Northwind"], "negative"),
    ]
    return [
        mention(start + i, "Northwind Aero", at=at, brands=brands, sentiment=label)
        for i, (at, brands, label) in enumerate(rows, start=1)
    ]


def by_brand(tiles: list[BrandTile]) -> dict[str, BrandTile]:
    return {t.brand: t for t in tiles}


def test_the_last_hour_against_the_same_hour_yesterday_and_last_week(tmp_path: Path) -> None:
    store = Store(tmp_path / "gc.db")
    store.write(fill(NOW))
    tiles = compute_tiles(store, BRANDS, NOW, competitors=["Contoso", "Fabrikam"])
    assert [t.brand for t in tiles] == BRANDS
    nw, co, fa = (by_brand(tiles)[b] for b in BRANDS)
    assert (nw.mentions_hour, nw.mentions_yesterday, nw.mentions_last_week) == (6, 4, 8)
    assert nw.net == round((2 - 3) / 6, 4) and nw.negative_share == 0.5
    assert nw.vs_yesterday == 0.5 and nw.vs_last_week == -0.25
    assert nw.negative_share_yesterday == 0.25 and nw.negative_share_last_week == 0.5
    assert not nw.competitor and co.competitor
    # Nothing said yesterday: a count of 0, no percentage.
    assert (co.mentions_hour, co.mentions_yesterday, co.mentions_last_week) == (2, 0, 1)
    assert co.vs_yesterday is None and co.vs_last_week == 1.0 and co.net == 1.0
    assert co.negative_share_yesterday is None and co.negative_share_last_week == 0.0
    # A brand never mentioned: zeros now, zeros then, no change.
    assert (fa.mentions_hour, fa.net, fa.mentions_yesterday, fa.vs_yesterday) == (0, 0.0, 0, None)


def test_ours_come_first_whatever_the_config_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "gc.db")
    tiles = compute_tiles(store, ["Contoso", "Northwind", "Fabrikam"], NOW, ["Contoso", "Fabrikam"])
    assert [t.brand for t in tiles] == ["Northwind", "Contoso", "Fabrikam"]


def test_no_history_yet_when_the_store_does_not_reach_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "gc.db")
    # An empty store: zeros now, no comparison.
    [empty] = compute_tiles(store, ["Northwind"], NOW)
    assert empty.mentions_hour == 0 and empty.mentions_yesterday is None
    assert empty.vs_yesterday is None and empty.vs_last_week is None
    # A store that starts inside yesterday's window would give a part of it: not yet.
    store.write([m for m in fill(NOW) if m.received_at > NOW - 2 * 86400])
    [nw] = compute_tiles(store, ["Northwind"], NOW)
    assert nw.mentions_hour == 6 and nw.mentions_yesterday is None
    # Once it reaches back before yesterday's window: yesterday yes, last week not yet.
    store.write([mention(900, "older", at=NOW - 1.5 * 86400, brands=["Contoso"])])
    [nw] = compute_tiles(store, ["Northwind"], NOW)
    assert nw.mentions_yesterday == 4 and nw.vs_yesterday == 0.5
    assert nw.mentions_last_week is None and nw.vs_last_week is None
    assert nw.negative_share_last_week is None
    # Only the last hour: neither.
    fresh = Store(tmp_path / "fresh.db")
    fresh.write([m for m in fill(NOW) if m.received_at > NOW - HOUR])
    [nw] = compute_tiles(fresh, ["Northwind"], NOW)
    assert nw.mentions_hour == 6 and nw.mentions_yesterday is None and nw.vs_yesterday is None


async def test_the_job_reads_on_the_writer_thread_with_its_clock(tmp_path: Path) -> None:
    store = Store(tmp_path / "gc.db")
    store.write(fill(NOW))
    writer = StoreWriter(store, retention_seconds=0.0, prune_interval=3600.0, clock=lambda: NOW)
    writer.start()
    clock = [NOW]
    try:
        job = BrandTiles(BRANDS, clock=lambda: clock[0], writer=lambda: writer)
        assert job.current() == []
        tiles = await job.refresh()
        assert by_brand(tiles)["Northwind"].mentions_hour == 6 and job.current() == tiles
        # An hour later the window has moved on: nothing in the last 60 minutes.
        clock[0] = NOW + 2 * HOUR
        assert by_brand(await job.refresh())["Northwind"].mentions_hour == 0
        # Without a store: no tiles.
        assert await BrandTiles(BRANDS, clock=time.time, writer=lambda: None).refresh() == []
    finally:
        await asyncio.to_thread(writer.close)


async def test_the_tiles_reach_a_stream_client_from_a_hub_with_a_store(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    now = time.time()
    store = Store(db)
    store.write(fill(now))
    store.close()
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    events = StreamClient(stream_url(f"ws://127.0.0.1:{port}")).events()
    try:
        tiles: list[BrandTile] = []
        async with asyncio.timeout(SAFETY):
            async for ev in events:
                if isinstance(ev, TilesEvent) and ev.tiles:
                    tiles = ev.tiles
                    break
                # The ticks no longer carry them (old clients find the field empty).
                tick = ev.tick if isinstance(ev, Snapshot) else ev if isinstance(ev, Tick) else None
                assert tick is None or tick.brand_tiles == []
        nw = by_brand(tiles)["Northwind"]
        assert tiles[0].brand == "Northwind"
        assert (nw.mentions_hour, nw.mentions_yesterday, nw.mentions_last_week) == (6, 4, 8)
        assert nw.vs_yesterday == 0.5 and nw.vs_last_week == -0.25
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await runner.cleanup()


async def test_a_hub_without_a_store_sends_no_tiles() -> None:
    hub, runner, port = await start_hub(small_config(), port=0)
    try:
        tick, _ = hub.publisher.publish_once()
        assert tick.brand_tiles == []
        async with websockets.connect(f"ws://127.0.0.1:{port}/stream") as ws:
            first = [decode_stream(await ws.recv()) for _ in range(3)]
        assert [type(m) for m in first] == [StreamHello, Snapshot, TilesEvent]
        assert isinstance(first[2], TilesEvent) and first[2].tiles == []
    finally:
        await runner.cleanup()


async def test_tiles_go_out_on_connect_and_then_only_when_they_change() -> None:
    """A subscriber gets the tiles with the snapshot, no tiles message over ticks where
    nothing changed, and one message as soon as a tile changes (to every subscriber)."""
    hub, runner, port = await start_hub(small_config(), port=0)
    current = sample_tiles()
    hub.publisher.brand_tiles = lambda: current

    async def read_until(ws: websockets.ClientConnection, ticks: int) -> list[StreamMessage]:
        """Messages up to and including the ``ticks``-th tick."""
        got: list[StreamMessage] = []
        async with asyncio.timeout(SAFETY):
            while sum(isinstance(m, Tick) for m in got) < ticks:
                got.append(decode_stream(await ws.recv()))
        return got

    def tiles_in(messages: list[StreamMessage]) -> list[TilesEvent]:
        return [m for m in messages if isinstance(m, TilesEvent)]

    try:
        url = f"ws://127.0.0.1:{port}/stream"
        # Unbounded client queues: one that stopped reading could not take the close.
        connect = functools.partial(websockets.connect, url, max_queue=None)
        async with connect() as ws, connect() as other:
            hello, snapshot, on_connect = [decode_stream(await ws.recv()) for _ in range(3)]
            assert isinstance(hello, StreamHello) and isinstance(snapshot, Snapshot)
            assert isinstance(on_connect, TilesEvent) and on_connect.tiles == current
            assert snapshot.tick.brand_tiles == []
            # Ticks come (the hub ticks every 0.1 s), the tiles do not: unchanged.
            quiet = await read_until(ws, ticks=5)
            assert tiles_in(quiet) == [] and all(
                m.brand_tiles == [] for m in quiet if isinstance(m, Tick)
            )
            # A new list with the same tiles is no change either.
            current = sample_tiles()
            assert tiles_in(await read_until(ws, ticks=3)) == []
            # One tile changes: one message, to every subscriber, then quiet again.
            current = [msgspec.structs.replace(current[0], mentions_hour=1_500), *current[1:]]
            changed = tiles_in(await read_until(ws, ticks=5))
            assert len(changed) == 1 and changed[0].tiles[0].mentions_hour == 1_500
            other_got: list[TilesEvent] = []
            async with asyncio.timeout(SAFETY):
                while not other_got or other_got[-1].tiles[0].mentions_hour != 1_500:
                    other_got += tiles_in([decode_stream(await other.recv())])
            assert [e.tiles[0].mentions_hour for e in other_got] == [1_482, 1_500]
            assert tiles_in(await read_until(ws, ticks=3)) == []
    finally:
        await runner.cleanup()


def test_old_clients_ignore_the_field_and_new_ones_default_it() -> None:
    tick = msgspec.structs.replace(
        empty_tick(),
        brand_tiles=[BrandTile(brand="N", mentions_hour=1, net=0.0, negative_share=0.0)],
    )
    data = msgspec.json.encode(tick)
    assert msgspec.json.decode(data, type=Tick).brand_tiles[0].brand == "N"
    assert msgspec.json.decode(msgspec.json.encode(empty_tick()), type=Tick).brand_tiles == []


# --------------------------------------------------------------------------- the panel


def sample_tiles() -> list[BrandTile]:
    return [
        BrandTile(
            brand="Northwind",
            mentions_hour=1_482,
            net=-0.18,
            negative_share=0.41,
            mentions_yesterday=1_098,
            mentions_last_week=1_684,
            vs_yesterday=0.35,
            vs_last_week=-0.12,
            negative_share_yesterday=0.22,
            negative_share_last_week=0.41,
        ),
        BrandTile(
            brand="Contoso",
            mentions_hour=312,
            net=0.24,
            negative_share=0.09,
            mentions_yesterday=0,
            mentions_last_week=340,
            vs_yesterday=None,
            vs_last_week=-0.0824,
            negative_share_yesterday=None,
            negative_share_last_week=0.12,
            competitor=True,
        ),
        BrandTile(
            brand="Fabrikam", mentions_hour=57, net=0.05, negative_share=0.14, competitor=True
        ),
    ]


class TilesApp(App[None]):
    CSS_PATH = "../panels/wall.tcss"

    def compose(self) -> ComposeResult:
        yield BrandTilesPanel(id="tiles")


def wall_state(tiles: list[BrandTile]) -> WallState:
    state = WallState()
    state.apply(empty_tick(at=NOW), 100.0)
    state.apply(TilesEvent(tiles=tiles), 100.0)
    return state


def test_the_wall_keeps_the_latest_tiles_and_reads_an_old_hubs_ticks() -> None:
    state = WallState()
    assert state.brand_tiles == []
    # An older hub puts them in every tick.
    old = msgspec.structs.replace(empty_tick(at=NOW), brand_tiles=sample_tiles()[:1])
    state.apply(old, 100.0)
    assert [t.brand for t in state.brand_tiles] == ["Northwind"]
    # A newer one sends them on their own; ticks without them do not clear them.
    version = state.version
    state.apply(TilesEvent(tiles=sample_tiles()), 101.0)
    assert state.version > version
    state.apply(empty_tick(at=NOW + 1), 101.5)
    assert [t.brand for t in state.brand_tiles] == ["Northwind", "Contoso", "Fabrikam"]
    state.apply(TilesEvent(tiles=[]), 102.0)  # the hub lost its store
    assert state.brand_tiles == []


def grid_text(app: App[None]) -> str:
    grid = app.query_one(TileGrid)
    width, height = grid.size
    return "\n".join(line.plain for line in grid.draw(width, height))


@pytest.mark.parametrize("size", [(80, 24), (160, 48), (240, 67)])
async def test_the_panel_draws_at_wall_sizes(size: tuple[int, int], tmp_path: Path) -> None:
    """With GROUNDCONTROL_SCREENSHOTS=1 the SVGs (and PNGs) go to docs/screenshots."""
    app = TilesApp()
    async with app.run_test(size=size) as pilot:
        panel = app.query_one(BrandTilesPanel)
        panel.show(wall_state(sample_tiles()), 100.5)
        await pilot.pause()
        text = grid_text(app)
        grid = app.query_one(TileGrid)
        assert grid.last_plan is not None
        # Every brand, ours first; shapes as well as colours; no history said.
        assert text.index("Northwind") < text.index("Contoso") < text.index("Fabrikam")
        assert "▲ +35% vs" in text and "▼ -12%" in text and NO_HISTORY in text
        assert "▲ +19 pts vs" in text  # negative share 22% -> 41%
        if size == (80, 24):
            assert grid.last_plan.scale == 0 and "1,482 mentions" in text
        else:
            assert grid.last_plan.scale >= 1 and "█" in text
        out = SCREENSHOTS if os.environ.get("GROUNDCONTROL_SCREENSHOTS") == "1" else tmp_path
        svg = out / f"tiles-{size[0]}x{size[1]}.svg"
        svg.write_text(app.export_screenshot(title=f"brand tiles {size[0]}x{size[1]}"))
        converter = shutil.which("rsvg-convert")
        if out == SCREENSHOTS and converter is not None:
            # rsvg drops a text run's leading no-break spaces unless told to keep them,
            # which shifts the block digits' rows apart.
            kept = tmp_path / svg.name
            kept.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
            png = [converter, str(kept), "-o", str(svg.with_suffix(".png"))]
            await asyncio.to_thread(subprocess.run, png, check=True)


async def test_the_panel_waits_then_says_when_the_hub_has_no_store() -> None:
    app = TilesApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(BrandTilesPanel)
        panel.show(WallState(), 0.0)
        await pilot.pause()
        assert app.query_one(TileGrid).waiting
        panel.show(wall_state([]), 100.5)
        await pilot.pause()
        assert not app.query_one(TileGrid).waiting and NO_STORE in grid_text(app)


def test_tiles_flow_in_a_row_on_a_wide_short_panel_and_a_column_on_a_narrow_one() -> None:
    wide = plan(230, 10, 3)
    assert wide.scale >= 1 and (wide.columns, wide.rows) == (3, 1)
    narrow = plan(40, 80, 3)
    assert narrow.scale >= 1 and narrow.columns == 1 and narrow.arrangement == "down"
    assert plan(78, 22, 3).scale == 0
