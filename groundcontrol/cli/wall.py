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

from groundcontrol.cli.bandwidth import (
    LowBandwidthError,
    add_low_bandwidth_argument,
    prepare_low_bandwidth,
)
from groundcontrol.cli.common import DEFAULT_HUB, HUBS_HELP, fail
from groundcontrol.client.actor import OPEN_CONSOLE_STATUS
from groundcontrol.config import THEME_ENV, THEMES, find_layout, load_config, pick_theme, theme_name

__all__ = ["WALL_MODULE", "add_parser", "add_theme_option", "run", "wall_module"]

WALL_MODULE = "panels.app"


#: The wall's keys (panels/app.py, WallApp.BINDINGS), for --help: cli never imports panels.
_KEYS = """\
layouts (--layout; a site adds its own with [[layouts]] in --config):
  wall     the overview and listening scenes, for the room (the default)
  oncall   one scene for 80x24: incidents, volume, sentiment, stories, mentions
  console  the analyst's overview (the console shows it on o): tiles, incidents, stories

keys:
  1-9      the layout's scene of that number (wall: 1 overview, 2 listening)
  tab      the next scene
           (a scene chosen by key stays up for five minutes before rotating again)
  escape   close an incident that took over the screen, back to the wall
  q        quit

with --act (on call: a key hint line at the foot names the incident the keys act on):
  k        acknowledge the incident       s  snooze it for 30 minutes
  R        resolve it                     up/down  pick another incident
  c        (with --console-key) open the console; the SSH server comes back here

The token comes from GROUNDCONTROL_TOKEN: a display token is enough for a wall;
--act needs an analyst token. Run by a relay for a person (the SSH server), the name
in GROUNDCONTROL_ACTOR is who the hub records as acting.
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


def _theme(text: str) -> str:
    """A theme for ``--theme``: one of THEMES, or another spelling of one."""
    try:
        return theme_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_theme_option(parser: argparse.ArgumentParser) -> None:
    """``--theme`` for the wall and the console (cli never imports panels: the names
    come from groundcontrol.config.THEMES)."""
    parser.add_argument(
        "--theme",
        type=_theme,
        choices=THEMES,
        default=None,
        help=f"colours: default, or colourblind (no red/green pair; colorblind too); "
        f"default: ${THEME_ENV}, else [wall] theme in --config, else default",
    )


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
    wall.add_argument("--hub", default=DEFAULT_HUB, help=HUBS_HELP)
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
        "--config",
        metavar="FILE",
        help="TOML config with the site's own [[layouts]] and [wall] theme",
    )
    wall.add_argument(
        "--no-drift",
        dest="drift",
        action="store_false",
        help="do not shift the picture a cell every few minutes (against burn-in)",
    )
    add_theme_option(wall)
    add_low_bandwidth_argument(wall)
    wall.add_argument(
        "--act",
        action="store_true",
        help="on call, not a kiosk: k, s and R acknowledge, snooze and resolve incidents "
        "(an analyst token), with a key hint line",
    )
    wall.add_argument(
        "--console-key",
        action="store_true",
        help=f"with --act: c quits with status {OPEN_CONSOLE_STATUS}, which the SSH server "
        "takes as 'open the console'",
    )


def wall_module() -> Any:
    """The wall's module (``make_wall``), imported only now."""
    return importlib.import_module(WALL_MODULE)


def run(args: argparse.Namespace) -> int:
    """Show the wall until it is closed; 0. A config error (an unknown layout, a bad
    one in the file) is raised as ConfigError, as for every command."""
    from groundcontrol.client.stream import Access

    try:
        low = prepare_low_bandwidth(args)
    except LowBandwidthError as exc:
        return fail(str(exc))
    if args.console_key and not args.act:
        return fail("--console-key needs --act (the key hint line and the keys)")
    config = load_config(args.config)
    layout = find_layout(config, args.layout)
    theme = pick_theme(args.theme, config)
    app = wall_module().make_wall(
        args.hub,
        access=Access.from_env(),
        rotate_seconds=args.rotate,
        layout=layout,
        drift=args.drift,
        theme=theme,
        low_bandwidth=low,
        act=args.act,
        console_key=args.console_key,
    )
    app.run()
    # OPEN_CONSOLE_STATUS when c asked for the console; 1 if the app failed.
    return int(getattr(app, "return_code", None) or 0)
