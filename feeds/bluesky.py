"""Bluesky posts through Jetstream, matched locally against a query.

Jetstream is Bluesky's JSON view of the network's firehose. The adapter connects to
``{endpoint}/subscribe?wantedCollections=app.bsky.feed.post[&cursor=T][&compress=true]``
and reads every post created, edited or deleted on the network. Jetstream has no
search, so the query is matched here (:func:`groundcontrol.query.parse_query`): only
matching posts become mentions.

Each event carries ``time_us``, Jetstream's own clock in unix microseconds. The
cursor is the ``time_us`` of the last event handed to the hub; a restart (and a
reconnect) asks Jetstream to replay from 5 seconds before it, and the hub's dedupe on
``did/rkey`` drops the repeats. Deletions are sent only for posts this adapter
emitted: it remembers the last ``remember`` of them in ``<name>.emitted`` beside the
cursor. No credentials: Jetstream is public.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import zstandard
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from feeds.base import (
    Changes,
    Emitter,
    FeedConfigError,
    FeedContext,
    Skipped,
    SourceHealth,
    retry_after,
    setting,
)
from groundcontrol.client.stream import Backoff, http_to_ws
from groundcontrol.model import MAX_TEXT_CHARS, Mention
from groundcontrol.protocol import Retraction
from groundcontrol.query import QuerySyntaxError, parse_query

NAME = SOURCE = "bluesky"
SUMMARY = "Bluesky posts from Jetstream, matched locally against a query (no credentials)"
DEFAULT_ENDPOINT = "wss://jetstream2.us-east.bsky.network"
COLLECTION = "app.bsky.feed.post"
USER_AGENT = "groundcontrol-feed-bluesky (+https://github.com/groundcontrol)"

#: A restart or reconnect replays from this long before the last event seen.
OVERLAP_US = 5_000_000
#: Largest frame accepted, compressed or not (an ATProto record is at most 1 MiB).
MAX_FRAME_BYTES = 4 * 1024 * 1024
#: A batch goes to the hub after this many events or this many seconds.
BATCH_MAX = 500
BATCH_SECONDS = 0.5
#: A createdAt this far after Jetstream's time_us is taken as a wrong clock.
FUTURE_SLACK_US = 300_000_000
#: Dead-letter payloads are cut to this many characters.
MAX_PAYLOAD = 65_536

_LANG = re.compile(r"^[a-z]{2}$")

Operation = Literal["create", "update", "delete"]


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Change:
    """A post created, updated or deleted at the source."""

    operation: Operation
    did: str
    rkey: str
    time_us: int
    text: str = ""
    created_at: datetime | None = None
    lang: str = ""

    @property
    def key(self) -> str:
        """The post's id on the hub: ``did/rkey``."""
        return f"{self.did}/{self.rkey}"

    def mention(self) -> Mention:
        """The post as a mention (for a create or an update)."""
        return Mention(
            source=SOURCE,
            source_id=self.key,
            text=self.text[:MAX_TEXT_CHARS],
            created_at=self.created_at or _from_us(self.time_us),
            url=f"https://bsky.app/profile/{self.did}/post/{self.rkey}",
            author=self.did,
            lang=self.lang,
        )


@dataclass(frozen=True, slots=True)
class Frame:
    """One websocket frame, read: its ``time_us`` when it has one, and a post change
    or a skipped item (or neither: identity and account events, other collections)."""

    time_us: int | None = None
    change: Change | None = None
    skipped: Skipped | None = None


def _from_us(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / 1_000_000, UTC)


def parse_created_at(value: Any, time_us: int) -> datetime:
    """The record's ``createdAt``, or Jetstream's ``time_us`` when it is absent, not an
    RFC 3339 time with a zone, or more than 5 minutes after ``time_us`` (a wrong
    clock): a matching post is never lost for its date."""
    seen = _from_us(time_us)
    if not isinstance(value, str):
        return seen
    try:
        created = datetime.fromisoformat(value)
    except ValueError:
        return seen
    if created.tzinfo is None or created.utcoffset() is None:
        return seen
    created = created.astimezone(UTC)
    if (created - seen).total_seconds() * 1_000_000 > FUTURE_SLACK_US:
        return seen
    return created


def parse_lang(langs: Any) -> str:
    """The first of the record's ``langs`` as an ISO 639-1 code (``pt-BR`` -> ``pt``);
    "" when there is none or it is not a two-letter language."""
    if not isinstance(langs, list) or not langs or not isinstance(langs[0], str):
        return ""
    primary = langs[0].split("-", 1)[0].lower()
    return primary if _LANG.match(primary) else ""


