"""Reddit posts that match a search, through Reddit's OAuth API (application-only).

The app's client id and secret buy a bearer token:
``POST {auth_endpoint}/api/v1/access_token`` with HTTP basic auth and
``grant_type=client_credentials``. The token is renewed before it expires and
whenever the API answers 401.

``GET {endpoint}/search?q=Q&sort=new&limit=100&raw_json=1&type=link[&after=t3_x]``
(or ``/r/SUB/search?...&restrict_sr=1``) returns a Listing, newest first. Each poll
follows ``after`` until it reaches posts at or before the cursor, the listing ends,
or ten pages were read, then emits the new posts oldest first.

The cursor is the newest ``created_utc`` taken plus the names taken at that exact
second, so the next poll takes nothing twice and misses nothing. It also keeps the
last posts taken (``recent``): each poll asks ``/api/info`` about them and sends the
ones whose ``edited`` mark moved as edits, and the ones deleted or removed at the
source as retractions.

Rate limits: Reddit says what is left of its window in ``X-Ratelimit-Remaining``,
``X-Ratelimit-Used`` and ``X-Ratelimit-Reset`` (seconds to the reset). When nothing
is left the adapter waits for the reset; a 429 waits ``Retry-After`` (or the reset).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import aiohttp

from feeds.base import (
    CursorError,
    Emitter,
    FeedConfigError,
    FeedContext,
    Skipped,
    SourceHealth,
    retry_after,
    setting,
)
from groundcontrol.client.stream import Backoff
from groundcontrol.model import MAX_SHORT_CHARS, MAX_TEXT_CHARS, Engagement, Mention
from groundcontrol.protocol import Retraction

log = logging.getLogger("groundcontrol.feeds.reddit")

NAME = SOURCE = "reddit"
SUMMARY = "Reddit posts matching a search (OAuth app id and secret)"
DEFAULT_ENDPOINT = "https://oauth.reddit.com"
DEFAULT_AUTH_ENDPOINT = "https://www.reddit.com"
WEB = "https://www.reddit.com"
PAGE_LIMIT = 100
#: Pages read per poll at most; Reddit's listings stop near 1000 items anyway.
MAX_PAGES = 10
#: Most posts /api/info answers about in one call.
MAX_RECHECK = 100

#: ``<platform>:<app ID>:<version string> (by /u/<reddit username>)``, as Reddit asks.
USER_AGENT_FORM = re.compile(
    r"^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:[A-Za-z0-9._+-]+ \(by /u/[A-Za-z0-9_-]{3,20}\)$"
)
USER_AGENT_EXAMPLE = "linux:groundcontrol:0.1 (by /u/acme_social)"
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
_GONE_TEXT = ("[deleted]", "[removed]")


# --------------------------------------------------------------------------- parsing


class Post(NamedTuple):
    """A post as a mention, with what the loop needs to order and recheck it."""

    mention: Mention
    created: float
    """``created_utc``: unix seconds."""
    edited: float
    """``edited``: when it was last edited (unix seconds), 0 when never."""


@dataclass
class Page:
    """One Listing: its posts, the names of posts gone at the source, what was skipped,
    and the ``after`` token of the next page (None at the end)."""

    posts: list[Post] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    after: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _count(value: Any) -> int:
    n = _number(value)
    return int(min(max(n, 0.0), 10.0**12)) if n is not None else 0


def _edited_mark(value: Any) -> float:
    """Reddit's ``edited``: false, or the unix time of the last edit (true on old posts)."""
    n = _number(value)
    if n is not None:
        return n
    return 1.0 if value is True else 0.0


def _post_data(child: Any) -> tuple[str, dict[str, Any]]:
    """(name, data) of a ``t3`` child; ValueError says what is wrong."""
    if not isinstance(child, dict):
        raise ValueError(f"a child is a JSON object, not {type(child).__name__}")
    kind = child.get("kind")
    if kind != "t3":
        raise ValueError(f"kind {kind!r} is not a post (t3)")
    data = child.get("data")
    if not isinstance(data, dict):
        raise ValueError("no data object")
    name = data.get("name")
    if not isinstance(name, str) or not name.startswith("t3_") or len(name) <= 3:
        raise ValueError(f"bad name {name!r}")
    if len(name) > MAX_SHORT_CHARS:
        raise ValueError("name too long")
    return name, data


