"""Big numbers and big words that grow with the room they are given.

Textual's ``Digits`` draws numbers three rows tall: right over SSH, small on a wall
screen read from across a room. This module has a solid five-row block font (digits,
capitals and some punctuation) and two widgets that use it when their box allows:

* ``BigNumber`` is a ``Digits`` (same ``update``/``value`` API and CSS) that switches
  to the block font when it is five rows tall, and falls back to ``Digits`` rather
  than clip a digit. Given a ``reserve`` (the widest text it must ever show), it
  picks its font from its size alone, so a growing number keeps its size.
* ``BigText`` sets a short message (an alert's) in block capitals, word-wrapped,
  and falls back to plain bold text when it would not fit.

Pixels are doubled across when that fits: terminal cells are about twice as tall
as wide, so doubled pixels are square and the text reads better.
"""

from __future__ import annotations

import unicodedata

from rich.align import Align
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.renderables.digits import Digits as DigitsRenderable
from textual.widget import Widget
from textual.widgets import Digits

Glyph = tuple[str, str, str, str, str]

#: Five-row glyphs, one string per row; all rows of one glyph have the same width.
BLOCK_FONT: dict[str, Glyph] = {
    "0": ("███", "█ █", "█ █", "█ █", "███"),
    "1": (" █ ", "██ ", " █ ", " █ ", "███"),
    "2": ("███", "  █", "███", "█  ", "███"),
    "3": ("███", "  █", " ██", "  █", "███"),
    "4": ("█ █", "█ █", "███", "  █", "  █"),
    "5": ("███", "█  ", "███", "  █", "███"),
    "6": ("███", "█  ", "███", "█ █", "███"),
    "7": ("███", "  █", "  █", "  █", "  █"),
    "8": ("███", "█ █", "███", "█ █", "███"),
    "9": ("███", "█ █", "███", "  █", "███"),
    "A": ("███", "█ █", "███", "█ █", "█ █"),
    "B": ("██ ", "█ █", "██ ", "█ █", "██ "),
    "C": ("███", "█  ", "█  ", "█  ", "███"),
    "D": ("██ ", "█ █", "█ █", "█ █", "██ "),
    "E": ("███", "█  ", "██ ", "█  ", "███"),
    "F": ("███", "█  ", "██ ", "█  ", "█  "),
    "G": ("███", "█  ", "█ █", "█ █", "███"),
    "H": ("█ █", "█ █", "███", "█ █", "█ █"),
    "I": ("███", " █ ", " █ ", " █ ", "███"),
    "J": ("  █", "  █", "  █", "█ █", "███"),
    "K": ("█ █", "█ █", "██ ", "█ █", "█ █"),
    "k": ("█  ", "█ █", "██ ", "█ █", "█ █"),
    "L": ("█  ", "█  ", "█  ", "█  ", "███"),
    "M": ("█   █", "██ ██", "█ █ █", "█   █", "█   █"),
    "N": ("█  █", "██ █", "█ ██", "█  █", "█  █"),
    "O": ("███", "█ █", "█ █", "█ █", "███"),
    "P": ("███", "█ █", "███", "█  ", "█  "),
    "Q": ("███", "█ █", "█ █", "███", "  █"),
    "R": ("██ ", "█ █", "██ ", "█ █", "█ █"),
    "S": ("███", "█  ", "███", "  █", "███"),
    "T": ("███", " █ ", " █ ", " █ ", " █ "),
    "U": ("█ █", "█ █", "█ █", "█ █", "███"),
    "V": ("█ █", "█ █", "█ █", "█ █", " █ "),
    "W": ("█   █", "█   █", "█ █ █", "██ ██", "█   █"),
    "X": ("█ █", "█ █", " █ ", "█ █", "█ █"),
    "Y": ("█ █", "█ █", "███", " █ ", " █ "),
    "Z": ("███", "  █", " █ ", "█  ", "███"),
    "+": ("   ", " █ ", "███", " █ ", "   "),
    "-": ("   ", "   ", "███", "   ", "   "),
    "%": ("█ █", "  █", " █ ", "█  ", "█ █"),
    "x": ("   ", "█ █", " █ ", "█ █", "   "),
    "#": ("█ █", "███", "█ █", "███", "█ █"),
    ":": (" ", "█", " ", "█", " "),
    "!": ("█", "█", "█", " ", "█"),
    "?": ("███", "  █", " ██", "   ", " █ "),
    "'": ("█", "█", " ", " ", " "),
    "/": ("  █", "  █", " █ ", "█  ", "█  "),
    "(": (" █", "█ ", "█ ", "█ ", " █"),
    ")": ("█ ", " █", " █", " █", "█ "),
    "&": ("██ ", "█ █", " █ ", "█ █", " ██"),
    " ": ("  ", "  ", "  ", "  ", "  "),
    ".": (" ", " ", " ", " ", "█"),
}
#: The thousands separator is drawn as a gap, never as a mark. In a block font any
#: mark low between digits is a pixel on the baseline, the same shape as "." ("8,867"
#: read as 8.867), and the short forms ("9.1k") do use "."; so digits are grouped by
#: space alone, as SI and ISO 80000 write numbers ("8 867"). The gap is one pixel
#: (``scale`` cells) plus the usual gaps on each side: three or four cells against
#: the one cell between digits, wide enough to see, too narrow for a missing digit.
GROUP_SEPARATOR = ","
BLOCK_HEIGHT = 5


