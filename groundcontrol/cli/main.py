"""The ``groundcontrol`` command: the top-level parser and the dispatch.

``groundcontrol`` with no arguments runs hub, demo feed and wall in one process on
a free loopback port (:mod:`groundcontrol.cli.embedded`). Each sub-command lives in
its own module of :mod:`groundcontrol.cli`, with an ``add_parser(sub)`` and a
``run(args)``: ``hub``, ``feed``, ``wall``, ``console``, ``tail``, ``triage``, ``bench``,
``export``, ``backtest``, ``sentiment``, ``review``, ``search``, ``history``, ``ssh``, ``web``, and
``incidents`` with ``ack``, ``snooze`` and ``resolve``, ``brief``, and for several
machines (``[bus]``) ``worker`` and ``store-writer``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from groundcontrol import __version__
from groundcontrol.cli import (
    backtest,
    bench,
    brief,
    console,
    embedded,
    export,
    feed,
    history,
    hub,
    incidents,
    review,
    search,
    sentiment,
    ssh,
    tail,
    triage,
    wall,
    web,
    worker,
)
from groundcontrol.cli.common import fail, positive_float
from groundcontrol.config import ConfigError

__all__ = ["build_parser", "main"]

#: Each sub-command's runner; ``None`` (no command) runs the embedded default.
COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: embedded.run,
    "hub": hub.run,
    "feed": feed.run,
    "wall": wall.run,
    "web": web.run,
    "console": console.run,
    "tail": tail.run,
    "triage": triage.run,
    "bench": bench.run,
    "export": export.run,
    "backtest": backtest.run,
    "sentiment": sentiment.run,
    "review": review.run,
    "search": search.run,
    "history": history.run,
    "ssh": ssh.run,
    **dict.fromkeys(("incidents", "ack", "snooze", "resolve"), incidents.run),
    "brief": brief.run,
    **dict.fromkeys(("worker", "store-writer"), worker.run),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the embedded default's options and every sub-command."""
    parser = argparse.ArgumentParser(
        prog="groundcontrol",
        description=(
            "Ground Control: a social-listening command center in the terminal. "
            "With no command, runs a hub, the demo feed and a wall in one process."
        ),
    )
    parser.add_argument("--version", action="version", version=f"groundcontrol {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config (default: config/default.toml)"
    )
    parser.add_argument("--rate", type=positive_float, help="demo mentions per second")
    parser.add_argument("--seed", type=int, help="demo random seed")
    wall.add_theme_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # In this order in --help.
    hub.add_parser(sub)
    feed.add_parser(sub)
    wall.add_parser(sub)
    web.add_parser(sub)
    console.add_parser(sub)
    tail.add_parser(sub)
    triage.add_parser(sub)
    bench.add_parser(sub)
    export.add_parser(sub)
    backtest.add_parser(sub)
    sentiment.add_parser(sub)
    review.add_parser(sub)
    search.add_parser(sub)
    history.add_parser(sub)
    ssh.add_parser(sub)
    incidents.add_parsers(sub)
    brief.add_parser(sub)
    worker.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = COMMANDS.get(args.command)
    if command is None:
        parser.error(f"unknown command {args.command!r}")
    try:
        return command(args)
    except ConfigError as exc:
        return fail(f"bad config: {exc}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
