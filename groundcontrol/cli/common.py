"""What several commands share: the default hub URL, argument types, the error line and
the site (a config with the feeds it names)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from groundcontrol.config import Config, load_config

if TYPE_CHECKING:
    from feeds.registry import FeedSpec
    from groundcontrol.client.stream import Access

__all__ = [
    "DEFAULT_HUB",
    "HUBS_HELP",
    "HubError",
    "fail",
    "hub_request",
    "load_site",
    "positive_float",
]

DEFAULT_HUB = "ws://127.0.0.1:8765"
#: ``--hub`` of the commands that follow a stream or feed one: several hubs sharing a
#: bus ([bus] url), the next one taken when one dies.
HUBS_HELP = (
    f"hub URL (default {DEFAULT_HUB}); several comma-separated hubs of one site "
    "(sharing a [bus]): when one dies the next is used"
)


def positive_float(text: str) -> float:
    """An argument type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def fail(message: str, code: int = 2) -> int:
    """Print ``groundcontrol: message`` on stderr; return ``code`` for the exit status."""
    print(f"groundcontrol: {message}", file=sys.stderr)
    return code


def load_site(path: str | None) -> tuple[Config, tuple[FeedSpec, ...]]:
    """The config and its feeds, each ``[feeds.NAME]`` table read by its adapter:
    ConfigError names the file and key of whatever is wrong, before anything starts."""
    from feeds.registry import specs_from_config

    config = load_config(path)
    return config, specs_from_config(config)


class HubError(Exception):
    """A request to the hub failed; ``code`` is the exit code (2: the hub refused it,
    1: the hub cannot be reached or failed)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def hub_request(
    hub: str,
    path: str,
    params: Mapping[str, str] | None,
    access: Access,
    data: str | None = None,
    *,
    timeout: float = 30.0,
) -> bytes:
    """GET ``path`` (or POST the JSON ``data`` to it) on the hub with the token: the
    body, or HubError with the hub's one-line reason. Empty parameters are left out;
    a 4xx or a 503 (a hub without a store) is the hub refusing (exit code 2)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from groundcontrol.cli.review import _one_line
    from groundcontrol.client.stream import http_url

    query = {k: v for k, v in (params or {}).items() if v}
    url = http_url(hub, urllib.parse.quote(path), query)
    from groundcontrol.client.actor import actor_from_env, actor_headers

    # Run by a relay (the SSH or web server) for a person: the hub records that person.
    headers = {**(access.headers() or {}), **actor_headers(actor_from_env())}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        url,
        data=data.encode() if data is not None else None,
        headers=headers,
        method="POST" if data is not None else "GET",
    )
    context = access.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            body: bytes = resp.read()
            return body
    except urllib.error.HTTPError as exc:
        reason = _one_line(exc.read().decode("utf-8", "replace"))
        code = 2 if 400 <= exc.code < 500 or exc.code == 503 else 1
        raise HubError(f"hub refused: HTTP {exc.code}: {reason}", code) from None
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise HubError(f"cannot reach {url}: {why}", 1) from None
