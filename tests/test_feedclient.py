"""The ingest client with an on-disk spool, against a real hub on loopback.

Nothing lost: batches submitted while the hub is down, across a restart of the feed,
across a SIGKILL of the feed process, and while the spool is full all reach the hub,
each mention counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from groundcontrol.client.ingest import LATE_AFTER_SECONDS, IngestClient
from groundcontrol.client.spool import Spool
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.lab.bench import free_port
from groundcontrol.model import Mention
from tests.deadline import SAFETY, until
from tests.test_hub import small_config

TIMEOUT = SAFETY
REPO = Path(__file__).resolve().parent.parent


def mentions(first: int, count: int) -> list[Mention]:
    now = datetime.now(UTC)
    return [
        msgspec.convert(
            {
                "source": "x",
                "source_id": str(i),
                "text": f"Northwind Aero {i} is fine",
                "created_at": now,
            },
            Mention,
        )
        for i in range(first, first + count)
    ]


def ids_seen(hub: Hub, n: int) -> list[int]:
    """Which of the mention ids 0..n-1 the hub has taken (its dedupe remembers all)."""
    seen = hub.dedupe._seen
    return [i for i in range(n) if f"x:{i}" in seen]


def quick_backoff() -> Backoff:
    return Backoff(initial=0.05, maximum=0.2, seed=1)


async def test_batches_spooled_while_the_hub_is_down_survive_a_feed_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    events: list[str] = []
    spool = Spool(tmp_path, fsync=False)
    client = IngestClient(
        url, name="t", on_event=events.append, spool=spool, backoff=quick_backoff()
    )
    client.start()
    for b in range(3):
        await client.submit(mentions(b * 10, 10))
    assert client.stats.spool_depth == 3
    assert client.stats.spool_bytes > 0
    await until(lambda: any("unreachable" in e for e in events), "a refused connect")
    await client.close()  # the feed stops with nothing acked...
    spool.close()

    spool = Spool(tmp_path, fsync=False)  # ...and starts again
    client = IngestClient(
        url, name="t", on_event=events.append, spool=spool, backoff=quick_backoff()
    )
    client.start()
    assert client.pending == 3
    assert any("resending 3 batches" in e for e in events)
    first_new = await client.submit(mentions(30, 10))
    assert first_new == 4  # seqs of the earlier run are not reused
    await client.submit(mentions(40, 10))
    hub, runner, _ = await start_hub(small_config(), port=port)  # the hub comes up
    try:
        assert await client.drain(TIMEOUT)
        assert hub.counters.ingested == 50
        assert hub.counters.duplicates == 0
        assert ids_seen(hub, 50) == list(range(50))
        assert client.stats.spool_depth == 0
        assert spool.unacked() == []
        assert [f for f in os.listdir(tmp_path) if f.endswith(".seg")] == []
    finally:
        await client.close()
        spool.close()
        await runner.cleanup()


async def test_without_a_spool_nothing_touches_disk_and_tokens_are_optional(
    tmp_path: Path,
) -> None:
    hub, runner, port = await start_hub(small_config(), port=0)
    client = IngestClient(f"ws://127.0.0.1:{port}", name="t", token="s3cret")
    client.start()
    try:
        await client.submit(mentions(0, 5))
        assert await client.drain(TIMEOUT)
        assert hub.counters.ingested == 5
        assert client.stats.spool_depth == 0
    finally:
        await client.close()
        await runner.cleanup()


async def test_the_token_goes_out_as_a_bearer_header() -> None:
    seen: list[str | None] = []

    import websockets

    async def handler(ws: websockets.ServerConnection) -> None:
        assert ws.request is not None
        seen.append(ws.request.headers.get("Authorization"))
        await ws.close()

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        for token in ("s3cret", None):
            client = IngestClient(f"ws://127.0.0.1:{port}", name="t", token=token)
            before = len(seen)
            client.start()
            await until(lambda before=before: len(seen) > before)
            await client.close()
    assert seen[0] == "Bearer s3cret"
    assert None in seen[1:]


async def test_a_full_spool_blocks_submit_loudly_and_resumes_after_acks(tmp_path: Path) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    events: list[str] = []
    # Each batch of 10 mentions encodes to ~1.3 KB: room for about four.
    spool = Spool(tmp_path, max_bytes=6_000, fsync=False)
    client = IngestClient(
        url, name="t", on_event=events.append, spool=spool, backoff=quick_backoff()
    )
    client.start()
    submitted = 0
    blocked: asyncio.Task[int] | None = None
    try:
        for b in range(20):
            task = asyncio.create_task(client.submit(mentions(b * 10, 10)))
            # Either it returns, or it says the spool is full and waits.
            await until(lambda t=task: t.done() or any(e.startswith("spool full") for e in events))
            if not task.done():
                blocked = task
                break
            task.result()
            submitted += 1
        assert blocked is not None, "submit never blocked on a full spool"
        assert 2 <= submitted <= 5
        loud = [e for e in events if e.startswith("spool full")]
        assert len(loud) == 1
        assert f"({submitted} batches" in loud[0]
        assert "nothing is dropped" in loud[0]
        assert spool.full
        assert spool.bytes_used <= 6_000

        hub, runner, _ = await start_hub(small_config(), port=port)
        try:
            await asyncio.wait_for(blocked, TIMEOUT)  # acks made room
            assert any(e.startswith("spool has room again") for e in events)
            for b in range(submitted + 1, submitted + 4):
                await client.submit(mentions(b * 10, 10))
            assert await client.drain(TIMEOUT)
            total = (submitted + 4) * 10
            assert hub.counters.ingested == total
            assert ids_seen(hub, total) == list(range(total))
            # One loud message per episode (the extra submits may start another), each
            # one ended by a resume message.
            episodes = [e.split(" ")[1] for e in events if e.startswith("spool ")]
            episodes = [e for e in episodes if e in ("full", "has")]
            assert episodes == ["full", "has"] * (len(episodes) // 2)
        finally:
            await runner.cleanup()
    finally:
        if blocked is not None and not blocked.done():
            blocked.cancel()
        await client.close()
        spool.close()


# ------------------------------------------------------------------ SIGKILL

FEED_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import UTC, datetime
    from pathlib import Path

    import msgspec

    from groundcontrol.client.stream import Backoff
    from groundcontrol.client.ingest import IngestClient
    from groundcontrol.model import Mention
    from groundcontrol.client.spool import Spool

    url, spool_dir, n, per_batch = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), 5
    cursor_file = spool_dir.parent / "cursor"

    def mention(i):
        return msgspec.convert(
            {"source": "x", "source_id": str(i), "text": f"Northwind {i}",
             "created_at": datetime.now(UTC)},
            Mention,
        )

    async def main():
        spool = Spool(spool_dir) if os.environ.get("NO_SPOOL") != "1" else None
        client = IngestClient(url, name="killme", source="x", spool=spool,
                              backoff=Backoff(initial=0.05, maximum=0.2))
        client.start()
        # The upstream cursor, like a real source's: advanced once submit returns,
        # that is once the batch is safe in the spool.
        cursor = int(cursor_file.read_text()) if cursor_file.exists() else 0
        while cursor < n:
            last = min(cursor + per_batch, n)
            await client.submit([mention(i) for i in range(cursor, last)])
            cursor = last
            tmp = cursor_file.with_suffix(".tmp")
            tmp.write_text(str(cursor))
            os.replace(tmp, cursor_file)
            await asyncio.sleep(0.01)
        print("drained" if await client.drain() else "not drained", flush=True)
        await client.close()

    asyncio.run(main())
    """
)


