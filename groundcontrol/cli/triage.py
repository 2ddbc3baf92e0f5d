"""``groundcontrol triage``: record what you did with a mention.

* ``triage MENTION_ID ACTION``: POST the action (claim, assign, label, escalate,
  resolve, ignore, note; ``--label``, ``--assignee``, ``--note``) to ``--hub``'s
  ``/triage`` with the analyst token from ``GROUNDCONTROL_TOKEN``, and print the
  recorded action's number, its actor and where the mention stands now.

What can be checked here is checked before anything is sent, with the hub's own
reasons (``protocol.triage_problem``): a label that is missing or not a class, an
assign without an assignee, a note without text. What only the hub knows (whether
the mention is stored, whether the token may triage) comes back as the hub's reason.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from groundcontrol.cli.common import DEFAULT_HUB, fail
from groundcontrol.model import CATEGORIES
from groundcontrol.protocol import TRIAGE_ACTIONS, triage_problem

__all__ = ["add_parser", "run"]

_DESCRIPTION = """\
Record what you did with a mention. Every wall sees it at once.

  claim      take it: you own it now
  assign     give it to someone (--assignee NAME)
  label      set its class yourself (--label CLASS); it replaces the rules' guess
  escalate   it needs someone senior
  resolve    done: it leaves the review queue
  ignore     nothing to do: it leaves the review queue
  note       keep a remark (--note TEXT)

Only resolve and ignore take a mention off the review queue; the others keep it
there with its owner and status. --note may go with any action.
"""

_EPILOG = f"""\
classes: {", ".join(CATEGORIES)}

The token (an analyst or admin token) comes from GROUNDCONTROL_TOKEN.
Exit codes: 0 recorded, 2 refused (by this command or the hub) or the hub cannot be
reached.

examples:
  groundcontrol triage x:1861 claim
  groundcontrol triage x:1861 label --label product_problem
  groundcontrol triage x:1861 assign --assignee bob --note "knows the battery issue"
  groundcontrol triage x:1861 resolve --note "replied with the recall page"
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``triage`` to ``sub``."""
    triage = sub.add_parser(
        "triage",
        help="record what you did with a mention (analyst token in GROUNDCONTROL_TOKEN)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    triage.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    triage.add_argument("mention_id", help='the mention\'s id, "<source>:<source id>"')
    triage.add_argument("action", choices=TRIAGE_ACTIONS)
    triage.add_argument("--label", default="", help="for label: the class (see below)")
    triage.add_argument("--assignee", default="", help="for assign: who should own it")
    triage.add_argument("--note", default="", help="free text (needed for note)")


def run(args: argparse.Namespace) -> int:
    """Record the action; 0 done, 2 if it was refused or the hub cannot be reached."""
    from groundcontrol.client.stream import Access, http_url

    problem = triage_problem(args.action, label=args.label, assignee=args.assignee, note=args.note)
    if problem:
        return fail(f"triage: {problem}")
    access = Access.from_env()
    url = http_url(args.hub, "/triage")
    body = json.dumps(
        {
            "mention_id": args.mention_id,
            "action": args.action,
            "label": args.label,
            "assignee": args.assignee,
            "note": args.note,
        }
    ).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(access.headers() or {})},
    )
    context = access.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        reason = " ".join(exc.read().decode("utf-8", "replace").split())
        return fail(f"hub refused the triage action: HTTP {exc.code}: {reason}")
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        return fail(f"cannot reach {url}: {why}")
    state = answer.get("state") or {}
    status = state.get("status", "")
    owner = state.get("assignee", "")
    now = f"; now {status}" + (f" ({owner})" if owner else "") if status else ""
    print(
        f"recorded {args.action} on {args.mention_id} as #{answer['id']} by {answer['actor']}{now}"
    )
    return 0
