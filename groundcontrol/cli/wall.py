"""``groundcontrol wall``: show the wall for a hub.

* ``wall``: the Textual wall reading ``--hub``'s stream in a layout (``--layout``, from
  config/layouts.toml or the ``[[layouts]]`` of ``--config``), rotating between its
  scenes; a kiosk (no key hints) that drifts a cell against burn-in (``--no-drift``)
  and resumes its rotation after a restart.

The core never imports textual: the wall is loaded by module name (:data:`WALL_MODULE`)
only when a command that shows it runs, so ``hub``, ``feed``, ``tail`` and ``bench``
work on a machine without a terminal UI stack and the import contract stays checkable.
"""

from __future__ import annotations

import argparse
import importlib
import math
from typing import Any

from groundcontrol.cli.common import DEFAULT_HUB, fail
from groundcontrol.config import CONSOLE_LAYOUT, find_layout, load_config

__all__ = ["WALL_MODULE", "add_parser", "run", "wall_module"]

WALL_MODULE = "panels.app"


#: The wall's keys (panels/app.py, WallApp.BINDINGS), for --help: cli never imports panels.
_KEYS = """\
layouts (--layout; a site adds its own with [[layouts]] in --config):
  wall     the overview and listening scenes, for the room (the default)
  oncall   one scene for 80x24: incidents, volume, sentiment, stories, mentions
  console  not a wall: run `groundcontrol console`

keys:
  1-9      the layout's scene of that number (wall: 1 overview, 2 listening)
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
        description="Show the wall for a hub in a layout from the config. The default "
        "layout, wall, rotates between two scenes, the overview and listening (stories, "
        "influencers, triage, compliance, the newest alert explained); a new incident "
        "takes over the screen for a while.",
        epilog=_KEYS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wall.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    wall.add_argument(
        "--rotate",
        type=_non_negative_float,
        default=None,
        metavar="SECONDS",
        help="seconds each scene stays up before the next (default: each scene's dwell in "
        "the layout; 0 stays on the first scene)",
    )
    wall.add_argument(
        "--layout", default="wall", metavar="NAME", help="the layout to show (default wall)"
    )
    wall.add_argument(
        "--config", metavar="FILE", help="TOML config with the site's own [[layouts]]"
    )
    wall.add_argument(
        "--no-drift",
        dest="drift",
        action="store_false",
        help="do not shift the picture a cell every few minutes (against burn-in)",
    )


def wall_module() -> Any:
    """The wall's module (``make_wall``), imported only now."""
    return importlib.import_module(WALL_MODULE)


def run(args: argparse.Namespace) -> int:
    """Show the wall until it is closed; 0. A config error (an unknown layout, a bad
    one in the file) is raised as ConfigError, as for every command."""
    from groundcontrol.client.stream import Access

    if args.layout == CONSOLE_LAYOUT:
        return fail("the console is its own app: run `groundcontrol console --hub URL`")
    layout = find_layout(load_config(args.config), args.layout)
    app = wall_module().make_wall(
        args.hub,
        access=Access.from_env(),
        rotate_seconds=args.rotate,
        layout=layout,
        drift=args.drift,
    )
    app.run()
    return 0
