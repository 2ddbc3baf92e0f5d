"""Mastodon: public statuses with the hashtags you follow, live, with no gap.

Live statuses come over Mastodon's streaming API, by one of its two transports:

* SSE: ``GET {endpoint}/api/v1/streaming/hashtag?tag=TAG``, one connection per tag;
  events ``update`` (a status), ``status.update`` (an edited status) and ``delete``
  (a status id), with ``:thump`` comment lines as heartbeats.
* WebSocket: ``{endpoint as ws/wss}/api/v1/streaming``, one connection that sends
  ``{"type": "subscribe", "stream": "hashtag", "tag": TAG}`` per tag; each message is
  ``{"stream": ["hashtag", TAG], "event": EVENT, "payload": "<JSON text>"}``.

A stream has no cursor of its own, so the cursor is the newest status id seen per tag
(ids are numeric strings, compared as integers). After every (re)connect the gap is
filled from the tag timeline, ``GET {endpoint}/api/v1/timelines/tag/TAG?min_id=ID
&limit=40``, page after page until it comes back empty, before the stream is read.
``min_id`` pages hold the statuses just after ``ID`` but list them newest first, so a
page is sorted by id and the next page asks from its largest id. The stream is opened
before the backfill, so what is posted during the backfill is waiting in it: nothing
falls between the two, and the hub's dedupe drops what comes both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import aiohttp

from feeds.base import (
    MAX_RETRY_AFTER,
    Changes,
    Emitter,
    FeedConfigError,
    FeedContext,
    SourceHealth,
    retry_after,
    setting,
)
from feeds.html import html_to_text
from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Backoff
from groundcontrol.model import MAX_TEXT_CHARS, Engagement, Mention
from groundcontrol.protocol import Retraction
from groundcontrol.query import Query, QuerySyntaxError, parse_query

log = logging.getLogger("groundcontrol.feeds.mastodon")

NAME = "mastodon"
SUMMARY = "Mastodon statuses with the hashtags you follow (streaming API, REST backfill)"
DEFAULT_ENDPOINT = "https://mastodon.social"
#: The most statuses the tag timeline gives in one page.
PAGE_LIMIT = 40
USER_AGENT = "groundcontrol-feed-mastodon (+https://github.com/groundcontrol)"
MAX_PAYLOAD = 65_536

_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_TAG = re.compile(r"^\w{1,100}$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([a-z]+)"?')


# --------------------------------------------------------------------------- parsing


def status_id(value: Any) -> int:
    """A Mastodon id (a string of digits) as an int; ValueError otherwise."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 30:
        return int(value)
    raise ValueError(f"bad status id {value!r}" if value is not None else "no status id")


