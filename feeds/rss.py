"""RSS and Atom feeds, Google Alerts and Google News included: each entry is a mention.

Every ``interval`` seconds each URL is fetched with a conditional GET (``If-None-Match``
and ``If-Modified-Since`` from the cursor; a 304 means nothing new) and parsed with
feedparser from the bytes we fetched (feedparser never fetches anything itself).

The cursor keeps, per configured URL, the validators (ETag, Last-Modified), where a
301 moved it, whether it answered 410 Gone, and the ids (with a digest of the text) of
the newest entries seen. A restart therefore neither sends old entries again nor misses
new ones; an entry whose text changed goes to the hub as an edit. The hub dedupes on
(source, source_id) anyway, so fetching an overlap again is harmless.

Google Alerts links (``https://www.google.com/url?...&url=REAL``) and the older Google
News article links (``https://news.google.com/rss/articles/ID``, where ID is base64 of
a protobuf that holds the article URL) are unwrapped to the article's own URL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import io
import json
import re
import time
import xml.sax
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import aiohttp
import feedparser

from feeds.base import Emitter, FeedConfigError, FeedContext, SourceHealth, retry_after, setting
from feeds.html import html_to_text
from groundcontrol.client.stream import Backoff
from groundcontrol.model import MAX_SHORT_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS, Mention
from groundcontrol.query import Query, parse_query

NAME = "rss"
SUMMARY = "RSS and Atom feeds, incl. Google Alerts and Google News (no credentials)"
USER_AGENT = "groundcontrol-feed-rss (+https://github.com/groundcontrol)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
#: Ids remembered per URL: at least this many, and never fewer than the feed lists.
SEEN_PER_URL = 500
#: Largest feed body read; a bigger one is an error for that URL.
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
#: Mentions per batch sent to the hub (the protocol allows 5000).
BATCH = 1000
#: Feeds fetched at the same time.
PARALLEL = 8

_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_LANG = re.compile(r"^([A-Za-z]{2})(?:[-_][A-Za-z0-9-]*)?$")
_FEED_END = re.compile(
    rb"</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)\s*>\s*(?:<!--.*?-->\s*)*\Z", re.S | re.I
)
_GOOGLE_HOST = re.compile(r"^(?:www\.)?google\.[a-z.]{2,6}$")
_NOT_WORD = re.compile(r"[\W_]+")
_SECRET_PARAM = re.compile(
    r"(?i)(token|key|secret|passw|auth|sig|session|sid$|^s$|^k$|^code$|credential)"
)
_URL_IN_BYTES = re.compile(rb"https?://[\x21-\x7e]+")

#: An entry the parser skipped: (its key in the cursor, reason, the entry as JSON text).
Skipped = tuple[str, str, str]


# --------------------------------------------------------------------- link unwrapping


def unwrap_google_alerts(link: str) -> str:
    """``https://www.google.com/url?...&url=REAL&...`` -> REAL; other links unchanged."""
    parts = urlsplit(link)
    if parts.path != "/url" or not _GOOGLE_HOST.match(parts.hostname or ""):
        return link
    query = parse_qs(parts.query)
    for key in ("url", "q"):
        for value in query.get(key, []):
            if value.startswith(("http://", "https://")):
                return value
    return link


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _url_in_protobuf(data: bytes) -> str:
    """The first http(s) URL held in a length-delimited field of a protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            value = data[pos : pos + size]
            if len(value) != size:
                raise ValueError("field runs past the end")
            pos += size
            if value.startswith((b"http://", b"https://")):
                return value.decode("ascii")
        else:
            raise ValueError(f"wire type {wire}")
    return ""


def unwrap_google_news(link: str) -> str:
    """``https://news.google.com/rss/articles/ID?oc=5`` -> the article URL, when ID is
    the older form (urlsafe base64 of a protobuf holding the URL); else ``link``."""
    parts = urlsplit(link)
    if parts.hostname != "news.google.com":
        return link
    segments = parts.path.rstrip("/").split("/")
    if len(segments) < 2 or segments[-2] != "articles":
        return link
    article_id = segments[-1]
    try:
        data = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
    except (binascii.Error, ValueError):
        return link
    try:
        found = _url_in_protobuf(data)
    except (ValueError, UnicodeDecodeError):
        match = _URL_IN_BYTES.search(data)
        found = match[0].decode("ascii") if match else ""
    return found if found and len(found) <= MAX_URL_CHARS else link


def unwrap_link(link: str) -> str:
    return unwrap_google_news(unwrap_google_alerts(link))


def shown(url: str) -> str:
    """``url`` fit for a log line: a password or a credential-like query value hidden
    (private feeds often carry a token in the URL)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        key, eq, _value = pair.partition("=")
        pairs.append(f"{key}=***" if eq and _SECRET_PARAM.search(key) else pair)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), ""))