def is_gone(data: dict[str, Any]) -> bool:
    """The post was deleted by its author or removed by moderators or Reddit."""
    return bool(data.get("removed_by_category")) or data.get("selftext") in _GONE_TEXT


def parse_post(child: Any) -> Post:
    """One ``{"kind": "t3", "data": {...}}`` child as a post; ValueError says why not."""
    name, data = _post_data(child)
    created = _number(data.get("created_utc"))
    if created is None or created <= 0:
        raise ValueError(f"bad created_utc {data.get('created_utc')!r}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("no title")
    selftext = data.get("selftext")
    body = selftext.strip() if isinstance(selftext, str) else ""
    text = f"{title.strip()}\n\n{body}" if body else title.strip()
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        url = WEB + permalink
    else:
        url = f"{WEB}/comments/{name[3:]}/"
    author = data.get("author")
    author = author if isinstance(author, str) and author != "[deleted]" else ""
    try:
        created_at = datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"bad created_utc {created!r}") from None
    mention = Mention(
        source=SOURCE,
        source_id=name,
        text=text[:MAX_TEXT_CHARS],
        created_at=created_at,
        url=url[:2048],
        author=author[:MAX_SHORT_CHARS],
        engagement=Engagement(
            likes=_count(data.get("score")), replies=_count(data.get("num_comments"))
        ),
    )
    return Post(mention, created, _edited_mark(data.get("edited")))


def parse_listing(body: bytes) -> Page:
    """A Listing response: its posts, gone posts, skipped children and ``after``.

    Raises ValueError when the body as a whole is not a Listing (an error page, a
    response cut short).
    """
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "Listing":
        raise ValueError("not a Listing")
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise ValueError("a Listing without a children list")
    after = data.get("after")
    page = Page(after=after if isinstance(after, str) and after else None)
    for child in data["children"]:
        try:
            name, post_data = _post_data(child)
            if is_gone(post_data):
                page.gone.append(name)
                continue
            page.posts.append(parse_post(child))
        except ValueError as exc:
            page.skipped.append((str(exc), json.dumps(child)[:65_536]))
    return page


# --------------------------------------------------------------------------- the API


class RateLimited(Exception):
    def __init__(self, wait: float, detail: str) -> None:
        super().__init__(detail)
        self.wait = wait


class AuthError(Exception):
    """Reddit refused the app's credentials (``bad_credentials``) or the token."""

    def __init__(self, detail: str, *, bad_credentials: bool = False) -> None:
        super().__init__(detail)
        self.bad_credentials = bad_credentials


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, min(3600.0, float(value))) if value else None
    except ValueError:
        return None


