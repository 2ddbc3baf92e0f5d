"""Runs the feeds a hub's config names, inside the hub's process.

Each feed talks to the hub exactly as it would from another machine: over a
websocket to ``/ingest``, with acks, its cursor and its health reports. A feed that
raises is restarted after a growing pause (5 s up to 5 minutes) and its reason is
shown on the wall; a feed that finishes (a replay at its end) stays finished.
Webhook feeds are not tasks: their receivers answer on the hub's own HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from feeds.base import FeedConfigError, FeedContext
from feeds.registry import FeedSpec
from groundcontrol.client.stream import Access, Backoff

log = logging.getLogger("groundcontrol.feeds")

#: Where webhook feeds answer on the hub: POST /webhooks/<feed name>.
WEBHOOK_PREFIX = "/webhooks/"


@dataclass
class FeedRun:
    """What the hub knows about one feed it runs."""

    spec: FeedSpec
    state: str = "starting"
    """starting, running, restarting, failed (a config problem: not retried), finished."""
    problem: str = ""
    task: asyncio.Task[None] | None = None
    receiver: Any = None
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=5.0, maximum=300.0))


class FeedSupervisor:
    """Starts, watches and stops the configured feeds of one hub."""

    def __init__(
        self,
        specs: tuple[FeedSpec, ...],
        *,
        state_dir: Path,
        on_change: Callable[[FeedRun], None] = lambda _run: None,
    ) -> None:
        self.runs = {spec.name: FeedRun(spec) for spec in specs}
        self.state_dir = state_dir
        self.on_change = on_change
        self._ctx = FeedContext("", "", state_dir=state_dir)

    def mount(self, app: web.Application) -> None:
        """Add each webhook feed's route to the hub's app (before it starts)."""
        for run in self.runs.values():
            if run.spec.type != "webhook":
                continue
            from feeds import webhook

            ctx = self._context(run.spec.name)
            run.receiver = webhook.Receiver(run.spec.settings, ctx)
            app.router.add_post(WEBHOOK_PREFIX + run.spec.name, run.receiver.handle)

    def _context(self, name: str) -> FeedContext:
        def say(message: str) -> None:
            log.info("feed %s: %s", name, message)

        return replace(self._ctx, name=name, on_event=say)

    async def start(self, hub_url: str, access: Access | None) -> None:
        """Start every feed, talking to the hub at ``hub_url`` with ``access``."""
        self._ctx = replace(self._ctx, hub=hub_url, access=access)
        for run in self.runs.values():
            if run.receiver is not None:
                run.receiver.ctx.hub = hub_url
                run.receiver.ctx.access = access
                try:
                    await run.receiver.start()
                except FeedConfigError as exc:
                    self._set(run, "failed", str(exc))
                    log.error("feed %s stopped: %s", run.spec.name, run.problem)
                else:
                    self._set(run, "running", "")
                continue
            run.task = asyncio.create_task(self._keep_running(run), name=f"feed-{run.spec.name}")

    async def stop(self) -> None:
        for run in self.runs.values():
            if run.task is not None:
                run.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run.task
            if run.receiver is not None:
                await run.receiver.close()

    def _set(self, run: FeedRun, state: str, problem: str) -> None:
        # The wall and the log put the feed's name first already.
        problem = problem.removeprefix(f"feed {run.spec.name}: ")
        run.state, run.problem = state, problem[:200]
        self.on_change(run)

    async def _keep_running(self, run: FeedRun) -> None:
        name = run.spec.name
        while True:
            self._set(run, "running", "")
            started = asyncio.get_running_loop().time()
            try:
                await run.spec.run(self._context(name))
            except asyncio.CancelledError:
                raise
            except FeedConfigError as exc:
                # Retrying cannot help until the operator fixes the config or the environment.
                self._set(run, "failed", str(exc))
                log.error("feed %s stopped: %s", name, run.problem)
                return
            except Exception as exc:
                run.restarts += 1
                if asyncio.get_running_loop().time() - started > 600:
                    run.backoff.reset()  # it ran well for a while: a fresh failure
                delay = run.backoff.next_delay()
                log.exception("feed %s crashed; restarting in %.0fs", name, delay)
                self._set(
                    run,
                    "restarting",
                    f"crashed ({type(exc).__name__}: {exc}); "
                    f"restart {run.restarts} in {delay:.0f}s",
                )
                await asyncio.sleep(delay)
                continue
            log.info("feed %s finished", name)
            self._set(run, "finished", "finished")
            return
