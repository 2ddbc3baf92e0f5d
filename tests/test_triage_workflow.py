"""The triage workflow (issue 13): actions checked and refused without a trace, each
action's state, the queue oldest first with owners and the response clock, one
mention's detail, the ``triage`` stream message, ``groundcontrol triage``, and the
wall folding the message at once.

A real hub in process, with a store, tokens and a clock the tests move by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec
import pytest
from aiohttp import web

import groundcontrol.store.writer as writer_module
from groundcontrol.cli import triage as triage_cli
from groundcontrol.client.stream import Access, StreamClient, stream_url
from groundcontrol.config import ConfigError, duration_seconds, load_config
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.server import Hub
from groundcontrol.model import CATEGORIES, Mention
from groundcontrol.protocol import (
    MentionDetail,
    Tick,
    TriageAction,
    TriageEvent,
    TriageQueue,
    TriageReceipt,
    TriageState,
    decode_stream,
    encode,
    fold_triage,
    triage_problem,
)
from panels.triage import latest_line
from tests.deadline import SAFETY, until
from tests.test_hub import small_config
from tests.test_wall import NEVER, WIDE, settle, text_of, wall
from tests.wall_fixtures import QueueSource, demo_hello, make_tick

T0 = 1_800_000_000.0
TOKENS = {
    Role.DISPLAY: "display-token-0123456789abcdef",
    Role.ANALYST: "analyst-token-0123456789abcdef",
    Role.ADMIN: "admin-token-0123456789abcdef",
}
BOB = "bob-analyst-token-0123456789abcdef"
#: Texts the default [triage] rules are unsure about: they go to review.
UNSURE = "Love the Northwind Aero 14 but the battery swelled"
REFUND = "Northwind Aero 14: how do I get a refund, the battery is broken"


class Clock:
    """The hub's clock, moved by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Live:
    hub: Hub
    base: str
    clock: Clock

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Live]:
    # Count the queue often: the tests wait for the first count, not the production 5 s.
    monkeypatch.setattr(writer_module, "REVIEW_COUNT_INTERVAL", 0.05)
    monkeypatch.setattr(writer_module, "CHECKPOINT_INTERVAL", 0.02)
    tokens = Tokens.from_pairs(
        [
            (Role.DISPLAY, TOKENS[Role.DISPLAY], "lobby"),
            (Role.ANALYST, TOKENS[Role.ANALYST], "alice"),
            (Role.ANALYST, BOB, "bob"),
            (Role.ADMIN, TOKENS[Role.ADMIN], "root"),
        ]
    )
    clock = Clock()
    hub = Hub(
        small_config(enrich_workers=0), clock=clock, store_path=tmp_path / "gc.db", tokens=tokens
    )
    runner, base = await serve(hub)
    yield Live(hub, base, clock)
    await runner.cleanup()


async def serve(hub: Hub) -> tuple[web.AppRunner, str]:
    """Serve ``hub`` on a free port of 127.0.0.1: (its runner, its http:// base URL)."""
    runner = web.AppRunner(hub.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ALICE = auth(TOKENS[Role.ANALYST])


def post_of(sid: str, text: str, *, author: str = "") -> Mention:
    return Mention(
        source="x",
        source_id=sid,
        text=text,
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        author=author or f"user{sid}",
    )


async def ingest(live: Live, *posts: Mention) -> None:
    """Take ``posts`` as a feed's batch would be taken: enriched, stored, in the windows."""
    accepted, _ = await live.hub.take_batch_async(list(posts), None)
    assert accepted == len(posts)


async def stored(live: Live, *mentions: Mention) -> None:
    """Put mentions in the store as they are (their class and arrival chosen by the test)."""
    assert live.hub.writer is not None
    assert all(await live.hub.writer.write_mentions(list(mentions)))


def classified(
    sid: str, at: float, *, review: bool = True, category: str = "support", copy_of: str = ""
) -> Mention:
    m = post_of(sid, f"post {sid}")
    m.id = m.key
    m.received_at = at
    m.needs_review = review
    m.category = category
    m.category_confidence = 0.4
    m.copy_of = copy_of
    return m


async def act(live: Live, body: dict[str, Any], headers: dict[str, str] = ALICE) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{live.base}/triage", json=body, headers=headers) as resp,
    ):
        text = await resp.text()
        return resp.status, (json.loads(text) if resp.status == 200 else text)