class RedditAuth:
    """The app-only bearer token: fetched on demand, renewed before it expires."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        auth_endpoint: str,
        client_id: str,
        client_secret: str,
        *,
        where: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.url = auth_endpoint.rstrip("/") + "/api/v1/access_token"
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {basic}"}
        self.where = where
        """Where the credentials came from, for messages (never the values)."""
        self.clock = clock
        self._token = ""
        self._renew_at = 0.0
        self.tokens_fetched = 0

    @property
    def ever_worked(self) -> bool:
        return self.tokens_fetched > 0

    def invalidate(self) -> None:
        self._token = ""

    async def token(self) -> str:
        if not self._token or self.clock() >= self._renew_at:
            await self._fetch()
        return self._token

    async def _fetch(self) -> None:
        async with self.http.post(
            self.url, data={"grant_type": "client_credentials"}, headers=self._headers
        ) as resp:
            body = await resp.read()
            if resp.status in (401, 403):
                raise AuthError(
                    f"Reddit refused the app credentials ({resp.status} from {self.url}): "
                    f"check {self.where}; they are the id under the app's name and its "
                    "'secret' at https://www.reddit.com/prefs/apps",
                    bad_credentials=True,
                )
            if resp.status == 429:
                wait = retry_after(resp.headers.get("Retry-After"), time.time(), 60.0)
                raise RateLimited(wait, f"429 from {self.url}: waiting {wait:.0f}s")
            if resp.status != 200:
                raise aiohttp.ClientResponseError(
                    resp.request_info,
                    (),
                    status=resp.status,
                    message=body[:200].decode("utf-8", "replace"),
                )
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"token response is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError("token response is not a JSON object")
        if "error" in doc:
            raise AuthError(
                f"Reddit refused the token request ({doc['error']!r}): check {self.where}",
                bad_credentials=True,
            )
        token = doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise ValueError("token response has no access_token")
        lifetime = _number(doc.get("expires_in")) or 3600.0
        # Renew with a tenth of the lifetime left (a minute at most).
        self._renew_at = self.clock() + lifetime - min(60.0, lifetime / 10)
        self._token = token
        self.tokens_fetched += 1


class RedditAPI:
    """GETs on the OAuth API: bearer token, renewal on 401, and Reddit's quota."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoint: str,
        auth: RedditAuth,
        health: SourceHealth,
        say: Callable[[str], None],
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.endpoint = endpoint.rstrip("/")
        self.auth = auth
        self.health = health
        self.say = say
        self.sleep = sleep
        self._quota_resets_at = 0.0  # time.monotonic() when the exhausted window resets
        self.used = ""

    def _note_quota(self, headers: Any) -> None:
        remaining = _seconds(headers.get("X-Ratelimit-Remaining"))
        reset = _seconds(headers.get("X-Ratelimit-Reset"))
        self.used = headers.get("X-Ratelimit-Used", "")
        if remaining is not None and remaining < 1 and reset is not None:
            self._quota_resets_at = time.monotonic() + reset

    async def _wait_for_quota(self) -> None:
        wait = self._quota_resets_at - time.monotonic()
        if wait <= 0:
            return
        detail = f"Reddit quota used up ({self.used or '?'} requests): waiting {wait:.1f}s"
        self.health.waiting(wait, detail)
        self.say(detail)
        await self.sleep(wait)
        self._quota_resets_at = 0.0

    async def get(self, path: str, params: dict[str, str]) -> bytes:
        url = self.endpoint + path
        for attempt in (1, 2):
            await self._wait_for_quota()
            token = await self.auth.token()
            headers = {"Authorization": f"bearer {token}"}
            async with self.http.get(url, params=params, headers=headers) as resp:
                self._note_quota(resp.headers)
                if resp.status == 401:
                    self.auth.invalidate()
                    if attempt == 1:
                        continue
                    raise AuthError(f"401 from {url} with a fresh token")
                body = await resp.read()
                if resp.status == 429:
                    wait = retry_after(resp.headers.get("Retry-After"), time.time())
                    if wait is None:
                        wait = _seconds(resp.headers.get("X-Ratelimit-Reset")) or 60.0
                    raise RateLimited(wait, f"429 from {url}: waiting {wait:.1f}s")
                if resp.status != 200:
                    raise aiohttp.ClientResponseError(
                        resp.request_info,
                        (),
                        status=resp.status,
                        message=body[:200].decode("utf-8", "replace"),
                    )
                return body
        raise AssertionError("unreachable")


def subreddit_name(subreddit: str) -> str:
    """``r/Foo``, ``/r/Foo`` or ``Foo`` as ``Foo``; empty for all of Reddit."""
    return subreddit.strip().removeprefix("/").removeprefix("r/")


def search_path(subreddit: str) -> str:
    sub = subreddit_name(subreddit)
    return f"/r/{sub}/search" if sub else "/search"


async def fetch_new(
    api: RedditAPI,
    query: str,
    subreddit: str,
    since: float,
    max_pages: int = MAX_PAGES,
) -> Page:
    """Listing pages, newest first, until one reaches posts at or before ``since``."""
    out = Page()
    params = {"q": query, "sort": "new", "limit": str(PAGE_LIMIT), "raw_json": "1", "type": "link"}
    if subreddit_name(subreddit):
        params["restrict_sr"] = "1"
    after: str | None = None
    for _ in range(max_pages):
        page = parse_listing(await api.get(search_path(subreddit), params))
        out.posts += page.posts
        out.gone += page.gone
        out.skipped += page.skipped
        after = page.after
        if after is None or any(p.created <= since for p in page.posts):
            break
        params["after"] = after
    return out


async def fetch_info(api: RedditAPI, names: list[str]) -> Page:
    """What Reddit says now about the posts ``names`` (at most 100)."""
    if not names:
        return Page()
    return parse_listing(
        await api.get("/api/info", {"id": ",".join(names[:MAX_RECHECK]), "raw_json": "1"})
    )


# --------------------------------------------------------------------------- the cursor


