"""``groundcontrol triage``: record what you did with a mention.

* ``triage MENTION_ID ACTION``: POST the action (label, assign, escalate, resolve,
  ignore, note; ``--label``, ``--note``) to ``--hub``'s ``/triage`` with the analyst
  token from ``GROUNDCONTROL_TOKEN``, and print the recorded action's number and actor.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from groundcontrol.cli.common import DEFAULT_HUB, fail

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``triage`` to ``sub``."""
    triage = sub.add_parser(
        "triage", help="record what you did with a mention (analyst token in GROUNDCONTROL_TOKEN)"
    )
    triage.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    triage.add_argument("mention_id", help='the mention\'s id, "<source>:<source id>"')
    triage.add_argument(
        "action", choices=["label", "assign", "escalate", "resolve", "ignore", "note"]
    )
    triage.add_argument("--label", default="", help="a label (e.g. support, sales, product)")
    triage.add_argument("--note", default="", help="free text")


def run(args: argparse.Namespace) -> int:
    """Record the action; 0 done, 2 if the hub refused it or cannot be reached."""
    from groundcontrol.client.stream import Access, http_url

    access = Access.from_env()
    url = http_url(args.hub, "/triage")
    body = json.dumps(
        {
            "mention_id": args.mention_id,
            "action": args.action,
            "label": args.label,
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
        reason = exc.read().decode("utf-8", "replace").strip()
        return fail(f"hub refused the triage action: HTTP {exc.code}: {reason}")
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        return fail(f"cannot reach {url}: {why}")
    print(f"recorded {args.action} on {args.mention_id} as #{answer['id']} by {answer['actor']}")
    return 0
