"""Per-brand counts over exact time windows, for the wall's brand tiles (hub/tiles.py).

The hourly rollup ``brand_hours`` holds mentions and negative ones per whole UTC hour
and no positive count, so it cannot compare "the last 60 minutes" with "the same 60
minutes yesterday" nor give a net sentiment. These counts come from
``mention_brands`` (its key is brand, received_at) joined to the mentions' sentiment
label: exact windows, one range scan per brand and window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groundcontrol.store.database import Store

__all__ = ["WindowCount", "oldest_received_at", "window_counts"]


@dataclass(frozen=True)
class WindowCount:
    """One brand's mentions in one window, by sentiment."""

    mentions: int = 0
    positive: int = 0
    negative: int = 0


def window_counts(
    store: Store, brands: Sequence[str], since: float, until: float
) -> dict[str, WindowCount]:
    """Per brand, the mentions with ``since <= received_at < until`` (zeros for none)."""
    out: dict[str, WindowCount] = {}
    for brand in dict.fromkeys(brands):
        row = store._db.execute(
            "SELECT count(*),"
            " coalesce(sum(m.sentiment_label = 'positive'), 0),"
            " coalesce(sum(m.sentiment_label = 'negative'), 0)"
            " FROM mention_brands b CROSS JOIN mentions m ON m.rowid = b.mention"
            " WHERE b.brand = ? AND b.received_at >= ? AND b.received_at < ?",
            (brand, since, until),
        ).fetchone()
        out[brand] = WindowCount(int(row[0]), int(row[1]), int(row[2]))
    return out


def oldest_received_at(store: Store) -> float | None:
    """When the oldest stored mention arrived (None for an empty store)."""
    row = store._db.execute("SELECT min(received_at) FROM mentions").fetchone()
    return None if row is None or row[0] is None else float(row[0])
