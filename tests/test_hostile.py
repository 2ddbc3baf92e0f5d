"""Hostile input on /ingest: every message gets a reply naming the problem, never a crash."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundcontrol.config import load_config
from groundcontrol.hub.server import Hub
from groundcontrol.protocol import Ack, ErrorReply, decode_feed_reply

NOW = 1_795_000_000.0


def make_hub() -> Hub:
    return Hub(load_config(), clock=lambda: NOW)


def run(hub: Hub, data: bytes) -> Ack | ErrorReply:
    reply = hub.handle_message(data, None)
    assert reply is not None
    if not isinstance(reply, bytes):

        async def wait() -> bytes:
            return await reply  # type: ignore[misc]

        reply = asyncio.run(wait())
    decoded = decode_feed_reply(reply)
    assert isinstance(decoded, Ack | ErrorReply)
    return decoded


def item(**fields: Any) -> dict[str, Any]:
    base = {
        "source": "x",
        "source_id": "1",
        "text": "Northwind Aero 14 review",
        "created_at": "2026-11-18T08:00:00Z",
    }
    return {**base, **fields}


def batch(*items: dict[str, Any]) -> bytes:
    return json.dumps({"type": "batch", "seq": 1, "mentions": list(items)}).encode()


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    hub = make_hub()
    reply = run(hub, b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(reply, ErrorReply) and reply.code == "invalid"
    assert "nested too deeply" in reply.message
    nested_item = b'{"type":"batch","seq":1,"mentions":[' + b"[" * 50_000 + b"]" * 50_000 + b"]}"
    reply = run(hub, nested_item)
    assert isinstance(reply, ErrorReply) and "nested too deeply" in reply.message
    # The hub is still fine afterwards.
    reply = run(hub, batch(item()))
    assert isinstance(reply, Ack) and reply.accepted == 1


def test_invalid_utf8_is_malformed() -> None:
    reply = run(make_hub(), batch(item()).replace(b"review", b"r\xff\xfeview"))
    assert isinstance(reply, ErrorReply) and reply.code == "malformed"
    assert "UTF-8" in reply.message


def test_lone_surrogate_is_malformed() -> None:
    reply = run(make_hub(), batch(item()).replace(b"review", b"\\ud800"))
    assert isinstance(reply, ErrorReply) and reply.code == "malformed"


def test_control_characters_reject_the_item_only() -> None:
    hub = make_hub()
    reply = run(hub, batch(item(source_id="1", text="bell\x07ring"), item(source_id="2")))
    assert isinstance(reply, Ack)
    assert (reply.accepted, reply.rejected) == (1, 1)
    assert reply.errors[0].index == 0 and "control characters" in reply.errors[0].reason
    assert hub.counters.rejected == 1
    # Ordinary whitespace is fine.
    reply = run(hub, batch(item(source_id="3", text="line one\nline\ttwo\r\n")))
    assert isinstance(reply, Ack) and reply.accepted == 1


def test_timestamps_far_in_the_future_or_past_are_rejected() -> None:
    hub = make_hub()
    reply = run(
        hub,
        batch(
            item(source_id="1", created_at="9999-01-01T00:00:00Z"),
            item(source_id="2", created_at="1970-01-02T00:00:00Z"),
            item(source_id="3", created_at="2026-11-18T08:00:00+02:00"),
        ),
    )
    assert isinstance(reply, Ack)
    assert (reply.accepted, reply.rejected) == (1, 2)
    assert "future" in reply.errors[0].reason and "past" in reply.errors[1].reason


def test_numbers_out_of_range() -> None:
    hub = make_hub()
    big = json.dumps({"type": "batch", "seq": 10**30, "mentions": []}).encode()
    reply = run(hub, big)
    assert isinstance(reply, ErrorReply) and reply.code == "invalid"
    reply = run(hub, batch(item(author_reach=10**15), item(source_id="2", author_reach=1.5)))
    assert isinstance(reply, Ack) and reply.rejected == 2
    assert "author_reach" in reply.errors[0].reason


def test_overlong_fields_are_rejected() -> None:
    reply = run(make_hub(), batch(item(text="x" * 20_001), item(source_id="y" * 600)))
    assert isinstance(reply, Ack) and reply.rejected == 2


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_get_a_reply(data: bytes) -> None:
    run(make_hub(), data)


@settings(max_examples=150, deadline=None)
@given(JSONISH)
def test_any_json_gets_a_reply(value: Any) -> None:
    run(make_hub(), msgspec.json.encode(value))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                ["source", "source_id", "text", "created_at", "author", "author_reach", "lang"]
            ),
            JSONISH,
        ),
        max_size=5,
    )
)
def test_any_batch_items_are_accepted_or_rejected_one_by_one(items: list[dict[str, Any]]) -> None:
    hub = make_hub()
    data = msgspec.json.encode({"type": "batch", "seq": 3, "mentions": items})
    reply = run(hub, data)
    assert isinstance(reply, Ack)
    assert reply.seq == 3
    assert reply.accepted + reply.duplicates + reply.rejected == len(items)


def test_the_checks_keep_the_fast_path_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not a timing assertion: the screen must not turn an ordinary batch into the
    # slow per-item path (which would show as every mention decoded twice).
    import groundcontrol.hub.ingest as ingest

    one_by_one: list[bytes] = []
    real = ingest._mention_decoder

    class Counting:
        def decode(self, data: bytes) -> Any:
            one_by_one.append(data)
            return real.decode(data)

    monkeypatch.setattr(ingest, "_mention_decoder", Counting())
    hub = make_hub()
    items = [item(source_id=str(i)) for i in range(200)]
    reply = run(hub, batch(*items))
    assert isinstance(reply, Ack) and reply.accepted == 200
    assert one_by_one == []  # decoded once, as a whole batch
    # The per-item path is the one a batch with a bad item takes (so it is counted).
    reply = run(hub, batch(*[item(source_id=str(i)) for i in range(200, 210)], {"text": 1}))
    assert isinstance(reply, Ack) and (reply.accepted, reply.rejected) == (10, 1)
    assert len(one_by_one) == 11