async def get(live: Live, path: str, headers: dict[str, str] = ALICE) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(live.base + path, headers=headers) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if resp.status == 200 else text)


async def recorded(live: Live) -> int:
    assert live.hub.writer is not None
    stats = await live.hub.writer.read(lambda store: store.stats())
    return int(stats["triage_actions"])


async def queue(live: Live, query: str = "", headers: dict[str, str] = ALICE) -> TriageQueue:
    status, body = await get(live, f"/triage/queue{query}", headers)
    assert status == 200, body
    return msgspec.convert(body, TriageQueue)


# ---------------------------------------------------------------------- the fold


def test_the_fold_of_each_action() -> None:
    def a(action: str, at: float, **kw: str) -> TriageAction:
        return TriageAction(action=action, at=at, actor=kw.pop("actor", "alice"), **kw)

    def state(*actions: TriageAction) -> TriageState:
        return fold_triage("x:1", "support", list(actions), received_at=T0)

    assert state() == TriageState(mention_id="x:1", category="support", updated_at=T0)
    claimed = state(a("claim", T0 + 5, assignee="alice"))
    assert (claimed.status, claimed.assignee, claimed.first_response_at) == (
        "claimed",
        "alice",
        T0 + 5,
    )
    labelled = state(a("note", T0 + 1, note="hm"), a("label", T0 + 2, label="sales"))
    assert (labelled.status, labelled.category, labelled.category_by) == ("new", "sales", "person")
    assert labelled.first_response_at == T0 + 1 and labelled.updated_at == T0 + 2
    escalated = state(a("escalate", T0 + 1), a("assign", T0 + 2, assignee="bob"))
    assert (escalated.status, escalated.assignee) == ("escalated", "bob")
    closed = state(a("claim", T0 + 1, assignee="alice"), a("resolve", T0 + 2))
    assert (closed.status, closed.assignee) == ("resolved", "alice")
    assert state(a("ignore", T0 + 1), a("note", T0 + 2, note="spam")).status == "ignored"
    assert state(a("resolve", T0 + 1), a("claim", T0 + 2, assignee="bob")).status == "claimed"
    assert state(a("resolve", T0 + 1), a("escalate", T0 + 2)).status == "escalated"
    # A row an older store may hold, not an action any more: skipped, not a response.
    assert state(a("archive", T0 + 1)).first_response_at is None


@pytest.mark.parametrize(
    ("action", "fields", "reason"),
    [
        ("label", {}, "label needs a label, one of support, sales, product_problem"),
        ("label", {"label": "bug"}, 'no class "bug": the classes are support, sales,'),
        ("assign", {}, "assign needs an assignee"),
        ("assign", {"assignee": "  "}, "assign needs an assignee"),
        ("note", {}, "note needs a note"),
        ("escalate", {"label": "support"}, "a label goes with the label action only"),
        ("claim", {"assignee": "bob"}, "claim takes it for you; use assign"),
        ("delete", {}, 'no action "delete": use one of claim, assign, label'),
    ],
)
def test_triage_problem_names_what_is_wrong(
    action: str, fields: dict[str, str], reason: str
) -> None:
    assert reason in triage_problem(action, **fields)
    assert "\n" not in triage_problem(action, **fields)


def test_every_class_is_a_label_and_every_good_action_passes() -> None:
    assert all(triage_problem("label", label=c) == "" for c in CATEGORIES)
    assert triage_problem("assign", assignee="bob", note="knows it") == ""
    for action in ("claim", "escalate", "resolve", "ignore"):
        assert triage_problem(action) == "" and triage_problem(action, note="why") == ""


def test_the_response_target_is_a_duration(tmp_path: Path) -> None:
    assert load_config().triage.response_target_seconds == 1800.0
    assert [duration_seconds(v) for v in ("90s", "2h", "1.5h", "45", 600, "1d")] == [
        90.0,
        7200.0,
        5400.0,
        45.0,
        600.0,
        86400.0,
    ]
    path = tmp_path / "c.toml"
    path.write_text("[triage]\nresponse_target = 900\n")
    assert load_config(path).triage.response_target_seconds == 900.0
    for bad in ('"soon"', '"0m"', "-5", "true"):
        path.write_text(f"[triage]\nresponse_target = {bad}\n")
        with pytest.raises(ConfigError, match=r"triage\.response_target: expected"):
            load_config(path)


