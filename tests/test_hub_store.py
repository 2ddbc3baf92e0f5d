"""The hub with its durable store: ack after commit, dedupe across restarts, dead
letters, retention, and windows rebuilt from the store after a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from pathlib import Path

import aiohttp
import msgspec
import pytest
import websockets

from feeds.demo import TIMELINE, DemoStream
from groundcontrol.client.ingest import IngestClient
from groundcontrol.config import Config, load_config
from groundcontrol.hub.rebuild import rebuild
from groundcontrol.hub.server import start_hub
from groundcontrol.listen.enrich import Enricher
from groundcontrol.model import Mention
from groundcontrol.protocol import Ack, ErrorReply, IncidentEvent, Retraction
from groundcontrol.signals.analytics import Analytics
from groundcontrol.store.database import Store
from groundcontrol.store.writer import StoreWriter
from tests.deadline import SAFETY, until
from tests.test_hub import batch, mention, reply, small_config
from tests.test_hub import feed as connect_feed

TIMEOUT = SAFETY


def count(db: Path, table: str = "mentions") -> int:
    with sqlite3.connect(db) as con:
        n: int = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return n


async def test_every_acked_mention_is_already_in_the_store(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    seen_in_store: list[tuple[int, int]] = []

    def on_ack(ack: Ack, _sent: float) -> None:
        # Read with a separate connection, at the moment the ack arrives.
        seen_in_store.append((ack.seq, count(db)))

    client = IngestClient(f"ws://127.0.0.1:{port}", name="t", window=4, on_ack=on_ack)
    client.start()
    try:
        for b in range(20):
            items = [
                msgspec.convert(mention(b * 50 + i), Mention) for i in range(50)
            ]  # 50 per batch
            await client.submit(items)
        assert await client.drain(TIMEOUT)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            health = await resp.json()
    finally:
        await client.close()
        await runner.cleanup()
    assert health["store"]["path"] == str(db)
    assert health["store"]["failures"] == 0 and health["store"]["commit_p99_ms"] > 0
    assert len(seen_in_store) == 20
    for seq, stored in seen_in_store:
        assert stored >= seq * 50, f"batch {seq} acked before it was stored ({stored} rows)"
    assert count(db) == 1000
    assert hub.counters.ingested == 1000


async def test_a_restarted_hub_dedupes_against_the_store(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    items = [mention(i) for i in range(30)]
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    ws = await connect_feed(f"ws://127.0.0.1:{port}")
    await ws.send(batch(1, items))
    first = await reply(ws)
    await ws.close()
    await runner.cleanup()
    assert isinstance(first, Ack) and first.accepted == 30

    # A new hub process knows nothing in memory; the store remembers.
    hub2, runner2, port2 = await start_hub(small_config(), port=0, store_path=db)
    try:
        ws = await connect_feed(f"ws://127.0.0.1:{port2}")
        await ws.send(batch(1, [*items[10:], mention(99)]))
        again = await reply(ws)
        await ws.close()
    finally:
        await runner2.cleanup()
    assert isinstance(again, Ack)
    assert (again.accepted, again.duplicates) == (1, 20)
    assert count(db) == 31
    assert hub2.counters.duplicates == 20
    assert not hub2._inflight  # nothing left pending, stored-before ids included
    # The wall's running total goes on from what the store took before.
    assert hub2.ingested_before == 30
    assert hub2.publish_once()[0].ingested_total == 31


async def test_rejected_items_and_refused_messages_become_dead_letters(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    try:
        ws = await connect_feed(f"ws://127.0.0.1:{port}")
        bad_date = {**mention(2), "created_at": "2099-01-01T00:00:00Z"}
        no_text = {k: v for k, v in mention(3).items() if k != "text"}
        await ws.send(batch(1, [mention(1), bad_date, no_text]))
        ack = await reply(ws)
        # Dead letters of a batch are committed with it, before its ack.
        assert count(db, "dead_letters") == 2
        await ws.send(b'{"type": "batch", "seq": 2, "mentions": [')
        refused = await reply(ws)
        await ws.close()
    finally:
        await runner.cleanup()
    assert isinstance(ack, Ack) and (ack.accepted, ack.rejected) == (1, 2)
    assert isinstance(refused, ErrorReply) and refused.code == "malformed"
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT feed, reason, payload FROM dead_letters ORDER BY id").fetchall()
    assert len(rows) == 3
    assert all(feed == "test" for feed, _, _ in rows)
    assert "in the future" in rows[0][1]
    assert json.loads(rows[0][2])["source_id"] == "2"
    assert "text" in rows[1][1] and json.loads(rows[1][2])["source_id"] == "3"
    assert rows[2][1].startswith("malformed: not valid JSON")
    assert rows[2][2] == b'{"type": "batch", "seq": 2, "mentions": ['


async def test_a_store_that_fails_closes_the_feed_without_an_ack(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    try:
        # Another connection takes the write lock and keeps it: commits time out.
        blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        import groundcontrol.store.database as store_module

        ws = await connect_feed(f"ws://127.0.0.1:{port}")
        assert store_module.BUSY_TIMEOUT_MS == 10_000
        _hub.writer.store._db.execute("PRAGMA busy_timeout = 50")  # type: ignore[union-attr]
        await ws.send(batch(1, [mention(1)]))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        blocker.execute("ROLLBACK")
        blocker.close()
    finally:
        await runner.cleanup()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "could not take a batch" in closed.value.rcvd.reason
    assert count(db) == 0


async def test_old_rows_are_pruned(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    store = Store(db)
    old = [msgspec.convert(mention(i), Mention) for i in range(10)]
    for m in old:
        m.received_at = 1_000.0
    store.add_mentions(old)
    writer = StoreWriter(Store(db), retention_seconds=3600.0, prune_interval=0.05)
    writer.start()
    fresh = [msgspec.convert(mention(i, source="y"), Mention) for i in range(5)]
    for m in fresh:
        m.received_at = writer.clock()
    assert await writer.write_mentions(fresh) == [True] * 5
    await until(lambda: writer.stats.pruned >= 10, "the prune")
    await asyncio.to_thread(writer.close)
    assert writer.stats.pruned == 10
    assert store.stats()["mentions"] == 5
    assert writer.stats.commits >= 1 and writer.stats.quantile(0.5) > 0
    store.close()


# ---------------------------------------------------------------------- rebuild


def quiet_config() -> Config:
    cfg = load_config()
    return dataclasses.replace(cfg, demo=dataclasses.replace(cfg.demo, rate=20.0))


def run_live(
    config: Config, store: Store | None, start: float, seconds: int, analytics: Analytics
) -> list[IncidentEvent]:
    """Feed the demo into ``analytics`` (and the store) as the hub would, one second
    at a time, ticking every minute (each completed 10-second bucket still reaches
    the detectors); return every incident change (stored too)."""
    enricher = Enricher(config.brands, config.queries)
    stream = DemoStream(seed=3, rate=config.demo.rate, start=STREAM_START)
    events: list[IncidentEvent] = []
    for t in range(int(start), int(start) + seconds):
        batch_ = stream.between(t, t + 1)
        for m in batch_:
            m.id = m.key
            m.received_at = t + 1.0
        enricher.enrich(batch_)
        if store is not None:
            store.add_mentions(batch_)
        analytics.add(batch_)
        if (t + 1) % 60 == 0:
            _tick, evs = analytics.tick(t + 1.0)
            events.extend(evs)
            if store is not None:
                for ev in evs:
                    store.put_incident(ev)
    return events


#: The demo's day starts here: its first story, the #AeroGate defect, runs from
#: 3 min 20 s to 16 min.
STREAM_START = 1_790_000_000.0


@pytest.mark.slow
def test_rebuilt_windows_match_the_live_ones_and_no_cold_spike(tmp_path: Path) -> None:
    config = quiet_config()
    start = STREAM_START
    defect = TIMELINE[0]
    with Store(tmp_path / "gc.db") as store:
        live = Analytics(config)
        # 30 minutes: the whole defect story, and its incident, are in the store.
        live_events = run_live(config, store, start, 1800, live)
        opened = [e.incident for e in live_events if e.change == "opened"]
        assert [i.brand for i in opened] == ["Northwind"], "the defect should open one incident"
        assert start + defect.starts_at <= opened[0].started_at <= start + defect.starts_at + 120
        now = start + 1800
        rebuilt = Analytics(config)
        n = rebuild(rebuilt, store, now)
    assert n == store_count(tmp_path / "gc.db")
    a = live.tick(now)[0]
    b = rebuilt.tick(now)[0]
    assert b.volume.window == a.volume.window > 0
    assert b.volume.series[-30:] == a.volume.series[-30:]
    assert b.sentiment == a.sentiment
    # The hot topics a wall shows (the tail of the list may break ties differently).
    assert [t.term for t in b.topics][:8] == [t.term for t in a.topics][:8]
    # The rebuilt hub shows the stored incident, as it was, and nothing the replay
    # made of the history.
    assert [(i.id, i.status) for i in b.incidents] == [(i.id, i.status) for i in a.incidents]
    assert [i.id for i in a.incidents] == [opened[0].id]

    # Go on for 10 more minutes of ordinary traffic: the rebuilt hub opens nothing,
    # as the one that never stopped opens nothing: no cold spike because it restarted.
    later_live = run_live(config, None, now, 600, live)
    later_rebuilt = run_live(config, None, now, 600, rebuilt)
    assert [e for e in later_live if e.change == "opened"] == []
    assert [e.incident.title for e in later_rebuilt if e.change == "opened"] == []


def store_count(db: Path) -> int:
    return count(db)


async def test_a_flooding_feed_cannot_starve_a_quiet_one(tmp_path: Path) -> None:
    """One connection pushes big batches as fast as TCP takes them, never waiting for
    acks; another sends small batches. The quiet feed's batches are all acked while
    the flood is still far from done: the flooder only ever has a few batches in the
    hub's queues (MAX_BATCHES_IN_FLIGHT), so it cannot push the quiet feed back."""
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    url = f"ws://127.0.0.1:{port}"
    flood_batches = 60
    flood = [
        batch(seq, [mention(seq * 1000 + i, source="flood") for i in range(1000)])
        for seq in range(1, flood_batches + 1)
    ]
    flood_acks: list[int] = []
    flood_under_way = asyncio.Event()
    try:
        flooder = await connect_feed(url)
        quiet = await connect_feed(url)

        async def push() -> None:
            for data in flood:
                await flooder.send(data)

        async def read_flood_acks() -> None:
            while len(flood_acks) < flood_batches:
                r = await reply(flooder)
                assert isinstance(r, Ack)
                flood_acks.append(r.seq)
                flood_under_way.set()

        pusher = asyncio.create_task(push())
        reader = asyncio.create_task(read_flood_acks())
        await asyncio.wait_for(flood_under_way.wait(), 60)
        for seq in range(1, 11):
            await quiet.send(batch(seq, [mention(seq * 10 + i, source="quiet") for i in range(10)]))
        quiet_acks = [await reply(quiet) for _ in range(10)]
        flood_done_when_quiet_finished = len(flood_acks)
        await asyncio.wait_for(asyncio.gather(pusher, reader), 120)
        await flooder.close()
        await quiet.close()
    finally:
        await runner.cleanup()
    assert [a.seq for a in quiet_acks if isinstance(a, Ack)] == list(range(1, 11))
    assert all(isinstance(a, Ack) and a.accepted == 10 for a in quiet_acks)
    assert flood_done_when_quiet_finished <= flood_batches // 2, (
        f"the quiet feed waited for {flood_done_when_quiet_finished} of "
        f"{flood_batches} flood batches"
    )
    assert flood_acks == list(range(1, flood_batches + 1))
    assert count(tmp_path / "gc.db") == flood_batches * 1000 + 100


