"""Bytes per minute on the wire for an SSH wall session, with and without low bandwidth.

    .venv/bin/python benchmarks/ssh_bandwidth.py                    # 60 s at 80x24
    .venv/bin/python benchmarks/ssh_bandwidth.py --seconds 30 --size 240x67
    .venv/bin/python benchmarks/ssh_bandwidth.py --json

Starts, in this process, a hub on a free loopback port with the demo feed pushing to
it (``--rate``, ``--seed``; the config's ``[demo]`` by default) and ``groundcontrol
ssh``'s server (:class:`groundcontrol.cli.ssh_server.OnCall`) for it, whose sessions
run the real wall (``python -m groundcontrol wall --layout oncall --no-drift``, as a
display key gets). Two asyncssh clients then open a session each at the same terminal
size, at the same time: one as it comes, one that asks for low-bandwidth mode the way
a user does (``LC_GROUNDCONTROL_LOW_BANDWIDTH=1`` in the SSH environment). Each
client reaches the server through its own loopback TCP relay that counts the bytes
from server to client, so the figures are what crosses the wire: the SSH framing,
MAC and encryption included (no compression), not only the terminal output.

The count starts once both walls have drawn their first screen and hold their own
stream connection to the hub (the bytes until then are printed apart) and runs for
``--seconds``; it prints bytes per minute for each session, what the terminal received
of them, and the ratio. Both sessions see
the same hub, the same demo stream and the same incidents, so the ratio is what to
quote; the absolute figures follow the demo's rate and what happens in the minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from feeds.demo import run_demo_feed
from groundcontrol.cli.ssh import LOW_BANDWIDTH_REQUEST_ENV
from groundcontrol.cli.ssh_server import (  # type: ignore[attr-defined]  # asyncssh, quietly
    OnCall,
    asyncssh,
    ensure_host_key,
    parse_authorized_keys,
    start_server,
)
from groundcontrol.client.stream import Access
from groundcontrol.config import load_config
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import start_hub

#: What the wall's status bar says once it has drawn (as it reaches the terminal,
#: among escape codes: the letters are contiguous).
FIRST_SCREEN = b"GROUND CONTROL"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def terminal_size(text: str) -> tuple[int, int]:
    """ "80x24" -> (80, 24)."""
    try:
        columns, rows = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected COLUMNSxROWS such as 80x24, got {text!r}"
        ) from None
    if not (20 <= columns <= 1000 and 5 <= rows <= 500):
        raise argparse.ArgumentTypeError(f"expected a terminal size, got {text!r}")
    return columns, rows


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value < 3600:
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to 3600, got {text}")
    return value


class Relay:
    """A loopback TCP relay to ``port`` that counts the bytes going back to the client."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.to_client = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.port)

        def count(n: int) -> None:
            self.to_client += n

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, counted: Callable[[int], None]
        ) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    counted(len(data))
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(ConnectionError, OSError):
                dst.close()

        await asyncio.gather(
            pipe(client_r, server_w, lambda _n: None), pipe(server_r, client_w, count)
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@dataclass
class Session:
    """One client: its relay, its terminal's bytes, when it first drew."""

    name: str
    relay: Relay
    terminal: int = 0
    seen: bytes = b""
    drawn_at: float | None = None
    record: BinaryIO | None = None


async def open_session(
    session: Session,
    port: int,
    key: asyncssh.SSHKey,
    size: tuple[int, int],
    env: dict[str, str],
) -> tuple[asyncssh.SSHClientConnection, asyncssh.SSHClientProcess[bytes]]:
    relay_port = await session.relay.start()
    conn = await asyncssh.connect(
        "127.0.0.1", relay_port, username="oncall", client_keys=[key], known_hosts=None
    )
    process = await conn.create_process(
        term_type="xterm-256color", term_size=size, env=env, encoding=None
    )
    return conn, process


async def pump(session: Session, process: asyncssh.SSHClientProcess[bytes]) -> None:
    while chunk := await process.stdout.read(65536):
        session.terminal += len(chunk)
        if session.record is not None:
            session.record.write(chunk)
        if session.drawn_at is None:
            if FIRST_SCREEN in session.seen + chunk:
                session.drawn_at = time.monotonic()
            session.seen = chunk[-len(FIRST_SCREEN) :]  # the words may span two reads


async def measure(args: argparse.Namespace) -> dict[str, object]:
    config = load_config(args.config)
    feed_token, display_token = "bench-feed-" + os.urandom(8).hex(), os.urandom(16).hex()
    tokens = Tokens.from_pairs(
        [(Role.FEED, feed_token, "bench-feed"), (Role.DISPLAY, display_token, "bench-wall")]
    )
    hub, runner, hub_port = await start_hub(
        config, host="127.0.0.1", port=0, demo=True, tokens=tokens
    )
    hub_url = f"ws://127.0.0.1:{hub_port}"
    feed = asyncio.create_task(
        run_demo_feed(
            hub_url,
            rate=args.rate or config.demo.rate,
            seed=config.demo.seed if args.seed is None else args.seed,
            access=Access(token=feed_token),
        )
    )
    key = asyncssh.generate_private_key("ssh-ed25519")
    keys = parse_authorized_keys(
        f"display bench {key.export_public_key().decode().strip()}\n", "bench"
    )
    with tempfile.TemporaryDirectory(prefix="gc-ssh-bench-") as tmp:
        # The walls keep their rotation under XDG_STATE_HOME: not the user's.
        environ = {**os.environ, "XDG_STATE_HOME": tmp}
        oncall = OnCall(hub_url, keys, {"display": display_token}, environ=environ)
        acceptor = await start_server(
            oncall, "127.0.0.1", 0, ensure_host_key(Path(tmp) / "host_key")
        )
        sessions = [
            Session("normal", Relay(acceptor.get_port())),
            Session("low-bandwidth", Relay(acceptor.get_port())),
        ]
        envs: list[dict[str, str]] = [{}, {LOW_BANDWIDTH_REQUEST_ENV: "1"}]
        if args.record:
            args.record.mkdir(parents=True, exist_ok=True)
            for s in sessions:
                s.record = (args.record / f"{s.name}.out").open("wb")
        opened = [
            await open_session(s, acceptor.get_port(), key, args.size, env)
            for s, env in zip(sessions, envs, strict=True)
        ]
        pumps = [
            asyncio.create_task(pump(s, process))
            for s, (_conn, process) in zip(sessions, opened, strict=True)
        ]
        try:
            say(f"hub {hub_url} with the demo feed; waiting for both walls to draw")
            deadline = time.monotonic() + 60
            # Drawn, and on the hub's stream: each wall has its own connection.
            while any(s.drawn_at is None for s in sessions) or len(hub.subscribers) < 2:
                if time.monotonic() > deadline:
                    waiting = [s.name for s in sessions if s.drawn_at is None]
                    raise SystemExit(
                        f"after 60 s: not drawn: {', '.join(waiting) or 'none'}; "
                        f"{len(hub.subscribers)} of 2 walls on the hub's stream"
                    )
                await asyncio.sleep(0.1)
            first = {s.name: s.relay.to_client for s in sessions}
            start_wire = {s.name: s.relay.to_client for s in sessions}
            start_term = {s.name: s.terminal for s in sessions}
            stream_clients = len(hub.subscribers)
            say(f"both drawn ({stream_clients} hub stream clients); counting {args.seconds:g} s")
            await asyncio.sleep(args.seconds)
            results: dict[str, object] = {
                "seconds": args.seconds,
                "size": f"{args.size[0]}x{args.size[1]}",
                "stream_clients": stream_clients,
            }
            per_minute = 60.0 / args.seconds
            for s in sessions:
                results[s.name] = {
                    "wire_bytes_per_minute": round(
                        (s.relay.to_client - start_wire[s.name]) * per_minute
                    ),
                    "terminal_bytes_per_minute": round(
                        (s.terminal - start_term[s.name]) * per_minute
                    ),
                    "first_screen_wire_bytes": first[s.name],
                }
        finally:
            for _conn, process in opened:
                process.stdin.write(b"q")
            for conn, _process in opened:
                conn.close()
            for task in pumps:
                task.cancel()
            acceptor.close()
            await oncall.close()
            for s in sessions:
                s.relay.close()
                if s.record is not None:
                    s.record.close()
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            await runner.cleanup()
    normal = results["normal"]
    low = results["low-bandwidth"]
    assert isinstance(normal, dict) and isinstance(low, dict)
    results["ratio"] = round(
        normal["wire_bytes_per_minute"] / max(1, low["wire_bytes_per_minute"]), 2
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Bytes per minute on the wire for an SSH wall session, with and "
        "without low-bandwidth mode, against a hub with the demo feed."
    )
    parser.add_argument(
        "--seconds", type=positive_seconds, default=60.0, help="how long to count (default 60)"
    )
    parser.add_argument(
        "--size",
        type=terminal_size,
        default=(80, 24),
        metavar="COLUMNSxROWS",
        help="the terminals' size (default 80x24)",
    )
    parser.add_argument("--rate", type=float, default=None, help="demo mentions a second")
    parser.add_argument("--seed", type=int, default=None, help="the demo's random seed")
    parser.add_argument("--config", metavar="FILE", help="the hub's config (default: shipped)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="also write what each terminal received to DIR/normal.out and "
        "DIR/low-bandwidth.out (to replay with cat, or to see what a redraw sends)",
    )
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{results['size']}, {results['seconds']:g} s, {results['stream_clients']} hub streams")
    for name in ("normal", "low-bandwidth"):
        row = results[name]
        assert isinstance(row, dict)
        print(
            f"  {name:<14} {row['wire_bytes_per_minute']:>10,} bytes/min on the wire "
            f"({row['terminal_bytes_per_minute']:,} to the terminal; first screen "
            f"{row['first_screen_wire_bytes']:,})"
        )
    print(f"  normal / low-bandwidth: {results['ratio']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
