"""``groundcontrol console``: the analyst console for a hub.

A keyboard-driven Textual app (panels/console.py) over the hub's stream and HTTP API:
incidents, topics, sources, brands and authors live; the triage queue, search, history
and one mention in full from the hub. Like the wall it is loaded by module name
(:data:`CONSOLE_MODULE`) only when it runs, so the core never imports textual.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from groundcontrol.cli.bandwidth import (
    LowBandwidthError,
    add_low_bandwidth_argument,
    prepare_low_bandwidth,
)
from groundcontrol.cli.common import DEFAULT_HUB, HUBS_HELP, fail
from groundcontrol.cli.wall import add_theme_option
from groundcontrol.client.stream import CA_FILE_ENV, TOKEN_ENV
from groundcontrol.config import CONSOLE_LAYOUT, find_layout, load_config, pick_theme

__all__ = ["CONSOLE_MODULE", "add_parser", "console_module", "run"]

CONSOLE_MODULE = "panels.console"

#: The console's keys (panels/console*.py), for --help: cli never imports panels.
_KEYS = f"""\
views (a number key, ":" and a name with tab completion, or ctrl+p):
  1 incidents   open and recent incidents, live      6 queue     what waits for a person
  2 topics      hot topics and stories               7 search    stored mentions
  3 sources     mentions per source                  8 history   share of voice over time
  4 brands      share of voice and sentiment         9 detail    one mention in full
  5 authors     influencers

everywhere:
  enter     drill into the mentions behind a row (incident, signal, topic, source,
            brand, author), or open a mention in full
  esc       back to where you came from
  /         search: a search string (brand:Northwind #aerogate, source:bluesky,
            author:"x", ...) and a time range (15m, 2h, 7d, from..to)
  ?         every key of the view on screen
  ctrl+p    command palette: every view and action by name
  q         quit

on a mention (queue, search, detail):
  c claim  a assign  l label  e escalate  r resolve  i ignore  n note
queue: m mine, u unassigned (again: all)     search: m more results
incidents: k acknowledge, s snooze, R resolve
history: h hourly, d daily, w weekly, t time range, x export the table to CSV

The token comes from {TOKEN_ENV}: an analyst (or admin) token; the hub records its
name as who did what. For an https hub with a private certificate, {CA_FILE_ENV} names
the CA file to trust.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``console`` to ``sub``."""
    console = sub.add_parser(
        "console",
        help="the analyst console: triage, search, drill-downs and history",
        description="The analyst console for a hub: the live incidents, topics, sources, "
        "brands and authors, the triage queue, search over the stored mentions, one "
        "mention in full, and share of voice over time; drill from anything into the "
        "mentions behind it, and triage them from the keyboard.",
        epilog=_KEYS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    console.add_argument("--hub", default=DEFAULT_HUB, help=HUBS_HELP)
    console.add_argument("--config", metavar="FILE", help="TOML config with [wall] theme")
    add_theme_option(console)
    add_low_bandwidth_argument(console)


def console_module() -> Any:
    """The console's module (``make_console``), imported only now."""
    return importlib.import_module(CONSOLE_MODULE)


def run(args: argparse.Namespace) -> int:
    """Show the console until it is closed; 0."""
    from groundcontrol.client.stream import Access

    try:
        low = prepare_low_bandwidth(args)
    except LowBandwidthError as exc:
        return fail(str(exc))
    config = load_config(args.config)
    theme = pick_theme(args.theme, config)
    app = console_module().make_console(
        args.hub,
        access=Access.from_env(),
        theme=theme,
        low_bandwidth=low,
        overview=find_layout(config, CONSOLE_LAYOUT),
    )
    app.run()
    return 0
