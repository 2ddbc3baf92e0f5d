"""Rebuild after a restart: the stored last hour replayed through the windows.

The hub calls :func:`rebuild` before it serves: the store's newest mentions go through
the same buckets, windows and detectors as live ones, so the wall looks as it did
before the restart; then the stored incidents are taken back, and the triage states of
the mentions on the walls' review queue (who owns them, which were resolved).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from groundcontrol.model import Mention
from groundcontrol.protocol import fold_triage
from groundcontrol.signals.analytics import Analytics
from groundcontrol.store.database import Store

log = logging.getLogger("groundcontrol.hub.rebuild")


def rebuild(
    analytics: Analytics,
    store: Store,
    now: float,
    *,
    progress: Callable[[int], None] | None = None,
    max_mentions: int = 1_000_000,
) -> int:
    """Replay the stored history of the last ``history_buckets`` into ``analytics``.

    The mentions go through the same buckets, windows and spike detectors as live ones,
    one tick per bucket in hub time, so windows, topics, the detectors and the river
    are what they were before the restart. What the replay makes of incidents is
    discarded: the stored incidents are taken back instead (they were published and
    stored the first time, and people may have acknowledged them since). Returns
    mentions replayed.

    At most the newest ``max_mentions`` are replayed, so a restart after an hour of
    heavy traffic stays quick: the windows are exact, the baselines shorter.
    """
    bs = analytics.bucket_seconds
    first_bucket = int(now // bs) - analytics.history_buckets + 1
    newest = store.received_at_of_nth_newest(max_mentions)
    if newest is not None and newest > first_bucket * bs:
        first_bucket = int(newest // bs) + 1  # whole buckets only
        log.warning(
            "more than %d mentions in the last hour: rebuilding from %d s ago only",
            max_mentions,
            now - first_bucket * bs,
        )
    replayed = 0
    current: int | None = None
    pending: list[Mention] = []
    for chunk in store.recent_mentions(first_bucket * bs):
        for m in chunk:
            bucket = int(m.received_at // bs)
            if current is None:
                # The first tick opens the first bucket, as the live hub's did.
                analytics.tick(bucket * bs)
                current = bucket
            elif bucket > current:
                # Hand over the bucket and tick at the start of the next one, as the
                # live hub would have: that seals it and feeds the spike detectors.
                analytics.add(pending)
                pending = []
                analytics.tick(bucket * bs)
                current = bucket
            pending.append(m)
        replayed += len(chunk)
        if progress is not None:
            progress(replayed)
    if current is not None:
        analytics.add(pending)
        analytics.tick(max(now, current * bs))
    analytics.restore_incidents(store.incidents_to_restore(now))
    # The replay queued every stored mention sent to review, as new: their actions
    # say which are owned, escalated, or resolved and off the queue.
    for mention_id, actions in store.triage_histories(analytics.review_ids()).items():
        analytics.triaged(fold_triage(mention_id, "", actions))
    return replayed
