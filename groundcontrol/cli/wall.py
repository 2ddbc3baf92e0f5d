"""``groundcontrol wall``: show the wall for a hub.

* ``wall``: the Textual wall reading ``--hub``'s stream, rotating between its scenes
  every ``--rotate`` seconds.

The core never imports textual: the wall is loaded by module name (:data:`WALL_MODULE`)
only when a command that shows it runs, so ``hub``, ``feed``, ``tail`` and ``bench``
work on a machine without a terminal UI stack and the import contract stays checkable.
"""

from __future__ import annotations

import argparse
import importlib
import math
from typing import Any

from groundcontrol.cli.common import DEFAULT_HUB

__all__ = ["WALL_MODULE", "add_parser", "run", "wall_module"]

WALL_MODULE = "panels.app"


#: The wall's keys (panels/app.py, WallApp.BINDINGS), for --help: cli never imports panels.
_KEYS = """\
keys:
  1        the overview scene
  2        the listening scene
  tab      the next scene
           (a scene chosen by key stays up for five minutes before rotating again)
  escape   close an incident that took over the screen, back to the wall
  q        quit

The token comes from GROUNDCONTROL_TOKEN: a display token is enough.
"""


def _non_negative_float(text: str) -> float:
    """Seconds for ``wall --rotate``: 0 or more, finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text}")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wall`` to ``sub``."""
    wall = sub.add_parser(
        "wall",
        help="show the wall for a hub",
        description="Show the wall for a hub. It rotates between two scenes, the overview "
        "and listening (stories, influencers, triage, compliance, the newest alert "
        "explained); a new incident takes over the screen for a while.",
        epilog=_KEYS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wall.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    wall.add_argument(
        "--rotate",
        type=_non_negative_float,
        default=30.0,
        metavar="SECONDS",
        help="seconds each scene stays up before the next (default 30; 0 stays on the overview)",
    )


def wall_module() -> Any:
    """The wall's module (``make_wall``), imported only now."""
    return importlib.import_module(WALL_MODULE)


def run(args: argparse.Namespace) -> int:
    """Show the wall until it is closed; 0."""
    from groundcontrol.client.stream import Access

    app = wall_module().make_wall(args.hub, access=Access.from_env(), rotate_seconds=args.rotate)
    app.run()
    return 0
