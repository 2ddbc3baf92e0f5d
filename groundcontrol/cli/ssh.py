"""``groundcontrol ssh``: on call over SSH, the on-call view (and the console) in any terminal.

An SSH server that gives each connection the wall's on-call view of a hub, in a child
process on its own pty, with the role's hub token. What the view lets a key do is its
role: ``display`` only watches (a screen), ``oncall`` acknowledges, snoozes and
resolves incidents, ``analyst`` also opens the analyst console (``c``; quitting it
comes back). The key's name is who the hub records as acting: the analyst token the
server runs with must be a relay on the hub (``[auth] relays``). Public keys only,
from an authorized-keys file of mode 600. The server itself is
:mod:`groundcontrol.cli.ssh_server`, imported only when this runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from groundcontrol.cli.common import DEFAULT_HUB, fail
from groundcontrol.client.actor import ACTOR_ENV
from groundcontrol.config import find_layout, load_config

__all__ = [
    "ACTOR_ENV",
    "CONSOLE_ROLES",
    "LOW_BANDWIDTH_REQUEST_ENV",
    "ROLES",
    "ROLE_ARGS",
    "TOKEN_ENVS",
    "add_parser",
    "run",
]

#: Each role and the command its sessions start with: every role gets the on-call view.
ROLES: Mapping[str, str] = {"display": "wall", "oncall": "wall", "analyst": "wall"}
#: What each role's command is given besides the hub and the layout (``--layout``,
#: the on-call one by default, 80x24): held still (no burn-in drift on a laptop); keys
#: that act on incidents for oncall and analyst, and for an analyst ``c``, the console.
ROLE_ARGS: Mapping[str, tuple[str, ...]] = {
    "display": ("--no-drift",),
    "oncall": ("--no-drift", "--act"),
    "analyst": ("--no-drift", "--act", "--console-key"),
}
#: The layout every session's view shows unless ``groundcontrol ssh --layout`` says.
DEFAULT_LAYOUT = "oncall"
#: The roles whose on-call view opens the console (``wall --console-key``).
CONSOLE_ROLES = frozenset({"analyst"})
#: What a client sets (``LC_GROUNDCONTROL_LOW_BANDWIDTH=1 ssh -t host``) for a
#: low-bandwidth session: an ``LC_`` name, which Debian's and Ubuntu's ssh_config send
#: as they are (SendEnv LANG LC_*).
LOW_BANDWIDTH_REQUEST_ENV = "LC_GROUNDCONTROL_LOW_BANDWIDTH"
#: Each role and the environment variable its hub token comes from.
TOKEN_ENVS: Mapping[str, str] = {
    "display": "GROUNDCONTROL_SSH_TOKEN_DISPLAY",
    "oncall": "GROUNDCONTROL_SSH_TOKEN_ANALYST",
    "analyst": "GROUNDCONTROL_SSH_TOKEN_ANALYST",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _positive(unit: str) -> Callable[[str], float]:
    """An argparse type: a finite number of ``unit`` above 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {unit}, got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected {unit} above 0, got {text}")
        return value

    return parse


