"""What ``groundcontrol web`` serves: the wall and the console in a browser, behind a check.

textual-serve runs a Textual app per browser session (one process per websocket) and
has no access control of its own, so everything it serves here goes through
:func:`WebServer.guard` first, an aiohttp middleware on every path (the page, the
websocket, the static files, downloads):

* ``GET /link?t=TOKEN``: a display link. ``TOKEN`` is signed (HMAC-SHA256 with the
  server's secret over the role and the expiry, :func:`sign`); a good one sets a
  session cookie (HttpOnly, SameSite=Strict, Secure over https) and sends the browser
  on to ``/``; an expired or tampered one is refused with 403 and one line saying why.
* ``GET /login`` and ``POST /login``: the analyst's form. The posted hub token is
  checked against the hub (``GET /whoami`` with it: an analyst or admin token, and
  its name on the hub); a good one gets an analyst session cookie that carries the
  name. The token itself is not kept: the console runs with the server's own analyst
  token, and ``GROUNDCONTROL_ACTOR`` set to that name, so the hub records the person
  who logged in as acting (the server's token must be a relay there: ``[auth]
  relays``).
* Anything else needs a valid session cookie: without one ``/`` answers the login page
  (401) and every other path 401 or 403 with one line, so nothing of the app is served.

The session's role picks the app: ``python -m groundcontrol wall --hub URL`` for a
display, ``console`` for an analyst, with ``GROUNDCONTROL_TOKEN`` set in the child's
environment (never on its command line) from ``GROUNDCONTROL_WEB_TOKEN_DISPLAY`` or
``GROUNDCONTROL_WEB_TOKEN_ANALYST``, and an analyst's name in ``GROUNDCONTROL_ACTOR``;
the child's environment loses this server's secret and every other token variable.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from groundcontrol.client.actor import ACTOR_ENV
from groundcontrol.client.api import ApiError, HubApi
from groundcontrol.client.stream import CA_FILE_ENV, Access

__all__ = [
    "ANALYST_SESSION_SECONDS",
    "COOKIE",
    "SECRET_ENV",
    "TOKEN_ENVS",
    "BadToken",
    "Grant",
    "WebServer",
    "check_secret",
    "sign",
    "verify",
]

log = logging.getLogger("groundcontrol.web")

SECRET_ENV = "GROUNDCONTROL_WEB_SECRET"
MIN_SECRET_LENGTH = 32
MAKE_SECRET_HINT = (
    f"make one with: export {SECRET_ENV}=$(python -c "
    "'import secrets; print(secrets.token_urlsafe(48))')"
)
WebRole = Literal["display", "analyst"]
ROLES: tuple[WebRole, ...] = ("display", "analyst")
#: The hub token each role's app runs with, from this server's environment.
TOKEN_ENVS: dict[WebRole, str] = {
    "display": "GROUNDCONTROL_WEB_TOKEN_DISPLAY",
    "analyst": "GROUNDCONTROL_WEB_TOKEN_ANALYST",
}
COOKIE = "gc_web_session"
#: How long an analyst's login lasts.
ANALYST_SESSION_SECONDS = 12 * 3600
#: How long an app may take to quit when its browser goes away, before it is killed.
QUIT_SECONDS = 5.0
_VERSION = "v1"
Purpose = Literal["link", "session"]


class BadToken(Exception):
    """A link or cookie that is refused; the message is one line for the browser."""


@dataclass(frozen=True)
class Grant:
    """What a good link or cookie allows: a role until ``expires`` (Unix seconds), for
    the person ``name`` (an analyst's name on the hub; "" for a display link), or for a
    display the wall ``layout`` it shows ("": the default)."""

    role: WebRole
    expires: int
    name: str = ""
    layout: str = ""

    @property
    def detail(self) -> str:
        """What the token signs besides role and expiry: the person, or the layout."""
        return self.layout if self.role == "display" else self.name


def check_secret(environ: Mapping[str, str]) -> bytes:
    """The signing secret from ``GROUNDCONTROL_WEB_SECRET``; ValueError saying how to
    make one if it is missing or shorter than 32 characters."""
    secret = environ.get(SECRET_ENV, "").strip()
    if not secret:
        raise ValueError(f"{SECRET_ENV} is not set; {MAKE_SECRET_HINT}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{SECRET_ENV} is too short ({len(secret)} characters; at least "
            f"{MIN_SECRET_LENGTH}); {MAKE_SECRET_HINT}"
        )
    return secret.encode("utf-8")


def _mac(secret: bytes, purpose: Purpose, role: str, expires: int, name: str = "") -> str:
    message = f"groundcontrol-web|{_VERSION}|{purpose}|{role}|{expires}"
    if name:  # after the digits of expires: no other token signs the same text
        message += f"|{name}"
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return _b64(digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> str:
    """The text of :func:`_b64`; ValueError if it is not that."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")


