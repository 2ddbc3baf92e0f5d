"""Shared pieces of the listening scene's panels: one palette, moods and small words.

The listening panels (stories, influencers, triage, compliance, the alert explained)
draw text rows like the overview's tables. They share one set of component classes,
styled once in wall.tcss, and the same reading of sentiment: a glyph (⊕ ⊙ ⊖) and a
colour, never the colour alone.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.style import Style

from panels.base import Drawn
from panels.format import MOOD_GLYPH
from panels.sentiment import NEUTRAL_BAND

__all__ = ["MOOD_GLYPH", "Listing", "Mood", "category_name", "mood"]

Mood = Literal["positive", "neutral", "negative"]


def mood(net: float) -> Mood:
    """Net sentiment in [-1, 1] as a word, with a neutral band around zero."""
    if net > NEUTRAL_BAND:
        return "positive"
    if net < -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def category_name(key: str) -> str:
    """A triage category as people say it: "product_problem" -> "product problem"."""
    return key.replace("_", " ") if key else "no guess"


class Listing(Drawn):
    """A drawn list with the listening scene's shared styles."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "listing--muted",
        "listing--heading",
        "listing--rank",
        "listing--count",
        "listing--positive",
        "listing--neutral",
        "listing--negative",
        "listing--new",
        "listing--brand",
        "listing--bar",
        "listing--flag",
        "listing--warning",
        "listing--warning-badge",
        "listing--ok",
        "listing--empty",
        "listing--critical",
        "listing--info",
        "listing--ended",
    }

    def part(self, name: str) -> Style:
        """The style of one part of a row (``listing--<name>`` in wall.tcss)."""
        return self.get_component_rich_style(f"listing--{name}")
