"""Run the seeded demo through the hub's own pipeline in virtual time, with no sockets.

The result is the exact sequence of messages a wall connected to that hub would
receive (hello, snapshot, ticks, incidents), which makes wall tests and screenshots
deterministic while still showing real enrichment and analytics.
"""

from __future__ import annotations

from typing import Protocol

from groundcontrol.config import Config
from groundcontrol.hub.server import Hub
from groundcontrol.model import Mention
from groundcontrol.protocol import (
    PROTOCOL_VERSION,
    Snapshot,
    StreamHello,
    StreamMessage,
)


class VirtualClock:
    """A clock the simulation moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MentionSource(Protocol):
    """Something that makes mentions for a span of time (the demo stream)."""

    def between(self, t0: float, t1: float) -> list[Mention]: ...


def simulate_demo(
    config: Config,
    stream: MentionSource,
    *,
    start: float,
    seconds: float,
    batch_every: float = 1.0,
    tick_every: float = 5.0,
) -> tuple[list[StreamMessage], Hub]:
    """Feed ``seconds`` of ``stream`` (the demo's) from ``start`` into a hub; collect
    what it publishes.

    Mentions arrive every ``batch_every`` seconds of virtual time and the hub ticks
    every ``tick_every``; every tick and incident event is returned in order after the
    hello and the snapshot a client gets on connect.
    """
    clock = VirtualClock(start)
    hub = Hub(config, demo=True, clock=clock)
    messages: list[StreamMessage] = [
        StreamHello(
            protocol=PROTOCOL_VERSION,
            hub="groundcontrol/simulated",
            demo=True,
            brands=[b.name for b in config.brands],
            tick_interval=tick_every,
            bucket_seconds=config.analytics.bucket_seconds,
            window_seconds=config.analytics.window_seconds,
            takeover_severity=config.spikes.takeover_severity,
        ),
        Snapshot(tick=hub.analytics.snapshot(start).tick),
    ]
    t = start
    next_tick = start + tick_every
    end = start + seconds
    while t < end:
        step = min(batch_every, end - t)
        batch = stream.between(t, t + step)
        t += step
        clock.now = t
        if batch:
            hub.take_batch(batch, None)
        if t >= next_tick - 1e-9:
            tick, events = hub.publish_once()
            messages.extend(events)
            messages.append(tick)
            next_tick += tick_every
    return messages, hub
