"""``groundcontrol brief``: tell the room what to say, on every wall, for a while.

``groundcontrol brief "TEXT" --for 15m [--severity warning]`` gives a briefing
(``POST /briefings``), ``--list`` lists the active and recent ones (``GET
/briefings``), ``--withdraw ID`` takes one down (``POST /briefings/ID/withdraw``).
The token comes from ``GROUNDCONTROL_TOKEN``; the hub records its name as who gave
or withdrew it. :func:`format_briefings` is pure, for tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from groundcontrol.cli.common import DEFAULT_HUB, HubError, hub_request
from groundcontrol.cli.incidents import parse_duration
from groundcontrol.cli.review import _one_line
from groundcontrol.client.stream import CA_FILE_ENV, TOKEN_ENV, Access
from groundcontrol.protocol import Briefing, briefing_problem

__all__ = ["add_parser", "format_briefings", "run"]

_EPILOG = f"""\
examples:
  groundcontrol brief "We know about the battery reports: the fix ships Friday" --for 2h
  groundcontrol brief "No comment on the recall until legal says so" --for 30m --severity warning
  groundcontrol brief --list
  groundcontrol brief --withdraw 12

The text is one line of 1 to 280 characters; a briefing runs from 1 minute to 7 days.
Every wall shows the newest one as a banner under its status bar until it runs out
or is withdrawn.

The token comes from {TOKEN_ENV} (a display token may list briefings; giving and
withdrawing one needs an analyst or admin token, whose name the hub records); for an
https hub, {CA_FILE_ENV} names the CA file to trust when its certificate is private.

Exit codes: 0 done, 1 the hub cannot be reached or failed, 2 bad arguments or the hub
refused (bad token, bad briefing, unknown id, one already over).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``brief`` to ``sub``."""
    p = sub.add_parser(
        "brief",
        help="put a briefing (what the room should say) on every wall for a while",
        description=(
            "Put a briefing on every wall for a while: a banner under the status bar "
            "that tells the room what to say. Or list the briefings, or withdraw one."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", metavar="TEXT", help="what to say (one line, at most 280)")
    p.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="how long it stays up: 90s, 15m, 2h, 1d (1 minute to 7 days)",
    )
    p.add_argument(
        "--severity", default="info", help="info (default) or warning (the warning colour)"
    )
    p.add_argument("--list", action="store_true", help="list the active and recent briefings")
    p.add_argument("--withdraw", metavar="ID", help="take briefing ID off the walls now")
    p.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    p.add_argument("--json", action="store_true", help="print the hub's JSON answer")


def run(args: argparse.Namespace) -> int:
    """Give, list or withdraw a briefing; return the exit code."""
    chosen = [args.text is not None, args.list, args.withdraw is not None]
    if sum(chosen) != 1:
        return _fail("give either TEXT with --for, or --list, or --withdraw ID")
    access = Access.from_env()
    try:
        if args.list:
            body = hub_request(args.hub, "/briefings", None, access)
            answer = msgspec.json.decode(body)
            briefings = msgspec.convert(answer.get("briefings", []), list[Briefing])
            now = float(answer.get("at") or time.time())
            sys.stdout.write(
                body.decode() + "\n" if args.json else format_briefings(briefings, now=now)
            )
            return 0
        if args.withdraw is not None:
            ident = str(args.withdraw).strip()
            if not (ident.isascii() and ident.isdigit()):
                return _fail(f"--withdraw takes a briefing's number, not {ident[:40]!r}")
            body = hub_request(args.hub, f"/briefings/{ident}/withdraw", None, access, "{}")
            briefing = msgspec.json.decode(body, type=Briefing)
            sys.stdout.write(
                body.decode() + "\n"
                if args.json
                else f"briefing {briefing.id} withdrawn: {_one_line(briefing.text)}\n"
            )
            return 0
        if args.duration is None:
            return _fail("a briefing needs --for DURATION: how long it stays up (15m, 2h...)")
        try:
            seconds = parse_duration(args.duration)
        except ValueError as exc:
            return _fail(str(exc))
        problem = briefing_problem(args.text, seconds, args.severity)
        if problem:
            return _fail(problem)
        payload = {"text": args.text, "seconds": seconds, "severity": args.severity}
        body = hub_request(args.hub, "/briefings", None, access, json.dumps(payload))
        briefing = msgspec.json.decode(body, type=Briefing)
    except HubError as exc:
        return _fail(str(exc), exc.code)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _fail(f"the hub's answer is not what was expected: {exc}", 1)
    if args.json:
        sys.stdout.write(body.decode() + "\n")
    else:
        left = _left(briefing.until - briefing.created_at)
        sys.stdout.write(
            f"briefing {briefing.id} on every wall for {left}"
            f" (until {_clock(briefing.until)}): {_one_line(briefing.text)}\n"
            f"Withdraw it: groundcontrol brief --withdraw {briefing.id}\n"
        )
    return 0


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _left(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_briefings(briefings: Sequence[Briefing], *, now: float) -> str:
    """One line per briefing, newest first as the hub lists them."""
    if not briefings:
        return "No briefings.\n"
    lines = []
    for b in briefings:
        if b.withdrawn_at is not None:
            state = f"withdrawn by {b.withdrawn_by or '?'} at {_clock(b.withdrawn_at)}"
        elif b.until <= now:
            state = f"over at {_clock(b.until)}"
        else:
            state = f"ON THE WALLS, {_left(b.until - now)} left"
        lines.append(f"{b.id:>5}  {b.severity.upper():<7}  {state}  (by {b.by or '?'})")
        lines.append(f"       {_one_line(b.text)}")
    return "\n".join(lines) + "\n"


def _fail(message: str, code: int = 2) -> int:
    print(f"groundcontrol brief: {message}", file=sys.stderr)
    return code
