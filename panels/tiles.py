"""The brand tiles panel: each watched brand's last hour, against yesterday and last week.

One tile per brand (ours first, as the hub sends them): mentions in the last 60
minutes, net sentiment and negative share as big numbers, each with its change
against the same 60 minutes 24 hours and 7 days before ("▲ +35% vs yesterday").
A change says its direction by shape (▲ up, ▼ down, = level) as well as by colour:
the theme's negative colour when it is bad news (more negative share), its positive
colour when good, plain for volume, which is neither. Net sentiment carries its sign
and a mood glyph (⊕ ⊙ ⊖) in its caption, in the mood's colour, so it reads without
colour vision too. Before the store reaches back that far a tile says "no history yet".

The tiles are drawn by one :class:`~panels.base.Drawn` widget in the block font of
:mod:`panels.bigtext`, and flow to fit the panel: the biggest font at which every
tile fits, with the three numbers side by side in a tile (tiles then stack, or sit in
a row on a wide short panel) or stacked in a narrow tile (tiles side by side); when
no big font fits every tile (an 80x24 wall), small text. The hub refreshes the
numbers once a minute from its store; a hub without a store sends no tiles and the
panel says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult

from groundcontrol.protocol import BrandTile
from panels.base import Drawn, Panel
from panels.bigtext import BLOCK_HEIGHT, block_rows, block_width
from panels.format import MOOD_GLYPH, abbreviate, fit, percent, signed
from panels.listing import mood
from panels.state import WallState

#: The widest each number is drawn, which fixes the font for a panel size.
VOLUME_RESERVE = "888k"
NET_RESERVE = "-100"
SHARE_RESERVE = "100%"
#: A change line at its longest: "▼ -100% vs last week".
CHANGE_WIDTH = 22
#: Blank cells between two tiles across, and rows between two tiles down.
GAP_X = 3
GAP_Y = 1
#: Cells a big number's column may take beyond its least width.
SLACK = 12
NO_HISTORY = "no history yet"
NO_STORE = "no tiles: the hub keeps no store"

Direction = Literal["up", "down", "level"]
Tone = Literal["good", "bad", "plain"]


@dataclass(frozen=True)
class Change:
    """One comparison, as shown: its direction, text and whether it is good news."""

    direction: Direction
    text: str
    tone: Tone


def arrow(direction: Direction) -> str:
    return {"up": "▲", "down": "▼", "level": "="}[direction]


def volume_change(ratio: float | None, then: int | None, what: str) -> Change | None:
    """The volume's change against ``then`` ("▲ +35% vs yesterday"); None without
    history that far back."""
    if then is None:
        return None
    if ratio is None:  # nothing was said then
        return Change("up", f"new vs {what} (0 then)", "plain")
    pct = round(ratio * 100)
    direction: Direction = "up" if pct > 0 else "down" if pct < 0 else "level"
    text = f"{'+' if pct > 0 else ''}{pct}% vs {what}"
    return Change(direction, text, "plain")


def share_change(now: float, then: float | None, what: str) -> Change | None:
    """The negative share's change in points ("▲ +4 pts vs yesterday"): up is bad."""
    if then is None:
        return None
    points = round((now - then) * 100)
    direction: Direction = "up" if points > 0 else "down" if points < 0 else "level"
    tone: Tone = "bad" if points > 0 else "good" if points < 0 else "plain"
    return Change(direction, f"{'+' if points > 0 else ''}{points} pts vs {what}", tone)


@dataclass(frozen=True)
class Metric:
    """One number of a tile with its caption and its change lines."""

    value: str
    short: str
    caption: str
    changes: list[Change | None]
    """Against yesterday and last week (None: no history); empty: no comparison."""
    tone: Tone = "plain"
    """The number's own colour: good or bad news (net sentiment), else plain."""


def metrics(tile: BrandTile) -> list[Metric]:
    """A tile's three numbers: volume, net sentiment and negative share."""
    return [
        Metric(
            f"{tile.mentions_hour:,}",
            abbreviate(tile.mentions_hour),
            "mentions, last 60 min",
            [
                volume_change(tile.vs_yesterday, tile.mentions_yesterday, "yesterday"),
                volume_change(tile.vs_last_week, tile.mentions_last_week, "last week"),
            ],
        ),
        _net_metric(tile.net),
        Metric(
            percent(tile.negative_share),
            percent(tile.negative_share),
            "negative share",
            [
                share_change(tile.negative_share, tile.negative_share_yesterday, "yesterday"),
                share_change(tile.negative_share, tile.negative_share_last_week, "last week"),
            ],
        ),
    ]