async def test_a_resend_is_not_acked_before_the_first_copy_is_stored(tmp_path: Path) -> None:
    """After a cut, a feed may resend a batch while the hub still commits the first
    copy. The resend's ack must wait for that commit, and must not come at all if
    the commit fails: an ack means "on disk"."""
    hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    assert hub.writer is not None
    real_write = hub.writer.write_mentions
    release = asyncio.Event()
    writing = asyncio.Event()
    calls = 0

    async def slow_then_failing_write(
        mentions: list[Mention], dead_letters: object = None
    ) -> list[bool]:
        nonlocal calls
        calls += 1
        if calls == 1:
            writing.set()
            await release.wait()
            raise OSError(28, "No space left on device")
        return await real_write(mentions)

    hub.writer.write_mentions = slow_then_failing_write  # type: ignore[method-assign]
    url = f"ws://127.0.0.1:{port}"
    items = [mention(i) for i in range(20)]
    try:
        first = await connect_feed(url)
        await first.send(batch(1, items))
        await asyncio.wait_for(writing.wait(), TIMEOUT)
        second = await connect_feed(url)
        await second.send(batch(1, items))
        with pytest.raises(TimeoutError):  # no ack while the first copy is pending
            await asyncio.wait_for(second.recv(), 0.5)
        release.set()
        for ws in (first, second):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        # The feed resends after reconnecting; now the store takes it.
        third = await connect_feed(url)
        await third.send(batch(1, items))
        ack = await reply(third)
        await third.close()
    finally:
        await runner.cleanup()
    assert isinstance(ack, Ack) and ack.accepted == 20
    assert count(tmp_path / "gc.db") == 20


