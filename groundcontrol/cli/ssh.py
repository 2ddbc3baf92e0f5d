"""``groundcontrol ssh``: on call over SSH, the wall or the console in any terminal.

An SSH server that gives each connection its own wall (``display`` keys) or analyst
console (``analyst`` keys) for a hub, each in a child process on its own pty, with the
role's hub token. Public keys only, from an authorized-keys file of mode 600. The
server itself is :mod:`groundcontrol.cli.ssh_server`, imported only when this runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from groundcontrol.cli.common import DEFAULT_HUB, fail

__all__ = ["ACTOR_ENV", "ROLES", "ROLE_ARGS", "TOKEN_ENVS", "add_parser", "run"]

#: The key's name, for the child: who is on call.
ACTOR_ENV = "GROUNDCONTROL_ACTOR"
#: Each role and the command its sessions run.
ROLES: Mapping[str, str] = {"display": "wall", "analyst": "console"}
#: What each role's command is given besides the hub: someone on call over SSH gets the
#: wall's on-call layout (80x24), held still (no burn-in drift on a laptop).
ROLE_ARGS: Mapping[str, tuple[str, ...]] = {
    "display": ("--layout", "oncall", "--no-drift"),
    "analyst": (),
}
#: Each role and the environment variable its hub token comes from.
TOKEN_ENVS: Mapping[str, str] = {
    "display": "GROUNDCONTROL_SSH_TOKEN_DISPLAY",
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


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected minutes, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected minutes above 0, got {text}")
    return value


_EPILOG = f"""\
the authorized-keys file (mode 600), one key a line, # comments allowed:
  <role> <name> <key-type> <base64-key> [comment]
  display lobby   ssh-ed25519 AAAAC3Nza... the lobby screen   (gets the on-call wall)
  analyst alice   ssh-ed25519 AAAAC3Nza... alice@laptop       (gets the console)

hub tokens, one per role: {TOKEN_ENVS["display"]} (a display token, for
the wall) and {TOKEN_ENVS["analyst"]} (an analyst token, for the console).
The key's name reaches the app in {ACTOR_ENV}.

connect with: ssh -t -p PORT -i KEY HOST
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ssh`` to ``sub``."""
    ssh = sub.add_parser(
        "ssh",
        help="on call over SSH: the wall or the console for each authorized key",
        description="An SSH server that gives each connection its own wall (display keys) "
        "or analyst console (analyst keys) for a hub. Public keys only.",
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
        "--max-sessions",
        type=_positive_int,
        default=50,
        metavar="N",
        help="sessions at once; more are refused (default 50)",
    )
    ssh.add_argument(
        "--idle-minutes",
        type=_positive_minutes,
        default=60.0,
        metavar="N",
        help="close a session after this long without input (default 60)",
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
        max_sessions=args.max_sessions,
        idle_seconds=args.idle_minutes * 60,
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