# ---------------------------------------------------------------------- POST /triage


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"mention_id": "x:404", "action": "claim"}, 404, 'no mention "x:404" in the store'),
        ({"mention_id": "x:1", "action": "label"}, 400, "label needs a label, one of support"),
        (
            {"mention_id": "x:1", "action": "label", "label": "bug"},
            400,
            'no class "bug": the classes are support, sales, product_problem, praise, '
            "compliance_risk, other",
        ),
        ({"mention_id": "x:1", "action": "assign"}, 400, "assign needs an assignee"),
        ({"mention_id": "x:1", "action": "note"}, 400, "note needs a note"),
        ({"mention_id": "x:1", "action": "note", "note": "   "}, 400, "note needs a note"),
        ({"mention_id": "x:1", "action": "delete"}, 400, 'no action "delete"'),
        ({"mention_id": "x:1", "action": "assign", "assignee": "b\x1bob"}, 400, "control"),
        ({"mention_id": "x:1", "action": "claim", "extra": 1}, 400, "bad triage action"),
    ],
)
async def test_a_bad_action_is_refused_with_its_reason_and_not_recorded(
    live: Live, body: dict[str, Any], status: int, reason: str
) -> None:
    await stored(live, classified("1", T0))
    got, text = await act(live, body)
    assert got == status and reason in text, text
    assert text.count("\n") == 1  # one line
    assert await recorded(live) == 0


async def test_each_action_answers_with_the_state_it_leads_to(live: Live) -> None:
    await stored(live, classified("1", T0 - 60))
    bob = auth(BOB)
    steps: list[tuple[dict[str, Any], dict[str, str], dict[str, Any]]] = [
        ({"action": "claim"}, ALICE, {"status": "claimed", "assignee": "alice"}),
        (
            {"action": "label", "label": "sales"},
            bob,
            {"status": "claimed", "category": "sales", "category_by": "person"},
        ),
        ({"action": "assign", "assignee": "carol"}, ALICE, {"assignee": "carol"}),
        ({"action": "escalate", "note": "legal should see it"}, bob, {"status": "escalated"}),
        ({"action": "note", "note": "called them"}, ALICE, {"status": "escalated"}),
        ({"action": "resolve"}, bob, {"status": "resolved", "assignee": "carol"}),
        ({"action": "claim"}, bob, {"status": "claimed", "assignee": "bob"}),
    ]
    for n, (fields, who, expected) in enumerate(steps, start=1):
        live.clock.now = T0 + n
        status, body = await act(live, {"mention_id": "x:1", **fields}, who)
        assert status == 200, body
        receipt = msgspec.convert(body, TriageReceipt)
        assert receipt.id == n and receipt.at == T0 + n
        assert receipt.actor == ("alice" if who is ALICE else "bob")
        got = msgspec.to_builtins(receipt.state)
        assert {k: got[k] for k in expected} == expected, (fields, got)
        assert receipt.state.first_response_at == T0 + 1  # the first action's time
        assert receipt.state.updated_at == T0 + n
    # The history says the same, oldest first, with the person of an assign or claim.
    status, body = await get(live, "/mentions/x:1")
    assert status == 200
    detail = msgspec.convert(body, MentionDetail)
    assert [(a.action, a.actor, a.assignee, a.label, a.note) for a in detail.history] == [
        ("claim", "alice", "alice", "", ""),
        ("label", "bob", "", "sales", ""),
        ("assign", "alice", "carol", "", ""),
        ("escalate", "bob", "", "", "legal should see it"),
        ("note", "alice", "", "", "called them"),
        ("resolve", "bob", "", "", ""),
        ("claim", "bob", "bob", "", ""),
    ]
    assert detail.state == receipt.state
    assert await recorded(live) == len(steps)


async def test_a_mention_committed_a_moment_ago_counts(live: Live) -> None:
    assert live.hub.writer is not None
    # Queued to the writer just before the action: the same thread records both, in order.
    writing = asyncio.create_task(live.hub.writer.write_mentions([classified("9", T0)]))
    status, body = await act(live, {"mention_id": "x:9", "action": "claim"})
    assert status == 200 and body["state"]["status"] == "claimed"
    assert await writing == [True]


async def test_without_a_store_actions_and_details_are_unavailable() -> None:
    runner, base = await serve(Hub(small_config(enrich_workers=0)))
    try:
        async with aiohttp.ClientSession() as http:
            body = {"mention_id": "x:1", "action": "claim"}
            async with http.post(f"{base}/triage", json=body) as resp:
                assert resp.status == 503 and "without a store" in await resp.text()
            async with http.get(f"{base}/mentions/x:1") as resp:
                assert resp.status == 503
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------- the queue


