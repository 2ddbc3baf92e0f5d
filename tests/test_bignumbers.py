"""Big numbers read right from across a room, and keep their size as they grow.

A new user read "8,867" as 8.867: in the block font the thousands comma was a pixel
on the baseline, the shape of a decimal point. And at 160x48 the volume number
dropped to a smaller font as it grew. These tests check the glyphs themselves (no
mark between digit groups, only a gap wider than the one between digits) and the
font the volume panel picks for small and large counts at the sizes walls run at.
"""

from __future__ import annotations

import pytest
from rich.align import Align
from rich.style import Style
from rich.text import Text

from panels.bigtext import BLOCK_FONT, BLOCK_HEIGHT, BigNumber, block_rows, block_width, digits_rows
from panels.format import abbreviate
from panels.sentiment import NET_RESERVE, SHARE_RESERVE
from panels.volume import RESERVE
from tests.test_waiting import COMPACT, WIDE, Script, busy_tick, connected, settle, wall

HUGE = (240, 67)
MEDIUM = (120, 40)


def column_runs(rows: list[str]) -> tuple[list[tuple[int, int]], list[int]]:
    """The runs of inked columns (start, width) and the widths of the blank runs
    between them, in a block of rows."""
    width = max(len(row) for row in rows)
    inked = [any(col < len(row) and row[col] != " " for row in rows) for col in range(width)]
    runs: list[tuple[int, int]] = []
    gaps: list[int] = []
    col = 0
    while col < width:
        start = col
        while col < width and inked[col] == inked[start]:
            col += 1
        if inked[start]:
            runs.append((start, col - start))
        elif runs:
            gaps.append(col - start)
    return runs, gaps


def test_every_digit_glyph_is_inked_across_its_width() -> None:
    # What the separator test relies on: a digit never has a blank column, so each
    # inked run in a drawn number is exactly one digit.
    for digit in "0123456789":
        runs, gaps = column_runs(list(BLOCK_FONT[digit]))
        assert runs == [(0, 3)] and not gaps, digit


@pytest.mark.parametrize("count", [8_867, 1_234_567, 88_867, 1_000])
@pytest.mark.parametrize("scale", [1, 2])
def test_thousands_are_grouped_by_a_gap_not_by_a_mark(count: int, scale: int) -> None:
    text = f"{count:,}"
    rows = block_rows(text, scale)
    assert rows is not None and len(rows) == BLOCK_HEIGHT
    runs, gaps = column_runs(rows)
    digits = text.replace(",", "")
    # Nothing is inked but the digits: no comma, no point, no stray pixel.
    assert len(runs) == len(digits), rows
    for (start, width), digit in zip(runs, digits, strict=True):
        assert width == 3 * scale
        glyph = ["".join(cell * scale for cell in line) for line in BLOCK_FONT[digit]]
        assert [row[start : start + width] for row in rows] == glyph
    # One cell between digits; a wider gap, and only there, between groups of three.
    for index, gap in enumerate(gaps, start=1):
        if (len(digits) - index) % 3 == 0:
            assert gap >= 3, (index, gaps, rows)
        else:
            assert gap == 1, (index, gaps, rows)


def test_the_three_row_font_groups_by_a_gap_too() -> None:
    style = Style(bold=True)
    rows = digits_rows("1,234,567", style)
    assert len(rows) == 3
    # Each group is drawn as Digits draws it alone, and the groups are one blank apart.
    groups = [digits_rows(group, style) for group in ("1", "234", "567")]
    assert rows == [" ".join(group[row] for group in groups) for row in range(3)]
    assert not any(mark in row for row in rows for mark in ",.•")


