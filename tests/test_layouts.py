"""Wall layouts (issue 14): config, the oncall layout at 80x24, kiosk, rotation that
survives a restart, drift against burn-in, and screenshots of each shipped layout.

The walls run on scripted stream events with a fixed clock in UTC (as in
tests/test_wall.py). Screenshots go to a temporary directory; with
GROUNDCONTROL_SCREENSHOTS=1 they go to docs/screenshots (and to PNG where rsvg-convert
is installed), as layout-<name>-<size>.svg (the first scene) and
layout-<name>-<scene>-<size>.svg (the others).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import Footer

from groundcontrol.cli import main as cli
from groundcontrol.cli import wall as wall_cli
from groundcontrol.config import (
    WALL_PANELS,
    ConfigError,
    LayoutConfig,
    find_layout,
    load_config,
    parse_config,
    shipped_layouts,
)
from panels.app import DRIFT_SECONDS, WallApp, make_panel
from panels.base import Panel
from panels.scenes import RotationStore, SceneRotation
from tests.test_wall import Clock, screen_text, settle
from tests.wall_fixtures import demo_events, scripted

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SIZES = ((80, 24), (160, 48), (240, 67))
SITE = "site.toml"


def layout(name: str) -> LayoutConfig:
    return find_layout(load_config(), name)


def wall_app(name: str = "wall", **options: Any) -> WallApp:
    options.setdefault("clock", Clock())
    options.setdefault("takeover_seconds", 0)
    return WallApp(
        scripted(demo_events()),
        hub_label="127.0.0.1:8765",
        tz=UTC,
        layout=layout(name),
        **options,
    )


# ---------------------------------------------------------------------- config


def site_layout(scene: str, *, extra: str = "") -> str:
    """A site file with two good layouts, then one whose only scene is ``scene``."""
    good = '[[layouts.scenes]]\nname = "a"\npanels = [{name = "volume"}]\n'
    return (
        f'[[layouts]]\nname = "one"\n{good}'
        f'[[layouts]]\nname = "two"\n{good}'
        f'[[layouts]]\nname = "three"\n{extra}[[layouts.scenes]]\n{scene}'
    )


FOUR = 'panels = [{name = "volume"}, {name = "live"}, {name = "stories"}, '


@pytest.mark.parametrize(
    ("scene", "key", "reason"),
    [
        (
            f'name = "s"\ncolumns = 2\n{FOUR}{{name = "rivers"}}]\n',
            "layouts[2].scenes[0].panels[3].name",
            "unknown panel 'rivers'",
        ),
        (
            f'name = "s"\ncolumns = 2\n{FOUR}{{name = "topics", width = 0}}]\n',
            "layouts[2].scenes[0].panels[3].width",
            "expected 1 to 2 (the scene's columns), got 0",
        ),
        (
            f'name = "s"\ncolumns = 2\n{FOUR}{{name = "topics", width = 3}}]\n',
            "layouts[2].scenes[0].panels[3].width",
            "expected 1 to 2 (the scene's columns), got 3",
        ),
        (
            f'name = "s"\ncolumns = 2\nrows = 3\n{FOUR}{{name = "topics", height = -1}}]\n',
            "layouts[2].scenes[0].panels[3].height",
            "expected 1 to 3 (the scene's rows), got -1",
        ),
        (
            f'name = "s"\ncolumns = 2\nrows = 3\n{FOUR}{{name = "topics", height = 4}}]\n',
            "layouts[2].scenes[0].panels[3].height",
            "expected 1 to 3 (the scene's rows), got 4",
        ),
        (
            f'name = "s"\ncolumns = 2\n{FOUR}{{name = "topics", below = ["feed"]}}]\n',
            "layouts[2].scenes[0].panels[3].below[0]",
            "unknown panel 'feed'",
        ),
        (
            f'name = "s"\ncolumns = 2\n{FOUR}{{name = "live"}}]\n',
            "layouts[2].scenes[0].panels[3].name",
            "panel 'live' is already in this scene",
        ),
        (
            'name = "s"\ndwell = "soon"\npanels = [{name = "volume"}]\n',
            "layouts[2].scenes[0].dwell",
            'expected a duration such as "30m", "2h" or seconds',
        ),
        (
            'name = "s"\ndwell = 0\npanels = [{name = "volume"}]\n',
            "layouts[2].scenes[0].dwell",
            "expected a duration above 0",
        ),
        (
            'name = "s"\ncolumns = 0\npanels = [{name = "volume"}]\n',
            "layouts[2].scenes[0].columns",
            "expected 1 or more, got 0",
        ),
        (
            'name = "s"\npanels = []\n',
            "layouts[2].scenes[0].panels",
            "expected at least one panel",
        ),
        (
            'name = "s"\npanels = [{name = "volume", size = 2}]\n',
            "layouts[2].scenes[0].panels[0].size",
            "unknown key",
        ),
    ],
)
def test_a_bad_layout_is_refused_with_file_key_and_reason(
    scene: str, key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(site_layout(scene), SITE)
    assert exc.value.file == SITE
    assert exc.value.key == key
    assert reason in exc.value.expected
    assert str(exc.value).startswith(f"{SITE}: {key}: ")


def test_duplicate_layout_names_are_refused() -> None:
    scene = 'name = "s"\npanels = [{name = "volume"}]\n'
    text = site_layout(scene).replace('name = "three"', 'name = "one"')
    with pytest.raises(ConfigError, match=r"layouts\[2\]\.name: duplicate layout 'one'"):
        parse_config(text, SITE)


def test_unknown_layout_name_is_refused_naming_the_ones_there_are() -> None:
    with pytest.raises(ConfigError) as exc:
        find_layout(load_config(), "lobby")
    assert exc.value.key == "layouts"
    assert "no layout named 'lobby' (layouts: wall, oncall, console)" in exc.value.expected


def test_a_site_adds_layouts_and_may_replace_a_shipped_one() -> None:
    text = site_layout('name = "s"\npanels = [{name = "live"}]\n').replace(
        'name = "one"', 'name = "oncall"'
    )
    cfg = parse_config(text, SITE)
    assert [lay.name for lay in cfg.layouts] == ["wall", "console", "oncall", "two", "three"]
    assert find_layout(cfg, "oncall").scenes[0].panels[0].name == "volume"
    assert find_layout(cfg, "wall") == layout("wall")


def test_every_panel_name_builds_its_panel() -> None:
    assert {make_panel(name, UTC).id for name in WALL_PANELS} == set(WALL_PANELS)
    assert [lay.name for lay in shipped_layouts()] == ["wall", "oncall", "console"]


async def test_a_site_layout_places_the_brand_tiles() -> None:
    text = (
        '[[layouts]]\nname = "room"\n[[layouts.scenes]]\nname = "brands"\ncolumns = 2\n'
        'panels = [{name = "tiles", width = 2}, {name = "volume"}, {name = "incidents"}]\n'
    )
    room = find_layout(parse_config(text, SITE), "room")
    app = WallApp(
        scripted(demo_events()),
        hub_label="127.0.0.1:8765",
        tz=UTC,
        layout=room,
        clock=Clock(),
        takeover_seconds=0,
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot, len(demo_events()))
        tiles = app.wall.query_one("#tiles").region
        assert tiles.width >= 150 and app.wall.region.contains_region(tiles)
        assert "BRANDS THIS HOUR" in screen_text(app)


# ---------------------------------------------------------------------- the oncall layout

ONCALL_PANELS = ("volume", "sentiment", "incidents", "stories", "live")


@pytest.mark.parametrize("drift_phase", [0, 1])
async def test_oncall_fits_80x24_with_everything_the_person_on_call_needs(
    drift_phase: int,
) -> None:
    clock = Clock()
    clock.now = (int(clock.now // DRIFT_SECONDS) + drift_phase) * DRIFT_SECONDS + 1.0
    app = wall_app("oncall", clock=clock, drift=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, len(demo_events()))
        screen = app.wall.region
        for panel_id in ONCALL_PANELS:
            region = app.wall.query_one(f"#{panel_id}").region
            assert region.height >= 3, panel_id
            assert screen.contains_region(region), panel_id  # nothing cut off
        assert app.wall.query_one("#status").region.width == 79
        text = screen_text(app)
        # Status and freshness.
        assert "● LIVE" in text and "updated 0s ago" in text and "1/1 oncall" in text
        assert "VOLUME" in text and "STORIES" in text and "0s ago" in text
        # Incidents with their severity and kind.
        assert "CRIT" in text and "NEG" in text and "Northwind negative surge" in text
        # Volume and net sentiment.
        assert "last min" in text and "net sentiment" in text
        # The top stories and the newest mentions.
        assert "#aerogate: battery" in text
        assert "PSA: Northwind is offer" in text


# ---------------------------------------------------------------------- kiosk


async def test_a_wall_shows_no_keys_or_controls() -> None:
    app = wall_app("oncall")
    assert app.ENABLE_COMMAND_PALETTE is False
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, len(demo_events()))
        assert not app.wall.query(Footer)
        assert not any(active.binding.show for active in app.active_bindings.values())
        text = screen_text(app)
        assert "^p" not in text and "palette" not in text.lower()


# ---------------------------------------------------------------------- rotation


def test_rotation_resumes_where_the_clock_says() -> None:
    rotation = SceneRotation(seconds=60.0, scenes=("a", "b", "c"), dwells=(60.0, 10.0, 30.0))
    rotation.resume(0, 1_000.0, 1_065.0)  # a for 60 s, then b for 10 s
    assert (rotation.scene, rotation.started_at, rotation.next_at) == ("b", 1_060.0, 1_070.0)
    rotation.resume(0, 1_000.0, 1_000.0 + 100 * 100 + 75)  # whole cycles skipped
    assert (rotation.scene, rotation.next_at) == ("c", 1_000.0 + 100 * 100 + 100)
    rotation.resume(1, 5_000.0, 4_000.0)  # a saved time ahead of the clock: afresh
    assert (rotation.scene, rotation.started_at) == ("b", 4_000.0)
    rotation.resume(7, 0.0, 4_000.0)  # a saved scene the layout no longer has
    assert rotation.started_at == 4_000.0 and rotation.next_at == 4_010.0


def test_the_store_survives_garbage(tmp_path: Path) -> None:
    store = RotationStore.for_layout("my wall/x", tmp_path)
    assert store.path == tmp_path / "wall-my_wall_x.json"
    assert store.load() is None
    store.path.write_text("not json")
    assert store.load() is None
    store.path.write_text('{"index": "1", "started_at": 3}')
    assert store.load() is None
    store.save(SceneRotation(index=1, started_at=12.5))
    assert store.load() == (1, 12.5)


def scene_on_screen(app: WallApp) -> str:
    return app.wall.scene


async def test_the_rotation_survives_a_restart(tmp_path: Path) -> None:
    store = RotationStore.for_layout("wall", tmp_path)
    clock = Clock()
    start = clock.now
    app = wall_app("wall", clock=clock, rotation_store=store, rotate_seconds=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, len(demo_events()))
        assert scene_on_screen(app) == "overview"
        clock.now = start + 31.0
        app.refresh_now()
        await pilot.pause()
        assert scene_on_screen(app) == "listening"
    assert store.load() == (1, start + 31.0)
    # Restarted 20 s later: listening has 10 s left, the status bar says so.
    clock.now = start + 51.0
    app = wall_app("wall", clock=clock, rotation_store=store, rotate_seconds=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, len(demo_events()))
        assert scene_on_screen(app) == "listening"
        assert "2/2 listening" in screen_text(app)
        assert app.rotation.next_at == start + 61.0
    # Restarted a long while later: wherever the clock says, not the first scene.
    clock.now = start + 31.0 + 60 * 1000 + 45.0
    app = wall_app("wall", clock=clock, rotation_store=store, rotate_seconds=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert scene_on_screen(app) == "overview"
        assert app.rotation.started_at == start + 31.0 + 60 * 1000 + 30.0


# ---------------------------------------------------------------------- drift


async def test_drift_moves_the_picture_a_cell_and_back() -> None:
    clock = Clock()
    clock.now = int(clock.now // DRIFT_SECONDS) * DRIFT_SECONDS  # a drift period starts
    app = wall_app("wall", clock=clock, drift=True, rotate_seconds=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, len(demo_events()))

        def left() -> tuple[int, int]:
            return (app.wall.query_one("#status").region.x, app.wall.query_one("#volume").region.x)

        first = left()
        clock.now += DRIFT_SECONDS - 1
        app.refresh_now()
        await pilot.pause()
        assert left() == first  # holds for the whole period
        clock.now += 1
        app.refresh_now()
        await pilot.pause()
        await pilot.pause()
        second = left()
        assert {first, second} == {(0, 0), (1, 1)}
        clock.now += DRIFT_SECONDS
        app.refresh_now()
        await pilot.pause()
        assert left() == first


async def test_no_drift_keeps_the_picture_still() -> None:
    clock = Clock()
    app = wall_app("wall", clock=clock, drift=False, rotate_seconds=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, len(demo_events()))
        for _ in range(3):
            assert app.wall.query_one("#status").region.x == 0
            assert app.wall.query_one("#status").region.width == 80
            clock.now += DRIFT_SECONDS
            app.refresh_now()
            await pilot.pause()


# ---------------------------------------------------------------------- the command


def test_the_wall_command_takes_a_layout_and_no_drift(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    built: dict[str, Any] = {}

    def fake_make_wall(hub: str, **options: Any) -> Any:
        built.clear()
        built.update(options, hub=hub)
        return SimpleNamespace(run=lambda: None)

    monkeypatch.setattr(wall_cli, "wall_module", lambda: SimpleNamespace(make_wall=fake_make_wall))
    assert cli.main(["wall"]) == 0
    assert built["layout"] == layout("wall") and built["drift"] is True
    assert built["rotate_seconds"] is None
    assert cli.main(["wall", "--layout", "oncall", "--no-drift"]) == 0
    assert built["layout"] == layout("oncall") and built["drift"] is False
    site = tmp_path / "site.toml"
    site.write_text(site_layout('name = "s"\npanels = [{name = "live"}]\n'))
    assert cli.main(["wall", "--config", str(site), "--layout", "three"]) == 0
    assert built["layout"].scenes[0].panels[0].name == "live"
    capsys.readouterr()
    built.clear()
    assert cli.main(["wall", "--layout", "console"]) == 0
    assert built["layout"] == layout("console")
    built.clear()
    assert cli.main(["wall", "--layout", "lobby"]) == 2
    assert "no layout named 'lobby'" in capsys.readouterr().err
    site.write_text(site_layout('name = "s"\npanels = [{name = "volume", width = 0}]\n'))
    assert cli.main(["wall", "--config", str(site)]) == 2
    err = capsys.readouterr().err
    assert f"{site}: layouts[2].scenes[0].panels[0].width: expected 1 to 1" in err
    assert not built


# ---------------------------------------------------------------------- screenshots


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["wall", "oncall", "console"])
async def test_layout_screenshots(name: str, size: tuple[int, int], tmp_path: Path) -> None:
    out = SCREENSHOTS if os.environ.get("GROUNDCONTROL_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    app = wall_app(name)
    written: list[Path] = []
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot, len(demo_events()))
        for number, scene in enumerate(app.rotation.scenes, 1):
            await pilot.press(str(number))
            app.rotation.held_until = 0.0  # as rotation shows it: no "held" in the bar
            app.refresh_now()
            await pilot.pause()
            assert app.wall.scene == scene
            # Every panel the scene shows is on screen, whole, with room for its title
            # (the shipped wall's compact arrangement hides some on purpose).
            grid = app.wall.query_one(f"#{app.wall.scene_ids[scene]}")
            for panel in grid.query(Panel):
                if not all(node.display for node in panel.ancestors_with_self if node is not app):
                    assert name == "wall" and size == (80, 24), (scene, panel.id)
                    continue
                region = panel.region
                assert region.width >= 12 and region.height >= 3, (scene, panel.id, region)
                assert app.wall.region.contains_region(region), (scene, panel.id, region)
            label = name if number == 1 else f"{name}-{scene}"
            path = out / f"layout-{label}-{size[0]}x{size[1]}.svg"
            app.save_screenshot(path.name, str(out))
            written.append(path)
    assert all(path.stat().st_size > 0 for path in written)
    converter = shutil.which("rsvg-convert")
    if out == SCREENSHOTS and converter is not None:
        for path in written:
            png = str(path.with_suffix(".png"))
            await asyncio.to_thread(subprocess.run, [converter, str(path), "-o", png], check=True)
