"""Access control and TLS against a real hub: each role's token allows what it should
and nothing more, refusals say why, and wss/https work with a private CA."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest
import trustme
import websockets

from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Access, Connected, Disconnected, StreamClient, stream_url
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from tests.deadline import SAFETY
from tests.test_hub import mention, small_config

TOKENS = {
    Role.FEED: "feed-token-0123456789abcdef",
    Role.DISPLAY: "display-token-0123456789abcdef",
    Role.ANALYST: "analyst-token-0123456789abcdef",
    Role.ADMIN: "admin-token-0123456789abcdef",
}
UNKNOWN = "nobody-knows-this-token-0123456789"

#: (what, roles allowed). Everything else must be refused.
ALLOWED = {
    "ingest": {Role.FEED, Role.ADMIN},
    "stream": {Role.DISPLAY, Role.ANALYST, Role.ADMIN},
    "triage": {Role.ANALYST, Role.ADMIN},
    "metrics": {Role.ADMIN},
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    tokens = Tokens.from_pairs([(role, tok, f"{role}-1") for role, tok in TOKENS.items()])
    h, runner, port = await start_hub(
        small_config(), port=0, tokens=tokens, store_path=tmp_path / "gc.db"
    )
    # The mentions the triage tests act on: the hub refuses actions on unknown ones.
    assert h.writer is not None
    await h.writer.write_mentions([stored_mention(i) for i in (1, 7)])
    yield h, f"127.0.0.1:{port}"
    await runner.cleanup()


def stored_mention(i: int) -> Mention:
    """Mention ``seed:<i>``, as the hub would store it (a source of its own: the
    ingest tests send x:0 to x:4)."""
    m = msgspec.convert(mention(i, source="seed"), Mention, strict=False)
    m.id = m.key
    return m


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def attempt(addr: str, what: str, token: str | None) -> tuple[int, str]:
    """Try ``what`` with ``token``; (HTTP status or 101 for an accepted websocket, body)."""
    if what in ("ingest", "stream"):
        try:
            async with websockets.connect(
                f"ws://{addr}/{what}", additional_headers=auth(token), open_timeout=SAFETY
            ):
                return 101, ""
        except websockets.InvalidStatus as exc:
            return exc.response.status_code, (exc.response.body or b"").decode()
    async with aiohttp.ClientSession() as http:
        if what == "metrics":
            resp = await http.get(f"http://{addr}/metrics", headers=auth(token))
        else:
            body = {"mention_id": "seed:1", "action": "label", "label": "support"}
            resp = await http.post(f"http://{addr}/triage", json=body, headers=auth(token))
        async with resp:
            return resp.status, await resp.text()


@pytest.mark.parametrize("what", sorted(ALLOWED))
async def test_each_role_may_do_exactly_what_it_should(hub: tuple[Hub, str], what: str) -> None:
    _hub, addr = hub
    ok = {"ingest": 101, "stream": 101, "triage": 200, "metrics": 200}[what]
    for role, token in TOKENS.items():
        status, body = await attempt(addr, what, token)
        if role in ALLOWED[what]:
            assert status == ok, (role, what, status, body)
        else:
            assert status == 403, (role, what, status, body)
            assert f"a{'n' if role[0] in 'aeiou' else ''} {role} token may not" in body
            assert token not in body
    for token, reason in ((None, "no token"), (UNKNOWN, "unknown token")):
        status, body = await attempt(addr, what, token)
        assert status == 401 and reason in body, (what, status, body)
    status, body = await attempt(addr, what, "Basic dXNlcjpwYXNz")
    assert status == 401


async def test_health_is_open_and_refusals_are_counted(hub: tuple[Hub, str]) -> None:
    h, addr = hub
    async with aiohttp.ClientSession() as http, http.get(f"http://{addr}/healthz") as resp:
        assert resp.status == 200
    await attempt(addr, "ingest", None)
    await attempt(addr, "ingest", TOKENS[Role.DISPLAY])
    assert h.denied == {("/ingest", 401): 1, ("/ingest", 403): 1}
    status, text = await attempt(addr, "metrics", TOKENS[Role.ADMIN])
    assert status == 200
    assert 'groundcontrol_auth_denied_total{path="/ingest",status="401"} 1' in text


async def test_triage_is_stored_with_the_analyst_as_actor(hub: tuple[Hub, str]) -> None:
    h, addr = hub
    async with aiohttp.ClientSession() as http:
        body = {"mention_id": "seed:1", "action": "escalate", "note": "battery swelling"}
        async with http.post(
            f"http://{addr}/triage", json=body, headers=auth(TOKENS[Role.ANALYST])
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["actor"] == "analyst-1"
        for bad in ({"mention_id": "seed:1", "action": "delete"}, {"action": "label"}, [1]):
            async with http.post(
                f"http://{addr}/triage", json=bad, headers=auth(TOKENS[Role.ANALYST])
            ) as resp:
                assert resp.status == 400
                assert "bad triage action" in await resp.text()
    assert h.writer is not None
    stats = await asyncio.to_thread(h.writer.store.stats)
    assert stats["triage_actions"] == 1


async def test_a_hub_without_tokens_refuses_everyone_with_the_reason(tmp_path: Path) -> None:
    _h, runner, port = await start_hub(small_config(), port=0, tokens=Tokens())
    try:
        for what in ALLOWED:
            status, body = await attempt(f"127.0.0.1:{port}", what, TOKENS[Role.ADMIN])
            assert status == 401 and "no tokens configured" in body
    finally:
        await runner.cleanup()


async def test_clients_report_a_refusal_and_ingest_with_the_right_token(
    hub: tuple[Hub, str],
) -> None:
    h, addr = hub
    events = StreamClient(stream_url(f"ws://{addr}"), access=Access(token=None)).events()
    first = await anext(events)
    await events.aclose()
    assert isinstance(first, Disconnected)
    assert "HTTP 401: no token" in first.reason

    client = IngestClient(f"ws://{addr}", name="f", access=Access(token=TOKENS[Role.FEED]))
    client.start()
    try:
        import msgspec

        await client.submit([msgspec.convert(mention(i), Mention) for i in range(5)])
        assert await client.drain(10)
    finally:
        await client.close()
    assert h.counters.ingested == 5


# ---------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_wss_and_https_with_a_private_ca(ca: trustme.CA, tmp_path: Path) -> None:
    server = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tokens = Tokens.from_pairs([(Role.ADMIN, TOKENS[Role.ADMIN], "admin")])
    h, runner, port = await start_hub(small_config(), port=0, tokens=tokens, ssl_context=context)
    try:
        access = Access(token=TOKENS[Role.ADMIN], ca_file=str(ca_file))
        client = IngestClient(f"wss://127.0.0.1:{port}", name="tls", access=access)
        client.start()
        import msgspec

        await client.submit([msgspec.convert(mention(i), Mention) for i in range(3)])
        assert await client.drain(10)
        await client.close()
        assert h.counters.ingested == 3

        events = StreamClient(stream_url(f"https://127.0.0.1:{port}"), access=access).events()
        assert isinstance(await anext(events), Connected)
        await events.aclose()

        # Without the CA the client refuses the hub, and says what to do about it.
        untrusting = StreamClient(
            stream_url(f"wss://127.0.0.1:{port}"), access=Access(token=TOKENS[Role.ADMIN])
        ).events()
        refused = await anext(untrusting)
        await untrusting.aclose()
        assert isinstance(refused, Disconnected)
        assert "cannot verify the hub's certificate" in refused.reason
        assert "GROUNDCONTROL_CA_FILE" in refused.reason

        client_ctx = ssl.create_default_context(cafile=str(ca_file))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"https://127.0.0.1:{port}/healthz", ssl=client_ctx) as resp,
        ):
            assert resp.status == 200
            assert json.loads(await resp.text())["status"] == "ok"
    finally:
        await runner.cleanup()


def test_hub_command_refuses_bad_tls_and_token_setups(tmp_path: Path) -> None:
    def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [sys.executable, "-m", "groundcontrol", "hub", "--port", "0", "--no-store", *args],
            capture_output=True,
            text=True,
            timeout=SAFETY,
            env={**os.environ, **(env or {})},
        )

    done = hub("--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(tmp_path / "k"))
    assert done.returncode == 2 and "missing.pem: no such file" in done.stderr
    done = hub("--tls-cert", str(tmp_path / "c.pem"))
    assert done.returncode == 2 and "needs both --tls-cert and --tls-key" in done.stderr
    done = hub(env={"GROUNDCONTROL_TOKEN_FEED": "short"})
    assert done.returncode == 2 and "GROUNDCONTROL_TOKEN_FEED" in done.stderr
    assert "short" not in done.stderr.replace("too short", "")
    config = tmp_path / "c.toml"
    config.write_text('[auth]\nadmin_token = "0123456789abcdef0123"\n')
    done = hub("--config", str(config))
    assert done.returncode == 2 and "tokens never go in the config file" in done.stderr


async def test_triage_command(hub: tuple[Hub, str]) -> None:
    import os

    h, addr = hub

    async def triage(token: str, *args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "groundcontrol",
            "triage",
            "--hub",
            f"ws://{addr}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "GROUNDCONTROL_TOKEN": token},
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, out, _ = await triage(TOKENS[Role.ANALYST], "seed:7", "label", "--label", "support")
    assert code == 0 and "recorded label on seed:7 as #1 by analyst-1" in out
    code, _, err = await triage(TOKENS[Role.DISPLAY], "seed:7", "resolve")
    assert code == 2 and "HTTP 403: a display token may not" in err
    assert h.writer is not None
    assert (await asyncio.to_thread(h.writer.store.stats))["triage_actions"] == 1