def sign(
    secret: bytes, role: WebRole, expires: int, purpose: Purpose = "link", name: str = ""
) -> str:
    """A token for ``role`` until ``expires``: ``v1.ROLE.EXPIRES.MAC``, or with a
    ``name`` (base64url, as it may hold dots) ``v1.ROLE.EXPIRES.NAME.MAC``: an analyst's
    name, or the layout a display shows (:attr:`Grant.detail`)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    mac = _mac(secret, purpose, role, expires, name)
    if name:
        return f"{_VERSION}.{role}.{expires}.{_b64(name.encode())}.{mac}"
    return f"{_VERSION}.{role}.{expires}.{mac}"


def verify(
    secret: bytes, token: str, *, purpose: Purpose = "link", now: float | None = None
) -> Grant:
    """The grant of a good token; BadToken (one line) for a malformed, tampered or
    expired one. The MAC is checked before the expiry is believed."""
    what = "link" if purpose == "link" else "session"
    parts = token.split(".")
    if len(parts) not in (4, 5) or parts[0] != _VERSION or not parts[2].isdigit():
        raise BadToken(f"malformed {what}: not a groundcontrol web {what}")
    role, expires_text, mac = parts[1], parts[2], parts[-1]
    name = ""
    if len(parts) == 5:
        try:
            name = _unb64(parts[3])
        except ValueError:
            raise BadToken(f"malformed {what}: not a groundcontrol web {what}") from None
    expires = int(expires_text)
    expected = _mac(secret, purpose, role, expires, name)
    if not hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", "replace")):
        raise BadToken(f"this {what} was altered or signed with another secret: ask for a new one")
    if role not in ROLES:  # pragma: no cover - only a signer with the secret can get here
        raise BadToken(f"this {what} is for an unknown role")
    now = time.time() if now is None else now
    if expires <= now:
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise BadToken(f"this {what} expired on {when}: ask for a new one")
    if role == "display":
        return Grant(role, expires, layout=name)
    return Grant(role, expires, name)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<style>body{background:#0c181f;color:#e8eef2;font-family:monospace;"
        "display:flex;justify-content:center;margin-top:12vh}"
        "main{background:#12232d;padding:2em 3em;max-width:34em}"
        "input{font:inherit;width:100%;margin:.5em 0;padding:.4em;box-sizing:border-box}"
        "button{font:inherit;padding:.4em 1.2em}.why{color:#ff8a80}</style>"
        f"</head><body><main>{body}</main></body></html>"
    )


def login_page(reason: str = "") -> str:
    """The analyst's login form (inline CSS: the static files are behind the check)."""
    why = f"<p class='why'>{html.escape(reason)}</p>" if reason else ""
    return _page(
        "Ground Control: log in",
        "<h1>Ground Control</h1>"
        "<p>Log in with your hub analyst token to open the console. A wall opens "
        "from its display link.</p>"
        f"{why}"
        "<form method='post' action='/login'>"
        "<label for='token'>Analyst token</label>"
        "<input id='token' name='token' type='password' autocomplete='off' autofocus>"
        "<button type='submit'>Log in</button></form>",
    )


class _SessionAppService(AppService):
    """One app process, with the role's hub token in its environment and none of this
    server's secrets."""

    def __init__(self, command: str, *, token: str, actor: str = "", **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._token = token
        self._actor = actor

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        for key in list(environment):
            if key.startswith(("GROUNDCONTROL_WEB_", "GROUNDCONTROL_TOKEN")) or key == ACTOR_ENV:
                del environment[key]
        environment["GROUNDCONTROL_TOKEN"] = self._token
        if self._actor:
            environment[ACTOR_ENV] = self._actor
        return environment

    async def stop(self) -> None:
        """Ask the app to quit, and make sure its process is gone (textual-serve's own
        ``stop`` waits on the app forever and leaves the process to the collector)."""
        task, self._task = self._task, None
        if task is not None:
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            await self.send_meta({"type": "quit"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), QUIT_SECONDS)
        process = self._process
        if self._stdin is not None:
            self._stdin.close()  # also lets asyncio close the transport once it exits
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), QUIT_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
        if task is not None:
            await task  # the process is gone: its output ends