def _net_metric(net: float) -> Metric:
    """Net sentiment: signed, with the mood's glyph in the caption and its colour."""
    feel = mood(net)
    tone: Tone = "good" if feel == "positive" else "bad" if feel == "negative" else "plain"
    return Metric(signed(net), signed(net), f"{MOOD_GLYPH[feel]} net sentiment", [], tone)


Arrangement = Literal["across", "down", "text"]


@dataclass(frozen=True)
class Plan:
    """How the tiles are drawn: the font scale (0: text), the arrangement of the
    numbers inside a tile, the tile size, and the grid of tiles."""

    scale: int
    arrangement: Arrangement
    tile_width: int
    tile_height: int
    columns: int
    rows: int


def _metric_width(scale: int) -> int:
    widest = max(block_width(r, scale) or 0 for r in (VOLUME_RESERVE, NET_RESERVE, SHARE_RESERVE))
    return max(widest, CHANGE_WIDTH)


#: Rows of one number in a big tile: the glyphs, a caption, two change lines.
_METRIC_ROWS = BLOCK_HEIGHT + 3
#: Rows of a text tile: the name, then per number a line and (for two of them) one of
#: changes: name, volume, its changes, net, negative share, its changes.
_TEXT_ROWS = 6
_TEXT_MIN_WIDTH = 28


