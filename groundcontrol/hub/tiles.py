"""The wall's brand tiles: each watched brand's last 60 minutes against the same 60
minutes 24 hours and 7 days before, from the store (issue 14).

Once a minute, and at once when the hub starts, :class:`BrandTiles` reads the store
through the writer's reader connection on a worker thread (``StoreWriter.read``, as
search.py does), never on the event loop; the publisher sends the latest result to
each client as it connects and again when it changes (``TilesEvent``), not in every
tick. Windows are exact (store/tiles.py), not hourly
buckets: like is compared with like at any minute of the hour. A comparison is None
when the store's oldest mention is newer than the start of its window (the store does
not reach back that far: a new store, or retention shorter than a week), and the
change is None too when nothing was said then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence

from groundcontrol.hub.state import CurrentWriter
from groundcontrol.protocol import BrandTile
from groundcontrol.store.database import Store
from groundcontrol.store.tiles import WindowCount, oldest_received_at, window_counts

__all__ = ["HOUR", "LAST_WEEK", "REFRESH_SECONDS", "YESTERDAY", "BrandTiles", "compute_tiles"]

log = logging.getLogger("groundcontrol.hub.tiles")

#: Seconds between two reads of the store.
REFRESH_SECONDS = 60.0
#: The window, and how far back the two comparisons lie.
HOUR = 3600.0
YESTERDAY = 86400.0
LAST_WEEK = 7 * 86400.0


def _share(c: WindowCount) -> float:
    return round(c.negative / c.mentions, 4) if c.mentions else 0.0


def _change(now: int, then: int | None) -> float | None:
    if then is None or then <= 0:
        return None
    return round((now - then) / then, 4)


def compute_tiles(
    store: Store, brands: Sequence[str], now: float, competitors: Collection[str] = ()
) -> list[BrandTile]:
    """One tile per brand for the 60 minutes before ``now``: ours first, then the
    ``competitors``, each in ``brands`` order."""
    rivals = set(competitors)
    names = sorted(dict.fromkeys(brands), key=lambda n: n in rivals)
    if not names:
        return []
    oldest = oldest_received_at(store)
    current = window_counts(store, names, now - HOUR, now)
    back: dict[float, dict[str, WindowCount] | None] = {}
    for offset in (YESTERDAY, LAST_WEEK):
        start = now - offset - HOUR
        if oldest is None or oldest > start:
            back[offset] = None
        else:
            back[offset] = window_counts(store, names, start, now - offset)
    tiles: list[BrandTile] = []
    for name in names:
        c = current[name]
        day = back[YESTERDAY]
        week = back[LAST_WEEK]
        d = None if day is None else day[name]
        w = None if week is None else week[name]
        tiles.append(
            BrandTile(
                brand=name,
                mentions_hour=c.mentions,
                net=round((c.positive - c.negative) / c.mentions, 4) if c.mentions else 0.0,
                negative_share=_share(c),
                mentions_yesterday=None if d is None else d.mentions,
                mentions_last_week=None if w is None else w.mentions,
                vs_yesterday=_change(c.mentions, None if d is None else d.mentions),
                vs_last_week=_change(c.mentions, None if w is None else w.mentions),
                negative_share_yesterday=None if d is None or not d.mentions else _share(d),
                negative_share_last_week=None if w is None or not w.mentions else _share(w),
                competitor=name in rivals,
            )
        )
    return tiles


class BrandTiles:
    """Keeps the latest tiles, refreshed from the store every REFRESH_SECONDS."""

    def __init__(
        self,
        brands: Sequence[str],
        *,
        competitors: Collection[str] = (),
        clock: Callable[[], float],
        writer: CurrentWriter,
        interval: float = REFRESH_SECONDS,
    ) -> None:
        self.brands = list(brands)
        self.competitors = frozenset(competitors)
        self.clock = clock
        self.writer = writer
        self.interval = interval
        self.tiles: list[BrandTile] = []
        self._task: asyncio.Task[None] | None = None

    def current(self) -> list[BrandTile]:
        """The latest tiles (empty before the first read, or without a store)."""
        return self.tiles

    async def refresh(self) -> list[BrandTile]:
        """Read the store now (on the reader thread) and keep the result."""
        writer = self.writer()
        if writer is None:
            self.tiles = []
            return self.tiles
        now = self.clock()
        brands, rivals = self.brands, self.competitors
        self.tiles = await writer.read(lambda store: compute_tiles(store, brands, now, rivals))
        return self.tiles

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-brand-tiles")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a failed read leaves the last tiles; try again later
                log.exception("brand tiles: reading the store failed")
            await asyncio.sleep(self.interval)
