"""Small, pure formatting helpers shared by the panels.

Everything here turns numbers into short strings a person can read from across a
room: abbreviated counts, ages, block sparklines and share bars. No textual here,
so these are tested and reused without an app.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from rich.cells import cell_len, set_cell_size

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
#: Positive, neutral, negative in the order they are always shown: left to right, or
#: top to bottom (colour is never the only signal: see panels/palette.py).
SENTIMENT_ORDER = ("positive", "neutral", "negative")
#: A sentiment share or a single mention's label: up for positive, down for negative.
SENTIMENT_GLYPH: dict[str, str] = {"positive": "▲", "neutral": "●", "negative": "▼"}
#: The mood of a net score (a story, a topic, a brand, an author): plus, dot, minus.
MOOD_GLYPH: dict[str, str] = {"positive": "⊕", "neutral": "⊙", "negative": "⊖"}
#: Eighth blocks for a horizontal bar, from one eighth to a full cell.
BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"


def abbreviate(count: float) -> str:
    """1234 -> "1.2k", 1_234_567 -> "1.2M": reach and totals in a few cells.

    At most four characters below a thousand billions ("999k", "9.9M"), which is
    what big numbers reserve room for: 999_960 is "1M", not "1000k".
    """
    n = abs(count)
    sign = "-" if count < 0 else ""
    if round(n) < 1000:
        return f"{sign}{n:.0f}"
    for limit, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "B")):
        value = n / limit
        # One decimal only while it adds information (1.2M, but 12M not 12.3M).
        text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
        if float(text) < 1000 or suffix == "B":
            break
    return f"{sign}{text.removesuffix('.0')}{suffix}"


def duration(seconds: float) -> str:
    """A compact age: "0s", "42s", "3m12s", "1h04m", "2d03h"."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def span(seconds: float) -> str:
    """A window length in the unit people say it in: "90 s", "5 min", "2 h"."""
    s = int(seconds)
    if s % 3600 == 0 and s >= 3600:
        return f"{s // 3600} h"
    if s % 60 == 0 and s >= 60:
        return f"{s // 60} min"
    return f"{s} s"


def clock_time(at: float, tz: tzinfo | None, *, seconds: bool = True) -> str:
    """Wall-clock time of a unix timestamp in ``tz`` (None: the local zone)."""
    moment = datetime.fromtimestamp(at, tz)
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def percent(share: float) -> str:
    """A share in [0, 1] as a whole percentage: 0.523 -> "52%"."""
    return f"{round(share * 100):d}%"


def signed(net: float) -> str:
    """Net sentiment in [-1, 1] as a signed score out of 100: 0.42 -> "+42"."""
    value = round(net * 100)
    return f"+{value}" if value > 0 else f"{value}"


def spark(values: Sequence[float], width: int) -> str:
    """A one-line block sparkline of ``values`` in at most ``width`` cells.

    Scaled from zero (not from the minimum) so a flat, quiet series looks flat and
    low instead of being stretched into noise; each cell is the max of its bucket so
    a short spike is never averaged away.
    """
    if width <= 0 or not values:
        return ""
    if len(values) > width:
        # Integer bounds: with a float step, (i + 1) * step can fall just short of
        # len(values) for the last cell, and the newest value would be dropped.
        n = len(values)
        values = [
            max(values[i * n // width : max((i + 1) * n // width, i * n // width + 1)])
            for i in range(width)
        ]
    top = max(max(values), 0.0)
    low = min(min(values), 0.0)
    span = top - low
    if span <= 0:
        return SPARK_BLOCKS[0] * len(values)
    last = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[round((v - low) / span * last)] for v in values)


def bar(share: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide, filled to ``share`` in eighths of a cell."""
    if width <= 0:
        return ""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BAR_EIGHTHS[part] if part else "")
    return text.ljust(width)


def split_widths(shares: Sequence[float], width: int) -> list[int]:
    """Split ``width`` cells between ``shares`` so the parts add up exactly.

    Largest-remainder rounding, so a stacked bar is always exactly ``width`` wide and
    a non-zero share never disappears while there is room for it.
    """
    total = sum(max(s, 0.0) for s in shares)
    if width <= 0 or total <= 0:
        return [0 for _ in shares]
    exact = [max(s, 0.0) / total * width for s in shares]
    cells = [int(e) for e in exact]
    order = sorted(range(len(shares)), key=lambda i: exact[i] - cells[i], reverse=True)
    for i in order[: width - sum(cells)]:
        cells[i] += 1
    # Give a visible cell to any non-zero share that rounded to nothing.
    for i, share in enumerate(shares):
        if share > 0 and cells[i] == 0:
            donor = max(range(len(cells)), key=lambda j: cells[j])
            if cells[donor] > 1:
                cells[donor] -= 1
                cells[i] = 1
    return cells


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells with an ellipsis; pad nothing.

    Counts cells, not characters, so wide characters (CJK, emoji) never push a
    column out of line.
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…"


def column(text: str, width: int) -> str:
    """Exactly ``width`` cells: cut with an ellipsis, or padded with spaces."""
    return set_cell_size(fit(text, width), max(width, 0))