def block_rows(text: str, scale: int) -> list[str] | None:
    """``text`` in the block font at ``scale`` cells per pixel across.

    Returns None when a character has no glyph, so callers fall back to a font that
    has it instead of dropping it.
    """
    if any(char not in BLOCK_FONT and char != GROUP_SEPARATOR for char in text):
        return None
    rows = ["", "", "", "", ""]
    for index, char in enumerate(text):
        gap = "" if index == 0 else " "
        if char == GROUP_SEPARATOR:
            rows = [row + gap + " " * scale for row in rows]
            continue
        for row, line in enumerate(BLOCK_FONT[char]):
            rows[row] += gap + "".join(cell * scale for cell in line)
    return rows


def digits_rows(text: str, style: Style) -> list[str]:
    """``text`` in Textual's three-row ``Digits`` font, digits grouped by a gap.

    ``Digits`` itself draws "," as a comma under the baseline, which reads as a
    decimal point as much as the block font's would; here each group is drawn on its
    own and the groups are joined by a one-cell gap (its digits touch each other).
    """
    groups: list[list[str]] = []
    for group in text.split(GROUP_SEPARATOR):
        drawn = DigitsRenderable(group, style).render(style)
        groups.append([s.text for s in drawn if isinstance(s, Segment) and s.text != "\n"])
    return [" ".join(lines[row] for lines in groups) for row in range(3)]


def digits_width(text: str) -> int:
    """Cells ``text`` takes in :func:`digits_rows` (the separator takes one)."""
    return DigitsRenderable.get_width(text)


def fold(text: str) -> str:
    """Upper case without accents ("Überhitzung" -> "UBERHITZUNG") for the block font.

    Only the block capitals lose the accents; the plain-text fallback keeps them.
    """
    decomposed = unicodedata.normalize("NFKD", text.upper())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def block_width(text: str, scale: int) -> int | None:
    rows = block_rows(text, scale)
    return None if rows is None else len(rows[0])


def _balanced_pair(words: list[str], scale: int) -> list[str] | None:
    """The two-line split of ``words`` whose longer line is shortest.

    "NORTHWIND VOLUME / 5.2X BASELINE" reads better from afar than a full first
    line over an orphan ("NORTHWIND VOLUME 5.2X / BASELINE").
    """
    best: list[str] | None = None
    best_width = 0
    for cut in range(1, len(words)):
        pair = [" ".join(words[:cut]), " ".join(words[cut:])]
        widths = [block_width(line, scale) for line in pair]
        if any(w is None for w in widths):
            return None
        widest = max(w or 0 for w in widths)
        if best is None or widest < best_width:
            best, best_width = pair, widest
    return best