async def test_the_queue_is_oldest_first_with_owners_and_filters(live: Live) -> None:
    await stored(
        live,
        classified("1", T0 - 400, category="support"),
        classified("2", T0 - 300, category="sales"),
        classified("3", T0 - 200, category="support"),
        classified("4", T0 - 100, category="praise"),
        classified("5", T0 - 50, review=False),  # the rules were sure: never queued
    )
    assert [i.mention.id for i in (await queue(live)).items] == ["x:1", "x:2", "x:3", "x:4"]
    assert (await act(live, {"mention_id": "x:2", "action": "claim"}))[0] == 200
    assert (await act(live, {"mention_id": "x:3", "action": "assign", "assignee": "bob"}))[0] == 200
    assert (await act(live, {"mention_id": "x:4", "action": "label", "label": "support"}))[0] == 200
    assert (await act(live, {"mention_id": "x:1", "action": "resolve"}))[0] == 200
    assert (await act(live, {"mention_id": "x:5", "action": "escalate"}))[0] == 200

    answer = await queue(live)
    # Claimed, assigned and labelled stay, with their owners; resolved leaves.
    assert answer.pending == 3
    assert [(i.mention.id, i.state.status, i.state.assignee) for i in answer.items] == [
        ("x:2", "claimed", "alice"),
        ("x:3", "claimed", "bob"),
        ("x:4", "new", ""),
    ]
    ids = [i.mention.id for i in (await queue(live, "?assignee=me")).items]
    assert ids == ["x:2"]
    assert [i.mention.id for i in (await queue(live, "?assignee=me", auth(BOB))).items] == ["x:3"]
    assert [i.mention.id for i in (await queue(live, "?assignee=bob")).items] == ["x:3"]
    assert [i.mention.id for i in (await queue(live, "?assignee=none")).items] == ["x:4"]
    # A person's label is the class the queue filters on.
    support = await queue(live, "?category=support")
    assert [i.mention.id for i in support.items] == ["x:3", "x:4"]
    assert support.pending == 3  # the whole queue, whatever the filters
    assert [i.mention.id for i in (await queue(live, "?limit=1")).items] == ["x:2"]
    status, text = await get(live, "/triage/queue?assignee=")
    assert status == 400 and "assignee must be a name, me or none" in text
    status, text = await get(live, "/triage/queue?assignee=a&assignee=b")
    assert status == 400 and "may each be given once" in text


async def test_the_response_clock_and_its_breaches(live: Live) -> None:
    target = live.hub.config.triage.response_target_seconds
    assert target == 1800.0
    await stored(
        live,
        classified("late", T0 - 3600),  # nobody yet, an hour: breached
        classified("slow", T0 - 3000),  # answered after 40 min: breached for good
        classified("quick", T0 - 1000),  # answered after 5 min: never breached
        classified("fresh", T0 - 60),  # nobody yet, a minute: not yet
    )
    live.clock.now = T0 - 3000 + 2400
    assert (await act(live, {"mention_id": "x:slow", "action": "claim"}))[0] == 200
    live.clock.now = T0 - 1000 + 300
    assert (await act(live, {"mention_id": "x:quick", "action": "note", "note": "on it"}))[0] == 200
    live.clock.now = T0
    answer = await queue(live)
    assert answer.target_seconds == target
    waits = {i.mention.id: (i.waiting_seconds, i.breached) for i in answer.items}
    assert waits == {
        "x:late": (3600.0, True),
        "x:slow": (2400.0, True),
        "x:quick": (300.0, False),
        "x:fresh": (60.0, False),
    }
    assert (answer.pending, answer.breached) == (4, 2)
    # The clock runs on for those nobody answered, and stops at the first response.
    live.clock.now = T0 + 1800
    answer = await queue(live)
    waits = {i.mention.id: (i.waiting_seconds, i.breached) for i in answer.items}
    assert waits["x:fresh"] == (1860.0, True) and waits["x:quick"] == (300.0, False)
    assert answer.breached == 3
    # A resolved breach leaves the queue and its count.
    assert (await act(live, {"mention_id": "x:late", "action": "resolve"}))[0] == 200
    assert (await queue(live)).breached == 2


