"""Triage, briefings, search and history on a bus site: two hubs without a store of
their own ask the store writer, and what one hub commits shows on the other's walls."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from groundcontrol.bus import hub as bus_hub
from groundcontrol.bus.connection import connect
from groundcontrol.bus.wire import Names
from groundcontrol.hub.server import Hub
from groundcontrol.protocol import BriefingEvent, TriageEvent
from tests.bus.conftest import NatsServer
from tests.bus.test_bus import Site, bus_config, mentions, stored
from tests.deadline import until

_stream_decoder = msgspec.json.Decoder(TriageEvent | BriefingEvent)


class Wall:
    """A /stream client that keeps the triage and briefing messages it gets."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.replace("ws://", "http://") + "/stream"
        self.changes: list[TriageEvent | BriefingEvent] = []
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with self.session.ws_connect(self.url) as ws:
            async for msg in ws:
                self.ready.set()  # the hello: the hub has it as a client from now
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                if b'"type":"triage"' in data or b'"type":"briefing"' in data:
                    self.changes.append(_stream_decoder.decode(data))

    def triaged(self, mention_id: str) -> list[TriageEvent]:
        return [
            c for c in self.changes if isinstance(c, TriageEvent) and c.mention_id == mention_id
        ]

    def briefed(self, change: str) -> list[BriefingEvent]:
        return [c for c in self.changes if isinstance(c, BriefingEvent) and c.change == change]


@pytest.fixture
async def site(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Site]:
    s = Site(bus_config(nats_server), tmp_path)
    yield s
    await s.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def base(url: str) -> str:
    return url.replace("ws://", "http://")


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: object = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as resp:
        text = await resp.text()
        return resp.status, (msgspec.json.decode(text) if resp.status == 200 else text)


def triage_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute("SELECT mention_id, action FROM triage_actions").fetchall()


async def stored_site(site: Site) -> tuple[Hub, str, Hub, str]:
    """Two hubs, a worker and the store writer, with 20 mentions stored."""
    a, url_a = await site.hub()
    b, url_b = await site.hub()
    site.worker()
    site.store_writer()
    assert a.bus is not None and a.writer is None and b.writer is None
    args: dict[str, Any] = {"feed": "f", "edits": [], "deleted": [], "dead_letters": []}
    await a.bus.publish(seq=1, mentions=mentions(0, 20), queued=0.0, **args)
    await until(lambda: len(stored(site.db)) == 20, "20 mentions in the store")
    return a, base(url_a), b, base(url_b)


async def test_triage_briefings_and_search_are_shared_through_the_store_writer(
    site: Site, http: aiohttp.ClientSession
) -> None:
    a, url_a, b, url_b = await stored_site(site)
    wall_b = Wall(http, url_b)
    await wall_b.ready.wait()

    # A triage action on A: stored once, shown on B's wall.
    status, receipt = await call(
        http, "POST", f"{url_a}/triage", {"mention_id": "x:3", "action": "claim"}
    )
    assert status == 200, receipt
    assert receipt["state"]["assignee"] == "local"
    await until(lambda: wall_b.triaged("x:3"), "B's wall to get the triage action")
    assert wall_b.triaged("x:3")[0].state.status == receipt["state"]["status"]
    assert triage_rows(site.db) == [("x:3", "claim")]
    # B reads it back from the store: the detail and the queue.
    status, detail = await call(http, "GET", f"{url_b}/mentions/x:3")
    assert status == 200 and [h["action"] for h in detail["history"]] == ["claim"]
    status, missing = await call(
        http, "POST", f"{url_b}/triage", {"mention_id": "x:99", "action": "claim"}
    )
    assert status == 404 and "x:99" in missing
    status, queue = await call(http, "GET", f"{url_b}/triage/queue?limit=5")
    assert status == 200 and queue["target_seconds"] == b.triage.target_seconds

    # A briefing posted on A: on B's wall and in B's list.
    body = {"text": "Say the fix ships Friday", "seconds": 600}
    status, briefing = await call(http, "POST", f"{url_a}/briefings", body)
    assert status == 200, briefing
    await until(lambda: wall_b.briefed("started"), "B's wall to get the briefing")
    assert [x.id for x in b.briefings.current()] == [briefing["id"]]
    status, listed = await call(http, "GET", f"{url_b}/briefings")
    assert status == 200 and [x["id"] for x in listed["briefings"]] == [briefing["id"]]
    # Withdrawn on B: gone from A.
    status, withdrawn = await call(http, "POST", f"{url_b}/briefings/{briefing['id']}/withdraw")
    assert status == 200 and withdrawn["withdrawn_by"] == "local"
    await until(lambda: not a.briefings.current(), "A to take the briefing down")
    assert not b.briefings.current()
    status, again = await call(http, "POST", f"{url_a}/briefings/{briefing['id']}/withdraw")
    assert status == 409, again

    # Search and history on B find what the store writer stored.
    status, page = await call(http, "GET", f"{url_b}/mentions?q=northwind&limit=50")
    assert status == 200 and len(page["items"]) == 20
    status, history = await call(http, "GET", f"{url_b}/history?by=hour&brands=nobrand")
    assert status == 400 and "unknown brand" in history

    # A hub started now learns the briefings still running from the bus.
    status, running = await call(
        http, "POST", f"{url_a}/briefings", {"text": "Still on", "seconds": 600}
    )
    assert status == 200
    late, _ = await site.hub()
    assert [x.id for x in late.briefings.current()] == [running["id"]]
    wall_b.task.cancel()


async def test_without_the_store_writer_a_hub_says_why_and_nothing_is_done(
    site: Site, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, url = await site.hub()
    url = base(url)
    # No store writer on the bus at all.
    status, reason = await call(
        http, "POST", f"{url}/triage", {"mention_id": "x:1", "action": "claim"}
    )
    assert (
        status == 503
        and reason == "no store writer on the bus (is groundcontrol store-writer running?)\n"
    )
    status, reason = await call(http, "POST", f"{url}/briefings", {"text": "Hello", "seconds": 600})
    assert status == 503 and "no store writer" in reason
    assert not a.briefings.current()
    # One that takes the request and never answers (stuck): the hub gives up.
    monkeypatch.setattr(bus_hub, "STORE_TIMEOUT", 0.2)
    nc = await connect(site.config.bus, name="stuck store writer")
    await nc.subscribe(Names(site.config.bus.prefix).store_requests, cb=_ignore)
    assert a.bus is not None and a.bus.nc is not None
    hub_nc, subject = a.bus.nc, Names(site.config.bus.prefix).store_request("probe")

    async def listened() -> bool:  # the server routes the hub's requests to it
        try:
            await hub_nc.request(subject, b"", timeout=0.05)
        except NoRespondersError:
            return False
        except NatsTimeout:
            return True
        return True

    await until(listened, "the stuck store writer's subscription")
    try:
        status, reason = await call(http, "GET", f"{url}/mentions?q=northwind")
        assert status == 503 and reason == "the store writer did not answer in 0.2 s\n"
    finally:
        await nc.close()
    # Back: the action goes through, recorded once.
    await a.bus.publish(
        feed="f", seq=1, mentions=mentions(0, 3), edits=[], deleted=[], dead_letters=[], queued=0.0
    )
    site.worker()
    site.store_writer()
    await until(lambda: len(stored(site.db)) == 3, "3 mentions in the store")
    status, _ = await call(http, "POST", f"{url}/triage", {"mention_id": "x:1", "action": "claim"})
    assert status == 200
    assert triage_rows(site.db) == [("x:1", "claim")]


async def _ignore(_msg: object) -> None:
    return None