@dataclass
class Cursor:
    since: float
    """Newest ``created_utc`` taken."""
    names: set[str]
    """Names taken at exactly ``since``."""
    recent: list[tuple[str, float, float]]
    """(name, created_utc, edited mark) of the last posts taken, oldest first."""

    @classmethod
    def load(cls, value: dict[str, Any], default_since: float, where: str) -> Cursor:
        if not value:
            return cls(default_since, set(), [])
        try:
            since = float(value["since"])
            names = {str(n) for n in value.get("names", [])}
            recent = [(str(n), float(c), float(e)) for n, c, e in value.get("recent", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise CursorError(
                f"{where}: not a reddit cursor ({exc!r}); move it aside to start from now"
            ) from None
        return cls(since, names, recent)

    def dump(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "names": sorted(self.names),
            "recent": [list(r) for r in self.recent],
        }

    def is_new(self, post: Post) -> bool:
        return post.created > self.since or (
            post.created == self.since and post.mention.source_id not in self.names
        )


@dataclass
class Changes:
    """What one poll found: new mentions (oldest first), edits and retractions."""

    mentions: list[Mention]
    edits: list[Mention]
    deleted: list[Retraction]
    cursor: Cursor


def apply_poll(cursor: Cursor, found: Page, info: Page, keep: int) -> Changes:
    """Fold one poll's search and recheck pages into the cursor (a new one is returned).

    New posts are those after the cursor; a post already taken whose ``edited`` mark
    moved is an edit; a post already taken that is now gone is a retraction.
    """
    known = {name: edited for name, _created, edited in cursor.recent}
    fresh: dict[str, Post] = {}
    edited: dict[str, Post] = {}
    for post in found.posts + info.posts:
        name = post.mention.source_id
        if name in known:
            if post.edited != known[name]:
                edited[name] = post
        elif cursor.is_new(post):
            fresh[name] = post
    gone = {n for n in found.gone + info.gone if n in known}
    new = sorted(fresh.values(), key=lambda p: (p.created, p.mention.source_id))
    since, names = cursor.since, set(cursor.names)
    if new and new[-1].created > since:
        since = new[-1].created
        names = set()
    names |= {p.mention.source_id for p in new if p.created == since}
    recent = [
        (n, c, edited[n].edited if n in edited else e) for n, c, e in cursor.recent if n not in gone
    ]
    recent += [(p.mention.source_id, p.created, p.edited) for p in new]
    recent.sort(key=lambda r: r[1])
    recent = recent[-keep:] if keep > 0 else []
    return Changes(
        mentions=[p.mention for p in new],
        edits=[p.mention for n, p in edited.items() if n not in gone],
        deleted=[Retraction(source=SOURCE, source_id=n) for n in sorted(gone)],
        cursor=Cursor(since, names, recent),
    )


# --------------------------------------------------------------------------- the adapter


@dataclass(frozen=True)
class Settings:
    query: str = setting("Reddit search, passed through as written, e.g. 'northwind aero'")
    user_agent: str = setting(
        "User-Agent Reddit asks for: '<platform>:<app ID>:<version> (by /u/<username>)', "
        f"e.g. '{USER_AGENT_EXAMPLE}' (required)",
        "",
    )
    subreddit: str = setting("search only this subreddit (r/NAME); empty: all of Reddit", "")
    endpoint: str = setting("OAuth API base URL", DEFAULT_ENDPOINT)
    auth_endpoint: str = setting("base URL of the token endpoint", DEFAULT_AUTH_ENDPOINT)
    client_id_env: str = setting(
        "environment variable holding the app's client id", "REDDIT_CLIENT_ID"
    )
    client_secret_env: str = setting(
        "environment variable holding the app's secret", "REDDIT_CLIENT_SECRET"
    )
    interval: float = setting("seconds between polls", 60.0)
    recheck: int = setting(
        "how many of the last posts taken to re-check each poll for edits and deletions "
        "(0 to turn off, at most 100)",
        MAX_RECHECK,
    )

    def check(self) -> None:
        if not self.query.strip():
            raise FeedConfigError("query is empty")
        if not self.user_agent.strip():
            raise FeedConfigError(
                "user_agent is required: Reddit asks for "
                "'<platform>:<app ID>:<version> (by /u/<reddit username>)', "
                f"e.g. '{USER_AGENT_EXAMPLE}'"
            )
        if not USER_AGENT_FORM.match(self.user_agent):
            raise FeedConfigError(
                f"user_agent {self.user_agent!r} is not in the form Reddit asks for: "
                "'<platform>:<app ID>:<version> (by /u/<reddit username>)', "
                f"e.g. '{USER_AGENT_EXAMPLE}'"
            )
        sub = subreddit_name(self.subreddit)
        if sub and not _SUBREDDIT.match(sub):
            raise FeedConfigError(
                f"subreddit {self.subreddit!r} is not a subreddit name (letters, digits, '_')"
            )
        if self.interval <= 0:
            raise FeedConfigError(f"interval must be above 0, not {self.interval}")
        if not 0 <= self.recheck <= MAX_RECHECK:
            raise FeedConfigError(f"recheck must be from 0 to {MAX_RECHECK}, not {self.recheck}")
        for name in ("endpoint", "auth_endpoint"):
            if not getattr(self, name).startswith(("http://", "https://")):
                raise FeedConfigError(f"{name} must be an http(s):// URL")


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    stop_after_polls: int | None = None,
    backoff: Backoff | None = None,
    max_pages: int = MAX_PAGES,
    health: SourceHealth | None = None,
) -> None:
    """Poll Reddit search every ``interval`` seconds and push new posts to the hub."""
    say = ctx.on_event
    where = f"${settings.client_id_env} and ${settings.client_secret_env}"
    client_id = ctx.secret(settings.client_id_env, "Reddit app client id")
    client_secret = ctx.secret(settings.client_secret_env, "Reddit app secret")
    cursor_file = ctx.cursor_file()
    cursor = Cursor.load(cursor_file.load(), ctx.clock() - 3600, str(cursor_file.path))
    health = health or SourceHealth(ctx.clock)
    emitter = Emitter(cursor_file)
    client = ctx.client(SOURCE, emitter, health)
    client.start()
    backoff = backoff or Backoff(initial=5.0, maximum=300.0)
    sub = subreddit_name(settings.subreddit)
    scope = f"r/{sub}" if sub else "all of Reddit"
    say(
        f"searching {settings.endpoint} ({scope}) for {settings.query!r} every "
        f"{settings.interval:g}s from {cursor.since:.0f}"
    )
    polls = 0
    reported: set[str] = set()
    try:
        async with aiohttp.ClientSession(
            headers={"User-Agent": settings.user_agent},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as http:
            auth = RedditAuth(http, settings.auth_endpoint, client_id, client_secret, where=where)
            api = RedditAPI(http, settings.endpoint, auth, health, say)
            while stop_after_polls is None or polls < stop_after_polls:
                polls += 1
                delay = settings.interval
                try:
                    found = await fetch_new(
                        api, settings.query, settings.subreddit, cursor.since, max_pages
                    )
                    names = [r[0] for r in cursor.recent][-settings.recheck :]
                    info = await fetch_info(api, names) if settings.recheck else Page()
                except RateLimited as exc:
                    health.waiting(exc.wait, str(exc))
                    say(str(exc))
                    delay = exc.wait
                except AuthError as exc:
                    if exc.bad_credentials and not auth.ever_worked:
                        raise FeedConfigError(f"feed {ctx.name}: {exc}") from None
                    delay = backoff.next_delay()
                    health.error(str(exc))
                    say(f"{exc}; retrying in {delay:.1f}s")
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    delay = backoff.next_delay()
                    health.error(f"{type(exc).__name__}: {exc}")
                    say(f"poll failed ({type(exc).__name__}: {exc}); retrying in {delay:.1f}s")
                else:
                    backoff.reset()
                    health.ok()
                    skipped = found.skipped + info.skipped
                    for reason, payload in skipped:
                        # A bad item near the top of the listing comes back every
                        # poll: report it once.
                        if payload not in reported:
                            client.report_dead(reason, payload)
                        reported.add(payload)
                    if len(reported) > 10_000:
                        reported.clear()
                    changes = apply_poll(cursor, found, info, settings.recheck)
                    health.got(len(changes.mentions) + len(skipped))
                    if changes.edits or changes.deleted:
                        say(
                            f"{len(changes.edits)} post(s) edited, "
                            f"{len(changes.deleted)} deleted at the source"
                        )
                    cursor = changes.cursor
                    await emitter.emit(
                        changes.mentions,
                        cursor.dump(),
                        edits=changes.edits,
                        deleted=changes.deleted,
                    )
                if stop_after_polls is None or polls < stop_after_polls:
                    await asyncio.sleep(delay)
        await client.drain(timeout=30)
    finally:
        await client.close()
