"""What the wall knows: the latest tick, the connection, the river, alerts seen.

The app feeds every stream event to :meth:`WallState.apply`, which only updates plain
data (no widgets), so a burst of events costs a few attribute writes each. Panels read
the state on the app's refresh interval. Times here are of two kinds and never mixed:
``now`` is the wall's own clock (the injected ``clock``), ``at`` fields in ticks and
alerts are the hub's clock; :meth:`WallState.hub_now` bridges them.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Literal

from groundcontrol.client import BadMessage, Connected, Disconnected, StreamEvent
from groundcontrol.protocol import Alert, AlertEvent, RiverItem, Snapshot, StreamHello, Tick

Link = Literal["connecting", "connected", "down"]

#: Most mentions the river keeps; the screen never shows more than a screenful.
RIVER_CAP = 200
#: Alert ids remembered for the takeover decision (old ones are forgotten first).
SEEN_ALERTS_CAP = 1_000
#: Tick interval assumed until the hub's hello says otherwise, in seconds.
DEFAULT_TICK_INTERVAL = 1.0

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
TAKEOVER_SEVERITIES = frozenset({"warning", "critical"})


@dataclass(frozen=True)
class Applied:
    """What one event changed that the app must act on at once, not on its interval."""

    urgent: bool = False
    """Redraw now: the link went down, or the first data arrived after (re)connecting."""
    takeover: Alert | None = None
    """An alert that just opened (or escalated) and deserves the whole screen."""


class WallState:
    """The wall's model: updated per event, read by panels per refresh."""

    def __init__(self, *, river_cap: int = RIVER_CAP) -> None:
        self.hello: StreamHello | None = None
        self.tick: Tick | None = None
        self.received_at: float | None = None
        """Wall clock when the latest tick or snapshot arrived."""
        self.link: Link = "connecting"
        self.link_since: float | None = None
        self.down_reason = ""
        self.retry_at = 0.0
        """Wall clock when the client will try to reconnect."""
        self.attempt = 0
        self.bad_messages = 0
        self.last_bad = ""
        self.events = 0
        """Events applied so far (tests wait on it)."""
        self.version = 0
        """Bumped whenever shown data changes, so panels redraw only then."""
        self.river: deque[RiverItem] = deque()
        self.river_cap = river_cap
        self._river_ids: set[str] = set()
        self._alert_updates: dict[str, Alert] = {}
        self._seen_alerts: OrderedDict[str, int] = OrderedDict()
        self._fresh_after_connect = True

    # ------------------------------------------------------------------ reading

    @property
    def demo(self) -> bool:
        """True while anything shown came from a demo hub or demo data."""
        return bool((self.hello and self.hello.demo) or (self.tick and self.tick.demo))

    @property
    def tick_interval(self) -> float:
        return self.hello.tick_interval if self.hello else DEFAULT_TICK_INTERVAL

    @property
    def stale_after(self) -> float:
        """Seconds without a tick after which the data is called stale."""
        return 3 * self.tick_interval + 2.0

    def age(self, now: float) -> float | None:
        """Seconds since the latest data arrived, or None before any."""
        return None if self.received_at is None else max(0.0, now - self.received_at)

    def is_stale(self, now: float) -> bool:
        """Stale: the link is not up, or no data yet, or the data is too old."""
        age = self.age(now)
        return self.link != "connected" or age is None or age > self.stale_after

    def hub_now(self, now: float) -> float:
        """The hub's clock now, estimated from the last tick.

        Alert ages are measured on the hub's clock (started_at is hub time) so a wall
        whose own clock is off by minutes still says "started 12s ago" correctly.
        """
        if self.tick is None or self.received_at is None:
            return now
        return self.tick.at + (now - self.received_at)

    def retry_in(self, now: float) -> float:
        return max(0.0, self.retry_at - now)

    def alerts(self) -> list[Alert]:
        """Open alerts first (most severe, then newest), then ended ones, newest first."""
        merged: dict[str, Alert] = {a.id: a for a in (self.tick.alerts if self.tick else [])}
        for alert in self._alert_updates.values():
            known = merged.get(alert.id)
            if known is None or alert.updated_at >= known.updated_at:
                merged[alert.id] = alert
        open_ = [a for a in merged.values() if a.ended_at is None]
        ended = [a for a in merged.values() if a.ended_at is not None]
        open_.sort(key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.started_at), reverse=True)
        ended.sort(key=lambda a: a.ended_at or 0.0, reverse=True)
        return open_ + ended

    # ------------------------------------------------------------------ writing

    def apply(self, event: StreamEvent, now: float) -> Applied:
        """Take one stream event into the state; say what needs doing at once."""
        self.events += 1
        from_hub = isinstance(event, StreamHello | Tick | Snapshot | AlertEvent)
        if from_hub and self.link != "connected":
            # A message from the hub proves the link is up, even from a source
            # (a replay, a test script) that never says Connected.
            self.link = "connected"
            self.link_since = now
            self.down_reason = ""
        if isinstance(event, Tick):
            return self._take_tick(event, now)
        if isinstance(event, Snapshot):
            return self._take_tick(event.tick, now)
        if isinstance(event, AlertEvent):
            return self._take_alert(event.alert)
        if isinstance(event, StreamHello):
            self.hello = event
            self.version += 1
        elif isinstance(event, Connected):
            self.link = "connected"
            self.link_since = now
            self.down_reason = ""
            self._fresh_after_connect = True
            self.version += 1
        elif isinstance(event, Disconnected):
            self.link = "down"
            self.link_since = now
            self.down_reason = event.reason or "connection lost"
            self.retry_at = now + event.retry_in
            self.attempt = event.attempt
            self.version += 1
            return Applied(urgent=True)
        elif isinstance(event, BadMessage):
            self.bad_messages += 1
            self.last_bad = event.error
        # MentionsEvent and anything newer are not for the wall: ignored, not fatal.
        return Applied()

    def stream_failed(self, reason: str, now: float, retry_in: float) -> None:
        """The event source itself raised: show it as a dropped link."""
        self.link = "down"
        self.link_since = now
        self.down_reason = reason
        self.retry_at = now + retry_in
        self.version += 1

    def _take_tick(self, tick: Tick, now: float) -> Applied:
        self.tick = tick
        self.received_at = now
        self.version += 1
        self._add_river(tick.river)
        # The tick is the hub's word on alerts; keep only updates it has not caught up with.
        in_tick = {a.id for a in tick.alerts}
        self._alert_updates = {
            k: a
            for k, a in self._alert_updates.items()
            if k not in in_tick and a.updated_at >= tick.at - 5 * self.tick_interval
        }
        urgent = self._fresh_after_connect
        self._fresh_after_connect = False
        return Applied(urgent=urgent)

    def _add_river(self, items: list[RiverItem]) -> None:
        # Only the newest river_cap items of a huge tick can ever be shown.
        newest = sorted(items, key=lambda i: i.created_at)[-self.river_cap :]
        for item in newest:
            if item.id in self._river_ids:
                continue  # a snapshot after a reconnect repeats what we already have
            if len(self.river) >= self.river_cap:
                self._river_ids.discard(self.river.pop().id)
            self.river.appendleft(item)
            self._river_ids.add(item.id)

    def _take_alert(self, alert: Alert) -> Applied:
        self._alert_updates[alert.id] = alert
        if len(self._alert_updates) > SEEN_ALERTS_CAP:
            oldest = min(self._alert_updates.values(), key=lambda a: a.updated_at)
            del self._alert_updates[oldest.id]
        self.version += 1
        rank = SEVERITY_RANK.get(alert.severity, 0)
        shown = self._seen_alerts.get(alert.id)
        self._seen_alerts[alert.id] = max(rank, shown if shown is not None else -1)
        self._seen_alerts.move_to_end(alert.id)
        while len(self._seen_alerts) > SEEN_ALERTS_CAP:
            self._seen_alerts.popitem(last=False)
        opened = alert.ended_at is None and alert.severity in TAKEOVER_SEVERITIES
        # A new alert takes over; so does one that escalates (warning -> critical).
        if opened and (shown is None or rank > shown):
            return Applied(takeover=alert)
        return Applied()
