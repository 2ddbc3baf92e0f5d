"""The meaning-colours of the wall and the console, in one place, and the themes made of them.

A colour here names what it means (positive, negative, warning...), not what it
looks like. Each :class:`Palette` fills every role; :func:`theme_for` turns one into a
Textual theme, and the stylesheets read the roles through the theme's variables
(``$success`` is positive and ok, ``$error`` negative and critical, ``$warning``
warning and stale; wall.tcss names them ``$gc-positive`` and ``$gc-negative``), so one
switch (``groundcontrol wall --theme``) recolours the wall and the console alike.

``default`` is Textual's dark theme, the look the wall has always had: green for
good, red for bad. ``colourblind`` has no red/green pair: after the Okabe-Ito colours
(Okabe & Ito 2008), sky blue for positive, vermillion for negative and critical,
yellow for warning, which stay apart under every common colour-vision deficiency
(they differ on the blue-yellow axis and in lightness), each bright enough on the
dark background to be read across a room.

Colour is never the only signal in either theme: positive and negative also have
their own glyphs (:data:`SENTIMENT_GLYPH`, :data:`MOOD_GLYPH`, kept in panels/format.py
with no textual, for the console's models) and a fixed place:
wherever both are shown, positive comes first (left, or top) and negative last
(right, or bottom), with neutral between.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from textual.theme import BUILTIN_THEMES, Theme

from groundcontrol.config import THEMES, theme_name
from panels.format import MOOD_GLYPH, SENTIMENT_GLYPH, SENTIMENT_ORDER

__all__ = [
    "MOOD_GLYPH",
    "PALETTES",
    "SENTIMENT_GLYPH",
    "SENTIMENT_ORDER",
    "Palette",
    "theme_for",
    "use_palette",
]

#: Textual's theme that the default look is, and that the others start from.
BASE_THEME = BUILTIN_THEMES["textual-dark"]


@dataclass(frozen=True)
class Palette:
    """Every meaning-colour of the wall and the console, as ``#rrggbb``."""

    name: str
    """The name ``--theme`` takes (groundcontrol.config.THEMES)."""
    positive: str
    """Good news: positive sentiment and surges, improving numbers."""
    negative: str
    """Bad news: negative sentiment and surges, worsening numbers."""
    critical: str
    """Critical incidents, a link that is down, a failed feed."""
    warning: str
    """Warnings, and data getting stale."""
    ok: str
    """Healthy: a live link, a feed that is fine."""
    accent: str
    """What draws the eye without judging: big numbers, sources, the product badge."""
    info: str
    """Info incidents, panel borders."""

    @property
    def theme_name(self) -> str:
        """The name its Textual theme is registered under."""
        return "groundcontrol" if self.name == "default" else f"groundcontrol-{self.name}"

    @property
    def stale(self) -> str:
        """An age past its freshness: the warning colour."""
        return self.warning

    @property
    def sentiment(self) -> dict[str, str]:
        """The colour of each sentiment the wall draws (neutral is the text colour)."""
        return {"positive": self.positive, "negative": self.negative}


PALETTES: dict[str, Palette] = {
    palette.name: palette
    for palette in (
        Palette(
            name="default",
            positive=BASE_THEME.success or "",
            negative=BASE_THEME.error or "",
            critical=BASE_THEME.error or "",
            warning=BASE_THEME.warning or "",
            ok=BASE_THEME.success or "",
            accent=BASE_THEME.accent or "",
            info=BASE_THEME.primary,
        ),
        Palette(
            name="colourblind",
            # Okabe-Ito sky blue, and a vermillion a shade brighter than Okabe-Ito's
            # (#D55E00) so it keeps 3.5:1 on the dark background even for a protanope,
            # who sees reds dimmer (tests/test_palette.py simulates it). Under
            # deuteranopia and protanopia one stays blue and the other turns ochre:
            # far apart in hue and lightness. White on it is 3.5:1, for badges.
            positive="#56B4E9",
            negative="#E66100",
            critical="#E66100",
            # Okabe-Ito yellow: a warning (or stale data) never passes for a critical,
            # for any eye; black text on it.
            warning="#F0E442",
            ok="#56B4E9",
            # Okabe-Ito reddish purple: the default's orange accent (big numbers, the
            # product badge) would pass for the vermillion.
            accent="#CC79A7",
            info=BASE_THEME.primary,
        ),
    )
}
assert tuple(PALETTES) == THEMES, "every theme the command line offers has a palette"


def theme_for(palette: Palette) -> Theme:
    """The Textual theme of ``palette``: Textual's dark theme with the roles in its
    success, error and warning colours, which the stylesheets use."""
    if palette.positive != palette.ok or palette.negative != palette.critical:
        raise ValueError(f"palette {palette.name}: a theme has one colour for good and one for bad")
    return dataclasses.replace(
        BASE_THEME,
        name=palette.theme_name,
        success=palette.positive,
        error=palette.negative,
        warning=palette.warning,
        accent=palette.accent,
        primary=palette.info,
    )


class ThemedApp(Protocol):
    """What :func:`use_palette` needs of an app (a Textual ``App``)."""

    theme: str

    def register_theme(self, theme: Theme) -> None: ...


def use_palette(app: ThemedApp, name: str) -> Palette:
    """Register every palette's theme on ``app`` and switch it to ``name`` (a theme
    name, "colorblind" accepted); ValueError naming the themes for an unknown one."""
    palette = PALETTES[theme_name(name)]
    for each in PALETTES.values():
        app.register_theme(theme_for(each))
    app.theme = palette.theme_name
    return palette