def test_the_reserve_covers_every_count_up_to_seven_digits() -> None:
    # The volume font is chosen to fit RESERVE; if any count up to 9,999,999 drew
    # wider in the form it is shortened to, that count would need a smaller font.
    counts = [0, 7, 99, 999, 1_000, 9_999, 99_999, 999_499, 999_500, 999_999]
    counts += [1_234_567, 9_949_999, 9_950_000, 9_999_999, *range(0, 10_000_000, 7_919)]
    for scale in (1, 2):
        room = block_width(RESERVE, scale)
        assert room is not None
        for count in counts:
            needed = block_width(abbreviate(count), scale)
            assert needed is not None and needed <= room, (count, abbreviate(count), scale)
    assert abbreviate(999_960) == "1M"  # not "1000k", which is wider than the reserve
    assert abbreviate(999.6) == "1k"
    for net in range(-100, 101):
        assert block_width(f"{net:+d}" if net else "0", 1) <= block_width(NET_RESERVE, 1)  # type: ignore[operator]
    assert block_width("100%", 1) == block_width(SHARE_RESERVE, 1)


def drawn(number: BigNumber) -> list[str]:
    """The rows a BigNumber draws (its render is its rows, aligned)."""
    rendered = number.render()
    assert isinstance(rendered, Align)
    text = rendered.renderable
    assert isinstance(text, Text)
    return text.plain.split("\n")


async def volume_fonts(size: tuple[int, int], counts: list[int]) -> dict[int, tuple[int, int, str]]:
    """Show each count as the last minute's volume at ``size``; for each, the volume
    number's rendered height in rows, its scale (0: the three-row font) and the form
    drawn ("8,867" or "8.9k")."""
    script = Script(connected())
    app = wall(script)
    seen: dict[int, tuple[int, int, str]] = {}
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot, 2)
        number = app.wall.query_one("#volume-last-minute", BigNumber)
        for index, count in enumerate(counts, start=1):
            script.push(busy_tick(last_minute=count, per_minute=count / 6))
            await settle(app, pilot, 2 + index)
            assert number.value == f"{count:,}"
            rows = drawn(number)
            # Drawn whole: never clipped, never wider than its box.
            assert max(len(row) for row in rows) <= number.size.width, (size, count, rows)
            form, scale = number.shown()
            seen[count] = (len(rows), scale, form)
    return seen


COUNTS = [99, 8_867, 88_867, 1_234_567, 9_999_999]


async def test_at_160x48_the_volume_number_keeps_its_font_as_it_grows() -> None:
    fonts = await volume_fonts(WIDE, COUNTS)
    # The five-row block font for 99 and for 88,867 alike, not the three-row one...
    assert fonts[99][0] == fonts[88_867][0] == BLOCK_HEIGHT, fonts
    # ... at the same scale for every count; a count too wide is shortened instead.
    assert len({(height, scale) for height, scale, _ in fonts.values()}) == 1, fonts
    assert fonts[99][2] == "99"
    assert fonts[88_867][2] == "89k"


@pytest.mark.parametrize("size", [COMPACT, MEDIUM, WIDE, HUGE], ids=lambda s: "{}x{}".format(*s))
async def test_one_font_per_size(size: tuple[int, int]) -> None:
    fonts = await volume_fonts(size, COUNTS)
    assert len({(height, scale) for height, scale, _ in fonts.values()}) == 1, (size, fonts)


async def test_a_wide_wall_draws_the_full_count_when_it_fits() -> None:
    fonts = await volume_fonts(HUGE, [88_867])
    assert fonts[88_867] == (BLOCK_HEIGHT, 1, "88,867")  # drawn "88 867", as tested above


async def test_the_sentiment_numbers_keep_their_font() -> None:
    app = wall(Script([*connected(), busy_tick()]))
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 3)
        net = app.wall.query_one("#sentiment-net", BigNumber)
        scales = set()
        for value in ("-5", "+42", "-100"):
            net.update(value)
            await pilot.pause()
            assert drawn(net) and len(drawn(net)) == BLOCK_HEIGHT
            scales.add(net.shown()[1])
        assert len(scales) == 1, scales