async def test_the_queue_reads_a_big_store_in_a_few_queries(tmp_path: Path) -> None:
    """No read per queued mention: the statements a queue read runs do not grow with it."""
    from groundcontrol.store.database import Store

    with Store(tmp_path / "big.db") as store:
        store.add_mentions([classified(str(i), T0 + i) for i in range(300)])
        for i in range(0, 300, 3):
            store.add_triage_action(f"x:{i}", "claim", label="alice", actor="alice", at=T0 + 900)
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        from groundcontrol.store.writer import _read_queue

        pending, breached, items = _read_queue(store, 200, None, None, T0 + 1000, 1800.0)
        store._db.set_trace_callback(None)
    assert (pending, breached, len(items)) == (300, 0, 200)
    assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) == 3
    assert items[0][1].status == "claimed" and items[1][1].status == "new"


# ---------------------------------------------------------------------- GET /mentions/ID


async def test_a_mention_with_its_copies_and_its_original(live: Live) -> None:
    slashed = "at://did:plc:abc/app.bsky.feed.post/3k"
    copy = classified("c", T0 + 5, copy_of="x:1", review=False)
    bsky = Mention(
        source="bluesky",
        source_id=slashed,
        text="copied",
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        author="someone.bsky.social",
        id=f"bluesky:{slashed}",
        received_at=T0 + 9,
        copy_of="x:1",
    )
    await stored(live, classified("1", T0), copy, bsky)
    status, body = await get(live, "/mentions/x:1")
    assert status == 200
    detail = msgspec.convert(body, MentionDetail)
    assert detail.mention.id == "x:1" and detail.original is None and detail.history == []
    assert detail.state.status == "new" and detail.copies_total == 2
    assert [(c.id, c.source, c.at) for c in detail.copies] == [
        (f"bluesky:{slashed}", "bluesky", T0 + 9),  # newest first
        ("x:c", "x", T0 + 5),
    ]
    # An id with slashes, raw or encoded; a copy names its original.
    for path in (f"/mentions/bluesky:{slashed}", "/mentions/" + quote(f"bluesky:{slashed}", "")):
        status, body = await get(live, path)
        assert status == 200, path
        assert body["original"]["id"] == "x:1" and body["mention"]["copy_of"] == "x:1"
    status, text = await get(live, "/mentions/x:nope")
    assert status == 404 and text == 'no mention "x:nope" in the store\n'
    status, text = await get(live, "/mentions/x:1", auth(TOKENS[Role.DISPLAY]))
    assert status == 403


async def test_at_most_fifty_copies_are_listed(live: Live) -> None:
    copies = [classified(f"c{i}", T0 + i, copy_of="x:1", review=False) for i in range(60)]
    await stored(live, classified("1", T0), *copies)
    status, body = await get(live, "/mentions/x:1")
    assert status == 200 and body["copies_total"] == 60 and len(body["copies"]) == 50
    assert body["copies"][0]["id"] == "x:c59"


# ---------------------------------------------------------------------- the stream