class AckGate:
    """A TCP proxy in front of the hub that can hold back the hub's replies.

    While closed, batches still reach the hub and get committed, but their acks do
    not come back: the worst moment for the feed to die.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.open = asyncio.Event()
        self.open.set()
        self.handlers: set[asyncio.Task[object]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, gated: bool) -> None:
            try:
                while data := await src.read(65536):
                    if gated:
                        await self.open.wait()
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        # Ending cancelled makes Python 3.11's start_server log a spurious error.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(
                pipe(reader, up_writer, False),
                pipe(up_reader, writer, True),
                return_exceptions=True,
            )

    async def aclose(self) -> None:
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)


@pytest.fixture
async def gated_hub() -> AsyncIterator[tuple[Hub, int, AckGate, int]]:
    hub, runner, port = await start_hub(small_config(), port=0)
    gate = AckGate(port)
    server = await asyncio.start_server(gate.handle, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    yield hub, port, gate, proxy_port
    server.close()
    await gate.aclose()
    await runner.cleanup()


async def spawn_feed(url: str, spool_dir: Path, n: int) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FEED_SCRIPT,
        url,
        str(spool_dir),
        str(n),
        stdout=subprocess.PIPE,
        env=env,
    )


async def test_a_feed_killed_with_sigkill_loses_nothing_after_a_restart(
    tmp_path: Path, gated_hub: tuple[Hub, int, AckGate, int]
) -> None:
    hub, port, gate, proxy_port = gated_hub
    n = 300
    spool_dir = tmp_path / "spool"
    cursor_file = tmp_path / "cursor"

    def cursor() -> int:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(cursor_file.read_text())
        return 0

    feed = await spawn_feed(f"ws://127.0.0.1:{proxy_port}", spool_dir, n)
    try:
        await until(lambda: hub.counters.ingested >= 60)
        gate.open.clear()  # the hub keeps committing, its acks stop coming back
        acked_before = hub.counters.ingested
        await until(lambda: cursor() >= acked_before + 80)
        await until(lambda: hub.counters.ingested > acked_before)  # committed, unacked
    finally:
        feed.send_signal(signal.SIGKILL)
        await feed.wait()
    assert feed.returncode == -signal.SIGKILL
    killed_at = cursor()
    assert 0 < killed_at < n
    with Spool(spool_dir, fsync=False) as left:
        assert left.depth > 0  # the spool holds what the hub never acked

    feed = await spawn_feed(f"ws://127.0.0.1:{port}", spool_dir, n)  # straight to the hub
    out, _ = await asyncio.wait_for(feed.communicate(), SAFETY)
    assert out.decode().strip() == "drained"
    assert feed.returncode == 0
    missing = sorted(set(range(n)) - set(ids_seen(hub, n)))
    assert missing == []
    assert hub.counters.ingested == n
    # Batches the hub committed but never acked were sent again and deduped.
    assert hub.counters.duplicates > 0
    with Spool(spool_dir, fsync=False) as left:
        assert left.depth == 0


# ------------------------------------------------------------------ demo feed and CLI


async def test_demo_feed_sends_through_its_spool(tmp_path: Path) -> None:
    from feeds.demo import run_demo_feed

    hub, runner, port = await start_hub(small_config(), port=0)
    try:
        await run_demo_feed(
            f"ws://127.0.0.1:{port}",
            rate=400,
            interval=0.05,
            stop_after=0.4,
            spool_dir=tmp_path,
        )
        assert hub.counters.ingested > 0
        files = os.listdir(tmp_path)
        assert "acks.log" in files  # the spool was used...
        assert not [f for f in files if f.endswith(".seg")]  # ...and everything acked
    finally:
        await runner.cleanup()


def test_cli_feed_demo_takes_a_spool_dir() -> None:
    from groundcontrol.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(["feed", "demo", "--spool", "/var/spool/gc"])
    assert args.spool == Path("/var/spool/gc")
    assert parser.parse_args(["feed", "demo"]).spool is None


async def test_a_batch_that_waited_for_the_hub_says_how_long(tmp_path: Path) -> None:
    """Submitted while the hub is away, a batch tells the hub how long it waited, and
    the hub places it then: a backlog is not a surge of the present."""
    import sqlite3
    import time

    port = free_port()
    client = IngestClient(f"ws://127.0.0.1:{port}", name="t", backoff=quick_backoff())
    client.start()
    away = LATE_AFTER_SECONDS + 1.0  # a wait the feed reports
    try:
        submitted = time.time()
        await client.submit(mentions(0, 5))
        await asyncio.sleep(away)  # no hub yet: the batch waits at least this long
        _hub, runner, _ = await start_hub(small_config(), port=port, store_path=tmp_path / "g.db")
        try:
            assert await client.drain(TIMEOUT)
            arrived = time.time()
        finally:
            await runner.cleanup()
        await client.submit(mentions(5, 1))  # no hub: stays pending; irrelevant here
    finally:
        await client.close()
    with sqlite3.connect(tmp_path / "g.db") as db:
        stamps = [r[0] for r in db.execute("SELECT received_at FROM mentions")]
    assert len(stamps) == 5
    # Placed when it was submitted: at least as long before it was taken as it
    # waited for the hub (however long the trip to the hub took on a busy machine);
    # taken as arriving now, it would be placed less than an ack's round trip ago.
    assert all(submitted - 0.5 <= t <= arrived - away for t in stamps), (
        [t - submitted for t in stamps],
        arrived - submitted,
    )