# --------------------------------------------------------------------------- parsing


def feed_lang(language: object) -> str:
    """``en-US`` -> ``en``; "" when the feed names no 2-letter language."""
    if not isinstance(language, str):
        return ""
    match = _LANG.match(language.strip())
    return match[1].lower() if match else ""


def _text_of(detail: object, value: object) -> str:
    if not isinstance(value, str):
        return ""
    kind = detail.get("type", "") if isinstance(detail, Mapping) else ""
    if kind in ("text/plain", ""):
        return value.strip()
    return html_to_text(value)


def _squash(text: str) -> str:
    return _NOT_WORD.sub("", text.lower())


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if isinstance(parsed, time.struct_time):
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (ValueError, OverflowError):
                continue
    return None


def _stable_id(*parts: str) -> str:
    return "sha1:" + hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def _http_link(value: object) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return ""
    link = unwrap_link(value.strip())
    return link if len(link) <= MAX_URL_CHARS else ""


def parse_entry(entry: Mapping[str, Any], *, source: str, lang: str, fetched_at: float) -> Mention:
    """One feedparser entry as a mention; ValueError says what is missing."""
    title = _text_of(entry.get("title_detail"), entry.get("title"))
    body = ""
    content = entry.get("content")
    if isinstance(content, list):
        parts = [c for c in content if isinstance(c, Mapping) and c.get("value")]
        if parts:
            body = _text_of(parts[0], parts[0].get("value"))
    if not body:
        body = _text_of(entry.get("summary_detail"), entry.get("summary"))
    if _squash(body) == _squash(title):
        body = ""  # the summary only repeats the title (Google News: title and publisher)
    text = "\n\n".join(t for t in (title, body) if t)
    if not text:
        raise ValueError("no title, summary or content")
    raw_link = entry.get("link")
    link = _http_link(raw_link)
    published = str(entry.get("published") or entry.get("updated") or "")
    raw_id = entry.get("id")
    if isinstance(raw_id, str) and raw_id.strip():
        source_id = raw_id.strip()
    elif isinstance(raw_link, str) and raw_link.strip():
        source_id = raw_link.strip()
    elif title or published:
        source_id = _stable_id(title, published)
    else:
        raise ValueError("no id, link, title or date to know it by")
    if len(source_id) > MAX_SHORT_CHARS:
        source_id = _stable_id(source_id)
    author = entry.get("author")
    author = author.strip() if isinstance(author, str) else ""
    if not author and isinstance(raw_link, str) and "news.google.com/" in raw_link:
        # Google News: the publisher, from <source> or the title's " - Publisher".
        src = entry.get("source")
        publisher = src.get("title") if isinstance(src, Mapping) else None
        if isinstance(publisher, str) and publisher.strip():
            author = publisher.strip()
        elif " - " in title:
            author = title.rsplit(" - ", 1)[1].strip()
    created = _when(entry) or datetime.fromtimestamp(fetched_at, UTC)
    return Mention(
        source=source,
        source_id=source_id,
        text=text[:MAX_TEXT_CHARS],
        created_at=created,
        url=link,
        author=author[:200],
        lang=lang,
    )


def _payload(entry: Any) -> str:
    return json.dumps(entry, default=str, sort_keys=True)[:65_536]


def parse_feed(
    body: bytes, *, source: str, fetched_at: float, headers: Mapping[str, str] | None = None
) -> tuple[list[Mention], list[Skipped]]:
    """An RSS or Atom document: (mentions in document order, skipped entries).

    ``headers`` are the response's (lower-case names; ``content-location`` is the URL
    relative links resolve against). Raises ValueError when the body as a whole is not
    a feed, or is cut off before its end (so nothing half-read is sent).
    """
    # A stream, never bytes or str: feedparser would take those for a file name or URL.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=dict(headers or {}))
    bozo = parsed.get("bozo_exception")
    if isinstance(bozo, xml.sax.SAXException) and not _FEED_END.search(body[-4096:]):
        where = ""
        if isinstance(bozo, xml.sax.SAXParseException):
            where = f" (line {bozo.getLineNumber()}: {bozo.getMessage()})"
        raise ValueError(f"the feed is cut off before its end{where}")
    if not parsed.get("version") and not parsed.get("entries"):
        detail = f": {bozo}" if bozo else ""
        raise ValueError(f"not an RSS or Atom feed{detail}")
    lang = feed_lang(parsed.get("feed", {}).get("language"))
    mentions: list[Mention] = []
    skipped: list[Skipped] = []
    for entry in parsed.get("entries", []):
        try:
            mentions.append(parse_entry(entry, source=source, lang=lang, fetched_at=fetched_at))
        except Exception as exc:  # ValueError says why; anything else is a surprise entry
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            payload = _payload(entry)
            key = "dead:" + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]
            skipped.append((key, reason, payload))
    return mentions, skipped


