"""Who a client acts for, when a relay runs it: the person, named to the hub.

The SSH server and the web server run one hub token for everyone they let in (a
*relay*, ``[auth] relays`` on the hub). Each starts a person's app with that person's
name in ``GROUNDCONTROL_ACTOR``; the app's requests that act (triage, incident actions,
briefings) carry it in the ``X-Groundcontrol-Actor`` header, and the hub records that
name instead of the token's. The stream never carries it: watching records nobody.

The on-call wall over SSH also tells the server, by its exit status
(:data:`OPEN_CONSOLE_STATUS`), that the person asked for the console.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from groundcontrol.protocol import ACTOR_HEADER

__all__ = ["ACTOR_ENV", "ACTOR_HEADER", "OPEN_CONSOLE_STATUS", "actor_from_env", "actor_headers"]

#: The person an app acts for (set by the SSH and web servers for their children).
ACTOR_ENV = "GROUNDCONTROL_ACTOR"
#: The exit status by which the on-call wall (``wall --act --console-key``) asks the
#: SSH server that runs it for the console; the server runs the wall again after.
OPEN_CONSOLE_STATUS = 42


def actor_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The name in ``GROUNDCONTROL_ACTOR`` ("" when unset)."""
    env = os.environ if environ is None else environ
    return env.get(ACTOR_ENV, "").strip()


def actor_headers(actor: str) -> dict[str, str]:
    """The header naming ``actor`` to the hub (none for "")."""
    return {ACTOR_HEADER: actor} if actor else {}