@pytest.mark.parametrize("tells_the_wait", [True, False])
def test_a_backlog_after_an_outage_is_not_a_spike(tells_the_wait: bool) -> None:
    """A feed cut off for two minutes delivers the backlog at once. Placed when the
    feed had it (``queued``), it fills the gap in the series and raises nothing; taken
    as arriving now, the same mentions look like a surge in one bucket (which the
    detector takes for the outlier it is)."""
    from groundcontrol.hub.server import Hub
    from groundcontrol.lab.simulate import VirtualClock

    config = quiet_config()
    start = STREAM_START + 1500  # after the demo day's first story, traffic is steady
    clock = VirtualClock(start)
    hub = Hub(config, clock=clock)
    stream = DemoStream(seed=3, rate=40.0, start=STREAM_START)
    events: list[IncidentEvent] = []

    def run(seconds: int, *, deliver: bool) -> list[Mention]:
        held: list[Mention] = []
        for _ in range(seconds):
            t = clock.now
            batch_ = stream.between(t, t + 1)
            clock.now = t + 1
            if deliver:
                hub.take_batch(batch_, None)
            else:
                held.extend(batch_)
            if int(clock.now) % 30 == 0:
                events.extend(hub.publish_once()[1])
        return held

    run(900, deliver=True)  # 15 minutes of baseline
    quiet = len(events)
    backlog = run(120, deliver=False)  # the link is down; the hub ticks on
    hub.take_batch(backlog, None, queued=120.0 if tells_the_wait else 0.0)
    run(60, deliver=True)
    opened = [e.incident for e in events[quiet:] if e.change == "opened"]
    assert opened == [], [(i.title, i.started_at - start) for i in opened]
    series = hub.analytics.tick(clock.now)[0].volume.series
    peak = max(series) / sorted(series)[len(series) // 2]
    if not tells_the_wait:
        # Taken as arriving now, two minutes land in one bucket: a fake surge that
        # opens nothing: a source's backlog is no story.
        assert peak > 5, series


async def test_a_bad_queued_value_is_refused(tmp_path: Path) -> None:
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    try:
        ws = await connect_feed(f"ws://127.0.0.1:{port}")
        for bad in (-1, 1e12, "soon"):
            data = json.dumps({"type": "batch", "seq": 3, "queued": bad, "mentions": [mention(1)]})
            await ws.send(data)
            r = await reply(ws)
            assert isinstance(r, ErrorReply) and r.code == "invalid" and r.seq == 3
            assert "queued" in r.message
        await ws.close()
    finally:
        await runner.cleanup()
    assert count(tmp_path / "gc.db") == 0
    assert count(tmp_path / "gc.db", "dead_letters") == 3


def test_rebuild_replays_at_most_the_newest_mentions(tmp_path: Path) -> None:
    config = quiet_config()
    now = 1_790_000_000.0
    with Store(tmp_path / "gc.db") as store:
        items = [msgspec.convert(mention(i), Mention) for i in range(1000)]
        for i, m in enumerate(items):
            m.received_at = now - 100 + i / 10  # 10 a second over the last 100 s
        store.add_mentions(items)
        assert rebuild(Analytics(config), store, now) == 1000
        replayed = rebuild(Analytics(config), store, now, max_mentions=250)
    # Whole buckets only: the 250th newest came 25 s ago, in the bucket [-30 s, -20 s);
    # the replay starts with the next one, the last 20 s: 200 mentions.
    assert replayed == 200


async def test_metrics_report_store_and_per_feed_spool_and_lag(tmp_path: Path) -> None:
    from groundcontrol.client.spool import Spool

    hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    spool = Spool(tmp_path / "spool", fsync=False)
    client = IngestClient(
        f"ws://127.0.0.1:{port}", name="rss-1", source="rss", spool=spool, status_every=0.05
    )
    client.start()
    try:
        await client.submit([msgspec.convert(mention(i), Mention) for i in range(10)])
        assert await client.drain(TIMEOUT)

        def exposition() -> str:
            return "\n".join(
                f"{m.name}{s}{labels} {v}" for m in hub.metrics() for labels, v, s in m.samples
            )

        # A status report after the ack says the feed has nothing left.
        settled = [
            "groundcontrol_feed_spool_depth{'feed': 'rss-1', 'source': 'rss'} 0",
            "groundcontrol_feed_pending_batches{'feed': 'rss-1', 'source': 'rss'} 0",
        ]
        await until(lambda: all(line in exposition() for line in settled), "a status report")
        text = exposition()
    finally:
        await client.close()
        spool.close()
        await runner.cleanup()
    assert "groundcontrol_feed_lag_seconds{'feed': 'rss-1'" in text
    assert "groundcontrol_store_mentions_written_total{} 10" in text
    assert "groundcontrol_store_commit_seconds_count{}" in text
    assert "groundcontrol_store_bytes{}" in text


async def test_a_feed_reports_skipped_items_and_its_health(tmp_path: Path) -> None:
    from groundcontrol.protocol import FeedStatus

    hub, runner, port = await start_hub(small_config(), port=0, store_path=tmp_path / "gc.db")
    health = FeedStatus(events_per_min=12.0, errors=2, rate_limit_wait=41.5, detail="429")
    client = IngestClient(
        f"ws://127.0.0.1:{port}", name="reddit", source="reddit", health=lambda: health
    )
    client.start()
    try:
        client.report_dead("no 'name' field", '{"kind": "t3", "data": {}}')
        await client.submit([msgspec.convert(mention(1), Mention)])
        assert await client.drain(TIMEOUT)
        await until(
            lambda: count(tmp_path / "gc.db", "dead_letters") and hub.feed_infos(0)[0].detail,
            "the dead letter and the feed's health",
        )
        info = hub.feed_infos(0)[0]
    finally:
        await client.close()
        await runner.cleanup()
    assert (info.rate_limit_wait, info.detail) == (41.5, "429")
    assert hub.counters.rejected == 1
    with sqlite3.connect(tmp_path / "gc.db") as db:
        rows = db.execute("SELECT feed, reason, payload FROM dead_letters").fetchall()
    assert rows == [("reddit", "feed: no 'name' field", b'{"kind": "t3", "data": {}}')]


async def test_a_store_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    from groundcontrol.store.database import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create its directory"):
        await start_hub(small_config(), port=0, store_path=blocker / "sub" / "gc.db")


async def test_edits_and_deletions_from_a_source_change_the_store(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    client = IngestClient(f"ws://127.0.0.1:{port}", name="t", window=4)
    client.start()

    def m(i: int, text: str) -> Mention:
        return msgspec.convert(mention(i, text), Mention)

    try:
        await client.submit([m(1, "Northwind is fine"), m(2, "#northwind rocks"), m(3, "meh")])
        # The edit and deletions come in the very next batches, while the first may
        # still be on its way to the disk.
        await client.submit(
            [],
            edits=[m(1, "Northwind support is terrible, I hate it #aerogate"), m(9, "new one")],
            deleted=[Retraction(source="x", source_id="2")],
        )
        await client.submit([], deleted=[Retraction(source="x", source_id="404")])
        assert await client.drain(TIMEOUT)
    finally:
        await client.close()
        await runner.cleanup()
    with sqlite3.connect(db) as con:
        rows = dict(con.execute("SELECT source_id, text FROM mentions").fetchall())
        label = con.execute("SELECT sentiment_label FROM mentions WHERE source_id='1'").fetchone()
        tags = con.execute("SELECT term FROM mention_terms ORDER BY term").fetchall()
        brand_rows = con.execute("SELECT count(*) FROM mention_brands").fetchone()[0]
    assert rows == {
        "1": "Northwind support is terrible, I hate it #aerogate",
        "3": "meh",
        "9": "new one",
    }
    assert label == ("negative",)
    # The deleted mention's hashtag row went with it; the edit's new hashtag is indexed.
    assert tags == [("#aerogate",)]
    assert brand_rows == 1  # only the edited mention names a brand now
    assert (hub.counters.edits, hub.counters.deletions) == (2, 2)
    assert hub.counters.ingested == 4


async def test_a_post_and_its_edit_or_deletion_in_one_batch(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    _hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    client = IngestClient(f"ws://127.0.0.1:{port}", name="t")
    client.start()

    def m(i: int, text: str) -> Mention:
        return msgspec.convert(mention(i, text), Mention)

    try:
        await client.submit(
            [m(20, "first words"), m(21, "soon gone")],
            edits=[m(20, "second thoughts")],
            deleted=[Retraction(source="x", source_id="21")],
        )
        assert await client.drain(TIMEOUT)
    finally:
        await client.close()
        await runner.cleanup()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT source_id, text FROM mentions").fetchall() == [
            ("20", "second thoughts")
        ]
