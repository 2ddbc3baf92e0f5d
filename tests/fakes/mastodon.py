"""A fake Mastodon instance on loopback: the streaming API (SSE and WebSocket) and the
hashtag timeline, in the shapes Mastodon documents.

* ``GET /api/v1/streaming/hashtag?tag=T``: ``text/event-stream`` with ``event:`` /
  ``data:`` pairs and ``:thump`` heartbeats.
* ``GET /api/v1/streaming`` (WebSocket): takes ``{"type": "subscribe", "stream":
  "hashtag", "tag": T}`` and sends ``{"stream": ["hashtag", T], "event": E, "payload":
  "<JSON text>"}``.
* ``GET /api/v1/timelines/tag/T``: ``min_id`` / ``since_id`` / ``max_id`` / ``limit``
  (at most 40), statuses newest first, with ``Link`` headers.

Every endpoint wants ``Authorization: Bearer <token>`` (the WebSocket also takes
``?access_token=``) and answers 401 otherwise. Test knobs: cut every open stream in
the middle of an event, refuse streams for a while, rate-limit the timeline (429 with
``X-RateLimit-Reset``), cut a timeline response in half, push raw (malformed) events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from tests.fakes import cut_off

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
#: Mastodon ids are snowflakes: milliseconds << 16, plus a sequence.
FIRST_ID = 115_000_000_000_000_000

_CUT = object()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def make_status(
    sid: int,
    text: str,
    *,
    tags: list[str],
    at: datetime | None = None,
    acct: str = "maria@social.example",
    followers: int = 321,
    lang: str | None = "en",
    spoiler: str = "",
    favourites: int = 4,
    reblogs: int = 2,
    replies: int = 1,
) -> dict[str, Any]:
    """A status in the shape of Mastodon's Status entity; ``text`` becomes HTML."""
    at = at or T0 + timedelta(seconds=sid - FIRST_ID)
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    links = " ".join(
        f'<a href="https://social.example/tags/{t}" class="mention hashtag" rel="tag">'
        f"#<span>{t}</span></a>"
        for t in tags
    )
    user = acct.split("@")[0]
    return {
        "id": str(sid),
        "created_at": iso(at),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": bool(spoiler),
        "spoiler_text": spoiler,
        "visibility": "public",
        "language": lang,
        "uri": f"https://social.example/users/{user}/statuses/{sid}",
        "url": f"https://social.example/@{user}/{sid}",
        "replies_count": replies,
        "reblogs_count": reblogs,
        "favourites_count": favourites,
        "edited_at": None,
        "content": paragraphs[:-4] + f" {links}</p>",
        "reblog": None,
        "application": None,
        "account": {
            "id": "109000000000000001",
            "username": user,
            "acct": acct,
            "display_name": user.title(),
            "locked": False,
            "bot": False,
            "created_at": "2022-11-02T00:00:00.000Z",
            "note": "<p>hi</p>",
            "url": f"https://social.example/@{user}",
            "avatar": "https://social.example/avatars/original/missing.png",
            "followers_count": followers,
            "following_count": 10,
            "statuses_count": 99,
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": t.lower(), "url": f"https://social.example/tags/{t}"} for t in tags],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def _tags_of(status: dict[str, Any]) -> set[str]:
    inner = status.get("reblog") if isinstance(status.get("reblog"), dict) else status
    assert isinstance(inner, dict)
    return {str(t.get("name", "")).lower() for t in inner.get("tags") or []}


@dataclass
class _Sub:
    transport: str
    tags: set[str]
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


@dataclass
class FakeMastodon:
    token: str = "fake-token-0123456789abcdef"
    heartbeat: float = 0.05
    statuses: list[dict[str, Any]] = field(default_factory=list)
    """The instance's statuses (what the timeline serves), any order."""
    streams_down: bool = False
    """Answer new stream requests with 503 (the streaming server is away)."""
    rate_limit_next: int = 0
    reset_in: float = 0.3
    """A 429's X-RateLimit-Reset is this many seconds ahead."""
    cut_timeline_next: int = 0
    """Answer this many timeline requests with half a body and a dropped connection."""
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    """(time.time(), path, query) of every request."""
    answers: list[tuple[str, int]] = field(default_factory=list)
    """(path, status) of every answer but a stream's 200."""
    _subs: list[_Sub] = field(default_factory=list)
    _next_id: int = FIRST_ID

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/streaming/hashtag", self.sse)
        app.router.add_get("/api/v1/streaming", self.websocket)
        app.router.add_get("/api/v1/timelines/tag/{tag}", self.timeline)
        return app

    # ------------------------------------------------------------------ test controls

    def new_id(self) -> int:
        self._next_id += 1 << 16
        return self._next_id

    def post(self, text: str, *, tags: list[str], **kw: Any) -> dict[str, Any]:
        """Publish a status: kept for the timeline and pushed to open streams."""
        status = make_status(self.new_id(), text, tags=tags, **kw)
        self.statuses.append(status)
        self.push("update", status)
        return status

    def edit(self, status: dict[str, Any], text: str) -> dict[str, Any]:
        edited = make_status(int(status["id"]), text, tags=sorted(_tags_of(status)))
        edited["edited_at"] = iso(datetime.now(UTC))
        self.statuses = [edited if s is status else s for s in self.statuses]
        self.push("status.update", edited)
        return edited

    def delete(self, status: dict[str, Any]) -> None:
        tags = _tags_of(status)
        self.statuses = [s for s in self.statuses if s is not status]
        self.push_raw(tags, "delete", str(status["id"]))

    def push(self, event: str, status: dict[str, Any]) -> None:
        self.push_raw(_tags_of(status), event, json.dumps(status))

    def push_raw(self, tags: set[str] | list[str], event: str, payload: str) -> None:
        """Send an event as is (malformed ones too) to the streams of ``tags``."""
        for sub in self._subs:
            for tag in {t.lower() for t in tags} & sub.tags:
                sub.queue.put_nowait((tag, event, payload))

    def cut_streams(self) -> int:
        """Drop every open stream in the middle of an event; returns how many."""
        for sub in self._subs:
            sub.queue.put_nowait(_CUT)
        return len(self._subs)

    @property
    def open_streams(self) -> int:
        return len(self._subs)

    def subscribed(self, tag: str) -> int:
        return sum(1 for sub in self._subs if tag.lower() in sub.tags)

    def timeline_requests(self, tag: str | None = None) -> list[tuple[float, dict[str, str]]]:
        prefix = "/api/v1/timelines/tag/" + (tag or "")
        return [(t, q) for t, path, q in self.requests if path.startswith(prefix)]

    # ------------------------------------------------------------------ helpers

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else request.query.get("access_token")
        return given == self.token

    def _answer(self, request: web.Request, resp: web.Response) -> web.Response:
        self.answers.append((request.path, resp.status))
        return resp

    def _unauthorized(self, request: web.Request) -> web.Response:
        return self._answer(
            request, web.json_response({"error": "The access token is invalid"}, status=401)
        )

    def _record(self, request: web.Request) -> None:
        self.requests.append((time.time(), request.path, dict(request.query)))

    # ------------------------------------------------------------------ streaming

    async def sse(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        if not self._authorized(request):
            return self._unauthorized(request)
        if self.streams_down:
            return self._answer(
                request, web.json_response({"error": "Service unavailable"}, status=503)
            )
        tag = request.query.get("tag", "").lower()
        if not tag:
            return self._answer(
                request, web.json_response({"error": "Missing tag name parameter"}, status=400)
            )
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await resp.prepare(request)
        sub = _Sub("sse", {tag})
        self._subs.append(sub)
        try:
            await resp.write(b":)\n")
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), self.heartbeat)
                except TimeoutError:
                    await resp.write(b":thump\n")
                    continue
                if item is _CUT:
                    await resp.write(b'event: update\ndata: {"id":"1150')
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                _tag, event, payload = item
                lines = "".join(f"data: {line}\n" for line in payload.split("\n"))
                await resp.write(f"event: {event}\n{lines}\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            return resp
        finally:
            self._subs.remove(sub)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        if not self._authorized(request):
            return self._unauthorized(request)
        if self.streams_down:
            return self._answer(
                request, web.json_response({"error": "Service unavailable"}, status=503)
            )
        ws = web.WebSocketResponse(heartbeat=max(self.heartbeat, 1.0))
        await ws.prepare(request)
        sub = _Sub("websocket", set())
        self._subs.append(sub)

        async def send() -> None:
            while True:
                item = await sub.queue.get()
                if item is _CUT:
                    # Half a frame: a text frame header announcing 100 bytes, 20 of them.
                    assert request.transport is not None
                    request.transport.write(b"\x81\x64" + b'{"stream":["hashtag"')
                    request.transport.close()
                    return
                tag, event, payload = item
                await ws.send_str(
                    json.dumps({"stream": ["hashtag", tag], "event": event, "payload": payload})
                )

        sender = asyncio.create_task(send())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    cmd = json.loads(msg.data)
                except ValueError:
                    await ws.send_str(json.dumps({"error": "Invalid JSON", "status": 400}))
                    continue
                if cmd.get("type") == "subscribe" and cmd.get("stream") == "hashtag":
                    sub.tags.add(str(cmd.get("tag", "")).lower())
                elif cmd.get("type") == "unsubscribe":
                    sub.tags.discard(str(cmd.get("tag", "")).lower())
                else:
                    await ws.send_str(json.dumps({"error": "Unknown stream type", "status": 400}))
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                await sender
            self._subs.remove(sub)
        return ws

    # ------------------------------------------------------------------ timeline

    async def timeline(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        if not self._authorized(request):
            return self._unauthorized(request)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            reset = datetime.now(UTC) + timedelta(seconds=self.reset_in)
            return self._answer(
                request,
                web.json_response(
                    {"error": "Too many requests"},
                    status=429,
                    headers={
                        "X-RateLimit-Limit": "300",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": iso(reset),
                    },
                ),
            )
        tag = request.match_info["tag"].lower()
        q = request.query
        try:
            limit = max(1, min(40, int(q.get("limit", "20"))))
            min_id = int(q["min_id"]) if "min_id" in q else None
            since_id = int(q["since_id"]) if "since_id" in q else None
            max_id = int(q["max_id"]) if "max_id" in q else None
        except ValueError:
            return self._answer(
                request, web.json_response({"error": "Invalid parameter"}, status=422)
            )
        found = [s for s in self.statuses if tag in _tags_of(s) and str(s.get("id", "")).isdigit()]
        found.sort(key=lambda s: int(s["id"]))
        if max_id is not None:
            found = [s for s in found if int(s["id"]) < max_id]
        low = max(x for x in (min_id, since_id, -1) if x is not None)
        found = [s for s in found if int(s["id"]) > low]
        # min_id: the page just after it; otherwise (since_id or none) the newest page.
        page = found[:limit] if min_id is not None else found[-limit:]
        page.reverse()  # newest first, whatever the paging
        headers = {}
        if page:
            base = f"http://{request.host}{request.path}"
            older = urlencode({"limit": limit, "max_id": page[-1]["id"]})
            newer = urlencode({"limit": limit, "min_id": page[0]["id"]})
            headers["Link"] = f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'
        body = json.dumps(page).encode()
        if self.cut_timeline_next:
            self.cut_timeline_next -= 1
            return await cut_off(request, body, {"Content-Type": "application/json", **headers})
        return self._answer(
            request, web.Response(body=body, content_type="application/json", headers=headers)
        )