def _created_at(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError("no created_at")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad created_at {value!r}") from None
    if at.tzinfo is None:
        raise ValueError(f"created_at {value!r} has no time zone")
    return at


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def parse_status(status: Any, host: str, source: str = NAME) -> Mention:
    """One Mastodon status (a decoded JSON object) as a mention.

    A reblog stands for the status it reblogs. ``host`` is the instance's host: the
    mention's ``source_id`` is ``HOST/ID``, ids being the instance's own. ValueError
    says what is missing or wrong.
    """
    if not isinstance(status, dict):
        raise ValueError(f"a status is a JSON object, not {type(status).__name__}")
    inner = status.get("reblog")
    if inner is not None:
        status_id(status.get("id"))  # the reblog itself must be well formed too
        if not isinstance(inner, dict):
            raise ValueError("reblog is not a status")
        status = inner
    sid = status_id(status.get("id"))
    created = _created_at(status.get("created_at"))
    content = status.get("content")
    body = html_to_text(content) if isinstance(content, str) else ""
    spoiler = status.get("spoiler_text")
    spoiler = spoiler.strip() if isinstance(spoiler, str) else ""
    text = f"{spoiler}\n\n{body}" if spoiler and body else spoiler or body
    if not text:
        raise ValueError(f"status {sid} has no text")
    account = status.get("account")
    if not isinstance(account, dict):
        account = {}
    acct = account.get("acct")
    url = status.get("url") or status.get("uri")
    lang = status.get("language")
    lang = lang.split("-")[0].lower() if isinstance(lang, str) else ""
    return Mention(
        source=source,
        source_id=f"{host}/{sid}",
        text=text[:MAX_TEXT_CHARS],
        created_at=created,
        url=url[:2048] if isinstance(url, str) else "",
        author=acct[:512] if isinstance(acct, str) else "",
        author_reach=min(_count(account.get("followers_count")), 10**12),
        lang=lang if _LANG.match(lang) else "",
        engagement=Engagement(
            likes=min(_count(status.get("favourites_count")), 10**12),
            reposts=min(_count(status.get("reblogs_count")), 10**12),
            replies=min(_count(status.get("replies_count")), 10**12),
        ),
    )


def _dumps(value: Any) -> str:
    return value[:MAX_PAYLOAD] if isinstance(value, str) else json.dumps(value)[:MAX_PAYLOAD]


@dataclass
class Parsed(Changes):
    """What one stream event or timeline page brought."""

    newest: int | None = None
    """The largest status id among new statuses (well formed or not)."""

    def count(self) -> int:
        return len(self.mentions) + len(self.edits) + len(self.deleted) + len(self.skipped)


def _status_event(status: Any, raw: str, host: str, source: str, *, edit: bool) -> Parsed:
    out = Parsed()
    if not edit and isinstance(status, dict):
        with contextlib.suppress(ValueError):
            out.newest = status_id(status.get("id"))  # the stream's position, even if bad
    try:
        mention = parse_status(status, host, source)
    except ValueError as exc:
        what = "status.update" if edit else "status"
        out.skipped.append((f"{what}: {exc}", raw))
        return out
    (out.edits if edit else out.mentions).append(mention)
    return out


def parse_stream_event(event: str, data: str | Any, host: str, source: str = NAME) -> Parsed:
    """One streaming event: ``update``, ``status.update`` or ``delete``.

    ``data`` is the event's payload as sent (JSON text; for ``delete`` the id) or, for
    a WebSocket message whose payload was not double-encoded, the decoded value. Other
    events (notifications, announcements, filters) give nothing.
    """
    raw = _dumps(data)
    if event == "delete":
        value = data.strip() if isinstance(data, str) else data
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        try:
            sid = status_id(value)
        except ValueError as exc:
            return Parsed(skipped=[(f"delete: {exc}", raw)])
        return Parsed(deleted=[Retraction(source=source, source_id=f"{host}/{sid}")])
    if event not in ("update", "status.update"):
        return Parsed()
    if isinstance(data, str):
        try:
            status = json.loads(data)
        except ValueError as exc:
            return Parsed(skipped=[(f"{event}: not JSON: {exc}", raw)])
    else:
        status = data
    return _status_event(status, raw, host, source, edit=event == "status.update")


class StreamRefused(Exception):
    """The streaming server answered a subscription with an error message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_ws_message(
    message: str | bytes, host: str, source: str = NAME
) -> tuple[str | None, Parsed]:
    """One WebSocket message: (the tag its stream is for, what it brought).

    The ``payload`` of an event is JSON text inside the JSON message (double-encoded);
    for ``delete`` it is the status id. A message that is not an event at all is a
    skipped item; an ``{"error": ..., "status": ...}`` message raises StreamRefused.
    """
    raw = _dumps(message if isinstance(message, str) else message.decode("utf-8", "replace"))
    try:
        msg = json.loads(message)
    except ValueError as exc:
        return None, Parsed(skipped=[(f"message: not JSON: {exc}", raw)])
    if not isinstance(msg, dict):
        return None, Parsed(skipped=[("message: not a JSON object", raw)])
    if "error" in msg and "event" not in msg:
        status = msg.get("status")
        raise StreamRefused(status if isinstance(status, int) else 0, str(msg["error"])[:300])
    event = msg.get("event")
    stream = msg.get("stream")
    tag: str | None = None
    if isinstance(stream, list) and len(stream) == 2 and stream[0] == "hashtag":
        tag = str(stream[1])
    if not isinstance(event, str) or "payload" not in msg:
        return tag, Parsed(skipped=[("message: no event or payload", raw)])
    return tag, parse_stream_event(event, msg["payload"], host, source)


def parse_timeline(body: bytes, host: str, source: str = NAME) -> Parsed:
    """A tag timeline page (a JSON list of statuses, newest first) as mentions in
    ascending id order, skipped items, and the page's largest id.

    Raises ValueError when the body as a whole is not a list of statuses.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"timeline is not JSON: {exc}") from None
    if not isinstance(data, list):
        if isinstance(data, dict) and "error" in data:
            raise ValueError(f"timeline error: {str(data['error'])[:200]}")
        raise ValueError(f"timeline is not a list, but {type(data).__name__}")
    out = Parsed()
    keyed: list[tuple[int, Mention]] = []
    for status in data:
        raw = _dumps(status)
        if isinstance(status, dict):
            with contextlib.suppress(ValueError):
                sid = status_id(status.get("id"))
                out.newest = max(out.newest or 0, sid)
        try:
            mention = parse_status(status, host, source)
        except ValueError as exc:
            out.skipped.append((f"status: {exc}", raw))
            continue
        keyed.append((int(mention.source_id.rsplit("/", 1)[1]), mention))
    keyed.sort(key=lambda pair: pair[0])
    out.mentions = [m for _, m in keyed]
    return out