_EPILOG = f"""\
the authorized-keys file (mode 600), one key a line, # comments allowed:
  <role> <name> <key-type> <base64-key> [comment]
  display lobby   ssh-ed25519 AAAAC3Nza... the lobby screen   (watches)
  oncall  bob     ssh-ed25519 AAAAC3Nza... bob@phone          (+ k ack, s snooze, R resolve)
  analyst alice   ssh-ed25519 AAAAC3Nza... alice@laptop       (+ c opens the console)
every role gets the on-call view (80x24); the console's q comes back to it, and the
session ends when the on-call view quits (q).

hub tokens: {TOKEN_ENVS["display"]} (a display token, for display keys)
and {TOKEN_ENVS["analyst"]} (an analyst token, for oncall and analyst keys).
The key's name reaches the app in {ACTOR_ENV}, and the hub records it as who
acknowledged or triaged, if the analyst token is a relay there. On the hub:
  tokens file:  analyst <token> ssh-gateway
  config:       [auth]
                relays = ["ssh-gateway"]

connect with: ssh -t -p PORT -i KEY HOST

low bandwidth (one screen update a second, no animation, 256 colours: about 2.5
times fewer bytes, see benchmarks/ssh_bandwidth.py): --low-bandwidth or [ssh]
low_bandwidth = true for every session, or per connection from the client's side
with LC_GROUNDCONTROL_LOW_BANDWIDTH=1 in the SSH environment (Debian's and Ubuntu's
ssh_config send LC_* by default; elsewhere name it with SendEnv or SetEnv):
  LC_GROUNDCONTROL_LOW_BANDWIDTH=1 ssh -t -p PORT HOST
  ssh -o SetEnv=LC_GROUNDCONTROL_LOW_BANDWIDTH=1 -t -p PORT HOST

limits from the config's [ssh] table (--config; the options override it):
  [ssh]
  idle = "60m"          # close a session after this long without input
  stall = "30s"         # drop a session whose client stopped reading for this long
  max_sessions = 50
  low_bandwidth = false
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ssh`` to ``sub``."""
    ssh = sub.add_parser(
        "ssh",
        help="on call over SSH: the on-call view (and the console) for each authorized key",
        description="An SSH server that gives each connection the on-call view of a hub: "
        "display keys watch, oncall keys also acknowledge, snooze and resolve incidents, "
        "analyst keys also open the console. Public keys only.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssh.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    ssh.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ssh.add_argument("--port", type=int, default=2222, help="port to listen on (default 2222)")
    ssh.add_argument(
        "--host-key",
        metavar="FILE",
        help="the server's private key, made on the first start "
        "(default $XDG_STATE_HOME/groundcontrol/ssh_host_key)",
    )
    ssh.add_argument(
        "--authorized-keys",
        metavar="FILE",
        help="who may log in and as what (default $XDG_CONFIG_HOME/groundcontrol/ssh_keys)",
    )
    ssh.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config whose [ssh] table sets the limits below; its [[layouts]] and "
        "[wall] theme reach every session",
    )
    ssh.add_argument(
        "--layout",
        default=DEFAULT_LAYOUT,
        metavar="NAME",
        help=f"the wall layout every session's view shows (default {DEFAULT_LAYOUT}, which "
        "fits 80x24; a site's own from --config)",
    )
    ssh.add_argument(
        "--max-sessions",
        type=_positive_int,
        default=None,
        metavar="N",
        help="sessions at once; more are refused (default: [ssh] max_sessions, 50)",
    )
    ssh.add_argument(
        "--idle-minutes",
        type=_positive("minutes"),
        default=None,
        metavar="N",
        help="close a session after this long without input (default: [ssh] idle, 60m)",
    )
    ssh.add_argument(
        "--stall-seconds",
        type=_positive("seconds"),
        default=None,
        metavar="S",
        help="drop a session whose client has stopped reading for this long, so it "
        "holds no child and no hub connection (default: [ssh] stall, 30s)",
    )
    ssh.add_argument(
        "--low-bandwidth",
        action="store_true",
        help="every session in low-bandwidth mode: one screen update a second, no "
        "animation (default: [ssh] low_bandwidth; a client can ask per connection, see below)",
    )


def default_authorized_keys_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/groundcontrol/ssh_keys`` (``~/.config`` by default)."""
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(config) / "groundcontrol" / "ssh_keys"


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM, then end every session with a message; 2 if the
    keys or the host key are not right."""
    from groundcontrol.cli.ssh_server import (
        OnCall,
        SshSetupError,
        default_host_key_path,
        ensure_host_key,
        load_authorized_keys,
        start_server,
    )

    config = load_config(args.config)
    ssh_config = config.ssh
    find_layout(config, args.layout)  # ConfigError naming the layouts there are
    try:
        keys = load_authorized_keys(args.authorized_keys or default_authorized_keys_path())
        host_key = ensure_host_key(args.host_key or default_host_key_path())
    except SshSetupError as exc:
        return fail(str(exc))
    tokens = {role: os.environ.get(env, "").strip() or None for role, env in TOKEN_ENVS.items()}
    for role, env in TOKEN_ENVS.items():
        if tokens[role] is None and any(entry.role == role for entry in keys):
            print(
                f"groundcontrol ssh: {env} is not set: {role} sessions get no token",
                file=sys.stderr,
            )
    oncall = OnCall(
        args.hub,
        keys,
        tokens,
        max_sessions=args.max_sessions or ssh_config.max_sessions,
        idle_seconds=(args.idle_minutes * 60 if args.idle_minutes else ssh_config.seconds("idle")),
        stall_seconds=args.stall_seconds or ssh_config.seconds("stall"),
        low_bandwidth=args.low_bandwidth or ssh_config.low_bandwidth,
        layout=args.layout,
        config=str(Path(args.config).resolve()) if args.config else None,
    )

    async def serve() -> None:
        try:
            acceptor = await start_server(oncall, args.host, args.port, host_key)
        except OSError as exc:
            raise SshSetupError(
                f"cannot listen on {args.host}:{args.port}: {exc.strerror}"
            ) from None
        print(
            f"groundcontrol ssh: listening on {args.host}:{acceptor.get_port()} for "
            f"{args.hub}, {len(keys)} key{'s' if len(keys) != 1 else ''} "
            f"(host key {host_key.get_fingerprint()})",
            file=sys.stderr,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        # No new connections; each session's app ends, and the session says why.
        acceptor.close()
        await oncall.close()
        print("groundcontrol ssh: stopped", file=sys.stderr)

    try:
        asyncio.run(serve())
    except SshSetupError as exc:
        return fail(str(exc))
    return 0