def digest(mention: Mention) -> str:
    """What the cursor keeps of a mention's content, to notice an edit."""
    return hashlib.sha1(f"{mention.text}\x1f{mention.url}".encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- state


@dataclass
class FeedState:
    """One configured URL: what the cursor keeps of it, and when it is next due."""

    url: str
    moved_to: str = ""
    etag: str = ""
    last_modified: str = ""
    gone: bool = False
    seen: list[tuple[str, str]] = field(default_factory=list)
    """(entry key, digest), most recently listed first."""
    backoff: Backoff = field(default_factory=Backoff)
    due: float = 0.0

    @property
    def current(self) -> str:
        return self.moved_to or self.url

    def to_json(self) -> dict[str, Any]:
        return {
            "moved_to": self.moved_to,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "gone": self.gone,
            "seen": [list(pair) for pair in self.seen],
        }

    @classmethod
    def from_json(cls, url: str, data: object, backoff: Backoff) -> FeedState:
        state = cls(url, backoff=backoff)
        if not isinstance(data, dict):
            return state

        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        state.moved_to, state.etag = text("moved_to"), text("etag")
        state.last_modified = text("last_modified")
        state.gone = data.get("gone") is True
        seen = data.get("seen")
        if isinstance(seen, list):
            state.seen = [
                (pair[0], pair[1])
                for pair in seen
                if isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(p, str) for p in pair)
            ]
        return state

    def remember(self, listed: Iterable[tuple[str, str]]) -> None:
        """The feed now lists ``listed``: they go first, older ids after, capped."""
        first = dict(listed)
        rest = [(k, d) for k, d in self.seen if k not in first]
        cap = max(SEEN_PER_URL, len(first))
        self.seen = (list(first.items()) + rest)[:cap]


def _cursor(states: list[FeedState]) -> dict[str, Any]:
    return copy.deepcopy({"feeds": {s.url: s.to_json() for s in states}})


# --------------------------------------------------------------------------- fetching


@dataclass
class Fetched:
    """What one conditional GET of a feed came to."""

    status: Literal["ok", "not_modified", "gone", "wait", "error"]
    url: str
    """The URL that gave the final answer."""
    moved_to: str = ""
    """Where a 301/308 says the feed now lives ("" when it did not move)."""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    wait: float = 0.0
    detail: str = ""


