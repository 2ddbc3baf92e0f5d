"""``groundcontrol backtest --mentions``: recorded mentions through the hub, in virtual time.

The mentions (NDJSON, one :class:`~groundcontrol.model.Mention` per line: what ``tail``
and ``export`` write, and what ``feed demo --record`` makes) go through the hub's own
pipeline (dedupe, enrichment, copies, windows, detectors, incidents) on a clock that
moves with them, batch by batch and tick by tick, as fast as the CPU allows. Every
incident the hub would have opened comes out with its start, end, kind, severity,
signals and top terms.

A mention arrives at its ``received_at`` when it has one (a recording of a hub's
stream), else at its ``created_at`` (a feed's recording). Lines are read one at a
time, so a day of mentions needs no more memory than a few seconds of them; the input
should be in arrival order (a mention older than the batch being filled is taken with
that batch, as a live hub takes a feed's late mention).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from groundcontrol.config import Config
from groundcontrol.hub.server import Hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Incident

#: Seconds of mentions handed to the hub at once, and between its ticks.
BATCH_SECONDS = 1.0
#: Seconds of virtual time between two ticks of the hub (whole buckets).
TICK_SECONDS = 60.0
#: Most mentions in one batch (a burst's second is split, as a feed would).
MAX_BATCH = 5_000

_decode = msgspec.json.Decoder(Mention).decode


class MentionsError(ValueError):
    """Bad input: the message names the file and line."""


class _VirtualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class MentionsResult:
    """What a run found."""

    incidents: list[Incident]
    """Every incident, in the order they opened, as they were at the end."""
    mentions: int
    duplicates: int
    start: float
    end: float


def read_mentions(path: Path) -> Iterator[tuple[int, Mention]]:
    """(line number, mention) for each non-blank line; raises :class:`MentionsError`."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise MentionsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield n, _decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise MentionsError(
                    f"{path}: line {n}: not a mention ({exc}); expected one JSON mention "
                    "per line, as tail, export and feed demo --record write"
                ) from None


def arrival(m: Mention) -> float:
    return m.received_at if m.received_at > 0 else m.created_at.timestamp()


def run_mentions(
    path: Path,
    config: Config,
    *,
    progress: Callable[[int, float], None] | None = None,
    tick_seconds: float = TICK_SECONDS,
) -> MentionsResult:
    """Run the file through a hub with no store on a virtual clock."""
    lines = read_mentions(path)
    first = next(lines, None)
    if first is None:
        raise MentionsError(f"{path}: no mentions")
    start = math.floor(arrival(first[1]))
    clock = _VirtualClock(float(start))
    # A backtest tells no one: no notifications, whatever the config says.
    hub = Hub(dataclasses.replace(config, notify=()), clock=clock)
    # The detectors see every completed bucket whatever the tick rate (a tick feeds all
    # the buckets sealed since the one before), so the backtest ticks once every few
    # buckets: far cheaper than a wall's four ticks a second, the same incidents.
    bs = config.analytics.bucket_seconds
    tick_every = float(bs * max(1, round(tick_seconds / bs)))
    incidents: dict[str, Incident] = {}
    count = dups = 0

    def tick() -> None:
        _tick, events = hub.publish_once()
        for event in events:
            incidents[event.incident.id] = event.incident

    hub.publish_once()  # the first tick opens the first bucket, as a live hub's does
    batch: list[Mention] = []
    batch_end = start + BATCH_SECONDS
    next_tick = start + tick_every

    def flush() -> None:
        nonlocal count, dups, batch
        if batch:
            taken, repeated = hub.take_batch(batch, None)
            count += taken
            dups += repeated
            batch = []

    def advance(t: float) -> None:
        """Hand over every batch that ends by ``t`` and tick on the way."""
        nonlocal batch_end, next_tick
        while t >= batch_end:
            clock.now = batch_end
            flush()
            while next_tick <= clock.now:
                tick()
                next_tick += tick_every
            batch_end += BATCH_SECONDS
            if progress is not None and int(batch_end - start) % 1800 == 0:
                progress(count, batch_end - start)

    def take(m: Mention) -> None:
        advance(arrival(m))
        batch.append(m)
        if len(batch) >= MAX_BATCH:
            flush()

    take(first[1])
    for _n, m in lines:
        take(m)
    end = batch_end
    # Let the last incidents end: a quiet spell as long as an incident needs to close.
    advance(end + config.spikes.end_after_seconds + 3 * tick_every)
    return MentionsResult(
        incidents=sorted(incidents.values(), key=lambda i: (i.started_at, i.id)),
        mentions=count,
        duplicates=dups,
        start=float(start),
        end=end,
    )


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def as_json(result: MentionsResult) -> str:
    """``{"incidents": [...]}``: each incident as the hub has it, with ``start`` and
    ``end`` as ISO times."""
    out = []
    for inc in result.incidents:
        item = {"start": iso(inc.started_at), "end": iso(inc.ended_at or inc.resolved_at)}
        item.update(msgspec.to_builtins(inc))
        out.append(item)
    return json.dumps(
        {
            "incidents": out,
            "mentions": result.mentions,
            "duplicates": result.duplicates,
            "from": iso(result.start),
            "to": iso(result.end),
        },
        indent=1,
        ensure_ascii=False,
    )


def as_text(result: MentionsResult) -> str:
    lines = [
        f"{result.mentions} mentions from {iso(result.start)} to {iso(result.end)}"
        + (f" ({result.duplicates} duplicates dropped)" if result.duplicates else "")
        + f"; {len(result.incidents)} incident(s)"
    ]
    for inc in result.incidents:
        end = iso(inc.ended_at or inc.resolved_at) or "still open"
        lines.append(
            f"{iso(inc.started_at)} to {end}  {inc.kind:<8} {inc.severity:<8} "
            f"{inc.ratio:.1f}x  {inc.title}"
        )
        for s in inc.signals:
            extra = ""
            if s.share is not None and s.baseline_share is not None:
                extra = f", {s.share:.0%} negative vs {s.baseline_share:.0%} usually"
            lines.append(
                f"    {s.kind:<8} {s.label}: peak {s.peak:,.0f}/min vs {s.baseline:,.1f}/min{extra}"
            )
        if inc.top_terms:
            lines.append(f"    terms: {', '.join(inc.top_terms)}")
    return "\n".join(lines) + "\n"
