"""The colour-blind-safe theme (issue 14): no red/green pair, and positive and negative
told apart by shape and place as well as colour.

The check is a simulation, not a list of banned names: every colour the theme gives
positive and negative is passed through the Machado, Oliveira & Fernandes (2009)
matrices for protanopia, deuteranopia and tritanopia (full severity, in linear RGB),
and the two must stay far apart in CIELAB (ΔE) and readable on the dark background
for every eye. The same check run on the default theme's green and red must fail, so
the test can tell a bad pair from a good one. It is run on the theme's colours, on
the widgets' computed styles, and on the SVG of a rendered wall.

With GROUNDCONTROL_SCREENSHOTS=1 the colourblind wall (80x24, 240x67) and console
(160x48) go to docs/screenshots as SVG and, where rsvg-convert is installed, PNG.
"""

from __future__ import annotations

import colorsys
import html
import os
import re
import shutil
import subprocess
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual.pilot import Pilot

from groundcontrol.cli.main import build_parser
from groundcontrol.client.api import HubApi
from groundcontrol.config import (
    THEME_ENV,
    THEMES,
    ConfigError,
    parse_config,
    pick_theme,
    theme_name,
)
from panels.app import WallApp, make_wall
from panels.console import ConsoleApp, make_console
from panels.console_views import TopicsView
from panels.format import MOOD_GLYPH, SENTIMENT_GLYPH, SENTIMENT_ORDER
from panels.live import RiverView
from panels.palette import BASE_THEME, PALETTES, theme_for, use_palette
from panels.sentiment import SharesBar
from panels.tiles import BrandTilesPanel, TileGrid, metrics
from panels.topics import TopicTable
from tests.test_tiles import TilesApp, sample_tiles, wall_state
from tests.test_wall import Clock, applied, run_until, wall
from tests.wall_fixtures import demo_events, scripted

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"

# --------------------------------------------------------------------------- seeing colour

Matrix = tuple[tuple[float, float, float], ...]
#: Machado et al. 2009, severity 1.0, for linear RGB; "normal" is the identity.
VISION: dict[str, Matrix] = {
    "normal": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "tritanopia": (
        (1.255528, -0.076749, -0.178779),
        (-0.078411, 0.930809, 0.147602),
        (0.004733, 0.691367, 0.303900),
    ),
}
#: Least CIE76 ΔE between positive and negative under any vision: about a third of the
#: way from black to white; the default green and red fall to ~22 under deuteranopia.
MIN_DELTA_E = 40.0
#: Least contrast of a sentiment colour against the background, for any vision (WCAG's
#: floor for large or bold text is 3:1; the wall is read across a room).
MIN_CONTRAST = 3.5

RGB = tuple[float, float, float]


def linear(hex_colour: str) -> RGB:
    h = hex_colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return (r, g, b)


def seen(hex_colour: str, vision: str) -> RGB:
    """The colour as someone with ``vision`` sees it, in linear RGB."""
    rgb = linear(hex_colour)
    r, g, b = (min(1.0, max(0.0, sum(row[i] * rgb[i] for i in range(3)))) for row in VISION[vision])
    return (r, g, b)


def lab(rgb: RGB) -> RGB:
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return (116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z)))


def delta_e(a: RGB, b: RGB) -> float:
    return float(sum((p - q) ** 2 for p, q in zip(lab(a), lab(b), strict=True)) ** 0.5)


