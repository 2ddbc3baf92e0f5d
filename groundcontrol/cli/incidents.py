"""``groundcontrol incidents``, ``ack``, ``snooze`` and ``resolve``: incidents from a shell.

``incidents`` lists the hub's open and recent incidents (``GET /incidents``; ``--all``
reads every stored one); ``ack``, ``snooze`` and ``resolve`` act on one
(``POST /incidents/ID/ack|snooze|resolve``) with the analyst token from
``GROUNDCONTROL_TOKEN``, and the hub records the token's name as who did it: every
wall shows it at once. :func:`format_incidents` is pure, for tests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from groundcontrol.cli.common import DEFAULT_HUB, HubError, hub_request
from groundcontrol.cli.review import _one_line, fit
from groundcontrol.client.stream import CA_FILE_ENV, TOKEN_ENV, Access
from groundcontrol.config import duration_seconds
from groundcontrol.protocol import Incident

__all__ = ["add_parsers", "format_incidents", "parse_duration", "run"]

COMMANDS = ("incidents", "ack", "snooze", "resolve")

_EPILOG = f"""\
The token comes from {TOKEN_ENV} (a display token may list incidents; acknowledging,
snoozing and resolving need an analyst or admin token, whose name the hub records); for
an https hub, {CA_FILE_ENV} names the CA file to trust when its certificate is private.

