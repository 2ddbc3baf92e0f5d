"""A fake of Bluesky's Jetstream (``/subscribe``), on loopback.

It holds a timeline of events ordered by ``time_us`` and speaks Jetstream's wire
protocol: one JSON event per text frame; ``cursor`` (unix microseconds) replays from
that time, without it the client gets only events added after it connected (live);
``wantedCollections`` filters commit events (identity and account events always go);
``compress=true`` sends binary frames compressed with zstd and a dictionary trained on
sample events, as Jetstream does with its own dictionary. It can refuse the upgrade
(HTTP 503 or 429), drop the connection after N frames, or cut a frame in half.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import zstandard
from aiohttp import WSMsgType, web

COLLECTION = "app.bsky.feed.post"


def did_of(n: int) -> str:
    return f"did:plc:{n:024d}"[:32]


def iso(time_us: int) -> str:
    t = datetime.fromtimestamp(time_us / 1_000_000, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def post(
    time_us: int,
    did: str,
    rkey: str,
    text: str,
    *,
    operation: str = "create",
    langs: list[str] | None = None,
    created_at: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A commit event creating (or updating) a post, as Jetstream sends it."""
    record: dict[str, Any] = {
        "$type": COLLECTION,
        "createdAt": created_at if created_at is not None else iso(time_us - 250_000),
        "langs": langs if langs is not None else ["en"],
        "text": text,
    }
    if "#" in text:
        tag = text.split("#", 1)[1].split()[0]
        start = len(text.encode().split(b"#", 1)[0])
        record["facets"] = [
            {
                "$type": "app.bsky.richtext.facet",
                "index": {"byteStart": start, "byteEnd": start + 1 + len(tag.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        ]
    if reply_to is not None:
        ref = {
            "cid": "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q",
            "uri": reply_to,
        }
        record["reply"] = {"parent": ref, "root": ref}
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vuowo2{time_us % 10}",
            "operation": operation,
            "collection": COLLECTION,
            "rkey": rkey,
            "record": record,
            "cid": "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi",
        },
    }


def delete(time_us: int, did: str, rkey: str) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vuowo3{time_us % 10}",
            "operation": "delete",
            "collection": COLLECTION,
            "rkey": rkey,
        },
    }


def like(time_us: int, did: str, rkey: str) -> dict[str, Any]:
    """A commit in another collection: Jetstream filters it out by wantedCollections."""
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": "3l3qo2vuowo4b",
            "operation": "create",
            "collection": "app.bsky.feed.like",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.like",
                "createdAt": iso(time_us),
                "subject": {"cid": "bafyrei", "uri": "at://did:plc:x/app.bsky.feed.post/1"},
            },
            "cid": "bafyreib",
        },
    }


def identity(time_us: int, did: str) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "identity",
        "identity": {
            "did": did,
            "handle": "someone.bsky.social",
            "seq": 1409752997,
            "time": iso(time_us),
        },
    }


def account(time_us: int, did: str) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "account",
        "account": {"active": True, "did": did, "seq": 1409753013, "time": iso(time_us)},
    }


def train_dictionary() -> zstandard.ZstdCompressionDict:
    """A dictionary trained on sample events, standing in for Jetstream's own."""
    samples: list[bytes | bytearray | memoryview[int]] = [
        json.dumps(
            post(1_725_911_162_329_308 + i * 977, did_of(i), f"3l3qo2vut{i:04d}", f"sample {i}")
        ).encode()
        for i in range(400)
    ]
    return zstandard.train_dictionary(8192, samples)


@dataclass
class FakeJetstream:
    timeline: list[tuple[int, str, dict[str, Any] | None]] = field(default_factory=list)
    """(time_us, frame text, the event or None for a malformed frame), in time order."""
    refuse_next: int = 0
    refuse_status: int = 503
    retry_after: str | None = None
    plan: list[tuple[str, int]] = field(default_factory=list)
    """What to do to the next connections, one item each: ("drop", N) closes the
    connection without a close frame after N frames; ("cut", N) sends the start of a
    frame after N frames, then closes."""
    requests: list[dict[str, str]] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    frames_sent: int = 0
    connections: int = 0
    _dictionary: zstandard.ZstdCompressionDict | None = None

    # ------------------------------------------------------------------ timeline

    def add(self, *events: dict[str, Any]) -> None:
        for event in events:
            self._insert(int(event["time_us"]), json.dumps(event), event)

    def add_raw(self, time_us: int, frame: str) -> None:
        """A frame sent as is (malformed), placed at ``time_us`` in the timeline."""
        self._insert(time_us, frame, None)

    def _insert(self, time_us: int, frame: str, event: dict[str, Any] | None) -> None:
        self.timeline.append((time_us, frame, event))
        self.timeline.sort(key=lambda e: e[0])

    @property
    def dictionary(self) -> zstandard.ZstdCompressionDict:
        if self._dictionary is None:
            self._dictionary = train_dictionary()
        return self._dictionary

    # ------------------------------------------------------------------ server

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/subscribe", self.subscribe)
        return app

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.requests.append(q)
        self.request_times.append(asyncio.get_running_loop().time())
        if self.refuse_next:
            self.refuse_next -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=self.refuse_status, text="busy\n", headers=headers)
        wanted = set(request.query.getall("wantedCollections", []))
        compressor = (
            zstandard.ZstdCompressor(dict_data=self.dictionary)
            if q.get("compress") == "true"
            else None
        )
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        what, after = self.plan.pop(0) if self.plan else ("", 0)
        drop_after = after if what == "drop" else None
        cut_after = after if what == "cut" else None
        if "cursor" in q:
            cursor = int(q["cursor"])
            index = next((i for i, e in enumerate(self.timeline) if e[0] >= cursor), None)
            position = len(self.timeline) if index is None else index
        else:
            position = len(self.timeline)  # live: only what comes from now on
        sender = asyncio.create_task(
            self._send(request, ws, position, wanted, compressor, drop_after, cut_after)
        )
        try:
            async for msg in ws:  # answers pings and the close handshake
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        position: int,
        wanted: set[str],
        compressor: zstandard.ZstdCompressor | None,
        drop_after: int | None,
        cut_after: int | None,
    ) -> None:
        sent = 0
        transport = request.transport
        while transport is not None and not transport.is_closing():
            if position >= len(self.timeline):
                await asyncio.sleep(0.01)
                continue
            _time_us, frame, event = self.timeline[position]
            position += 1
            if wanted and event is not None and event.get("kind") == "commit":
                collection = event.get("commit", {}).get("collection")
                if collection not in wanted:
                    continue
            if cut_after is not None and sent >= cut_after:
                # A text frame header announcing 256 bytes, then 20 of them, then EOF.
                transport.write(b"\x81\x7e\x01\x00" + frame.encode()[:20])
                transport.close()
                return
            if drop_after is not None and sent >= drop_after:
                transport.close()
                return
            if compressor is not None:
                await ws.send_bytes(compressor.compress(frame.encode()))
            else:
                await ws.send_str(frame)
            sent += 1
            self.frames_sent += 1
