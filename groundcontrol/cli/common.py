"""What several commands share: the default hub URL, argument types, the error line and
the site (a config with the feeds it names)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from groundcontrol.config import Config, load_config

if TYPE_CHECKING:
    from feeds.registry import FeedSpec

__all__ = ["DEFAULT_HUB", "fail", "load_site", "positive_float"]

DEFAULT_HUB = "ws://127.0.0.1:8765"


def positive_float(text: str) -> float:
    """An argument type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def fail(message: str, code: int = 2) -> int:
    """Print ``groundcontrol: message`` on stderr; return ``code`` for the exit status."""
    print(f"groundcontrol: {message}", file=sys.stderr)
    return code


def load_site(path: str | None) -> tuple[Config, tuple[FeedSpec, ...]]:
    """The config and its feeds, each ``[feeds.NAME]`` table read by its adapter:
    ConfigError names the file and key of whatever is wrong, before anything starts."""
    from feeds.registry import specs_from_config

    config = load_config(path)
    return config, specs_from_config(config)
