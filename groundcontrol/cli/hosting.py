"""The hub with the feeds it runs itself: the one place a hub and the feeds meet.

A hub's config may name feeds (``[feeds.NAME]``). The hub knows nothing of them but
a :class:`~groundcontrol.hub.server.HostedFeeds` to mount, start and stop;
:class:`SupervisedFeeds` is that, around :class:`feeds.supervisor.FeedSupervisor`,
which runs each feed in the hub's process talking to the hub over loopback exactly as
it would from another machine.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from aiohttp import web

from feeds.base import default_state_dir
from feeds.registry import FeedSpec
from feeds.supervisor import FeedRun, FeedSupervisor
from groundcontrol.client.stream import Access
from groundcontrol.config import Config
from groundcontrol.hub.auth import Tokens
from groundcontrol.hub.server import Hub, start_hub

__all__ = ["SupervisedFeeds", "feed_state_dir", "start_hub_with_feeds"]


class SupervisedFeeds:
    """The feeds a hub runs, as the hub sees them."""

    def __init__(self, hub: Hub, specs: tuple[FeedSpec, ...], *, state_dir: Path) -> None:
        def changed(run: FeedRun) -> None:
            hub.feed_changed(run.spec.name, run.state, run.problem)

        self.supervisor = FeedSupervisor(specs, state_dir=state_dir, on_change=changed)

    def mount(self, app: web.Application) -> None:
        self.supervisor.mount(app)

    async def start(self, hub_url: str, token: str | None) -> None:
        await self.supervisor.start(hub_url, Access(token=token) if token else None)

    async def stop(self) -> None:
        await self.supervisor.stop()


def feed_state_dir(config: Config) -> Path:
    """Where the hosted feeds keep their cursors: ``[hub] feed_state_dir`` or the
    default."""
    configured = config.hub.feed_state_dir
    return Path(os.path.expanduser(configured)) if configured else default_state_dir()


async def start_hub_with_feeds(
    config: Config,
    specs: tuple[FeedSpec, ...],
    *,
    host: str | None = None,
    port: int | None = None,
    demo: bool = False,
    store_path: str | Path | None = None,
    tokens: Tokens | None = None,
    ssl_context: ssl.SSLContext | None = None,
    state_dir: Path | None = None,
) -> tuple[Hub, web.AppRunner, int, SupervisedFeeds | None]:
    """Start a hub that runs ``specs`` in its process (cursors in ``state_dir``, else
    the config's, else the default); the feeds come back too (None without any)."""
    hosted: list[SupervisedFeeds] = []

    def make(hub: Hub) -> SupervisedFeeds:
        feeds = SupervisedFeeds(hub, specs, state_dir=state_dir or feed_state_dir(config))
        hosted.append(feeds)
        return feeds

    hub, runner, bound = await start_hub(
        config,
        host=host,
        port=port,
        demo=demo,
        store_path=store_path,
        tokens=tokens,
        ssl_context=ssl_context,
        hosted=make if specs else None,
    )
    return hub, runner, bound, (hosted[0] if hosted else None)