def min_id_from_link(link: str | None) -> int | None:
    """The ``min_id`` of a Link header's ``rel="prev"`` URL (the page's newest id)."""
    for url, rel in _LINK.findall(link or ""):
        if rel == "prev":
            values = parse_qs(urlsplit(url).query).get("min_id") or [""]
            with contextlib.suppress(ValueError):
                return status_id(values[0])
    return None


class SSEParser:
    """Server-sent events, fed chunk by chunk as they arrive.

    Lines end in LF, CRLF or CR; ``data`` lines of one event are joined with LF; a
    blank line ends the event; lines starting with ``:`` are comments (heartbeats).
    An event cut off before its blank line is never returned.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._cr = False
        self.comments = 0
        """Comment lines seen (heartbeats)."""

    def feed(self, chunk: bytes | str) -> list[tuple[str, str]]:
        """The events completed by ``chunk``, as (event type, data)."""
        text = chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
        if self._cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF split across chunks
        self._cr = text.endswith("\r")
        self._buffer += text
        lines = re.split(r"\r\n|\r|\n", self._buffer)
        self._buffer = lines.pop()
        events: list[tuple[str, str]] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
        return events


def parse_sse(body: bytes | str) -> list[tuple[str, str]]:
    """All complete events of an SSE body."""
    return SSEParser().feed(body)


def _reset_wait(headers: Mapping[str, str], now: float, default: float) -> float:
    """Seconds a 429 asks us to wait: Retry-After (seconds or a date), else
    X-RateLimit-Reset (ISO 8601), else ``default``; at most MAX_RETRY_AFTER."""
    asked = retry_after(headers.get("Retry-After"), now)
    if asked is not None:
        return asked
    reset = headers.get("X-RateLimit-Reset", "").strip()
    if reset:
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(reset)
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            return max(0.0, min(MAX_RETRY_AFTER, at.timestamp() - now))
    return default


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    tags: list[str] = setting("hashtags to follow, without '#'")  # noqa: RUF009 (required)
    endpoint: str = setting("the Mastodon instance's base URL", DEFAULT_ENDPOINT)
    transport: str = setting("streaming transport: 'sse' or 'websocket'", "sse")
    token_env: str = setting(
        "environment variable holding a user access token with the read:statuses scope",
        "MASTODON_TOKEN",
    )
    query: str = setting("keep only statuses that match this query (our query language)", "")
    source: str = setting("source label of the mentions", NAME)

    def check(self) -> None:
        if not self.tags:
            raise FeedConfigError("tags is empty: name at least one hashtag")
        for tag in self.tags:
            if not _TAG.match(tag):
                raise FeedConfigError(
                    f"tag {tag!r} is not a hashtag: letters, digits and '_', written without '#'"
                )
        if self.transport not in ("sse", "websocket"):
            raise FeedConfigError(f"transport is 'sse' or 'websocket', not {self.transport!r}")
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FeedConfigError(f"endpoint {self.endpoint!r} is not an http(s):// URL")
        if not self.token_env:
            raise FeedConfigError("token_env is empty: name the variable with the token")
        if not _SOURCE.match(self.source):
            raise FeedConfigError(
                f"source {self.source!r}: lower case letters, digits, '_', '.', '-'"
            )
        if self.query.strip():
            try:
                parse_query(self.query)
            except QuerySyntaxError as exc:
                raise FeedConfigError(f"query: {exc}") from None


# --------------------------------------------------------------------------- loop


class RateLimited(Exception):
    def __init__(self, wait: float, detail: str) -> None:
        super().__init__(detail)
        self.wait = wait


class StreamEnded(Exception):
    """The stream closed or went quiet; reconnect and backfill."""


class _Feed:
    """One run of the adapter: the connections, the per-tag cursor and the emitter."""

    def __init__(
        self,
        settings: Settings,
        ctx: FeedContext,
        http: aiohttp.ClientSession,
        client: IngestClient,
        emitter: Emitter,
        health: SourceHealth,
        positions: dict[str, int],
        token: str,
        backoff: Backoff | None,
        idle_timeout: float,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.say = ctx.on_event
        self.http = http
        self.client = client
        self.emitter = emitter
        self.health = health
        self.positions = positions
        self.auth = {"Authorization": f"Bearer {token}"}
        self.base = settings.endpoint.rstrip("/")
        self.host = urlsplit(settings.endpoint).netloc.rpartition("@")[2].lower()
        self.source = settings.source
        self.query: Query | None = parse_query(settings.query) if settings.query.strip() else None
        self._backoff = backoff
        self.idle_timeout = idle_timeout
        self._emit_lock = asyncio.Lock()

    def backoff(self) -> Backoff:
        if self._backoff is not None:
            return Backoff(self._backoff.initial, self._backoff.maximum)
        return Backoff(initial=5.0, maximum=300.0)

    def cursor(self) -> dict[str, Any]:
        return {"tags": {tag: str(n) for tag, n in sorted(self.positions.items())}}

    def _keep(self, mentions: list[Mention]) -> list[Mention]:
        if self.query is None:
            return mentions
        return [m for m in mentions if self.query.matches_text(m.text)]

    async def handle(self, parsed: Parsed, tag: str | None) -> None:
        """Report skipped items, move the tag's position and emit what is left."""
        self.health.got(parsed.count())
        for reason, payload in parsed.skipped:
            self.client.report_dead(reason, payload)
        mentions, edits = self._keep(parsed.mentions), self._keep(parsed.edits)
        async with self._emit_lock:
            # Position and batch go together, in order: the cursor saved with a batch's
            # ack never names a status whose batch is still unacked.
            moved = False
            newest = parsed.newest
            if tag is not None and newest is not None and newest > self.positions.get(tag, 0):
                self.positions[tag] = newest
                moved = True
            if mentions or edits or parsed.deleted or moved:
                await self.emitter.emit(
                    mentions, self.cursor(), edits=edits or None, deleted=parsed.deleted or None
                )

    # ------------------------------------------------------------------ http

    def _refused(self, status: int, url: str, detail: str = "") -> FeedConfigError:
        return FeedConfigError(
            f"{url} refused the access token in {self.settings.token_env} ({status}"
            + (f": {detail}" if detail else "")
            + "); check that it is valid and has the read:statuses scope"
        )

    async def _check(self, resp: aiohttp.ClientResponse, url: str) -> None:
        """Raise for anything but 200: FeedConfigError for 401, RateLimited for 429."""
        if resp.status == 200:
            return
        body = (await resp.content.read(2000)).decode("utf-8", "replace")
        detail = body
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(body).get("error") or body)
        if resp.status in (401, 403):
            raise self._refused(resp.status, url, detail[:200])
        if resp.status == 429:
            wait = _reset_wait(resp.headers, self.ctx.clock(), 60.0)
            raise RateLimited(wait, f"429 from {url}: waiting {wait:.1f}s")
        raise aiohttp.ClientResponseError(
            resp.request_info, (), status=resp.status, message=detail[:200]
        )

    async def backfill(self, tag: str) -> None:
        """Everything in the tag's timeline after its position, oldest page first.

        With no position yet (a first run), only the newest page.
        """
        url = f"{self.base}/api/v1/timelines/tag/{quote(tag, safe='')}"
        last = self.positions.get(tag)
        total = 0
        while True:
            params = {"limit": str(PAGE_LIMIT)}
            if last is not None:
                params["min_id"] = str(last)
            async with self.http.get(
                url, params=params, headers=self.auth, timeout=aiohttp.ClientTimeout(total=30)
            ) as resp:
                await self._check(resp, url)
                body = await resp.read()
                link = resp.headers.get("Link")
            page = parse_timeline(body, self.host, self.source)
            if page.newest is None and (page.mentions or page.skipped):
                page.newest = min_id_from_link(link)
            total += len(page.mentions)
            await self.handle(page, tag)
            if last is None or page.newest is None or page.newest <= last:
                break
            last = page.newest
        if total:
            self.say(f"#{tag}: {total} statuses from the timeline")

    def _after_failure(self, exc: BaseException, backoff: Backoff, what: str) -> float:
        if isinstance(exc, RateLimited):
            self.health.waiting(exc.wait, str(exc))
            self.say(str(exc))
            return exc.wait
        delay = backoff.next_delay()
        detail = str(exc) or type(exc).__name__
        self.health.error(f"{what}: {detail}")
        self.say(f"{what} failed ({detail}); reconnecting in {delay:.1f}s")
        return delay

    # ------------------------------------------------------------------ SSE

    async def sse(self, tag: str) -> None:
        """Stream one tag over SSE, reconnecting (and backfilling) until cancelled."""
        url = f"{self.base}/api/v1/streaming/hashtag"
        backoff = self.backoff()
        headers = {**self.auth, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        while True:
            try:
                async with self.http.get(url, params={"tag": tag}, headers=headers) as resp:
                    await self._check(resp, url)
                    self.say(f"#{tag}: streaming from {url} (SSE)")
                    await self.backfill(tag)
                    self.health.ok()
                    backoff.reset()
                    parser = SSEParser()
                    while True:
                        try:
                            chunk = await asyncio.wait_for(
                                resp.content.readany(), self.idle_timeout
                            )
                        except TimeoutError:
                            raise StreamEnded(
                                f"no data, not even a heartbeat, for {self.idle_timeout:g}s"
                            ) from None
                        if not chunk:
                            raise StreamEnded("the server closed the stream")
                        for event, data in parser.feed(chunk):
                            await self.handle(
                                parse_stream_event(event, data, self.host, self.source), tag
                            )
            except (
                RateLimited,
                StreamEnded,
                aiohttp.ClientError,
                TimeoutError,
                ValueError,
                OSError,
            ) as exc:
                delay = self._after_failure(exc, backoff, f"#{tag} stream")
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ WebSocket

    def ws_url(self) -> str:
        parts = urlsplit(self.base)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        path = parts.path.rstrip("/") + "/api/v1/streaming"
        return urlunsplit((scheme, parts.netloc, path, "", ""))

    async def websocket(self) -> None:
        """Stream every tag over one WebSocket, reconnecting (and backfilling)."""
        url = self.ws_url()
        backoff = self.backoff()
        tags = {tag.lower(): tag for tag in self.settings.tags}
        while True:
            try:
                try:
                    ws = await self.http.ws_connect(
                        url,
                        headers=self.auth,
                        heartbeat=max(0.1, self.idle_timeout / 2),
                        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                    )
                except aiohttp.WSServerHandshakeError as exc:
                    if exc.status in (401, 403):
                        raise self._refused(exc.status, url) from None
                    if exc.status == 429:
                        wait = _reset_wait(exc.headers or {}, self.ctx.clock(), 60.0)
                        raise RateLimited(wait, f"429 from {url}: waiting {wait:.1f}s") from None
                    raise
                async with ws:
                    for tag in self.settings.tags:
                        await ws.send_json({"type": "subscribe", "stream": "hashtag", "tag": tag})
                    self.say(f"streaming {', '.join('#' + t for t in tags.values())} from {url}")
                    for tag in self.settings.tags:
                        await self.backfill(tag)
                    self.health.ok()
                    backoff.reset()
                    while True:
                        msg = await ws.receive()
                        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                            try:
                                on, parsed = parse_ws_message(msg.data, self.host, self.source)
                            except StreamRefused as exc:
                                if exc.status in (401, 403):
                                    raise self._refused(exc.status, url, str(exc)) from None
                                raise StreamEnded(f"streaming server said: {exc}") from None
                            await self.handle(parsed, tags.get((on or "").lower()))
                        elif msg.type == aiohttp.WSMsgType.ERROR:
                            raise StreamEnded(f"connection error: {ws.exception()}")
                        else:
                            raise StreamEnded(
                                f"the server closed the stream (code {ws.close_code})"
                            )
            except (
                RateLimited,
                StreamEnded,
                aiohttp.ClientError,
                TimeoutError,
                ValueError,
                OSError,
            ) as exc:
                delay = self._after_failure(exc, backoff, "stream")
            await asyncio.sleep(delay)


async def _first_failure(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for the tasks; the first one to fail cancels the rest and its error is raised."""
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    backoff: Backoff | None = None,
    idle_timeout: float = 90.0,
) -> None:
    """Stream the tags and push their statuses to the hub until cancelled.

    Test-only: ``backoff`` sets the reconnect delays; ``idle_timeout`` is how long a
    stream may stay silent (no event, no heartbeat) before it counts as dead.
    """
    token = ctx.secret(settings.token_env, "a Mastodon access token")
    cursor_file = ctx.cursor_file()
    saved = cursor_file.load().get("tags")
    positions: dict[str, int] = {}
    if isinstance(saved, dict):
        for tag in settings.tags:
            with contextlib.suppress(ValueError):
                positions[tag] = status_id(saved.get(tag))
    health = SourceHealth(ctx.clock)
    emitter = Emitter(cursor_file)
    client = ctx.client(settings.source, emitter, health)
    client.start()
    where = ", ".join(
        f"#{t} from {positions[t]}" if t in positions else f"#{t}" for t in settings.tags
    )
    ctx.on_event(f"following {where} on {settings.endpoint} ({settings.transport})")
    try:
        async with aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30),
        ) as http:
            feed = _Feed(
                settings,
                ctx,
                http,
                client,
                emitter,
                health,
                positions,
                token,
                backoff,
                idle_timeout,
            )
            if settings.transport == "websocket":
                tasks = [asyncio.create_task(feed.websocket(), name="mastodon-ws")]
            else:
                tasks = [
                    asyncio.create_task(feed.sse(tag), name=f"mastodon-sse-{tag}")
                    for tag in settings.tags
                ]
            try:
                await _first_failure(tasks)
            except FeedConfigError as exc:
                health.error(str(exc))
                await client.drain(timeout=5)  # keep the cursor of what was already sent
                raise
    finally:
        await client.close()