def contrast(a: RGB, b: RGB) -> float:
    la, lb = (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def hue_family(hex_colour: str) -> str:
    """ "red", "green" or "other": a saturated colour's hue family."""
    h, s, v = colorsys.rgb_to_hsv(
        *(int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    )
    degrees = h * 360
    if s < 0.3 or v < 0.3:
        return "other"
    if degrees < 20 or degrees >= 335:
        return "red"
    if 75 <= degrees <= 165:
        return "green"
    return "other"


def pair_problems(positive: str, negative: str, background: str) -> list[str]:
    """Why ``positive`` and ``negative`` do not tell good from bad for every eye (empty:
    they do)."""
    problems = []
    if {hue_family(positive), hue_family(negative)} == {"red", "green"}:
        problems.append(f"{positive} and {negative} are a red/green pair")
    for vision in VISION:
        p, n, bg = (seen(c, vision) for c in (positive, negative, background))
        if (d := delta_e(p, n)) < MIN_DELTA_E:
            problems.append(f"{vision}: ΔE {d:.0f} < {MIN_DELTA_E:.0f}")
        for name, c in (("positive", p), ("negative", n)):
            if (ratio := contrast(c, bg)) < MIN_CONTRAST:
                problems.append(f"{vision}: {name} at {ratio:.1f}:1 on the background")
    return problems


def near(a: str, b: str) -> bool:
    """The same colour give or take rounding (Textual's colour system moves a channel
    by one now and then)."""
    pairs = zip(linear(a), linear(b), strict=True)
    return all(abs(x - y) <= 2 / 255 for x, y in pairs)


def hex_of(style: Style) -> str:
    assert style.color is not None and style.color.triplet is not None
    return style.color.triplet.hex.upper()


# --------------------------------------------------------------------------- the palettes


def test_every_theme_the_command_line_offers_has_a_palette() -> None:
    assert tuple(PALETTES) == THEMES == ("default", "colourblind")
    assert theme_name("colorblind") == theme_name(" Colourblind ") == "colourblind"
    with pytest.raises(ValueError, match="no theme 'sepia' \\(themes: default, colourblind\\)"):
        theme_name("sepia")


def test_the_default_palette_is_the_look_the_wall_always_had() -> None:
    default = theme_for(PALETTES["default"])
    assert default.to_color_system().generate() == BASE_THEME.to_color_system().generate()


def test_the_colourblind_theme_keeps_positive_and_negative_apart_for_every_eye() -> None:
    palette = PALETTES["colourblind"]
    colours = theme_for(palette).to_color_system().generate()
    assert near(colours["success"], palette.positive) and palette.positive == palette.ok
    assert near(colours["error"], palette.negative) and palette.negative == palette.critical
    assert pair_problems(colours["success"], colours["error"], colours["background"]) == []
    # On the surface too (the console's tables). The status bar's $panel carries them
    # only as badges (black or white text on them), never as text.
    assert pair_problems(palette.positive, palette.negative, colours["surface"]) == []
    # A warning (or stale data) never passes for a critical, for any eye.
    for vision in VISION:
        warning, critical = seen(colours["warning"], vision), seen(colours["error"], vision)
        assert delta_e(warning, critical) > 25, vision


def test_the_check_fails_the_default_red_and_green() -> None:
    """The simulation can fail: today's green and red are a red/green pair that
    deuteranopia brings close together, and the red is dim under protanopia."""
    default = PALETTES["default"]
    problems = pair_problems(default.positive, default.negative, "#121212")
    assert any("red/green pair" in p for p in problems)
    assert any(p.startswith("deuteranopia: ΔE") for p in problems)
    assert any(p.startswith("protanopia: negative") for p in problems)


def test_positive_and_negative_have_their_own_glyphs_and_places() -> None:
    for glyphs in (SENTIMENT_GLYPH, MOOD_GLYPH):
        assert len({glyphs[name] for name in SENTIMENT_ORDER}) == 3
    assert SENTIMENT_ORDER[0] == "positive" and SENTIMENT_ORDER[-1] == "negative"
    # The tiles' net sentiment carries its mood's glyph and tone, not a colour alone.
    bad, good = sample_tiles()[0], sample_tiles()[1]  # net -0.18, +0.24
    assert (
        metrics(bad)[1].caption.startswith(MOOD_GLYPH["negative"]) and metrics(bad)[1].tone == "bad"
    )
    assert (
        metrics(good)[1].caption.startswith(MOOD_GLYPH["positive"])
        and metrics(good)[1].tone == "good"
    )


# --------------------------------------------------------------------------- the switch


def test_the_switch_on_the_command_line_in_the_environment_and_in_the_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    for command in ("wall", "console"):
        assert parser.parse_args([command, "--theme", "colorblind"]).theme == "colourblind"
        assert parser.parse_args([command]).theme is None
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--theme", "sepia"])
        assert "no theme 'sepia'" in capsys.readouterr().err
    site = parse_config('[wall]\ntheme = "colorblind"\n', "site.toml")
    plain = parse_config("", "plain.toml")
    monkeypatch.delenv(THEME_ENV, raising=False)
    assert pick_theme(None, plain) == "default"
    assert pick_theme(None, site) == "colourblind"
    monkeypatch.setenv(THEME_ENV, "default")
    assert pick_theme(None, site) == "default"  # the environment over the file
    assert pick_theme("colourblind", plain) == "colourblind"  # the flag over both
    monkeypatch.setenv(THEME_ENV, "sepia")
    with pytest.raises(ConfigError, match=f"{THEME_ENV}: no theme 'sepia'"):
        pick_theme(None, plain)
    with pytest.raises(ConfigError, match=re.escape("bad.toml: wall.theme: no theme 'sepia'")):
        parse_config('[wall]\ntheme = "sepia"\n', "bad.toml")


def test_the_wall_and_the_console_take_the_theme() -> None:
    wall_app = make_wall("ws://127.0.0.1:9", theme="colorblind", keep_rotation=False)
    assert wall_app.theme == "groundcontrol-colourblind"
    assert make_wall("ws://127.0.0.1:9", keep_rotation=False).theme == "groundcontrol"
    assert (
        make_console("ws://127.0.0.1:9", theme="colourblind").theme == "groundcontrol-colourblind"
    )


# --------------------------------------------------------------------------- on screen


def svg_fills(svg: str) -> dict[str, str]:
    """Each text style class of a Textual SVG screenshot and its fill, ``#RRGGBB``."""
    return {
        name: fill.upper()
        for name, fill in re.findall(r"\.(terminal-[\w-]+)\s*\{\s*fill:\s*(#[0-9a-fA-F]{6})", svg)
    }


def svg_marks(svg: str, glyph: str) -> set[str]:
    """The fills of the text runs that are exactly ``glyph`` between two spaces: the
    river's per-mention mark (a topic's trend arrow, "▲ ", is not about sentiment)."""
    fills = svg_fills(svg)
    runs = re.findall(r'<text class="(terminal-[\w-]+)"[^>]*>([^<]*)</text>', svg)
    marks = {f" {glyph} ", f"\xa0{glyph}\xa0"}
    return {fills[c] for c, text in runs if html.unescape(text) in marks and c in fills}


def save(svg: str, name: str, tmp_path: Path) -> None:
    """The SVG (and its PNG) in docs/screenshots with GROUNDCONTROL_SCREENSHOTS=1."""
    if os.environ.get("GROUNDCONTROL_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.svg"
    path.write_text(svg)
    converter = shutil.which("rsvg-convert")
    if converter is not None:
        # rsvg drops a run's leading no-break spaces unless told to keep them.
        kept = tmp_path / path.name
        kept.write_text(svg.replace("<svg ", '<svg xml:space="preserve" ', 1))
        subprocess.run([converter, str(kept), "-o", str(path.with_suffix(".png"))], check=True)


async def shown(app: WallApp, pilot: Pilot[None], count: int) -> None:
    await applied(app, pilot, count)
    app.refresh_now()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (240, 67)])
async def test_a_colourblind_wall_draws_no_red_green_pair(
    size: tuple[int, int], tmp_path: Path
) -> None:
    palette = PALETTES["colourblind"]
    events = demo_events()
    app = wall(scripted(events), takeover_seconds=0)
    use_palette(app, "colourblind")
    async with app.run_test(size=size) as pilot:
        await shown(app, pilot, len(events))
        # Every widget that draws sentiment computes the theme's two colours.
        river = app.query_one(RiverView)
        styled: list[tuple[Any, str]] = [(river, "river--")]
        styled += [(bar, "shares-bar--") for bar in app.query(SharesBar)]
        styled += [(table, "topic-table--") for table in app.query(TopicTable)]
        for widget, prefix in styled:
            positive = hex_of(widget.get_component_rich_style(f"{prefix}positive"))
            negative = hex_of(widget.get_component_rich_style(f"{prefix}negative"))
            assert near(positive, palette.positive) and near(negative, palette.negative)
        svg = app.export_screenshot(title=f"colourblind wall {size[0]}x{size[1]}")
    # And on the screen as drawn: the river's marks, ▲ in one colour, ▼ in another.
    ups, downs = (
        svg_marks(svg, SENTIMENT_GLYPH["positive"]),
        svg_marks(svg, SENTIMENT_GLYPH["negative"]),
    )
    assert len(ups) == 1 and near(up := ups.pop(), palette.positive)
    assert len(downs) == 1 and near(down := downs.pop(), palette.negative)
    assert pair_problems(up, down, palette_background()) == []
    assert_no_red_green(set(svg_fills(svg).values()))
    save(svg, f"colourblind-wall-{size[0]}x{size[1]}", tmp_path)


def assert_no_red_green(used: set[str]) -> None:
    """No colour on screen is the default's green or red, and no two are a red/green pair."""
    default = PALETTES["default"]
    assert not any(near(c, default.positive) or near(c, default.negative) for c in used)
    assert not ({hue_family(c) for c in used} >= {"red", "green"}), sorted(used)


def palette_background() -> str:
    return theme_for(PALETTES["colourblind"]).to_color_system().generate()["background"]


async def test_a_colourblind_console_draws_no_red_green_pair(tmp_path: Path) -> None:
    events = demo_events()
    # Nothing listens there: the console's API calls fail, its live views still fill.
    api = HubApi("http://127.0.0.1:9")
    app = ConsoleApp(scripted(events), api, hub_label="127.0.0.1", clock=Clock(), tz=UTC)
    use_palette(app, "colourblind")
    palette = PALETTES["colourblind"]
    async with app.run_test(size=(160, 48)) as pilot:
        await run_until(pilot, lambda: app.state.events >= len(events), "the scripted events")
        app.pacer.request()
        await pilot.pause()
        incidents = app.export_screenshot(title="colourblind console 160x48: incidents")
        await pilot.press("2")  # the stories, each with its mood: ⊕ ⊙ ⊖ and a colour
        topics = app.view_of(TopicsView)
        await run_until(pilot, lambda: topics.table.row_count > 0, "the topics")
        moods = {
            str(row[6])[0] for row in map(topics.table.get_row_at, range(topics.table.row_count))
        }
        stories = app.export_screenshot(title="colourblind console 160x48: topics")
    assert moods >= {MOOD_GLYPH["positive"], MOOD_GLYPH["negative"]}
    # The live incidents are drawn: the critical badge, in the theme's colour.
    used = set(svg_fills(incidents).values())
    assert any(near(c, palette.critical) for c in used), sorted(used)
    assert_no_red_green(used)
    used = set(svg_fills(stories).values())
    assert any(near(c, palette.positive) for c in used) and any(
        near(c, palette.negative) for c in used
    )
    assert_no_red_green(used)
    save(incidents, "colourblind-console-160x48", tmp_path)
    save(stories, "colourblind-console-topics-160x48", tmp_path)


async def test_the_brand_tiles_take_the_theme_too() -> None:
    """The tiles panel styles good and bad news in its own default CSS: from the theme."""
    palette = PALETTES["colourblind"]
    app = TilesApp()
    use_palette(app, "colourblind")
    async with app.run_test(size=(160, 48)) as pilot:
        app.query_one(BrandTilesPanel).show(wall_state(sample_tiles()), 100.5)
        await pilot.pause()
        grid = app.query_one(TileGrid)
        assert near(hex_of(grid.get_component_rich_style("tile--good")), palette.positive)
        assert near(hex_of(grid.get_component_rich_style("tile--bad")), palette.negative)
        svg = app.export_screenshot()
    assert_no_red_green(set(svg_fills(svg).values()))
