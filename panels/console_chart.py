"""Charts of brands over time for the console's history view, drawn as text.

:func:`line_chart` draws several series in one braille chart (each cell holds 2x4
dots), with a y axis, the first and last bucket on the x axis and a legend that names
every series with its latest value, so a colour is never the only way to tell them
apart. :func:`spark_rows` is the compact form for a short panel: one row per series,
its name, a block sparkline and its latest value. :class:`BrandChart` picks one or
the other by its height and redraws only when it is given new data (or resized).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text

from panels.base import Drawn
from panels.format import column, percent, spark

#: Component classes for up to this many series; more reuse them in turn.
SERIES_STYLES = 6
#: Braille dot bits by (x, y) inside one cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
#: Rows a chart needs besides the plot: the x axis labels and the legend.
CHART_EXTRA_ROWS = 2


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name and its values, oldest first (None: no data)."""

    name: str
    values: Sequence[float | None]


def _segment(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The dots of a straight segment (Bresenham)."""
    points = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        points.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return points
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def line_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    style_of: Callable[[int], Style],
    *,
    top: float | None = None,
    fmt: Callable[[float], str] = percent,
    first: str = "",
    last: str = "",
) -> list[Text]:
    """``series`` in one braille chart ``width`` x ``height`` cells, legend included.

    ``top`` is the value at the top of the y axis (default: the largest value);
    ``fmt`` writes axis labels and latest values; ``first`` and ``last`` label the
    first and last bucket under the x axis.
    """
    plot_h = height - CHART_EXTRA_ROWS
    values = [v for s in series for v in s.values if v is not None]
    high = top if top is not None else max(values, default=0.0)
    if high <= 0:
        high = 1.0
    labels = [fmt(high), fmt(high / 2), fmt(0.0)]
    axis_w = max(len(label) for label in labels) + 1
    plot_w = width - axis_w - 1
    if plot_h < 2 or plot_w < 4:
        return spark_rows(series, width, height, style_of, fmt=fmt)
    dots_w, dots_h = plot_w * 2, plot_h * 4
    bits = [[0] * plot_w for _ in range(plot_h)]
    owner = [[-1] * plot_w for _ in range(plot_h)]

    def dot(x: int, y: int, index: int) -> None:
        cx, cy = x // 2, y // 4
        if 0 <= cx < plot_w and 0 <= cy < plot_h:
            bits[cy][cx] |= _DOTS[x % 2][y % 4]
            owner[cy][cx] = index

    for index, line in enumerate(series):
        n = len(line.values)
        previous: tuple[int, int] | None = None
        for i, value in enumerate(line.values):
            if value is None:
                previous = None
                continue
            x = (dots_w - 1) // 2 if n == 1 else round(i * (dots_w - 1) / (n - 1))
            share = max(0.0, min(1.0, value / high))
            y = round((1 - share) * (dots_h - 1))
            if previous is None:
                dot(x, y, index)
            else:
                for px, py in _segment(*previous, x, y):
                    dot(px, py, index)
            previous = (x, y)

    axis = Style(dim=True)
    rows: list[Text] = []
    middle = plot_h // 2 if plot_h >= 3 else -1
    for cy in range(plot_h):
        label = labels[0] if cy == 0 else labels[2] if cy == plot_h - 1 else ""
        if cy == middle and plot_h >= 5:
            label = labels[1]
        row = Text(label.rjust(axis_w - 1) + " ┤" if label else " " * axis_w + "│", axis)
        for cx in range(plot_w):
            cell = bits[cy][cx]
            if cell:
                row.append(chr(0x2800 + cell), style_of(owner[cy][cx]))
            else:
                row.append(" ")
        rows.append(row)
    gap = max(1, plot_w - len(first) - len(last))
    rows.append(Text(" " * (axis_w + 1) + first + " " * gap + last, axis))
    legend = Text(" " * axis_w)
    for index, line in enumerate(series):
        latest = next((v for v in reversed(line.values) if v is not None), None)
        legend.append("━━ ", style_of(index))
        legend.append(line.name, "bold")
        legend.append(f" {fmt(latest) if latest is not None else '-'}   ")
    rows.append(legend)
    return rows[:height]


def spark_rows(
    series: Sequence[Series],
    width: int,
    height: int,
    style_of: Callable[[int], Style],
    *,
    fmt: Callable[[float], str] = percent,
) -> list[Text]:
    """One row per series: name, block sparkline, latest value."""
    name_w = min(max((len(s.name) for s in series), default=0), 16)
    rows = []
    for index, line in enumerate(series[:height]):
        latest = next((v for v in reversed(line.values) if v is not None), None)
        tail = f" {fmt(latest) if latest is not None else '-':>5}"
        spark_w = max(width - name_w - 1 - len(tail), 1)
        values = [v if v is not None else 0.0 for v in line.values]
        row = Text(column(line.name, name_w) + " ", "bold")
        row.append(spark(values, spark_w).ljust(spark_w), style_of(index))
        row.append(tail, "bold")
        rows.append(row)
    return rows


class BrandChart(Drawn):
    """A titled chart of per-brand series: braille lines with room, sparklines without."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "brand-chart--title",
        *(f"brand-chart--series-{i}" for i in range(SERIES_STYLES)),
    }

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: list[Series] = []
        self.first = ""
        self.last = ""
        self.top: float | None = 1.0
        self.note = "no data"
        self.draws = 0
        """How many times it drew (tests check it draws on new data only)."""

    def style_of(self, index: int) -> Style:
        return self.get_component_rich_style(f"brand-chart--series-{index % SERIES_STYLES}")

    def show(
        self,
        series: list[Series],
        *,
        first: str = "",
        last: str = "",
        top: float | None = 1.0,
        note: str = "no data",
    ) -> None:
        """New data: draw it (the only call that redraws, besides a resize)."""
        self.series, self.first, self.last, self.top, self.note = series, first, last, top, note
        self.refresh()

    def draw(self, width: int, height: int) -> list[Text]:
        self.draws += 1
        title = Text(self.title, self.get_component_rich_style("brand-chart--title"))
        if not self.series or not any(v is not None for s in self.series for v in s.values):
            return [title, Text(self.note, "italic")]
        body = height - 1
        if body >= len(self.series) + CHART_EXTRA_ROWS + 2:
            rows = line_chart(
                self.series,
                width,
                body,
                self.style_of,
                top=self.top,
                first=self.first,
                last=self.last,
            )
        else:
            rows = spark_rows(self.series, width, body, self.style_of)
        return [title, *rows]