class BadEvent(ValueError):
    """A malformed event; ``time_us`` is set when it had a usable one."""

    def __init__(self, reason: str, time_us: int | None = None) -> None:
        super().__init__(reason)
        self.time_us = time_us


def parse_event(event: Any) -> tuple[int, Change | None]:
    """A decoded Jetstream event: (its time_us, the post change or None).

    None for events that carry no post (``identity``, ``account``, other
    collections). Raises :class:`BadEvent` naming what is wrong with a malformed one.
    """
    if not isinstance(event, dict):
        raise BadEvent(f"an event is a JSON object, not {type(event).__name__}")
    time_us = event.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
        raise BadEvent(f"bad time_us {time_us!r}"[:200])
    try:
        return time_us, _parse_commit(event, time_us)
    except ValueError as exc:
        raise BadEvent(str(exc), time_us) from None


def _parse_commit(event: dict[str, Any], time_us: int) -> Change | None:
    if event.get("kind") != "commit":
        return None  # identity, account and kinds to come: no posts
    commit = event.get("commit")
    if not isinstance(commit, dict):
        raise ValueError("commit event without a commit object")
    if commit.get("collection") != COLLECTION:
        return None
    did = event.get("did")
    if not isinstance(did, str) or not did.startswith("did:") or len(did) > 256:
        raise ValueError(f"bad did {did!r}"[:200])
    rkey = commit.get("rkey")
    if not isinstance(rkey, str) or not rkey or len(rkey) > 128:
        raise ValueError("commit without rkey")
    operation = commit.get("operation")
    if operation == "delete":
        return Change("delete", did, rkey, time_us)
    if operation not in ("create", "update"):
        raise ValueError(f"unknown commit operation {operation!r}"[:200])
    record = commit.get("record")
    if not isinstance(record, dict):
        raise ValueError(f"{operation} without a record")
    text = record.get("text")
    if not isinstance(text, str):
        raise ValueError("record without text")
    return Change(
        "create" if operation == "create" else "update",
        did,
        rkey,
        time_us,
        text=text,
        created_at=parse_created_at(record.get("createdAt"), time_us),
        lang=parse_lang(record.get("langs")),
    )


class Decoder:
    """Turns frames into text: binary frames are zstd, with Jetstream's dictionary
    when one is given (frames compressed without a dictionary decode either way)."""

    def __init__(self, dictionary: bytes | None = None) -> None:
        self.dict_id = 0
        if dictionary:
            compression_dict = zstandard.ZstdCompressionDict(dictionary)
            self.dict_id = compression_dict.dict_id()
            self._zstd = zstandard.ZstdDecompressor(dict_data=compression_dict)
        else:
            self._zstd = zstandard.ZstdDecompressor()

    def decode(self, frame: str | bytes) -> str | bytes:
        """The frame's JSON text. ValueError for a frame that is not zstd;
        FeedConfigError when it needs a dictionary we do not have."""
        if isinstance(frame, str):
            return frame
        try:
            wanted = zstandard.get_frame_parameters(frame).dict_id
        except zstandard.ZstdError as exc:
            raise ValueError(f"binary frame is not zstd: {exc}") from None
        if wanted and wanted != self.dict_id:
            have = f"the dictionary given has id {self.dict_id}" if self.dict_id else "none given"
            raise FeedConfigError(
                f"Jetstream compresses with zstd dictionary id {wanted} ({have}): set "
                "zstd_dictionary to Jetstream's pkg/models/zstd_dictionary, or turn compress off"
            )
        try:
            return self._zstd.decompress(frame, max_output_size=MAX_FRAME_BYTES)
        except zstandard.ZstdError as exc:
            raise ValueError(f"cannot decompress a binary frame: {exc}") from None


