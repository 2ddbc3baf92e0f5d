"""``groundcontrol web``: walls (and the analyst console) in a browser.

* ``web``: serve the wall of ``--hub`` to browsers with textual-serve, on ``--host``
  (loopback unless told otherwise) and ``--port``, https with ``--tls-cert`` and
  ``--tls-key`` (or the config's ``[hub] tls_cert``/``tls_key``). Nothing is served
  without a display link or an analyst login (``panels/web.py``, loaded by name:
  the core never imports Textual's tooling).
* ``web link --for 30d``: print a display link, signed with ``GROUNDCONTROL_WEB_SECRET``,
  that opens the wall until it expires.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from groundcontrol.cli.common import DEFAULT_HUB, fail
from groundcontrol.config import duration_seconds

__all__ = ["WEB_MODULE", "add_parser", "parse_duration", "run", "web_module"]

#: The web server: in the panels, as it serves them with Textual's tooling
#: (textual-serve); loaded by name, as the wall is, so the core never imports it.
WEB_MODULE = "panels.web"
DEFAULT_PORT = 8000
DEFAULT_BASE = f"http://127.0.0.1:{DEFAULT_PORT}"
#: The longest a display link may last.
MAX_LINK_SECONDS = 366 * 86400

_EPILOG = """\
environment:
  GROUNDCONTROL_WEB_SECRET         signs links and sessions (at least 32 characters);
      make one: python -c 'import secrets; print(secrets.token_urlsafe(48))'
  GROUNDCONTROL_WEB_TOKEN_DISPLAY  the hub display token the wall runs with
  GROUNDCONTROL_WEB_TOKEN_ANALYST  the hub analyst token the console runs with
                                   (analysts log in with their own hub token, checked on the hub)

The hub records each analyst by their own token's name, not the server's: make the
server's analyst token a relay on the hub (tokens file: analyst <token> web-gateway;
config: [auth] relays = ["web-gateway"]). The console runs with GROUNDCONTROL_ACTOR
set to the name, and the hub refuses it (403) from a token that is not a relay.

A wall opens from `groundcontrol web link --for 30d`; an analyst logs in at /login.
Without either, every path answers 401 or 403.
"""


def web_module() -> Any:
    """The web server's module, imported only now."""
    return importlib.import_module(WEB_MODULE)


def parse_duration(text: str) -> int:
    """Seconds in ``30d``, ``12h``, ``90m``, ``2w`` or ``3600s``; ArgumentTypeError else."""
    if not text.strip()[-1:].isalpha():  # a bare number is too easy to misread here
        raise argparse.ArgumentTypeError(
            f"expected a duration like 30d, 12h, 90m or 2w, got {text!r}"
        )
    try:
        seconds = int(duration_seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds > MAX_LINK_SECONDS:
        raise argparse.ArgumentTypeError("a link may last at most 366 days")
    return seconds


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``web`` (and ``web link``) to ``sub``."""
    from groundcontrol.cli.hub import _port

    web = sub.add_parser(
        "web",
        help="serve the wall (and the analyst console) to browsers",
        description="Serve the wall of a hub to browsers: a display link opens the wall, "
        "an analyst logs in with a hub analyst token to open the console. Nothing is "
        "served without one or the other.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    web.add_argument("--hub", default=DEFAULT_HUB, help=f"hub URL (default {DEFAULT_HUB})")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    web.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    web.add_argument("--config", metavar="FILE", help="TOML config ([hub] tls_cert, tls_key)")
    web.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: with --tls-key, https")
    web.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")
    web_sub = web.add_subparsers(dest="web_command", metavar="SUBCOMMAND")
    link = web_sub.add_parser(
        "link",
        help="print a display link that opens the wall until it expires",
        description="Print a URL with a signed, expiring token: opening it shows the wall. "
        "Signed with GROUNDCONTROL_WEB_SECRET (the server's).",
    )
    link.add_argument(
        "--for",
        dest="duration",
        type=parse_duration,
        required=True,
        metavar="DURATION",
        help="how long the link works: 30d, 12h, 90m, 2w",
    )
    link.add_argument(
        "--layout",
        default="",
        metavar="NAME",
        help="the wall layout the link shows (default: the server's, wall); checked "
        "against the shipped layouts and --config's",
    )
    link.add_argument(
        "--config", metavar="FILE", help="TOML config with the site's own [[layouts]]"
    )
    link.add_argument(
        "--base",
        default=DEFAULT_BASE,
        metavar="URL",
        help=f"the server's URL as browsers reach it (default {DEFAULT_BASE})",
    )


def run(args: argparse.Namespace) -> int:
    """``web link``: print the link; ``web``: serve until SIGINT or SIGTERM."""
    try:
        secret = web_module().check_secret(os.environ)
    except ValueError as exc:
        return fail(str(exc))
    if getattr(args, "web_command", None) == "link":
        return _link(args, secret)
    return _serve(args, secret)


def _link(args: argparse.Namespace, secret: bytes) -> int:
    from groundcontrol.config import find_layout, load_config

    if args.layout:
        find_layout(load_config(args.config), args.layout)  # ConfigError: no such layout
    expires = int(time.time()) + int(args.duration)
    token = web_module().sign(secret, "display", expires, name=args.layout)
    base = str(args.base).rstrip("/")
    print(f"{base}/link?t={quote(token, safe='')}")
    return 0


def _serve(args: argparse.Namespace, secret: bytes) -> int:
    import asyncio
    import contextlib
    import logging
    import signal

    from aiohttp import web

    from groundcontrol.cli.hub import _tls_context

    server_module = web_module()
    TOKEN_ENVS, WebServer = server_module.TOKEN_ENVS, server_module.WebServer
    from groundcontrol.config import load_config

    tokens: dict[str, str] = {
        role: os.environ.get(var, "").strip() for role, var in TOKEN_ENVS.items()
    }
    if not any(tokens.values()):
        return fail(
            "no hub token to run the apps with: set GROUNDCONTROL_WEB_TOKEN_DISPLAY "
            "(the wall) and/or GROUNDCONTROL_WEB_TOKEN_ANALYST (the console)"
        )
    cert, key = args.tls_cert, args.tls_key
    if args.config and not (cert or key):
        config = load_config(args.config)
        cert, key = config.hub.tls_cert, config.hub.tls_key
    if bool(cert) != bool(key):
        return fail("TLS needs both --tls-cert and --tls-key (or hub.tls_cert and hub.tls_key)")
    tls = _tls_context(cert, key) if cert else None
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("groundcontrol.web")
    server = WebServer(
        args.hub,
        secret=secret,
        tokens=tokens,
        host=args.host,
        port=args.port,
        secure=tls is not None,
        config=str(Path(args.config).resolve()) if args.config else None,
    )

    async def serve() -> None:
        # No access log: a display link carries its token in the query string.
        runner = web.AppRunner(await server.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port, ssl_context=tls, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SystemExit(
                fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
            ) from None
        scheme = "https" if tls else "http"
        for role, var in TOKEN_ENVS.items():
            if not tokens[role]:
                log.warning("no %s set: %s sessions are refused", var, role)
        print(f"web ready on {scheme}://{args.host}:{args.port} (hub {args.hub})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(serve())
    return 0
