"""Incidents over HTTP and the stream: list, acknowledge, snooze, resolve, who and when,
the store across a restart, and the command line against a real hub."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import websockets

from groundcontrol.cli.main import main as cli_main
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.protocol import IncidentEvent, decode_stream
from groundcontrol.signals.detector import Reading
from groundcontrol.signals.incidents import SeriesPoint
from tests.deadline import SAFETY, until
from tests.test_hub import small_config

TOKENS = {
    Role.FEED: "feed-token-0123456789abcdef",
    Role.DISPLAY: "display-token-0123456789abcdef",
    Role.ANALYST: "analyst-token-0123456789abcdef",
    Role.ADMIN: "admin-token-0123456789abcdef",
}
TIMEOUT = SAFETY


def tokens() -> Tokens:
    return Tokens.from_pairs(
        [
            (Role.FEED, TOKENS[Role.FEED], "feed-1"),
            (Role.DISPLAY, TOKENS[Role.DISPLAY], "lobby-wall"),
            (Role.ANALYST, TOKENS[Role.ANALYST], "alice"),
            (Role.ADMIN, TOKENS[Role.ADMIN], "root"),
        ]
    )


def auth(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, str]]:
    h, runner, port = await start_hub(
        small_config(), port=0, tokens=tokens(), store_path=tmp_path / "gc.db"
    )
    yield h, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def open_incident(h: Hub) -> str:
    """A Northwind burst, as the analytics would see it, through the hub's own path."""
    book = h.analytics.incidents
    now = time.time()
    reading = Reading(0.9, 0.5, 5.0, 60.0, True, True)
    point = SeriesPoint(
        series="brand:Northwind",
        kind="volume",
        label="Northwind",
        brand="Northwind",
        reading=reading,
        total=60,
        positive=2,
        negative=50,
    )
    events = book.observe(now, [point])
    for event in events:
        h._incident_changed(event)
    return events[0].incident.id


async def post(
    base: str, path: str, role: Role, body: object | None = None
) -> tuple[int, dict | str]:
    async with aiohttp.ClientSession() as http:
        data = json.dumps(body) if body is not None else None
        async with http.post(base + path, data=data, headers=auth(role)) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


async def get(base: str, path: str, role: Role) -> tuple[int, dict | str]:
    async with aiohttp.ClientSession() as http, http.get(base + path, headers=auth(role)) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def test_people_act_on_incidents_and_every_wall_sees_who_and_when(
    hub: tuple[Hub, str],
) -> None:
    h, base = hub
    iid = open_incident(h)
    status, body = await get(base, "/incidents", Role.DISPLAY)
    assert status == 200 and isinstance(body, dict)
    assert [i["id"] for i in body["incidents"]] == [iid]

    ws_url = base.replace("http://", "ws://") + "/stream"
    async with websockets.connect(ws_url, additional_headers=auth(Role.DISPLAY)) as wall:
        await wall.recv()  # hello
        await wall.recv()  # snapshot
        # A display token may look, not act.
        status, text = await post(base, f"/incidents/{iid}/ack", Role.DISPLAY)
        assert status == 403 and "acknowledge" in str(text)
        before = time.time()
        status, body = await post(base, f"/incidents/{iid}/ack", Role.ANALYST)
        assert status == 200 and isinstance(body, dict)
        assert body["status"] == "acknowledged" and body["acked_by"] == "alice"
        assert before <= body["acked_at"] <= time.time()
        while True:
            msg = decode_stream(await asyncio.wait_for(wall.recv(), TIMEOUT))
            if isinstance(msg, IncidentEvent) and msg.change == "acknowledged":
                assert msg.incident.acked_by == "alice"
                break
        # The next tick carries it acknowledged too.
        while True:
            msg = decode_stream(await asyncio.wait_for(wall.recv(), TIMEOUT))
            if hasattr(msg, "incidents"):
                assert [(i.id, i.acked_by) for i in msg.incidents] == [(iid, "alice")]
                break

    status, body = await post(base, f"/incidents/{iid}/snooze", Role.ANALYST, {"seconds": 600})
    assert status == 200 and isinstance(body, dict) and body["status"] == "snoozed"
    assert body["snoozed_until"] == pytest.approx(time.time() + 600, abs=5)
    status, body = await post(
        base, f"/incidents/{iid}/resolve", Role.ADMIN, {"note": "recall announced"}
    )
    assert status == 200 and isinstance(body, dict)
    assert body["status"] == "resolved" and body["resolved_by"] == "root"
    status, text = await post(base, f"/incidents/{iid}/ack", Role.ANALYST)
    assert status == 409 and "already resolved" in str(text)

    # The whole history, from the store, once the writer has committed it.
    async def committed() -> bool:
        nonlocal status, body
        status, body = await get(base, f"/incidents/{iid}", Role.DISPLAY)
        assert status == 200 and isinstance(body, dict)
        return len(body["history"]) >= 4

    await until(committed, "the history in the store")
    assert isinstance(body, dict)
    steps = [(s["action"], s["by"]) for s in body["history"]]
    assert steps == [
        ("opened", ""),
        ("acknowledged", "alice"),
        ("snoozed", "alice"),
        ("resolved", "root"),
    ]
    assert body["history"][-1]["detail"] == "recall announced"


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/incidents/inc-nope/ack", None, 404, "no incident"),
        ("/incidents/{id}/dance", None, 404, "use ack, snooze, resolve"),
        ("/incidents/{id}/snooze", {"seconds": -5}, 400, "from 1 s to 7 days"),
        ("/incidents/{id}/snooze", {"seconds": 30 * 86400}, 400, "from 1 s to 7 days"),
        ("/incidents/{id}/ack", {"label": "x"}, 400, "bad incident action"),
        ("/incidents/{id}/ack", "not json", 400, "bad incident action"),
        ("/incidents/{id}/resolve", {"note": "a\x1bb"}, 400, "control characters"),
    ],
)
async def test_bad_actions_are_refused_with_a_reason(
    hub: tuple[Hub, str], path: str, body: object, status: int, words: str
) -> None:
    h, base = hub
    iid = open_incident(h)
    got, text = await post(base, path.replace("{id}", iid), Role.ANALYST, body)
    assert got == status and words in str(text)
    incident = h.analytics.incidents.get(iid)
    assert incident is not None and incident.status == "open"  # nothing was recorded


