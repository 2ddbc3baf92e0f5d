"""Big numbers and big words that grow with the room they are given.

Textual's ``Digits`` draws numbers three rows tall: right over SSH, small on a wall
screen read from across a room. This module has a solid five-row block font (digits,
capitals and some punctuation) and two widgets that use it when their box allows:

* ``BigNumber`` is a ``Digits`` (same ``update``/``value`` API and CSS) that switches
  to the block font when it is five rows tall, and falls back to ``Digits`` rather
  than clip a digit.
* ``BigText`` sets a short message (an alert's) in block capitals, word-wrapped,
  and falls back to plain bold text when it would not fit.

Pixels are doubled across when that fits: terminal cells are about twice as tall
as wide, so doubled pixels are square and the text reads better.
"""

from __future__ import annotations

import unicodedata

from rich.align import Align
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
#: Thousands separators stay one cell wide at any scale so they never widen a
#: number; the decimal point is a full pixel so "9.1k" never reads as "91k".
SEPARATORS = {",": ("", "", "", "", "▄")}
BLOCK_HEIGHT = 5


def block_rows(text: str, scale: int) -> list[str] | None:
    """``text`` in the block font at ``scale`` cells per pixel across.

    Returns None when a character has no glyph, so callers fall back to a font that
    has it instead of dropping it.
    """
    if any(char not in BLOCK_FONT and char not in SEPARATORS for char in text):
        return None
    rows = ["", "", "", "", ""]
    for index, char in enumerate(text):
        gap = "" if index == 0 else " "
        if char in SEPARATORS:
            for row, cell in enumerate(SEPARATORS[char]):
                rows[row] += gap + (cell or " ")
            continue
        for row, line in enumerate(BLOCK_FONT[char]):
            rows[row] += gap + "".join(cell * scale for cell in line)
    return rows


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
    ("32k"); the short form is drawn only when the full one fits no font, so a
    number is never clipped into something else ("211,E" for "6,375"). ``value``
    stays the full form. Numbers that share a ``group`` use the same scale, so two
    numbers side by side never come out in different sizes.
    """

    def __init__(self, value: str = "", *, group: str | None = None, id: str | None = None) -> None:
        super().__init__(value, id=id)
        self.group = group
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
        for scale in (2, 1):
            for form in self._forms:
                needed = block_width(form, scale)
                if needed is not None and needed <= width:
                    return scale
        return 0

    def render(self) -> RenderResult:
        scale = self.best_scale()
        if scale and self.group is not None and self.is_attached:
            peers = [n for n in self.screen.query(BigNumber) if n.group == self.group]
            scale = min(peer.best_scale() for peer in peers)
        width = self.size.width
        if scale:
            for form in self._forms:
                rows = block_rows(form, scale)
                if rows is not None and len(rows[0]) <= width:
                    text = Text("\n".join(rows), style=self.rich_style, no_wrap=True)
                    align = self.styles.text_align
                    return Align(text, align if align in ("center", "right") else "left")
        fits = [f for f in self._forms if DigitsRenderable.get_width(f) <= width]
        shown = fits[0] if fits else self.short
        if shown == self.value:
            return super().render()
        digits = DigitsRenderable(shown, self.rich_style)
        align = self.styles.text_align
        return Align(digits, align if align in ("center", "right") else "left", self.rich_style)


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