#: Checks a hub token for the login form: 200 and the token's name on the hub for an
#: analyst (or admin) token; else the HTTP status (0 when the hub cannot be reached,
#: 401 for an unknown token, 403 for a token of another role) and the reason.
HubCheck = Callable[[str], Awaitable[tuple[int, str]]]


class WebServer(Server):
    """textual-serve's Server with the access check in front of every path, and the app
    chosen by the session's role."""

    def __init__(
        self,
        hub: str,
        *,
        secret: bytes,
        tokens: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 8000,
        secure: bool = False,
        commands: Mapping[str, str] | None = None,
        hub_check: HubCheck | None = None,
        config: str | None = None,
    ) -> None:
        self.hub = hub
        self.secret = secret
        self.tokens = {role: token for role, token in tokens.items() if token}
        self.secure = secure
        python = sys.executable
        # The site's config (its [[layouts]], theme) reaches the apps too.
        site = ["--config", config] if config else []
        self.commands: dict[str, str] = dict(
            commands
            or {
                "display": shlex.join([python, "-m", "groundcontrol", "wall", "--hub", hub, *site]),
                "analyst": shlex.join(
                    [python, "-m", "groundcontrol", "console", "--hub", hub, *site]
                ),
            }
        )
        self.hub_check: HubCheck = hub_check or self._check_on_hub
        self._stopping: set[asyncio.Future[None]] = set()
        super().__init__(
            self.commands["display"],
            host=host,
            port=port,
            title="Ground Control",
            public_url=f"{'https' if secure else 'http'}://{host}:{port}",
        )

    # ------------------------------------------------------------------ the app

    def command_for(self, grant: Grant) -> str:
        """The app a session runs: its role's command, with a display link's layout."""
        command = self.commands[grant.role]
        if grant.role == "display" and grant.layout:
            command += " " + shlex.join(["--layout", grant.layout])
        return command

    async def make_app(self) -> web.Application:
        """The aiohttp application: the guard in front of every route."""
        app = web.Application(middlewares=[self.guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.get("/link", self.handle_link, name="link"),
                web.get("/login", self.handle_login_form, name="login"),
                web.post("/login", self.handle_login, name="login_post"),
                web.post("/logout", self.handle_logout, name="logout"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ]
        )
        app.on_cleanup.append(self._reap)
        return app

    async def _make_app(self) -> web.Application:
        return await self.make_app()

    # ------------------------------------------------------------------ the check

    _OPEN = frozenset({"/link", "/login"})

    @web.middleware
    async def guard(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Let ``/link`` and ``/login`` through; everything else needs a good cookie."""
        response = await self._guarded(request, handler)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        log.info("%s %s %s", request.method, request.path, response.status)
        return response

    async def _guarded(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if request.path in self._OPEN:
            return await handler(request)
        if not self._same_origin(request):
            return web.Response(status=403, text="refused: a request from another site\n")
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            if request.path == "/" and request.method == "GET":
                return self._html(login_page(), status=401)
            return web.Response(
                status=401, text="no session: open a display link or log in at /login\n"
            )
        try:
            verify(self.secret, cookie, purpose="session")
        except BadToken as exc:
            if request.path == "/" and request.method == "GET":
                response = self._html(login_page(str(exc)), status=401)
            else:
                response = web.Response(status=401, text=f"{exc}\n")
            response.del_cookie(COOKIE, path="/")
            return response
        return await handler(request)

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        """No Origin header (a plain navigation) or one naming this very host."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        host = origin.split("://", 1)[-1].rstrip("/")
        return host == request.host

    # ------------------------------------------------------------------ links and login

    def _html(self, text: str, *, status: int = 200) -> web.Response:
        return web.Response(status=status, text=text, content_type="text/html")

    def _set_session(self, response: web.StreamResponse, grant: Grant) -> None:
        response.set_cookie(
            COOKIE,
            sign(self.secret, grant.role, grant.expires, purpose="session", name=grant.detail),
            max_age=max(1, grant.expires - int(time.time())),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.secure,
        )

    async def handle_link(self, request: web.Request) -> web.StreamResponse:
        """A display link: a cookie and on to the wall, or 403 with the reason."""
        try:
            grant = verify(self.secret, request.query.get("t", ""))
        except BadToken as exc:
            return web.Response(status=403, text=f"{exc}\n")
        if grant.role not in self.tokens:
            return web.Response(
                status=403, text=f"this server has no {grant.role} token to run the app with\n"
            )
        # A page that moves on by itself rather than a 302: a SameSite=Strict cookie is
        # not sent on a redirect that began on another site (a link in a mail or chat).
        response = self._html(
            _page(
                "Ground Control",
                "<meta http-equiv='refresh' content='0; url=/'>"
                "<p>Opening the wall&hellip; <a href='/'>go</a></p>",
            )
        )
        self._set_session(response, grant)
        return response

    async def handle_login_form(self, request: web.Request) -> web.StreamResponse:
        return self._html(login_page())

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        """Check the posted hub token on the hub; an analyst session, or the form again."""
        if not self._same_origin(request):
            return web.Response(status=403, text="refused: a login from another site\n")
        if "analyst" not in self.tokens:
            return self._html(
                login_page("this server has no analyst token configured: the console is off"),
                status=403,
            )
        form = await request.post()
        token = str(form.get("token", "")).strip()
        if not token:
            return self._html(login_page("enter your hub analyst token"), status=401)
        status, reason = await self.hub_check(token)
        if status == 200:
            # The person's name on the hub rides in the signed cookie to their console.
            grant = Grant("analyst", int(time.time()) + ANALYST_SESSION_SECONDS, name=reason)
            response = web.Response(status=303, headers={"Location": "/"})
            self._set_session(response, grant)
            return response
        if status == 0:
            return self._html(login_page(f"cannot check the token: {reason}"), status=502)
        if status == 403:
            return self._html(
                login_page("this token is not an analyst token: the console needs one"),
                status=403,
            )
        return self._html(login_page(f"the hub refused this token: {reason}"), status=401)

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": "/login"})
        response.del_cookie(COOKIE, path="/")
        return response

    async def _check_on_hub(self, token: str) -> tuple[int, str]:
        ca_file = os.environ.get(CA_FILE_ENV, "").strip() or None
        async with HubApi(self.hub, Access(token=token, ca_file=ca_file), actor="") as api:
            try:
                who = await api.whoami()
            except ApiError as exc:
                return exc.status, exc.reason
        if who.role not in ("analyst", "admin"):
            return 403, f"a {who.role} token"
        return 200, who.name

    # ------------------------------------------------------------------ the app page

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's page, with URLs for the host the browser asked for."""
        scheme = "https" if self.secure else "http"
        base = f"{scheme}://{request.host}"
        ws = f"{'wss' if self.secure else 'ws'}://{request.host}/ws"
        context = {
            "font_size": _to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": ws,
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's websocket, running the app of the session's role."""
        # The guard has checked the cookie already.
        grant = verify(self.secret, request.cookies.get(COOKIE, ""), purpose="session")
        token = self.tokens.get(grant.role)
        websocket = web.WebSocketResponse(heartbeat=15)
        if token is None:
            await websocket.prepare(request)
            await websocket.close(message=f"no {grant.role} token configured".encode())
            return websocket
        width = _to_int(request.query.get("width", "80"), 80)
        height = _to_int(request.query.get("height", "24"), 24)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = _SessionAppService(
                self.command_for(grant),
                token=token,
                actor=grant.name,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                # A browser that goes away cancels this handler: the app's stop goes on
                # in a task of its own (awaited at cleanup), so no process is left over.
                stopping = asyncio.ensure_future(app_service.stop())
                self._stopping.add(stopping)
                stopping.add_done_callback(self._stopping.discard)
                await asyncio.shield(stopping)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("browser session failed")
        return websocket

    async def _reap(self, app: web.Application) -> None:
        """At cleanup: wait for every app being stopped."""
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)


def _to_int(value: str, default: int) -> int:
    try:
        return max(1, min(1000, int(value)))
    except ValueError:
        return default