Exit codes: 0 done, 1 the hub cannot be reached or failed, 2 bad arguments or the hub
refused (bad token, unknown incident, one already resolved).
"""


def parse_duration(text: str) -> float:
    """``"30m"``, ``"2h"``, ``"1d"``, ``"90s"`` or plain seconds; ValueError otherwise
    (:func:`groundcontrol.config.duration_seconds`)."""
    return duration_seconds(text)


def _duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``incidents``, ``ack``, ``snooze`` and ``resolve`` to ``sub``."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "incidents",
        help="list the hub's open and recent incidents",
        description=(
            "List the hub's incidents, most urgent first: unresolved ones and those "
            "resolved in the last half hour (with --all, every stored incident, newest "
            "first). One block per incident: id, kind, severity, status (who "
            "acknowledged it, and when), its size and its signals."
        ),
        epilog=_EPILOG
        + '\n--json prints the hub\'s answer: {"incidents": [{"id": ..., "kind": ..., '
        '"severity": ..., "status": ..., "started_at": ..., "signals": [...]}]}\n',
        formatter_class=fmt,
    )
    p.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    p.add_argument("--all", action="store_true", help="every stored incident, newest first")
    p.add_argument("--limit", type=int, default=50, help="at most this many (1-500, default 50)")
    p.add_argument("--json", action="store_true", help="print the hub's JSON answer")

    for name, what in (
        ("ack", "acknowledge an incident: someone is on it (shown on every wall)"),
        ("snooze", "hide an incident from takeovers and notifications for a while"),
        ("resolve", "declare an incident handled"),
    ):
        q = sub.add_parser(
            name,
            help=what + " (analyst token)",
            description=what[0].upper() + what[1:] + ". The hub records who (the token's "
            "name) and when, in the incident's history.",
            epilog=_EPILOG,
            formatter_class=fmt,
        )
        q.add_argument("id", metavar="ID", help="the incident's id (groundcontrol incidents)")
        q.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
        q.add_argument("--note", default="", help="why (kept in the incident's history)")
        q.add_argument("--json", action="store_true", help="print the updated incident as JSON")
        if name == "snooze":
            q.add_argument(
                "--for",
                dest="seconds",
                type=_duration_arg,
                default=3600.0,
                metavar="DURATION",
                help="how long: 30m, 2h, 1d... (default 1h, at most 7d)",
            )


def run(args: argparse.Namespace) -> int:
    """Run one of the commands; return the exit code."""
    access = Access.from_env()
    try:
        if args.command == "incidents":
            if not 1 <= args.limit <= 500:
                return _fail("incidents", f"--limit must be from 1 to 500, not {args.limit}")
            params = {"limit": str(args.limit)}
            if args.all:
                params["all"] = "1"
            body = hub_request(args.hub, "/incidents", params, access)
            answer = msgspec.json.decode(body)
            incidents = msgspec.convert(answer.get("incidents", []), list[Incident])
            if args.json:
                sys.stdout.write(body.decode() + "\n")
            else:
                width = shutil.get_terminal_size((100, 24)).columns
                sys.stdout.write(format_incidents(incidents, now=time.time(), width=width))
            return 0
        payload: dict[str, object] = {}
        if args.note:
            payload["note"] = args.note
        if args.command == "snooze":
            payload["seconds"] = args.seconds
        body = hub_request(
            args.hub, f"/incidents/{args.id}/{args.command}", None, access, json.dumps(payload)
        )
        incident = msgspec.json.decode(body, type=Incident)
    except HubError as exc:
        return _fail(args.command, str(exc), exc.code)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _fail(args.command, f"the hub's answer is not what was expected: {exc}", 1)
    if args.json:
        sys.stdout.write(body.decode() + "\n")
    else:
        sys.stdout.write(
            f"{incident.id}: {_status(incident, time.time())}\n  {_one_line(incident.title)}\n"
        )
    return 0


# ---------------------------------------------------------------------- text

_KIND = {"negative": "NEGATIVE SURGE", "positive": "POSITIVE SURGE", "neutral": "VOLUME SURGE"}


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(now: float, t: float) -> str:
    s = max(0, int(now - t))
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def _status(inc: Incident, now: float) -> str:
    if inc.status == "acknowledged":
        return f"ACKNOWLEDGED by {inc.acked_by or '?'} {_ago(now, inc.acked_at or now)}"
    if inc.status == "snoozed":
        until = inc.snoozed_until or now
        return f"SNOOZED until {_clock(until)}"
    if inc.status == "resolved":
        if inc.resolved_by:
            return f"RESOLVED by {inc.resolved_by} {_ago(now, inc.resolved_at or now)}"
        return f"ENDED by itself {_ago(now, inc.ended_at or inc.resolved_at or now)}"
    return "OPEN, nobody has acknowledged it"


def format_incidents(incidents: Sequence[Incident], *, now: float, width: int = 100) -> str:
    """One block per incident, at most ``width`` columns wide."""
    width = max(width, 60)
    if not incidents:
        return "No incidents.\n"
    lines: list[str] = []
    for inc in incidents:
        kind = f"{inc.severity.upper()}  {_KIND[inc.kind]}"
        head = f"{_one_line(inc.id)}  {kind}  {_status(inc, now)}"
        lines.append(fit(head, width).rstrip())
        lines.append(fit("  " + _one_line(inc.title), width).rstrip())
        size = f"  started {_clock(inc.started_at)} ({_ago(now, inc.started_at)}), "
        size += f"{inc.ratio:.1f}x usual volume"
        if inc.kind == "negative" or inc.negative_share >= 0.3:
            size += (
                f", {inc.negative_share:.0%} of the surge negative"
                f" (usually {inc.baseline_negative_share:.0%})"
            )
        lines.append(fit(size, width).rstrip())
        for s in inc.signals[:6]:
            state = "" if s.active else " (back to normal)"
            numbers = f"{s.peak:,.0f}/min at peak vs {s.baseline:,.1f}/min"
            text = f"    {s.kind:<8} {_one_line(s.label)}: {numbers}{state}"
            lines.append(fit(text, width).rstrip())
        if inc.top_terms:
            terms = ", ".join(_one_line(t) for t in inc.top_terms)
            lines.append(fit("    terms: " + terms, width).rstrip())
        lines.append("")
    open_ = [i for i in incidents if i.status == "open"]
    if open_:
        lines.append(f"Acknowledge one: groundcontrol ack {open_[0].id}")
    return "\n".join(lines) + "\n"


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"groundcontrol {command}: {message}", file=sys.stderr)
    return code
