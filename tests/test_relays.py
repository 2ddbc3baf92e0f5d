"""Relays: tokens the hub trusts to act for named people (``[auth] relays``), the
``X-Groundcontrol-Actor`` header, ``GET /whoami``, and the clients that send it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from groundcontrol.client.actor import ACTOR_ENV
from groundcontrol.client.api import ApiError, HubApi
from groundcontrol.client.stream import Access
from groundcontrol.config import AuthConfig, ConfigError, parse_config
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import Hub, start_hub
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, open_incident

RELAY = "relay-token-0123456789abcdef"
HEADER = "X-Groundcontrol-Actor"


def relay_tokens() -> Tokens:
    return Tokens.from_pairs(
        [
            (Role.DISPLAY, TOKENS[Role.DISPLAY], "lobby-wall"),
            (Role.ANALYST, TOKENS[Role.ANALYST], "alice"),
            (Role.ANALYST, RELAY, "ssh-gateway"),
        ]
    )


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    config = dataclasses.replace(small_config(), auth=AuthConfig(relays=("ssh-gateway",)))
    h, runner, port = await start_hub(
        config, port=0, tokens=relay_tokens(), store_path=tmp_path / "gc.db"
    )
    yield h, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def call(
    method: str, url: str, token: str, actor: str | None = None, body: object = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if actor is not None:
        headers[HEADER] = actor
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, headers=headers) as resp,
    ):
        text = await resp.text()
        return resp.status, (await resp.json()) if resp.content_type == "application/json" else text


async def test_a_relay_is_recorded_as_the_person_it_names(hub: tuple[Hub, str]) -> None:
    h, base = hub
    incident_id = open_incident(h)
    status, body = await call("POST", f"{base}/incidents/{incident_id}/ack", RELAY, "bob")
    assert status == 200 and body["acked_by"] == "bob"
    status, body = await call(
        "POST", f"{base}/briefings", RELAY, "carol", {"text": "say the fix ships", "seconds": 600}
    )
    assert status == 200 and body["by"] == "carol"
    # Without the header the relay is itself, as any token is.
    status, body = await call("POST", f"{base}/incidents/{incident_id}/resolve", RELAY)
    assert status == 200 and body["resolved_by"] == "ssh-gateway"


async def test_whoami_says_the_recorded_name_and_the_role(hub: tuple[Hub, str]) -> None:
    _, base = hub
    assert await call("GET", f"{base}/whoami", RELAY, "bob") == (
        200,
        {"name": "bob", "role": "analyst"},
    )
    assert await call("GET", f"{base}/whoami", TOKENS[Role.DISPLAY]) == (
        200,
        {"name": "lobby-wall", "role": "display"},
    )
    status, text = await call("GET", f"{base}/whoami", "nobody-0123456789abcdef")
    assert status == 401 and "unknown token" in text


async def test_only_a_relay_may_name_someone_and_only_with_a_good_name(
    hub: tuple[Hub, str],
) -> None:
    h, base = hub
    incident_id = open_incident(h)
    status, text = await call(
        "POST", f"{base}/incidents/{incident_id}/ack", TOKENS[Role.ANALYST], "bob"
    )
    assert status == 403
    assert text == "token alice may not act for others (add it to [auth] relays)\n"
    for bad in ("bob smith", "x" * 101):
        status, text = await call("POST", f"{base}/incidents/{incident_id}/ack", RELAY, bad)
        assert status == 400 and text.startswith(f"bad {HEADER} header: "), bad
    assert h.analytics.incidents.get(incident_id).status == "open"  # type: ignore[union-attr]


async def test_hubapi_names_its_actor_from_the_argument_or_the_environment(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, base = hub
    async with HubApi(base, Access(token=RELAY), actor="dave") as api:
        assert (await api.whoami()).name == "dave"
        incident = await api.incident_action(open_incident(h), "ack")
        assert incident.acked_by == "dave"
    monkeypatch.setenv(ACTOR_ENV, "erin")
    async with HubApi(base, Access(token=RELAY)) as api:
        assert (await api.whoami()).name == "erin"
    async with HubApi(base, Access(token=TOKENS[Role.ANALYST])) as api:
        with pytest.raises(ApiError) as caught:
            await api.whoami()
    assert caught.value.status == 403 and "may not act for others" in caught.value.reason


def test_a_relay_with_a_bad_name_is_refused_naming_file_and_key() -> None:
    assert parse_config('[auth]\nrelays = ["ssh-gateway"]\n').auth.relays == ("ssh-gateway",)
    with pytest.raises(ConfigError) as caught:
        parse_config('[auth]\nrelays = ["ssh gateway"]\n', "site.toml")
    assert str(caught.value).startswith("site.toml: auth.relays[0]: not a token name")


def test_the_hub_will_not_start_with_a_relay_that_names_no_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from groundcontrol.cli.main import main

    for var in [v for v in os.environ if v.startswith("GROUNDCONTROL_TOKEN_")]:
        monkeypatch.delenv(var)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"analyst {RELAY} ssh-gateway\n")
    tokens.chmod(0o600)
    site = tmp_path / "site.toml"
    site.write_text(f'[auth]\ntokens_file = "{tokens}"\nrelays = ["ssh-gateway", "web-gatway"]\n')
    assert main(["hub", "--config", str(site), "--no-store", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"{site}: auth.relays[1]: no token is named 'web-gatway'" in err


async def test_the_command_line_names_its_actor_from_the_environment(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from groundcontrol.cli.common import hub_request

    _, base = hub
    monkeypatch.setenv(ACTOR_ENV, "frank")
    body = await asyncio.to_thread(hub_request, base, "/whoami", None, Access(token=RELAY))
    assert json.loads(body) == {"name": "frank", "role": "analyst"}
