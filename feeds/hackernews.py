"""Hacker News through Algolia's search API: stories and comments that match a query.

``GET {endpoint}/api/v1/search_by_date?query=Q&tags=(story,comment)
&numericFilters=created_at_i>=T&hitsPerPage=100&page=P`` returns the newest first.
The cursor is the newest ``created_at_i`` taken; the next poll asks from that second
on (inclusive, so nothing in the same second is missed) and the hub's dedupe on
``objectID`` drops the repeats. No credentials: the API is public.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from feeds.base import (
    Emitter,
    FeedConfigError,
    FeedContext,
    Skipped,
    SourceHealth,
    retry_after,
    setting,
)
from feeds.html import html_to_text
from groundcontrol.client.stream import Backoff
from groundcontrol.model import Engagement, Mention

log = logging.getLogger("groundcontrol.feeds.hackernews")

DEFAULT_ENDPOINT = "https://hn.algolia.com"
NAME = SOURCE = "hackernews"
SUMMARY = "Hacker News stories and comments via Algolia search (no credentials)"
HITS_PER_PAGE = 100
#: Algolia serves at most this many pages of a query (paginationLimitedTo 1000).
MAX_PAGES = 10
USER_AGENT = "groundcontrol-feed-hackernews (+https://github.com/groundcontrol)"


def parse_hit(hit: Any) -> Mention:
    """One Algolia hit as a mention; ValueError says what is missing or wrong."""
    if not isinstance(hit, dict):
        raise ValueError(f"a hit is a JSON object, not {type(hit).__name__}")
    object_id = hit.get("objectID")
    if not isinstance(object_id, str) or not object_id:
        raise ValueError("no objectID")
    created = hit.get("created_at_i")
    if not isinstance(created, int) or isinstance(created, bool) or created <= 0:
        raise ValueError(f"bad created_at_i {created!r}")
    tags = hit.get("_tags") or []
    is_comment = "comment" in tags or hit.get("comment_text") is not None
    if is_comment:
        body = html_to_text(str(hit.get("comment_text") or ""))
        on = hit.get("story_title") or ""
        text = body if not on else f"{body}\n\n(on: {on})"
    else:
        title = str(hit.get("title") or "")
        story = html_to_text(str(hit.get("story_text") or ""))
        text = f"{title}\n\n{story}" if story else title
    text = text.strip()
    if not text:
        raise ValueError("no title, story or comment text")
    points = hit.get("points")
    replies = hit.get("num_comments")
    return Mention(
        source=SOURCE,
        source_id=object_id,
        text=text[:20_000],
        created_at=datetime.fromtimestamp(created, UTC),
        url=f"https://news.ycombinator.com/item?id={object_id}",
        author=str(hit.get("author") or "")[:200],
        engagement=Engagement(
            likes=points if isinstance(points, int) and points > 0 else 0,
            replies=replies if isinstance(replies, int) and replies > 0 else 0,
        ),
    )


def parse_page(body: bytes) -> tuple[list[Mention], list[Skipped], int]:
    """A search_by_date response: (mentions, skipped items, number of pages).

    Raises ValueError when the body as a whole is not a search response.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
        raise ValueError("not a search response: no 'hits' list")
    mentions: list[Mention] = []
    skipped: list[Skipped] = []
    for hit in data["hits"]:
        try:
            mentions.append(parse_hit(hit))
        except ValueError as exc:
            skipped.append((str(exc), json.dumps(hit)[:65_536]))
    pages = data.get("nbPages")
    return mentions, skipped, pages if isinstance(pages, int) and pages > 0 else 1


class RateLimited(Exception):
    def __init__(self, wait: float, detail: str) -> None:
        super().__init__(detail)
        self.wait = wait


async def fetch_since(
    http: aiohttp.ClientSession, endpoint: str, query: str, since: int
) -> tuple[list[Mention], list[Skipped]]:
    """Every hit created at or after ``since`` (unix seconds), newest pages first."""
    mentions: list[Mention] = []
    skipped: list[Skipped] = []
    page = 0
    pages = 1
    while page < min(pages, MAX_PAGES):
        params = {
            "query": query,
            "tags": "(story,comment)",
            "numericFilters": f"created_at_i>={since}",
            "hitsPerPage": str(HITS_PER_PAGE),
            "page": str(page),
        }
        url = endpoint.rstrip("/") + "/api/v1/search_by_date"
        async with http.get(url, params=params) as resp:
            body = await resp.read()
            if resp.status == 429:
                wait = retry_after(resp.headers.get("Retry-After"), time.time(), 60.0)
                raise RateLimited(wait, f"429 from {url}: waiting {wait:.0f}s")
            if resp.status != 200:
                raise aiohttp.ClientResponseError(
                    resp.request_info,
                    (),
                    status=resp.status,
                    message=body[:200].decode("utf-8", "replace"),
                )
        got, bad, pages = parse_page(body)
        mentions += got
        skipped += bad
        page += 1
    return mentions, skipped


@dataclass(frozen=True)
class Settings:
    query: str = setting("words to search for, e.g. 'northwind'")
    endpoint: str = setting("search API base URL", DEFAULT_ENDPOINT)
    interval: float = setting("seconds between polls", 30.0)

    def check(self) -> None:
        if not self.query.strip():
            raise FeedConfigError("query is empty")
        if self.interval <= 0:
            raise FeedConfigError(f"interval must be above 0, not {self.interval}")


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    stop_after_polls: int | None = None,
    backoff: Backoff | None = None,
) -> None:
    """Poll Algolia every ``interval`` seconds and push new hits to the hub."""
    say = ctx.on_event
    query, endpoint, interval = settings.query, settings.endpoint, settings.interval
    cursor_file = ctx.cursor_file()
    cursor = cursor_file.load()
    since = int(cursor.get("since", ctx.clock() - 3600))  # first run: the last hour
    health = SourceHealth(ctx.clock)
    emitter = Emitter(cursor_file)
    client = ctx.client(SOURCE, emitter, health)
    client.start()
    backoff = backoff or Backoff(initial=5.0, maximum=300.0)
    say(f"polling {endpoint} for {query!r} every {interval:g}s from {since}")
    polls = 0
    headers = {"User-Agent": USER_AGENT}
    try:
        async with aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=30)
        ) as http:
            while stop_after_polls is None or polls < stop_after_polls:
                polls += 1
                delay = interval
                try:
                    mentions, skipped = await fetch_since(http, endpoint, query, since)
                except RateLimited as exc:
                    health.waiting(exc.wait, str(exc))
                    say(str(exc))
                    delay = exc.wait
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    delay = backoff.next_delay()
                    health.error(f"{type(exc).__name__}: {exc}")
                    say(f"poll failed ({exc}); retrying in {delay:.0f}s")
                else:
                    backoff.reset()
                    health.ok()
                    health.got(len(mentions) + len(skipped))
                    for reason, payload in skipped:
                        client.report_dead(reason, payload)
                    mentions.sort(key=lambda m: m.created_at)
                    newest = max((int(m.created_at.timestamp()) for m in mentions), default=since)
                    since = max(since, newest)
                    await emitter.emit(mentions, {"since": since})
                if stop_after_polls is None or polls < stop_after_polls:
                    await asyncio.sleep(delay)
        await client.drain(timeout=30)
    finally:
        await client.close()
