"""Connecting to the site's NATS servers, and setting up what JetStream keeps for it.

Credentials come from the environment, never from the config file:
``GROUNDCONTROL_BUS_CREDS`` (a ``.creds`` file), or ``GROUNDCONTROL_BUS_TOKEN``, or
``GROUNDCONTROL_BUS_USER`` with ``GROUNDCONTROL_BUS_PASSWORD``.

Every role calls :func:`ensure_streams` when it connects: whichever starts first
creates the streams, the others find them (and bring their settings up to the
config's, so a changed ``duplicate_window`` takes effect on the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine, Mapping
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from groundcontrol.bus.wire import Names
from groundcontrol.config import BusConfig

log = logging.getLogger("groundcontrol.bus")

CREDS_ENV = "GROUNDCONTROL_BUS_CREDS"
TOKEN_ENV = "GROUNDCONTROL_BUS_TOKEN"
USER_ENV = "GROUNDCONTROL_BUS_USER"
PASSWORD_ENV = "GROUNDCONTROL_BUS_PASSWORD"

#: Largest message on the bus: a batch of 5,000 mentions of 20,000 characters would be
#: more, but no real batch is; NATS's own default is 1 MiB.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class BusError(Exception):
    """The bus cannot be used (unreachable, refused, no JetStream)."""


def servers(url: str) -> list[str]:
    """The server URLs of ``[bus] url`` (comma-separated)."""
    return [u.strip() for u in url.split(",") if u.strip()]


def credentials(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``nats.connect`` keyword arguments for the credentials in the environment."""
    env = os.environ if environ is None else environ
    creds = env.get(CREDS_ENV, "").strip()
    if creds:
        return {"user_credentials": creds}
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return {"token": token}
    user = env.get(USER_ENV, "").strip()
    if user:
        return {"user": user, "password": env.get(PASSWORD_ENV, "")}
    return {}


async def connect(
    config: BusConfig, *, name: str, wait: float = 0.0, environ: Mapping[str, str] | None = None
) -> Client:
    """Connect to ``config.url``; once connected, reconnect for ever after a loss.

    ``wait``: keep trying the first connection this many seconds (at least 2; a worker
    started before the servers); BusError once it gives up, saying why.
    """
    urls = servers(config.url)
    if not urls:
        raise BusError("no [bus] url")
    failures: list[str] = []

    async def on_error(exc: Exception) -> None:
        failures.append(str(exc) or type(exc).__name__)
        log.warning("bus: %s", failures[-1])

    async def on_disconnected() -> None:
        log.warning("bus: disconnected from %s; reconnecting", ", ".join(urls))

    async def on_reconnected() -> None:
        log.info("bus: reconnected")

    # The client retries the first connection by itself too (it never gives up): the
    # wait bounds it.
    try:
        return await asyncio.wait_for(
            nats.connect(
                servers=urls,
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=2,
                ping_interval=5,
                max_outstanding_pings=2,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                **credentials(environ),
            ),
            timeout=max(wait, 2.0),
        )
    except TimeoutError:
        reason = failures[-1] if failures else "no answer"
        raise BusError(
            f"cannot reach the bus at {', '.join(urls)} within {max(wait, 2.0):g} s: {reason}"
        ) from None
    except Exception as exc:  # refused credentials and the like: no point in waiting
        raise BusError(f"cannot use the bus at {', '.join(urls)}: {exc}") from None


def stream_configs(config: BusConfig, names: Names) -> list[StreamConfig]:
    """The three streams of a site: raw batches (a work queue), enriched batches (kept
    for twice the replay), and events (incidents, triage actions and briefings, the
    latest of each kept)."""
    dup = config.seconds("duplicate_window")
    replay = config.seconds("replay")
    common: dict[str, Any] = {
        "storage": StorageType.FILE,
        "num_replicas": config.replicas,
        "max_msg_size": MAX_MESSAGE_BYTES,
        "discard": DiscardPolicy.OLD,
    }
    return [
        StreamConfig(
            name=names.raw_stream,
            subjects=[names.raw_subject],
            retention=RetentionPolicy.WORK_QUEUE,
            duplicate_window=dup,
            **common,
        ),
        StreamConfig(
            name=names.enriched_stream,
            subjects=[names.enriched_subject],
            retention=RetentionPolicy.LIMITS,
            max_age=max(2 * replay, dup),
            duplicate_window=dup,
            **common,
        ),
        StreamConfig(
            name=names.events_stream,
            subjects=[names.events_subjects],
            retention=RetentionPolicy.LIMITS,
            max_age=7 * 86400.0,
            max_msgs_per_subject=1,
            duplicate_window=min(dup, 120.0),
            **common,
        ),
    ]


async def ensure_streams(js: JetStreamContext, config: BusConfig, names: Names) -> None:
    """Create the site's streams, or bring their settings up to ``config``'s."""
    for cfg in stream_configs(config, names):
        assert cfg.name is not None
        try:
            await js.stream_info(cfg.name)
        except NotFoundError:
            await js.add_stream(cfg)
        else:
            await js.update_stream(cfg)


async def until_stopped(
    connecting: Coroutine[Any, Any, Client], stop: asyncio.Event
) -> Client | None:
    """The connection, or None if ``stop`` is set first (SIGTERM while the bus is away)."""
    task = asyncio.ensure_future(connecting)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, BusError):
        await task
    return None
