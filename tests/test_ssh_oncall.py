"""On call over SSH, end to end: an ``analyst`` key's session acknowledges an incident
on a real hub, which records the key's name (the server's token is a relay), and
``c`` opens the console, whose ``q`` comes back to the on-call view.

The real server on a free port, asyncssh as the client, the real wall and console as
the session's children; the screen is read from the bytes the session sends.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from groundcontrol.config import AuthConfig
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import start_hub
from tests.deadline import until
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, open_incident
from tests.test_ssh import Keys, OnCall, Screen, connect, serve

RELAY = "ssh-gateway-token-0123456789abcdef"


async def test_an_analyst_acknowledges_as_themself_and_opens_the_console(
    tmp_path: Path,
) -> None:
    tokens = Tokens.from_pairs(
        [(Role.DISPLAY, TOKENS[Role.DISPLAY], "lobby-wall"), (Role.ANALYST, RELAY, "ssh-gateway")]
    )
    config = dataclasses.replace(small_config(), auth=AuthConfig(relays=("ssh-gateway",)))
    hub, runner, hub_port = await start_hub(
        config, port=0, tokens=tokens, store_path=tmp_path / "gc.db"
    )
    keys = Keys()
    oncall = OnCall(
        f"http://127.0.0.1:{hub_port}",
        keys.authorized,
        {"display": TOKENS[Role.DISPLAY], "analyst": RELAY},
    )
    try:
        async with serve(oncall, tmp_path) as port, connect(port, keys.alice) as conn:
            process = await conn.create_process(
                term_type="xterm-256color", term_size=(80, 24), encoding=None
            )
            screen = Screen(process)
            pump = conn.create_task(screen.pump())
            await until(lambda: b"c console" in screen.text(), "the on-call view's key hints")
            incident_id = open_incident(hub)
            # On the bar, or on the card if it took over the screen: k acts on it either way.
            await until(lambda: b"Northwind" in screen.text(), "the incident on screen")

            process.stdin.write(b"k")
            book = hub.analytics.incidents
            await until(
                lambda: book.get(incident_id).acked_by == "alice",  # type: ignore[union-attr]
                "the hub to record alice's ack",
            )
            await until(lambda: b"by alice" in screen.text(), "the ack on the screen")

            process.stdin.write(b"c")
            await until(lambda: b"Search" in screen.text(), "the console (its footer)")
            seen = len(screen.text())
            process.stdin.write(b"q")  # the console quits: back to the on-call view
            await until(lambda: b"c console" in screen.text()[seen:], "the on-call view again")
            # Settled (live on the hub's stream, the incident on its bar) before a key:
            # a key sent while the app is still starting up may be lost.
            await until(lambda: "▸ 1/1".encode() in screen.text()[seen:], "the view live again")
            assert oncall.sessions  # still the same session

            process.stdin.write(b"q")  # the on-call view quits: the session ends
            await process.wait_closed()
            await pump
        assert process.exit_status == 0
    finally:
        await runner.cleanup()