async def fetch(
    http: aiohttp.ClientSession, state: FeedState, now: float, default_wait: float
) -> Fetched:
    """GET ``state.current`` with its validators, following redirects by hand."""
    url = state.current
    moved_to = ""
    permanent = True
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            async with http.get(url, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                if status in (301, 302, 303, 307, 308):
                    location = resp.headers.get("Location", "")
                    if not location:
                        return Fetched("error", url, moved_to, detail=f"{status} with no Location")
                    url = urljoin(url, location)
                    if status in (301, 308) and permanent:
                        moved_to = url
                    else:
                        permanent = False
                    continue
                if status == 304:
                    return Fetched("not_modified", url, moved_to)
                if status == 410:
                    return Fetched("gone", url, moved_to, detail="410 Gone")
                if status in (429, 503) and (status == 429 or "Retry-After" in resp.headers):
                    wait = retry_after(resp.headers.get("Retry-After"), now, default_wait)
                    return Fetched("wait", url, moved_to, wait=wait, detail=f"{status}")
                if status != 200:
                    return Fetched("error", url, moved_to, detail=f"HTTP {status} {resp.reason}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65_536):
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        return Fetched("error", url, moved_to, detail="feed larger than 20 MiB")
                got = {k.lower(): v for k, v in resp.headers.items()}
                got["content-location"] = url
                return Fetched("ok", url, moved_to, body=bytes(body), headers=got)
        return Fetched("error", url, moved_to, detail=f"more than {MAX_REDIRECTS} redirects")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Fetched("error", url, moved_to, detail=f"{type(exc).__name__}: {exc}".strip())


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    urls: list[str] = setting(  # noqa: RUF009 (the contract's way to declare a setting)
        "feed URLs (RSS or Atom; relative ones go after --endpoint)"
    )
    interval: float = setting("seconds between polls of each feed", 300.0)
    source: str = setting("the mentions' source label", "news")
    query: str = setting("only keep entries matching this query (empty: keep all)", "")
    endpoint: str = setting("base URL put before relative urls", "")

    def resolved(self) -> list[str]:
        """The URLs to poll, absolute, duplicates dropped."""
        out: list[str] = []
        for raw in self.urls:
            url = raw.strip()
            if "://" not in url and self.endpoint:
                url = self.endpoint.rstrip("/") + "/" + url.lstrip("/")
            if url not in out:
                out.append(url)
        return out

    def check(self) -> None:
        if not self.urls:
            raise FeedConfigError("urls is empty: name at least one feed URL")
        for url in self.resolved():
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                raise FeedConfigError(
                    f"{url!r} is not an http(s) URL (a relative URL needs endpoint)"
                )
        if self.interval <= 0:
            raise FeedConfigError(f"interval must be above 0, not {self.interval}")
        if not _SOURCE.match(self.source):
            raise FeedConfigError(
                f"source {self.source!r}: lower case letters, digits, '_', '.', '-' (max 32)"
            )
        if self.query.strip():
            try:
                parse_query(self.query)
            except ValueError as exc:
                raise FeedConfigError(f"query: {exc}") from None


# --------------------------------------------------------------------------- the loop


class _Poller:
    def __init__(
        self,
        settings: Settings,
        ctx: FeedContext,
        states: list[FeedState],
        emitter: Emitter,
        health: SourceHealth,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.states = states
        self.emitter = emitter
        self.health = health
        self.query: Query | None = parse_query(settings.query) if settings.query.strip() else None
        self.client = emitter.client
        assert self.client is not None

    def say(self, message: str) -> None:
        self.ctx.on_event(message)

    async def handle(self, state: FeedState, got: Fetched, mono: float) -> bool:
        """Apply one fetch's outcome to ``state`` and send what is new; True if it
        went well (or the source asked us to wait)."""
        interval = self.settings.interval
        moved = bool(got.moved_to) and got.moved_to != state.current
        if moved:
            state.moved_to = got.moved_to
            self.say(
                f"{shown(state.url)} moved permanently to {shown(got.moved_to)}: "
                "polling that from now on"
            )
        if got.status == "not_modified":
            state.backoff.reset()
            state.due = mono + interval
            if moved:
                await self.emitter.emit([], _cursor(self.states))
            return True
        if got.status == "gone":
            state.gone = True
            self.say(f"{shown(state.current)} is gone (410): no longer polling it")
            await self.emitter.emit([], _cursor(self.states))
            return True
        if got.status == "wait":
            state.due = mono + got.wait
            detail = f"{got.detail} from {shown(got.url)}: waiting {got.wait:.0f}s"
            self.health.waiting(got.wait, detail)
            self.say(detail)
            return True
        mentions: list[Mention] = []
        skipped: list[Skipped] = []
        if got.status == "ok":
            try:
                mentions, skipped = parse_feed(
                    got.body,
                    source=self.settings.source,
                    fetched_at=self.ctx.clock(),
                    headers=got.headers,
                )
            except ValueError as exc:
                got.status, got.detail = "error", str(exc)
            except Exception as exc:  # feedparser on hostile input: one feed, not the loop
                got.status, got.detail = "error", f"cannot parse: {type(exc).__name__}: {exc}"
        if got.status == "error":
            delay = state.backoff.next_delay()
            state.due = mono + delay
            where = shown(got.url)
            detail = got.detail.replace(got.url, where)
            self.health.error(f"{where}: {detail}")
            self.say(f"{where}: {detail}; retrying in {delay:.1f}s")
            return False
        state.backoff.reset()
        state.due = mono + interval
        # Where a restart stands until all of this is acked: the old validators, so a
        # crash half-way fetches the whole feed again rather than getting a 304.
        previous = _cursor(self.states)
        state.etag = got.headers.get("etag", "")
        state.last_modified = got.headers.get("last-modified", "")
        await self._send(state, mentions, skipped, previous)
        return True

    async def _send(
        self,
        state: FeedState,
        mentions: list[Mention],
        skipped: list[Skipped],
        previous: dict[str, Any],
    ) -> None:
        before = dict(state.seen)
        listed: dict[str, str] = {}
        new: list[Mention] = []
        edits: list[Mention] = []
        for m in mentions:
            if m.source_id in listed:
                continue  # the feed lists the same id twice: the first one counts
            listed[m.source_id] = d = digest(m)
            if m.source_id not in before:
                new.append(m)
            elif before[m.source_id] != d:
                edits.append(m)
        dead = [s for s in skipped if s[0] not in before and s[0] not in listed]
        for key, _reason, _payload in skipped:
            listed.setdefault(key, "dead")
        if self.query is not None:
            new = [m for m in new if self.query.matches_text(m.text)]
            edits = [m for m in edits if self.query.matches_text(m.text)]
        self.health.got(len(new) + len(edits) + len(dead))
        assert self.client is not None
        for _key, reason, payload in dead:
            self.client.report_dead(reason, payload)
        state.remember(listed.items())
        cursor = _cursor(self.states)
        if new or edits or dead:
            self.say(
                f"{shown(state.current)}: {len(new)} new, {len(edits)} edited, {len(dead)} skipped"
            )
        new.sort(key=lambda m: m.created_at)
        chunks = [new[i : i + BATCH] for i in range(0, len(new), BATCH)] or [[]]
        edit_chunks = [edits[i : i + BATCH] for i in range(0, len(edits), BATCH)]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self.emitter.emit(chunk, cursor if last and not edit_chunks else previous)
        for i, chunk in enumerate(edit_chunks):
            last = i == len(edit_chunks) - 1
            await self.emitter.emit([], cursor if last else previous, edits=chunk)


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    stop_after_rounds: int | None = None,
    backoff: Callable[[], Backoff] | None = None,
    fetch_timeout: float = 30.0,
) -> None:
    """Poll every URL each ``interval`` seconds and push new entries to the hub.

    Test-only: ``stop_after_rounds`` returns after that many rounds of fetches (then
    waits for the hub's acks); ``backoff`` makes each URL's error backoff; ``fetch_timeout``
    bounds one fetch.
    """
    settings.check()
    interval = settings.interval
    make_backoff = backoff or (lambda: Backoff(initial=5.0, maximum=max(600.0, interval)))
    cursor_file = ctx.cursor_file()
    saved = cursor_file.load().get("feeds")
    saved = saved if isinstance(saved, dict) else {}
    states = [
        FeedState.from_json(url, saved.get(url), make_backoff()) for url in settings.resolved()
    ]
    health = SourceHealth(ctx.clock)
    emitter = Emitter(cursor_file)
    client = ctx.client(settings.source, emitter, health)
    client.start()
    poller = _Poller(settings, ctx, states, emitter, health)
    gone = [s.current for s in states if s.gone]
    for url in gone:
        poller.say(
            f"{shown(url)} answered 410 Gone before: not polling it "
            f"(drop it from {cursor_file.path} to try it again)"
        )
    poller.say(
        f"polling {len(states) - len(gone)} feed(s) every {interval:g}s as source "
        f"{settings.source!r}" + (f" for {settings.query!r}" if settings.query.strip() else "")
    )
    loop = asyncio.get_running_loop()
    rounds = 0
    limit = asyncio.Semaphore(PARALLEL)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}

    async def one(http: aiohttp.ClientSession, state: FeedState) -> Fetched:
        async with limit:
            try:
                return await fetch(http, state, ctx.clock(), interval)
            except Exception as exc:  # one feed's surprise must not stop the others
                return Fetched("error", state.current, detail=f"{type(exc).__name__}: {exc}")

    try:
        async with aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=fetch_timeout)
        ) as http:
            while stop_after_rounds is None or rounds < stop_after_rounds:
                active = [s for s in states if not s.gone]
                if not active:
                    rounds += 1
                    health.detail = "every feed is gone (410)"
                    await asyncio.sleep(interval)
                    continue
                wait = min(s.due for s in active) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                rounds += 1
                now = loop.time()
                due = [s for s in active if s.due <= now]
                results = await asyncio.gather(*(one(http, s) for s in due))
                mono = loop.time()
                fine = True
                waiting = False
                for state, got in zip(due, results, strict=True):
                    fine = await poller.handle(state, got, mono) and fine
                    waiting = waiting or got.status == "wait"
                if fine and not waiting:
                    health.ok()
                gone = [s.current for s in states if s.gone]
                if gone and fine and not waiting:
                    health.detail = f"gone (410): {', '.join(map(shown, gone))}"[:200]
        await client.drain(timeout=30)
    finally:
        await client.close()