class BigNumber(Digits):
    """A number as big as its box allows: 5-row blocks (2x or 1x wide), else Digits.

    ``update(value, short=...)`` takes the full form ("31,876") and a short one
    ("32k"); the short form is drawn only when the full one does not fit, so a
    number is never clipped into something else ("211,E" for "6,375"). ``value``
    stays the full form. Numbers that share a ``group`` use the same scale, so two
    numbers side by side never come out in different sizes.

    ``reserve`` is the widest text the number must show, in the form it would be
    shown in ("888k" for any count up to seven digits, whose full form would be
    shortened): the font is then the biggest that fits the reserve in this box, chosen
    from the box's size alone, and a growing number switches from its full form to
    its short one, never to a smaller font. Without a reserve the font fits the
    current value, so it changes as the value grows.
    """

    def __init__(
        self,
        value: str = "",
        *,
        group: str | None = None,
        reserve: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(value, id=id)
        self.group = group
        self.reserve = reserve
        self.short = value

    def update(self, value: str, *, short: str | None = None) -> None:
        self.short = value if short is None else short
        super().update(value)

    @property
    def _forms(self) -> tuple[str, str]:
        return (self.value, self.short)

    def best_scale(self) -> int:
        """2 or 1 for the block font at this size, 0 for the three-row Digits font."""
        width, height = self.size
        if height < BLOCK_HEIGHT:
            return 0
        planned = self._forms if self.reserve is None else (self.reserve,)
        for scale in (2, 1):
            for form in planned:
                needed = block_width(form, scale)
                if needed is not None and needed <= width:
                    return scale
        return 0

    def font_scale(self) -> int:
        """The scale this number is drawn at: its best, or its group's when smaller."""
        scale = self.best_scale()
        if scale and self.group is not None and self.is_attached:
            peers = [n for n in self.screen.query(BigNumber) if n.group == self.group]
            scale = min(peer.best_scale() for peer in peers)
        return scale

    def shown(self) -> tuple[str, int]:
        """The form drawn and its scale (0: Digits): the full form if it fits, else
        the short one; a smaller font only for a value wider than the reserve."""
        width = self.size.width
        for scale in range(self.font_scale(), 0, -1):
            for form in self._forms:
                needed = block_width(form, scale)
                if needed is not None and needed <= width:
                    return form, scale
        fits = [f for f in self._forms if digits_width(f) <= width]
        return (fits[0] if fits else self.short), 0

    def render(self) -> RenderResult:
        form, scale = self.shown()
        rows = (block_rows(form, scale) or []) if scale else digits_rows(form, self.rich_style)
        text = Text("\n".join(rows), style=self.rich_style, no_wrap=True)
        align = self.styles.text_align
        return Align(text, align if align in ("center", "right") else "left")


class BigText(Widget):
    """A short message in block capitals, word-wrapped to its width.

    Its height follows the text: 5 rows per line plus a blank row between lines,
    within ``max-height`` (CSS). When the message cannot fit that way, it is shown as
    plain bold text, so a long message is never cut mid-word.
    """

    DEFAULT_CSS = """
    BigText {
        height: auto;
        max-height: 13;
        text-align: center;
        text-style: bold;
    }
    """

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = text

    def update(self, text: str) -> None:
        self.text = text
        self.refresh(layout=True)

    def _max_rows(self) -> int | None:
        """Content rows allowed by ``max-height`` (which includes padding and border)."""
        max_height = self.styles.max_height
        if max_height is None or not max_height.is_cells:
            return None
        gutter = self.styles.gutter.height if self.styles.box_sizing == "border-box" else 0
        return int(max_height.value) - gutter

    def layout_for(self, width: int) -> list[str] | None:
        """Block rows for ``width``, or None when plain text must do."""
        words = fold(self.text).split()
        max_rows = self._max_rows()
        for scale in (2, 1):
            lines: list[str] = []
            for word in words:
                candidate = f"{lines[-1]} {word}" if lines else word
                fits = block_width(candidate, scale)
                if lines and fits is not None and fits <= width:
                    lines[-1] = candidate
                else:
                    lines.append(word)
            if not lines:
                return None
            if len(lines) == 2:
                lines = _balanced_pair(words, scale) or lines
            widths = [block_width(line, scale) for line in lines]
            if any(w is None or w > width for w in widths):
                continue
            rows_needed = len(lines) * (BLOCK_HEIGHT + 1) - 1
            if max_rows is not None and rows_needed > max_rows:
                continue
            rows: list[str] = []
            for line in lines:
                if rows:
                    rows.append("")
                rows.extend(block_rows(line, scale) or [])
            return rows
        return None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        rows = self.layout_for(width)
        if rows is not None:
            return len(rows)
        return len(Text(self.text).wrap(self.app.console, max(width, 1)))

    def render(self) -> RenderResult:
        width = self.size.width
        centered = self.styles.text_align == "center"
        rows = self.layout_for(width)
        if rows is None:
            # Plain Text, never markup: alert messages quote what people posted.
            return Text(self.text.upper(), justify="center" if centered else "left")
        if centered:
            # Centre each block line as a whole (Rich would strip each row's own
            # trailing blanks and shift the rows of one line against each other).
            rows = [" " * max((width - len(row)) // 2, 0) + row for row in rows]
        return Text("\n".join(rows), no_wrap=True)