async def test_incidents_and_who_acknowledged_them_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    h, runner, port = await start_hub(small_config(), port=0, tokens=tokens(), store_path=db)
    base = f"http://127.0.0.1:{port}"
    try:
        iid = open_incident(h)
        status, _ = await post(base, f"/incidents/{iid}/ack", Role.ANALYST)
        assert status == 200
    finally:
        await runner.cleanup()  # the writer commits what is queued on the way out
    h2, runner2, port2 = await start_hub(small_config(), port=0, tokens=tokens(), store_path=db)
    try:
        status, body = await get(f"http://127.0.0.1:{port2}", "/incidents", Role.DISPLAY)
        assert status == 200 and isinstance(body, dict)
        (inc,) = body["incidents"]
        assert (inc["id"], inc["acked_by"], inc["status"]) == (iid, "alice", "acknowledged")
        restored = h2.analytics.incidents.get(iid)
        assert restored is not None and restored.acked_by == "alice"
        status, body = await get(f"http://127.0.0.1:{port2}", "/incidents?all=1", Role.DISPLAY)
        assert status == 200 and isinstance(body, dict) and len(body["incidents"]) == 1
    finally:
        await runner2.cleanup()


async def test_the_command_line_lists_and_acknowledges(
    hub: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    h, base = hub
    iid = open_incident(h)
    hub_url = base.replace("http://", "ws://")
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.DISPLAY])
    assert await asyncio.to_thread(cli_main, ["incidents", "--hub", hub_url]) == 0
    out = capsys.readouterr().out
    assert iid in out and "OPEN" in out and f"groundcontrol ack {iid}" in out
    assert await asyncio.to_thread(cli_main, ["incidents", "--hub", hub_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["incidents"][0]["id"] == iid
    # A display token cannot acknowledge: exit 2 and the hub's reason.
    assert await asyncio.to_thread(cli_main, ["ack", iid, "--hub", hub_url]) == 2
    assert "HTTP 403" in capsys.readouterr().err
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.ANALYST])
    assert await asyncio.to_thread(cli_main, ["ack", iid, "--hub", hub_url]) == 0
    assert "ACKNOWLEDGED by alice" in capsys.readouterr().out
    assert await asyncio.to_thread(cli_main, ["snooze", iid, "--for", "30m", "--hub", hub_url]) == 0
    assert "SNOOZED until" in capsys.readouterr().out
    assert await asyncio.to_thread(cli_main, ["ack", "inc-nope", "--hub", hub_url]) == 2
    assert "HTTP 404" in capsys.readouterr().err
    assert await asyncio.to_thread(cli_main, ["resolve", iid, "--hub", hub_url]) == 0
    assert "RESOLVED by alice" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main(["snooze", iid, "--for", "soon"])
    assert "expected a duration" in capsys.readouterr().err


async def test_the_detectors_keep_what_they_learnt_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    h, runner, _port = await start_hub(small_config(), port=0, tokens=tokens(), store_path=db)
    try:
        # Two hours of a brand's buckets, with a high one the detector must remember.
        states = h.analytics.detector_states()
        assert "brand:Northwind" in states and not any(k.startswith("topic:") for k in states)
        detector = h.analytics._watches["brand:Northwind"].detector
        for i in range(720):
            detector.update(400.0 if i == 500 else 20.0)
        learnt = detector.state()
    finally:
        await runner.cleanup()  # the states are saved on the way out
    h2, runner2, _port2 = await start_hub(small_config(), port=0, tokens=tokens(), store_path=db)
    try:
        again = h2.analytics._watches["brand:Northwind"].detector
        assert again.buckets_seen >= 720
        # The closed hourly blocks (the live hubs may have fed a bucket or two since).
        blocks = [scale["blocks"] for scale in again.state()["per_scale"]]
        assert blocks == [scale["blocks"] for scale in learnt["per_scale"]]
        assert len(blocks[0]) == 2
        # It still knows the 400: a 300 is no record.
        assert again.update(300.0).score == 0.0
    finally:
        await runner2.cleanup()