async def test_an_action_reaches_every_stream_client_at_once(live: Live) -> None:
    await ingest(live, post_of("1", UNSURE), post_of("2", REFUND))
    writer = live.hub.writer
    assert writer is not None
    await until(lambda: writer.review_pending == 2, "the first count of the review queue")
    events = StreamClient(
        stream_url(live.ws), access=Access(token=TOKENS[Role.DISPLAY]), open_timeout=SAFETY
    ).events()
    got: list[TriageEvent] = []
    ticks: list[Tick] = []

    async def read() -> None:
        async for event in events:
            if isinstance(event, TriageEvent):
                got.append(event)
            elif isinstance(event, Tick):
                ticks.append(event)

    reader = asyncio.create_task(read())
    try:
        await until(lambda: ticks, "a tick")
        assert [i.id for i in ticks[-1].triage.queue] == ["x:2", "x:1"]
        live.clock.now = T0 + 30
        status, _ = await act(live, {"mention_id": "x:1", "action": "claim"})
        assert status == 200
        await until(lambda: got, "the triage message")
        event = got[0]
        assert (event.mention_id, event.action.action, event.action.actor) == (
            "x:1",
            "claim",
            "alice",
        )
        assert (event.state.status, event.state.assignee, event.pending) == ("claimed", "alice", 2)
        # The next ticks show the owner on the walls' queue, and the same count.
        seen = len(ticks)
        await until(lambda: len(ticks) > seen, "a tick after the action")
        row = {i.id: i for i in ticks[-1].triage.queue}["x:1"]
        assert (row.status, row.assignee) == ("claimed", "alice")
        assert ticks[-1].triage.pending == 2

        status, _ = await act(live, {"mention_id": "x:2", "action": "ignore"})
        assert status == 200
        await until(lambda: len(got) == 2, "the second triage message")
        assert (got[1].state.status, got[1].pending) == ("ignored", 1)
        seen = len(ticks)
        await until(lambda: len(ticks) > seen, "a tick after the ignore")
        assert [i.id for i in ticks[-1].triage.queue] == ["x:1"]
        assert ticks[-1].triage.pending == 1
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_a_restarted_hub_takes_back_the_walls_queue_with_owners(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "gc.db"
    first = Hub(small_config(enrich_workers=0), clock=clock, store_path=path)
    runner, base = await serve(first)
    try:
        live = Live(first, base, clock)
        await ingest(live, post_of("1", UNSURE), post_of("2", REFUND), post_of("3", UNSURE + "!"))
        assert (await act(live, {"mention_id": "x:1", "action": "claim"}))[0] == 200
        assert (await act(live, {"mention_id": "x:2", "action": "resolve"}))[0] == 200
        label = {"mention_id": "x:3", "action": "label", "label": "sales"}
        assert (await act(live, label))[0] == 200
    finally:
        await runner.cleanup()
    clock.now += 60
    second = Hub(small_config(enrich_workers=0), clock=clock, store_path=path)
    runner, _ = await serve(second)
    try:
        queue = second.analytics.snapshot(clock.now).tick.triage.queue
        rows = {i.id: (i.status, i.assignee, i.category) for i in queue}
        # x:2 was resolved; x:1 keeps its owner and the rules' class, x:3 the person's.
        assert rows.keys() == {"x:1", "x:3"}
        assert rows["x:1"][:2] == ("claimed", "local") and rows["x:1"][2] != "sales"
        assert rows["x:3"] == ("new", "", "sales")
    finally:
        await runner.cleanup()


def test_the_triage_message_round_trips() -> None:
    state = TriageState(mention_id="x:1", status="claimed", assignee="alice", updated_at=T0)
    event = TriageEvent(
        mention_id="x:1",
        action=TriageAction(action="claim", assignee="alice", actor="alice", at=T0, id=3),
        state=state,
        pending=4,
    )
    data = encode(event)
    assert json.loads(data)["type"] == "triage"
    assert decode_stream(data) == event


# ---------------------------------------------------------------------- the command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="groundcontrol")
    triage_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["triage", *argv])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (("x:1", "label"), "label needs a label, one of support"),
        (("x:1", "label", "--label", "bug"), 'no class "bug": the classes are support'),
        (("x:1", "assign"), "assign needs an assignee"),
        (("x:1", "note"), "note needs a note"),
    ],
)
def test_the_command_refuses_what_it_can_before_sending(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], reason: str
) -> None:
    # Nobody listens on that port: a refusal here never reached for the hub.
    code = triage_cli.run(parse("--hub", f"ws://127.0.0.1:{free_port()}", *argv))
    err = capsys.readouterr().err
    assert code == 2 and reason in err and "cannot reach" not in err and err.count("\n") == 1


