"""``groundcontrol web``: signed links, the access check on every path, the analyst login,
and (slow) the wall drawn in a real headless Chromium."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from groundcontrol.cli import web as web_cli
from groundcontrol.cli.main import main
from groundcontrol.client.stream import Access
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import start_hub
from panels.web import (
    COOKIE,
    BadToken,
    Grant,
    WebServer,
    check_secret,
    sign,
    verify,
)
from tests.deadline import SAFETY, until
from tests.test_hub import small_config

SECRET = b"s" * 40
OTHER = b"o" * 40
HUB_TOKENS = {
    Role.DISPLAY: "display-token-0123456789abcdef",
    Role.ANALYST: "analyst-token-0123456789abcdef",
    Role.FEED: "feed-token-0123456789abcdef-xyz",
}
#: What the web server's apps run with (in tests, the hub's own tokens).
APP_TOKENS = {"display": HUB_TOKENS[Role.DISPLAY], "analyst": HUB_TOKENS[Role.ANALYST]}
DAY = 86400


# --------------------------------------------------------------------------- signing


def test_a_good_link_grants_display_until_it_expires() -> None:
    expires = int(time.time()) + DAY
    grant = verify(SECRET, sign(SECRET, "display", expires))
    assert (grant.role, grant.expires) == ("display", expires)


def test_an_expired_link_is_refused_with_when() -> None:
    token = sign(SECRET, "display", 1_700_000_000)
    with pytest.raises(BadToken, match=r"expired on 2023-11-14 22:13 UTC"):
        verify(SECRET, token)


@pytest.mark.parametrize("part", [1, 2, 3])
def test_a_tampered_link_is_refused(part: int) -> None:
    fields = sign(SECRET, "display", int(time.time()) + DAY).split(".")
    flipped = ("B" if fields[3][0] == "A" else "A") + fields[3][1:]
    fields[part] = {1: "analyst", 2: str(int(fields[2]) + DAY), 3: flipped}[part]
    with pytest.raises(BadToken, match="altered or signed with another secret"):
        verify(SECRET, ".".join(fields))


def test_a_link_signed_with_another_secret_is_refused() -> None:
    token = sign(OTHER, "display", int(time.time()) + DAY)
    with pytest.raises(BadToken, match="another secret"):
        verify(SECRET, token)


@pytest.mark.parametrize("token", ["", "nonsense", "v1.display.soon.mac", "v2.display.1.mac"])
def test_a_malformed_link_is_refused(token: str) -> None:
    with pytest.raises(BadToken, match="malformed link"):
        verify(SECRET, token)


def test_a_session_carries_the_name_signed_and_a_link_none() -> None:
    expires = int(time.time()) + DAY
    token = sign(SECRET, "analyst", expires, purpose="session", name="ann.o'neil")
    assert verify(SECRET, token, purpose="session").name == "ann.o'neil"
    assert verify(SECRET, sign(SECRET, "display", expires)).name == ""
    fields = token.split(".")
    fields[3] = base64.urlsafe_b64encode(b"mallory").rstrip(b"=").decode()
    with pytest.raises(BadToken, match="altered"):
        verify(SECRET, ".".join(fields), purpose="session")


def test_a_link_is_not_a_session_cookie_nor_the_reverse() -> None:
    expires = int(time.time()) + DAY
    with pytest.raises(BadToken):
        verify(SECRET, sign(SECRET, "display", expires), purpose="session")
    with pytest.raises(BadToken):
        verify(SECRET, sign(SECRET, "display", expires, purpose="session"))


def test_the_secret_must_be_set_and_long() -> None:
    with pytest.raises(ValueError, match="not set; make one with"):
        check_secret({})
    with pytest.raises(ValueError, match="too short"):
        check_secret({"GROUNDCONTROL_WEB_SECRET": "short"})
    assert check_secret({"GROUNDCONTROL_WEB_SECRET": "x" * 32}) == b"x" * 32


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * DAY), ("12h", 43200), ("2w", 14 * DAY)])
def test_durations(text: str, seconds: int) -> None:
    assert web_cli.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "0d", "-1d", "400d", "1y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        web_cli.parse_duration(text)


def test_web_link_prints_a_link_that_verifies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROUNDCONTROL_WEB_SECRET", SECRET.decode())
    assert main(["web", "link", "--for", "30d", "--base", "https://wall.example/"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://wall.example/link?t=v1.display.")
    grant = verify(SECRET, url.split("t=", 1)[1])
    assert abs(grant.expires - (time.time() + 30 * DAY)) < 60


def test_web_refuses_to_start_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GROUNDCONTROL_WEB_SECRET", raising=False)
    assert main(["web", "link", "--for", "1d"]) == 2
    assert "secrets.token_urlsafe" in capsys.readouterr().err
    assert main(["web"]) == 2


# --------------------------------------------------------------------------- the check

#: A stand-in for the wall: Textual's web driver prelude, then one data packet with
#: what the app's environment holds, then it waits for stdin to close.
_FAKE_APP = """
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("GROUNDCONTROL")}
payload = json.dumps({"env": env, "argv": sys.argv, "pid": os.getpid()}).encode()
out = sys.stdout.buffer
out.write(b"__GANGLION__\\n")
out.write(b"D" + len(payload).to_bytes(4, "big") + payload)
out.flush()
sys.stdin.buffer.read(1)  # the quit packet, or the end of input
"""


def fake_commands() -> dict[str, str]:
    return {
        role: shlex.join([sys.executable, "-c", _FAKE_APP, role]) for role in ("display", "analyst")
    }


async def refuse_all(token: str) -> tuple[int, str]:
    return 401, "unknown token"


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    server = WebServer(
        "ws://127.0.0.1:1",
        secret=SECRET,
        tokens=APP_TOKENS,
        commands=fake_commands(),
        hub_check=refuse_all,
    )
    async with TestClient(TestServer(await server.make_app())) as test_client:
        yield test_client


APP_PATHS = ["/ws", "/static/js/textual.js", "/static/css/xterm.css", "/download/x", "/nope"]


async def test_without_a_session_nothing_of_the_app_is_served(
    client: TestClient[web.Request, web.Application],
) -> None:
    index = await client.get("/")
    assert index.status == 401
    page = await index.text()
    assert "Analyst token" in page and "textual.js" not in page
    for path in APP_PATHS:
        resp = await client.get(path)
        assert resp.status == 401, path
        assert (await resp.text()).startswith("no session"), path


async def test_a_bad_link_is_refused_with_one_line(
    client: TestClient[web.Request, web.Application],
) -> None:
    expired = sign(SECRET, "display", 1_700_000_000)
    forged = sign(OTHER, "display", int(time.time()) + DAY)
    for token, why in [(expired, "expired on"), (forged, "another secret"), ("", "malformed")]:
        resp = await client.get("/link", params={"t": token})
        assert resp.status == 403
        text = await resp.text()
        assert why in text and text.count("\n") == 1
        assert COOKIE not in resp.cookies
    assert (await client.get("/static/js/textual.js")).status == 401


async def test_a_good_link_sets_a_strict_cookie_that_opens_the_wall(
    client: TestClient[web.Request, web.Application],
) -> None:
    link = sign(SECRET, "display", int(time.time()) + DAY)
    resp = await client.get("/link", params={"t": link})
    assert resp.status == 200
    assert "url=/" in await resp.text()  # moves on to the wall by itself
    morsel = resp.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict"
    assert link not in morsel.value  # a session of its own, not the link
    index = await client.get("/")
    assert index.status == 200
    assert "textual.js" in await index.text()
    assert (await client.get("/static/js/textual.js")).status == 200
    assert (await client.get("/static/")).status in (403, 404)  # no listing

    async with client.ws_connect("/ws?width=100&height=30") as ws:
        message = await asyncio.wait_for(ws.receive(), SAFETY)
        seen = json.loads(message.data)
    assert seen["argv"][-1] == "display"  # the display's app
    assert seen["env"]["GROUNDCONTROL_TOKEN"] == APP_TOKENS["display"]
    assert "GROUNDCONTROL_ACTOR" not in seen["env"]  # a wall acts for nobody
    assert not [k for k in seen["env"] if k.startswith("GROUNDCONTROL_WEB")]
    assert all(APP_TOKENS["display"] not in arg for arg in seen["argv"])
    await until(lambda: not alive(seen["pid"]), "the app to end with its browser session")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_tampered_cookie_or_another_site_is_refused(
    client: TestClient[web.Request, web.Application],
) -> None:
    client.session.cookie_jar.update_cookies({COOKIE: "v1.analyst.9999999999.forged"})
    resp = await client.get("/")
    assert resp.status == 401 and "altered" in await resp.text()
    assert (await client.get("/ws")).status == 401
    good = sign(SECRET, "display", int(time.time()) + DAY, purpose="session")
    client.session.cookie_jar.update_cookies({COOKIE: good})
    assert (await client.get("/")).status == 200
    resp = await client.get("/ws", headers={"Origin": "https://evil.example"})
    assert resp.status == 403


# --------------------------------------------------------------------------- login


@pytest.fixture
async def hub_url(tmp_path: Path) -> AsyncIterator[str]:
    tokens = Tokens.from_pairs([(role, token, role.value) for role, token in HUB_TOKENS.items()])
    _hub, runner, port = await start_hub(
        small_config(), host="127.0.0.1", port=0, tokens=tokens, store_path=tmp_path / "gc.db"
    )
    yield f"ws://127.0.0.1:{port}"
    await runner.cleanup()


async def test_login_with_an_analyst_token_opens_the_console(hub_url: str) -> None:
    server = WebServer(hub_url, secret=SECRET, tokens=APP_TOKENS, commands=fake_commands())
    async with TestClient(TestServer(await server.make_app())) as client:
        refused = await client.post("/login", data={"token": HUB_TOKENS[Role.DISPLAY]})
        assert refused.status == 403 and "not an analyst token" in await refused.text()
        unknown = await client.post("/login", data={"token": "nobody-0123456789abcdef"})
        assert unknown.status == 401 and "unknown token" in await unknown.text()
        assert (await client.get("/")).status == 401

        resp = await client.post(
            "/login", data={"token": HUB_TOKENS[Role.ANALYST]}, allow_redirects=False
        )
        assert resp.status == 303 and resp.headers["Location"] == "/"
        assert resp.cookies[COOKIE]["samesite"] == "Strict"
        assert (await client.get("/")).status == 200
        async with client.ws_connect("/ws") as ws:
            seen = json.loads((await asyncio.wait_for(ws.receive(), SAFETY)).data)
        assert seen["argv"][-1] == "analyst"
        assert seen["env"]["GROUNDCONTROL_TOKEN"] == APP_TOKENS["analyst"]
        # Who logged in (their token's name on the hub) is who the console acts for.
        assert seen["env"]["GROUNDCONTROL_ACTOR"] == "analyst"


async def test_a_login_from_another_site_is_refused(hub_url: str) -> None:
    server = WebServer(hub_url, secret=SECRET, tokens=APP_TOKENS, commands=fake_commands())
    async with TestClient(TestServer(await server.make_app())) as client:
        resp = await client.post(
            "/login",
            data={"token": HUB_TOKENS[Role.ANALYST]},
            headers={"Origin": "https://evil.example"},
        )
        assert resp.status == 403 and COOKIE not in resp.cookies


# --------------------------------------------------------------------------- a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Where the browser's screenshot goes: docs/screenshots/ when GROUNDCONTROL_SCREENSHOTS
#: is set (to refresh the README's picture), else the test's own directory.
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "web-wall.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands on one page."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            reply = await asyncio.wait_for(self.ws.receive_json(), SAFETY)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    async def eval(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path) -> AsyncIterator[DevTools]:
    assert CHROMIUM is not None
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - a browser for the test's whole length
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1600,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            pages: list[dict[str, Any]] = []

            async def listed() -> bool:
                nonlocal pages
                try:
                    async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                        pages = [p for p in await resp.json() if p.get("type") == "page"]
                except aiohttp.ClientError:
                    return False
                return bool(pages)

            await until(listed, "chromium's DevTools")
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tools = DevTools(ws)
                await tools.call("Page.enable")
                yield tools
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
async def test_a_browser_draws_the_wall_from_a_link_and_nothing_without(tmp_path: Path) -> None:
    from feeds.demo import run_demo_feed

    tokens = Tokens.from_pairs([(role, token, role.value) for role, token in HUB_TOKENS.items()])
    _hub, hub_runner, hub_port = await start_hub(
        small_config(), host="127.0.0.1", port=0, demo=True, tokens=tokens
    )
    hub = f"ws://127.0.0.1:{hub_port}"
    feed = asyncio.create_task(
        run_demo_feed(hub, rate=40.0, seed=7, access=Access(token=HUB_TOKENS[Role.FEED]))
    )
    server = WebServer(hub, secret=SECRET, tokens=APP_TOKENS)
    runner = web.AppRunner(await server.make_app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with chromium(tmp_path) as browser:
            # Without a token: the login page, and no terminal.
            await browser.call("Page.navigate", url=f"{base}/")
            await until(
                lambda: browser.eval("document.readyState === 'complete' && document.title"),
                "the page without a token",
            )
            assert await browser.eval("document.title") == "Ground Control: log in"
            assert not await browser.eval("!!document.querySelector('.textual-terminal')")

            # Through a display link: the wall, drawn.
            link = sign(SECRET, "display", int(time.time()) + DAY)
            await browser.call("Page.navigate", url=f"{base}/link?t={link}")

            async def drawn() -> bool:
                return bool(
                    await browser.eval(
                        "!!document.body && document.body.classList.contains('-first-byte')"
                    )
                )

            await until(drawn, "the wall's first bytes in the browser")
            assert await browser.eval("location.pathname") == "/"
            await asyncio.sleep(6)  # the demo feed's first mentions, and a few ticks
            shot = await browser.call("Page.captureScreenshot", format="png")
            png = base64.b64decode(shot["data"])
            shot_path = (
                DOCS_SCREENSHOT
                if os.environ.get("GROUNDCONTROL_SCREENSHOTS")
                else tmp_path / "web-wall.png"
            )
            shot_path.parent.mkdir(parents=True, exist_ok=True)
            shot_path.write_bytes(png)
            assert png.startswith(b"\x89PNG") and len(png) > 20_000  # not a blank page
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await runner.cleanup()
        await hub_runner.cleanup()


def test_a_display_link_may_carry_the_layout_it_shows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("GROUNDCONTROL_WEB_SECRET", SECRET.decode())
    assert main(["web", "link", "--for", "1d", "--layout", "console"]) == 0
    grant = verify(SECRET, capsys.readouterr().out.strip().split("t=", 1)[1])
    assert (grant.role, grant.layout, grant.name) == ("display", "console", "")
    session = verify(
        SECRET,
        sign(SECRET, grant.role, grant.expires, purpose="session", name=grant.detail),
        purpose="session",
    )
    assert session.layout == "console"
    server = WebServer(
        "http://hub:1", secret=SECRET, tokens={"display": "t" * 32}, config="/etc/gc/site.toml"
    )
    command = shlex.split(server.command_for(session))
    assert command[-4:] == ["--config", "/etc/gc/site.toml", "--layout", "console"]
    assert "--layout" not in shlex.split(server.command_for(Grant("display", grant.expires)))
    assert main(["web", "link", "--for", "1d", "--layout", "lobby"]) == 2
    assert "no layout named 'lobby'" in capsys.readouterr().err
    # A link for one layout cannot be turned into a link for another.
    token = sign(SECRET, "display", grant.expires, name="console")
    head, mac = token.rsplit(".", 1)
    forged = head.rsplit(".", 1)[0] + "." + base64.urlsafe_b64encode(b"wall").decode() + "." + mac
    with pytest.raises(BadToken, match="altered"):
        verify(SECRET, forged)