def _payload(frame: str | bytes) -> str:
    if isinstance(frame, bytes):
        return "base64:" + base64.b64encode(frame[: MAX_PAYLOAD * 3 // 4 - 8]).decode()
    return frame[:MAX_PAYLOAD]


def parse_frame(frame: str | bytes, decoder: Decoder | None = None) -> Frame:
    """One websocket frame as a :class:`Frame`; never raises for bad content (a bad
    frame is a skipped item), only FeedConfigError for a dictionary we lack."""
    try:
        text = (decoder or Decoder()).decode(frame)
    except ValueError as exc:
        return Frame(skipped=(str(exc), _payload(frame)))
    try:
        event = json.loads(text)
    except ValueError as exc:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return Frame(skipped=(f"not JSON: {exc}"[:200], _payload(shown)))
    try:
        time_us, change = parse_event(event)
    except BadEvent as exc:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return Frame(time_us=exc.time_us, skipped=(str(exc), _payload(shown)))
    return Frame(time_us=time_us, change=change)


@dataclass
class Collected(Changes):
    """What a batch of frames comes to, for one :meth:`Emitter.emit`."""

    time_us: int | None = None
    """The last time_us of the batch (None when no frame had one)."""
    posts: int = 0
    """Post changes seen, matching or not."""

    @property
    def sent_keys(self) -> list[str]:
        """``did/rkey`` of the mentions and edits, to remember for later deletes."""
        return [m.source_id for m in self.mentions] + [m.source_id for m in self.edits]


def collect(
    frames: Iterable[Frame], matches: Callable[[str], bool], emitted: Container[str]
) -> Collected:
    """Mentions, edits and deletions from a batch of frames, in order.

    A create whose text ``matches`` is a mention; an update is an edit when it matches
    or the post was ``emitted`` before; a delete is a retraction only for an emitted
    post. Within the batch a post ends up in at most one of the three lists (a post
    created then deleted is only a retraction, created then updated only an edit),
    so the order the hub applies them in does not matter.
    """
    mentions: dict[str, Mention] = {}
    edits: dict[str, Mention] = {}
    deleted: dict[str, Retraction] = {}
    out = Collected()
    for frame in frames:
        if frame.time_us is not None:
            out.time_us = frame.time_us if out.time_us is None else max(out.time_us, frame.time_us)
        if frame.skipped is not None:
            out.skipped.append(frame.skipped)
        change = frame.change
        if change is None:
            continue
        out.posts += 1
        key = change.key
        if change.operation == "delete":
            known = key in emitted or key in deleted
            known = mentions.pop(key, None) is not None or known
            known = edits.pop(key, None) is not None or known
            if known:
                deleted[key] = Retraction(source=SOURCE, source_id=key)
            continue
        matched = bool(change.text.strip()) and matches(change.text)
        if change.operation == "create":
            if not matched:
                continue
            if deleted.pop(key, None) is not None:
                edits[key] = change.mention()  # deleted and made again: replace the copy
            else:
                mentions[key] = change.mention()
        elif matched or key in emitted or key in mentions or key in edits or key in deleted:
            # An edit even when the create is in this batch: the hub may have the post
            # from an earlier pass over the same events (a replay), and it takes an
            # edit of a post it lacks as a new one.
            mentions.pop(key, None)
            deleted.pop(key, None)
            edits[key] = change.mention()
    out.mentions = list(mentions.values())
    out.edits = list(edits.values())
    out.deleted = list(deleted.values())
    return out


# --------------------------------------------------------------------------- state


class Remembered:
    """The last ``limit`` posts emitted (``did/rkey``), so their deletes can be sent;
    kept in a file of one key a line, appended to and compacted when it doubles."""

    def __init__(self, path: Path | None, limit: int, say: Callable[[str], None]) -> None:
        self.path = path
        self.limit = limit
        self.say = say
        self._keys: dict[str, None] = {}
        self._lines = 0
        if path is not None and limit > 0:
            try:
                lines = path.read_text("utf-8").splitlines()
            except FileNotFoundError:
                lines = []
            except OSError as exc:
                self._broken(exc)
                lines = []
            self._lines = len(lines)
            for key in lines[-limit:]:
                if key:
                    self._keys[key] = None

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys: list[str]) -> None:
        if self.limit <= 0 or not keys:
            return
        for key in keys:
            self._keys.pop(key, None)
            self._keys[key] = None
        while len(self._keys) > self.limit:
            del self._keys[next(iter(self._keys))]
        if self.path is None:
            return
        try:
            if self._lines + len(keys) > 2 * self.limit:
                tmp = self.path.with_name(self.path.name + ".tmp")
                tmp.write_text("".join(k + "\n" for k in self._keys), "utf-8")
                tmp.replace(self.path)
                self._lines = len(self._keys)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write("".join(k + "\n" for k in keys))
                self._lines += len(keys)
        except OSError as exc:
            self._broken(exc)

    def _broken(self, exc: OSError) -> None:
        self.say(
            f"{self.path}: {exc.strerror or exc}; deletes of posts sent before a restart "
            "will not be passed on"
        )
        self.path = None


def load_dictionary(path: str) -> bytes | None:
    """The zstd dictionary file's bytes, None when no path is given."""
    if not path:
        return None
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise FeedConfigError(f"zstd_dictionary {path}: {exc.strerror or exc}") from None
    try:
        zstandard.ZstdCompressionDict(data).dict_id()
    except zstandard.ZstdError as exc:
        raise FeedConfigError(f"zstd_dictionary {path}: not a zstd dictionary: {exc}") from None
    return data


def subscribe_url(endpoint: str, cursor: int | None, compress: bool) -> str:
    """Jetstream's /subscribe URL for posts, replaying from ``cursor`` when given."""
    base = http_to_ws(endpoint).rstrip("/")
    if not base.endswith("/subscribe"):
        base += "/subscribe"
    params: list[tuple[str, str]] = [
        ("wantedCollections", COLLECTION),
        ("maxMessageSizeBytes", str(MAX_FRAME_BYTES)),
    ]
    if cursor is not None:
        params.append(("cursor", str(max(0, cursor))))
    if compress:
        params.append(("compress", "true"))
    return f"{base}?{urlencode(params)}"


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    query: str = setting(
        "which posts to keep, in the query language, e.g. 'northwind OR \"aero 14\"'"
    )
    endpoint: str = setting("Jetstream base URL", DEFAULT_ENDPOINT)
    since_minutes: int = setting(
        "first run only (no cursor yet): replay this many minutes back; 0 starts live", 0
    )
    compress: bool = setting("ask Jetstream for zstd-compressed frames", False)
    zstd_dictionary: str = setting(
        "path to Jetstream's zstd dictionary (pkg/models/zstd_dictionary in its repo); "
        "needed with compress against the real Jetstream",
        "",
    )
    remember: int = setting(
        "how many sent posts to remember, so their deletes are passed on", 200_000
    )

    def check(self) -> None:
        if not self.query.strip():
            raise FeedConfigError("query is empty")
        try:
            parse_query(self.query)
        except QuerySyntaxError as exc:
            raise FeedConfigError(f"query: {exc}") from None
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("ws", "wss", "http", "https") or not parts.netloc:
            raise FeedConfigError(f"endpoint must be a ws:// or wss:// URL, not {self.endpoint!r}")
        if self.since_minutes < 0:
            raise FeedConfigError(f"since_minutes must be 0 or more, not {self.since_minutes}")
        if self.remember < 0:
            raise FeedConfigError(f"remember must be 0 or more, not {self.remember}")


# --------------------------------------------------------------------------- the loop


class _Stream:
    """One run's position in the stream and what it has passed on."""

    def __init__(
        self,
        settings: Settings,
        ctx: FeedContext,
        emitter: Emitter,
        health: SourceHealth,
        remembered: Remembered,
        decoder: Decoder,
        batch_max: int,
        batch_seconds: float,
        summary_every: float,
    ) -> None:
        self.ctx = ctx
        self.emitter = emitter
        self.health = health
        self.remembered = remembered
        self.decoder = decoder
        self.batch_max = batch_max
        self.batch_seconds = batch_seconds
        self.matches = parse_query(settings.query).matches_text
        self.last_us: int | None = None
        """time_us of the last event handed to the emitter."""
        self.replay_until = 0
        """Events up to this time_us were seen before: their skipped items are not
        reported again."""
        self.conn_last_us: int | None = None
        self.summary_every = summary_every
        self._summary_at = ctx.clock() + summary_every
        self._posts = 0
        self._matched = 0

    async def read(self, ws: ClientConnection, backoff: Backoff, until_us: int | None) -> bool:
        """Read ``ws`` in batches until it closes (ConnectionClosed) or, when
        ``until_us`` is given, until an event at or after it was emitted (True)."""
        loop = asyncio.get_running_loop()
        frames: list[str | bytes] = []
        deadline = 0.0
        self.conn_last_us = None
        while True:
            timeout = None if not frames else max(0.0, deadline - loop.time())
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                await self.flush(frames)
                frames = []
            except ConnectionClosed:
                await self.flush(frames)
                raise
            else:
                if not frames:
                    deadline = loop.time() + self.batch_seconds
                frames.append(frame)
                if len(frames) >= self.batch_max:
                    await self.flush(frames)
                    frames = []
            if not frames and self.last_us is not None:
                backoff.reset()  # the source works: the next drop starts over
                if until_us is not None and self.last_us >= until_us:
                    return True

    async def flush(self, frames: list[str | bytes]) -> None:
        if not frames:
            return
        parsed: list[Frame] = []
        for raw in frames:
            frame = parse_frame(raw, self.decoder)
            if frame.skipped is not None and self._replayed(frame):
                frame = Frame(time_us=frame.time_us)  # reported when first seen
            if frame.time_us is not None:
                self.conn_last_us = frame.time_us
            parsed.append(frame)
        got = collect(parsed, self.matches, self.remembered)
        client = self.emitter.client
        assert client is not None
        for reason, payload in got.skipped:
            client.report_dead(reason, payload)
        self.health.got(got.posts + len(got.skipped))
        if got.time_us is not None:
            self.last_us = got.time_us if self.last_us is None else max(self.last_us, got.time_us)
        self.remembered.add(got.sent_keys)
        if self.last_us is not None:
            await self.emitter.emit(
                got.mentions,
                {"time_us": self.last_us},
                edits=got.edits or None,
                deleted=got.deleted or None,
            )
        self._posts += got.posts
        self._matched += len(got.mentions) + len(got.edits)
        now = self.ctx.clock()
        if now >= self._summary_at:
            self.ctx.on_event(
                f"{self._posts} posts seen, {self._matched} matched the query "
                f"in the last {self.summary_every:g}s"
            )
            self._posts = self._matched = 0
            self._summary_at = now + self.summary_every

    def _replayed(self, frame: Frame) -> bool:
        if frame.time_us is not None:
            return frame.time_us <= self.replay_until
        # A frame without a time: placed by the event before it on this connection.
        return self.conn_last_us is not None and self.conn_last_us < self.replay_until

    def resume_from(self) -> int | None:
        """Where the next connection starts: 5 s before the last event, or None (live)."""
        if self.last_us is None:
            return None
        self.replay_until = max(self.replay_until, self.last_us)
        return self.last_us - OVERLAP_US


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    backoff: Backoff | None = None,
    batch_max: int = BATCH_MAX,
    batch_seconds: float = BATCH_SECONDS,
    until_time_us: int | None = None,
    summary_every: float = 60.0,
    open_timeout: float = 10.0,
) -> None:
    """Follow Jetstream and push matching posts to the hub until cancelled.

    Test-only: ``until_time_us`` returns (after the hub acked everything) once an
    event at or after that time was emitted; the rest make it quick.
    """
    say = ctx.on_event
    decoder = Decoder(load_dictionary(settings.zstd_dictionary))
    if settings.compress and not decoder.dict_id:
        say("compress without zstd_dictionary: only frames compressed without one decode")
    cursor_file = ctx.cursor_file()
    saved = cursor_file.load().get("time_us")
    health = SourceHealth(ctx.clock)
    emitter = Emitter(cursor_file)
    remembered = Remembered(ctx.state_dir / f"{ctx.name}.emitted", settings.remember, say)
    stream = _Stream(
        settings,
        ctx,
        emitter,
        health,
        remembered,
        decoder,
        batch_max,
        batch_seconds,
        summary_every,
    )
    start: int | None
    if isinstance(saved, int) and not isinstance(saved, bool) and saved > 0:
        stream.last_us = saved
        start = stream.resume_from()
        say(f"resuming from time_us {saved} (replaying 5s before it)")
    elif settings.since_minutes:
        start = int((ctx.clock() - settings.since_minutes * 60) * 1_000_000)
        say(f"first run: replaying the last {settings.since_minutes} minutes")
    else:
        start = None
        say("first run: starting live")
    client = ctx.client(SOURCE, emitter, health)
    client.start()
    backoff = backoff or Backoff(initial=1.0, maximum=60.0)
    try:
        while True:
            url = subscribe_url(settings.endpoint, start, settings.compress)
            delay: float | None = None
            try:
                async with connect(
                    url,
                    open_timeout=open_timeout,
                    max_size=MAX_FRAME_BYTES,
                    user_agent_header=USER_AGENT,
                ) as ws:
                    say(f"connected to {url}")
                    health.ok()
                    if await stream.read(ws, backoff, until_time_us):
                        break
            except InvalidStatus as exc:
                status = exc.response.status_code
                asked = retry_after(exc.response.headers.get("Retry-After"), ctx.clock())
                delay = asked if asked is not None else backoff.next_delay()
                detail = f"Jetstream answered HTTP {status}: waiting {delay:.1f}s"
                if status == 429:
                    health.waiting(delay, detail)
                else:
                    health.error(detail)
                say(detail)
            except (ConnectionClosed, InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
                why = _describe(exc)
                delay = backoff.next_delay()
                health.error(why)
                say(f"{why}; reconnecting in {delay:.1f}s")
            start = stream.resume_from() if stream.last_us is not None else start
            await asyncio.sleep(delay if delay is not None else backoff.next_delay())
        await client.drain(timeout=30)
    finally:
        await client.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        return f"connection lost ({exc})"[:200]
    if isinstance(exc, TimeoutError):
        return "connecting timed out"
    return f"cannot connect: {type(exc).__name__}: {exc}"[:200]