async def test_the_command_records_and_prints_the_hubs_reason(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await stored(live, classified("7", T0))
    monkeypatch.setenv("GROUNDCONTROL_TOKEN", TOKENS[Role.ANALYST])
    hub = ["--hub", live.ws]
    code = await asyncio.to_thread(triage_cli.run, parse(*hub, "x:7", "claim"))
    out = capsys.readouterr().out
    assert code == 0 and out == "recorded claim on x:7 as #1 by alice; now claimed (alice)\n"
    argv = (*hub, "x:7", "assign", "--assignee", "bob", "--note", "knows it")
    assert await asyncio.to_thread(triage_cli.run, parse(*argv)) == 0
    assert "now claimed (bob)" in capsys.readouterr().out
    code = await asyncio.to_thread(triage_cli.run, parse(*hub, "x:404", "resolve"))
    err = capsys.readouterr().err
    assert code == 2 and 'HTTP 404: no mention "x:404" in the store' in err
    assert err.count("\n") == 1
    assert await recorded(live) == 2


# ---------------------------------------------------------------------- the wall


def triage_text(app: Any) -> str:
    return text_of(app.wall.query_one("#triage Listing"))


def claim_event(mention_id: str, at: float, *, pending: int) -> TriageEvent:
    return TriageEvent(
        mention_id=mention_id,
        action=TriageAction(action="claim", assignee="alice", actor="alice", at=at, id=1),
        state=TriageState(
            mention_id=mention_id,
            status="claimed",
            assignee="alice",
            category="product_problem",
            first_response_at=at,
            updated_at=at,
        ),
        pending=pending,
    )


def test_the_latest_action_line() -> None:
    event = claim_event("x:123", T0, pending=3)
    assert latest_line(event, UTC) == "alice claimed x:123 · 08:00"
    assign = msgspec.structs.replace(
        event, action=TriageAction(action="assign", assignee="carol", actor="bob", at=T0)
    )
    assert latest_line(assign, UTC) == "bob assigned x:123 to carol · 08:00"
    label = msgspec.structs.replace(
        event, action=TriageAction(action="label", label="product_problem", actor="bob", at=T0)
    )
    assert latest_line(label, UTC) == "bob labelled x:123 product problem · 08:00"


async def test_the_wall_shows_an_action_at_once_and_a_stale_tick_does_not_undo_it() -> None:
    tick = make_tick(1)  # its review queue: x:2000101, reddit:2000098, ...; 37 pending
    source = QueueSource([demo_hello(), tick])
    # Redrawn only when an event asks for it: the refresh timer never fires in the test.
    app = wall(source.events, takeover_seconds=0, refresh_interval=NEVER)
    async with app.run_test(size=WIDE) as pilot:
        await settle(app, pilot, 2)
        await pilot.press("2")
        await pilot.pause()
        before = triage_text(app)
        assert "37 pending" in before and "[alice]" not in before

        source.push(claim_event("x:2000101", tick.at + 1, pending=37))
        await until(lambda: "[alice] ? product problem 48% @jonas_k@x" in triage_text(app))
        lines = triage_text(app).splitlines()
        assert lines[1] == "alice claimed x:2000101 · 14:03"

        resolved = TriageEvent(
            mention_id="reddit:2000098",
            action=TriageAction(action="resolve", actor="bob", at=tick.at + 2, id=2),
            state=TriageState(
                mention_id="reddit:2000098", status="resolved", updated_at=tick.at + 2
            ),
            pending=36,
        )
        source.push(resolved)
        await until(lambda: "36 pending" in triage_text(app), "the new pending count")
        text = triage_text(app)
        assert "@u/quietcoder" not in text and text.splitlines()[1].startswith("bob resolved")

        # A tick the hub built before those actions arrives after them: they stay.
        stale = msgspec.structs.replace(make_tick(1), seq=2)
        source.push(stale)
        await settle(app, pilot, 5)
        text = triage_text(app)
        assert "36 pending" in text and "[alice] ? product problem" in text
        assert "@u/quietcoder" not in text
        assert app.state.events == 5


# ---------------------------------------------------------------------- help


def help_of(*command: str, capsys: pytest.CaptureFixture[str]) -> str:
    from groundcontrol.cli.main import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    return capsys.readouterr().out


def test_tail_help_explains_the_query_language_and_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of("tail", capsys=capsys)
    for part in ('"two words"', "batter*", "#tag @handle", "OR", "NOT", "-a", "( ... )"):
        assert part in text, part
    assert text.count("groundcontrol tail '") >= 2  # examples with a query
    assert "GROUNDCONTROL_TOKEN" in text and "display or analyst token" in text


def test_wall_help_lists_its_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from panels.app import WallApp
    from panels.oncall import ONCALL_KEYS

    text = help_of("wall", capsys=capsys)
    keys = {b.key for b in WallApp.BINDINGS if hasattr(b, "key")}
    digits = {k for k in keys if k.isdigit()}
    assert keys - digits - set(ONCALL_KEYS) == {"q", "escape", "tab"}
    assert digits == set("123456789")
    for key in keys - digits:
        assert f"\n  {key} " in text or f" {key} " in text or f"/{key} " in text, key
    assert "\n  1-9 " in text  # the scene keys, as one line
    assert "with --act" in text and "up/down" in text


def test_triage_help_lists_actions_and_classes(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of("triage", capsys=capsys)
    for action in ("claim", "assign", "label", "escalate", "resolve", "ignore", "note"):
        assert f"\n  {action} " in text, action
    assert ", ".join(CATEGORIES) in text and "--assignee" in text
