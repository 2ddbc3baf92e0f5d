"""What the hub knows of its feeds: the connected ones, the named ones that went
away, and the ones it runs itself (from the config).

Ingest (ingest.py) registers a feed when its /ingest connection opens, tells it what
the feed says in its hello and status messages, and counts its batches on its
:class:`FeedState`; when the connection ends the feed stays on the wall as down for
a day. The publisher (stream.py) puts :meth:`FeedRegistry.infos` in every tick, and
the HTTP API (api.py) in /healthz and /metrics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

from groundcontrol.protocol import FeedHello, FeedInfo, FeedStatus

#: How long a named feed that went away stays on the wall as down.
DEPARTED_KEPT_SECONDS = 86_400.0


@dataclass
class FeedState:
    """One connected feed."""

    name: str
    source: str
    demo: bool
    connected: bool = True
    last_seen: float = 0.0
    events: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=120))
    errors: int = 0
    pending: int = 0
    spool_depth: int = 0
    spool_bytes: int = 0
    lag_seconds: float = 0.0
    rate_limit_wait: float = 0.0
    reported_errors: int = 0
    """Errors the feed itself reports (its source's), besides the hub's own count."""
    detail: str = ""
    last_event_at: float = 0.0
    """When the feed last heard from its source, as it reports."""
    last_batch_at: float = 0.0
    named: bool = False
    """The feed said its name in its hello (an unnamed one is not remembered)."""
    down_since: float = 0.0

    def events_per_min(self, now: float) -> float:
        return float(sum(n for t, n in self.events if now - t <= 60.0))


class FeedRegistry:
    """Every feed the hub knows of, and whether what it publishes is demo data."""

    def __init__(self, *, demo: bool = False) -> None:
        self.connected: dict[int, FeedState] = {}
        """Feeds connected to /ingest, by connection."""
        self.departed: dict[str, FeedState] = {}
        """Named feeds that went away, by name, until they come back."""
        self.configured: dict[str, tuple[str, str]] = {}
        """Feeds this hub runs itself (from the config): name -> (state, problem)."""
        self.demo = demo
        """Everything published is demo data: the hub was started so, or a feed said so."""

    def arrived(self, key: int, remote: str | None, now: float) -> FeedState:
        """A new /ingest connection: a feed known by its address until its hello."""
        feed = FeedState(name=remote or "feed", source="", demo=False)
        feed.last_seen = now
        self.connected[key] = feed
        return feed

    def said_hello(self, feed: FeedState, hello: FeedHello) -> None:
        feed.name = hello.name or feed.name
        feed.named = bool(hello.name)
        self.departed.pop(feed.name, None)
        feed.source = hello.source
        feed.demo = hello.demo
        if hello.demo:
            self.demo = True

    def reported(self, feed: FeedState, status: FeedStatus) -> None:
        """The feed's own account of its health (it has no reply)."""
        feed.pending = status.pending
        feed.spool_depth = status.spool_depth
        feed.spool_bytes = status.spool_bytes
        feed.rate_limit_wait = status.rate_limit_wait
        feed.reported_errors = status.errors
        feed.detail = status.detail
        feed.last_event_at = status.last_event_at

    def left(self, key: int, feed: FeedState, ws: web.WebSocketResponse, now: float) -> None:
        """The feed's /ingest connection ``ws`` ended."""
        feed.connected = False
        self.connected.pop(key, None)
        if feed.named and not any(f.name == feed.name for f in self.connected.values()):
            # Shown as down on the wall until it comes back (a day at most), with
            # how it went; the feed's own last word after that, if it had one.
            feed.down_since = now
            gone = how_ingest_ended(ws)
            feed.detail = f"{gone}; it last said: {feed.detail}" if feed.detail else gone
            self.departed[feed.name] = feed

    def changed(self, name: str, state: str, problem: str) -> None:
        """News about a feed this hub runs: starting, running, restarting, failed or
        finished, and what is wrong with it."""
        self.configured[name] = (state, problem)

    def infos(self, now: float) -> list[FeedInfo]:
        """Every feed the wall should know of: connected ones, named ones that went
        away in the last day, and the ones this hub runs that are not connected (yet)."""
        for name, gone in list(self.departed.items()):
            if now - gone.down_since > DEPARTED_KEPT_SECONDS:
                del self.departed[name]
        states = [*self.connected.values(), *self.departed.values()]
        infos = [
            FeedInfo(
                name=f.name,
                source=f.source,
                demo=f.demo,
                connected=f.connected,
                last_seen=f.last_seen,
                events_per_min=f.events_per_min(now),
                errors=f.errors + f.reported_errors,
                spool_depth=f.spool_depth,
                lag_seconds=round(f.lag_seconds, 3),
                rate_limit_wait=round(f.rate_limit_wait, 1),
                detail=f.detail[:200],
                # A feed that does not report its source's events: its last batch.
                last_event_at=f.last_event_at or f.last_batch_at,
                down_since=f.down_since,
            )
            for f in states
        ]
        known = {f.name for f in states}
        for name, (state, problem) in self.configured.items():
            if name not in known:
                infos.append(
                    FeedInfo(
                        name=name,
                        source="",
                        demo=False,
                        connected=False,
                        last_seen=0.0,
                        events_per_min=0.0,
                        errors=0,
                        detail=problem or state,
                    )
                )
            elif problem:
                # The feed is connected (or was) but its runner has something to say.
                for info in infos:
                    if info.name == name and not info.detail:
                        info.detail = problem[:200]
        return infos[:32]


def how_ingest_ended(ws: web.WebSocketResponse) -> str:
    """Why a feed's /ingest connection ended, as the hub saw it: a DOWN feed's reason."""
    code = ws.close_code
    if code in (WSCloseCode.OK, WSCloseCode.GOING_AWAY):
        return "the feed closed its connection"
    if isinstance(ws.exception(), TimeoutError):
        return "connection lost: the feed stopped answering pings"
    if code is None or code == WSCloseCode.ABNORMAL_CLOSURE:
        # A reset or EOF (the feed's process or its network died): the exception
        # aiohttp keeps then is about the hub's own next write, not worth showing.
        return "connection lost"
    # 1011 is what a websockets client sends when its task is cancelled or fails.
    return f"connection closed with code {code}"