def plan(width: int, height: int, count: int) -> Plan:
    """The biggest font at which ``count`` tiles fit ``width`` x ``height``: the
    numbers side by side in a tile, else stacked; small text when nothing fits."""
    count = max(count, 1)
    for scale in (2, 1):
        metric = _metric_width(scale)
        shapes: tuple[tuple[Arrangement, int, int], ...] = (
            ("across", 3 * metric + 2 * GAP_X, 1 + _METRIC_ROWS),
            ("down", metric, 1 + 3 * _METRIC_ROWS),
        )
        for arrangement, tile_w, tile_h in shapes:
            room_across = min(count, (width + GAP_X) // (tile_w + GAP_X))
            room_down = (height + GAP_Y) // (tile_h + GAP_Y)
            if room_across >= 1 and room_across * room_down >= count:
                # As few columns as the height allows: a column of tiles on a tall
                # panel, a row of them on a wide short one.
                columns = math.ceil(count / room_down) if room_down else room_across
                rows = math.ceil(count / columns)
                return Plan(scale, arrangement, tile_w, tile_h, columns, rows)
    columns = max(1, min(count, (width + GAP_X) // (_TEXT_MIN_WIDTH + GAP_X)))
    rows = math.ceil(count / columns)
    # Stack the text tiles when they fit down; go across only when they must.
    if count * (_TEXT_ROWS + GAP_Y) - GAP_Y <= height:
        columns, rows = 1, count
    return Plan(0, "text", _TEXT_MIN_WIDTH, _TEXT_ROWS, columns, rows)


class TileGrid(Drawn):
    """The tiles, drawn at the panel's size."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tile--brand",
        "tile--ours",
        "tile--number",
        "tile--caption",
        "tile--good",
        "tile--bad",
        "tile--plain",
        "tile--none",
    }

    DEFAULT_CSS = """
    TileGrid > .tile--brand { text-style: bold; }
    TileGrid > .tile--ours { text-style: bold reverse; }
    TileGrid > .tile--number { text-style: bold; }
    TileGrid > .tile--caption { color: $foreground-muted; }
    TileGrid > .tile--good { color: $success; }
    TileGrid > .tile--bad { color: $error; text-style: bold; }
    TileGrid > .tile--plain { color: $foreground; }
    TileGrid > .tile--none { color: $foreground-muted; text-style: italic; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.tiles: list[BrandTile] = []
        self.empty_note = NO_STORE
        self.last_plan: Plan | None = None

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"tile--{name}")

    def _change_text(self, change: Change | None, width: int) -> Text:
        if change is None:
            return Text(fit(NO_HISTORY, width), self._style("none"))
        text = f"{arrow(change.direction)} {change.text}"
        return Text(fit(text, width), self._style(change.tone))

    def _brand_line(self, tile: BrandTile, width: int) -> Text:
        label = tile.brand if tile.competitor else f" {tile.brand} "
        line = Text()
        line.append(fit(label, width), self._style("brand" if tile.competitor else "ours"))
        return line

    def _big_metric(self, m: Metric, scale: int, width: int) -> list[Text]:
        rows = None
        for form in (m.value, m.short):
            drawn = block_rows(form, scale)
            if drawn is not None and len(drawn[0]) <= width:
                rows = drawn
                break
        if rows is None:
            rows = ["", "", m.short, "", ""]
        number = self._style("number") + self._style(m.tone)
        out = [Text(r.ljust(width)[:width], number) for r in rows]
        out.append(Text(fit(m.caption, width), self._style("caption")))
        changes = m.changes
        if changes and all(c is None for c in changes):
            out.append(Text(fit(NO_HISTORY, width), self._style("none")))
            out.append(Text(""))
        else:
            for change in changes:
                out.append(self._change_text(change, width))
            out.extend(Text("") for _ in range(2 - len(changes)))
        return out

    def _big_tile(self, tile: BrandTile, p: Plan, width: int) -> list[Text]:
        ms = metrics(tile)
        lines = [self._brand_line(tile, width)]
        if p.arrangement == "down":
            for m in ms:
                lines.extend(self._big_metric(m, p.scale, width))
            return lines
        cell = (width - 2 * GAP_X) // 3
        columns = [self._big_metric(m, p.scale, cell) for m in ms]
        for row in range(_METRIC_ROWS):
            line = Text()
            for index, col in enumerate(columns):
                if index:
                    line.append(" " * GAP_X)
                piece = col[row].copy()
                piece.pad_right(cell - piece.cell_len)
                line.append_text(piece)
            lines.append(line)
        return lines

    def _text_tile(self, tile: BrandTile, width: int) -> list[Text]:
        volume, net, share = metrics(tile)
        number = self._style("number")
        caption = self._style("caption")

        def reading(m: Metric, label: str) -> Text:
            line = Text()
            value = m.value if len(m.value) + len(label) < width else m.short
            line.append(value, number + self._style(m.tone))
            line.append(f" {label}", caption)
            return line

        def changes(m: Metric) -> Text:
            if all(c is None for c in m.changes):
                return Text("  " + NO_HISTORY, self._style("none"))
            line = Text("  ")
            for index, change in enumerate(m.changes):
                if index:
                    line.append(" · ", caption)
                if change is None:
                    line.append(NO_HISTORY, self._style("none"))
                else:
                    short = change.text.replace("yesterday", "yday").replace("last week", "wk")
                    text = change.text if width >= 50 else short
                    line.append(f"{arrow(change.direction)} {text}", self._style(change.tone))
            return line

        return [
            self._brand_line(tile, width),
            reading(volume, "mentions, last 60 min"),
            changes(volume),
            reading(net, net.caption),
            reading(share, "negative share"),
            changes(share),
        ]

    def draw(self, width: int, height: int) -> list[Text]:
        if not self.tiles:
            return [Text(self.empty_note, self._style("none"))]
        p = plan(width, height, len(self.tiles))
        self.last_plan = p
        # Share the width out among the columns; each tile takes its column's width.
        column_width = max(1, (width - GAP_X * (p.columns - 1)) // p.columns)
        blocks: list[list[Text]] = []
        for tile in self.tiles:
            if p.scale:
                # Wider than its least, so a full count ("1,482") fits more often,
                # but not so wide that the three numbers drift apart.
                widest = p.tile_width + (3 if p.arrangement == "across" else 1) * SLACK
                blocks.append(self._big_tile(tile, p, min(column_width, widest)))
            else:
                blocks.append(self._text_tile(tile, column_width))
        lines: list[Text] = []
        for start in range(0, len(blocks), p.columns):
            row_blocks = blocks[start : start + p.columns]
            tall = max(len(b) for b in row_blocks)
            if lines:
                lines.extend(Text("") for _ in range(GAP_Y))
            for row in range(tall):
                line = Text()
                for index, block in enumerate(row_blocks):
                    if index:
                        line.append(" " * GAP_X)
                    piece = block[row].copy() if row < len(block) else Text("")
                    piece.truncate(column_width)
                    piece.pad_right(column_width - piece.cell_len)
                    line.append_text(piece)
                line.rstrip()
                lines.append(line)
        return lines


class BrandTilesPanel(Panel):
    """Per brand: the last hour's volume, net sentiment and negative share, with their
    change against yesterday and last week."""

    TITLE = "BRANDS THIS HOUR"

    def compose(self) -> ComposeResult:
        grid = TileGrid(id="tiles-grid")
        grid.waiting = True
        yield grid

    def show(self, state: WallState, now: float) -> None:
        grid = self.query_one(TileGrid)
        tiles = state.brand_tiles
        waiting = state.tick is None
        note = NO_STORE if not tiles else ""
        if grid.waiting == waiting and tiles == grid.tiles and (tiles or note == grid.empty_note):
            return
        grid.waiting = waiting
        grid.tiles = list(tiles)
        grid.empty_note = note
        grid.refresh()


__all__ = ["BrandTilesPanel", "Change", "Plan", "TileGrid", "plan"]
