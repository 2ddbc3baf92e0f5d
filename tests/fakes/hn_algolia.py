"""A fake of Algolia's Hacker News search API (``/api/v1/search_by_date``), on loopback.

It answers in the documented shape (``hits`` newest first, ``nbHits``, ``nbPages``,
``page``, ``hitsPerPage``), filters on ``query`` and ``numericFilters=created_at_i>=N``,
and can be told to rate-limit (429 with Retry-After) or to cut a response off in the
middle, so an adapter's error paths run against the real wire protocol.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import cut_off

_SINCE = re.compile(r"created_at_i>=(\d+)")


def story(
    object_id: int, at: int, title: str, *, points: int = 12, comments: int = 3
) -> dict[str, Any]:
    return {
        "created_at": f"{at}",
        "title": title,
        "url": f"https://example.com/{object_id}",
        "author": f"user{object_id % 17}",
        "points": points,
        "story_text": None,
        "comment_text": None,
        "num_comments": comments,
        "story_id": None,
        "story_title": None,
        "story_url": None,
        "parent_id": None,
        "created_at_i": at,
        "_tags": ["story", f"author_user{object_id % 17}", f"story_{object_id}"],
        "objectID": str(object_id),
        "_highlightResult": {"title": {"value": title, "matchLevel": "full"}},
    }


def comment(object_id: int, at: int, html: str, *, on: str, story_id: int = 1) -> dict[str, Any]:
    return {
        "created_at": f"{at}",
        "title": None,
        "url": None,
        "author": f"user{object_id % 17}",
        "points": None,
        "story_text": None,
        "comment_text": html,
        "num_comments": None,
        "story_id": story_id,
        "story_title": on,
        "story_url": f"https://example.com/{story_id}",
        "parent_id": story_id,
        "created_at_i": at,
        "_tags": ["comment", f"author_user{object_id % 17}", f"story_{story_id}"],
        "objectID": str(object_id),
    }


@dataclass
class FakeAlgolia:
    hits: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_next: int = 0
    retry_after: str = "1"
    cut_next: int = 0
    """Answer this many requests with half a body and a dropped connection."""
    requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/search_by_date", self.search)
        return app

    @staticmethod
    def _text(hit: dict[str, Any]) -> str:
        return " ".join(str(hit.get(k) or "") for k in ("title", "story_text", "comment_text"))

    async def search(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.requests.append(q)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return web.json_response(
                {"message": "Too many requests", "status": 429},
                status=429,
                headers={"Retry-After": self.retry_after},
            )
        match = _SINCE.search(q.get("numericFilters", ""))
        since = int(match[1]) if match else 0
        words = q.get("query", "").lower().split()
        found = [
            h
            for h in self.hits
            if not isinstance(h.get("created_at_i"), int) or h["created_at_i"] >= since
            if all(w in self._text(h).lower() for w in words)
        ]
        found.sort(
            key=lambda h: h.get("created_at_i") if isinstance(h.get("created_at_i"), int) else 0,
            reverse=True,
        )
        per = int(q.get("hitsPerPage", "20"))
        page = int(q.get("page", "0"))
        pages = max(1, -(-len(found) // per))
        body = json.dumps(
            {
                "hits": found[page * per : (page + 1) * per],
                "nbHits": len(found),
                "page": page,
                "nbPages": pages,
                "hitsPerPage": per,
                "exhaustiveNbHits": True,
                "query": q.get("query", ""),
                "params": request.query_string,
                "processingTimeMS": 1,
            }
        ).encode()
        if self.cut_next:
            self.cut_next -= 1
            return await cut_off(request, body, {"Content-Type": "application/json"})
        return web.Response(body=body, content_type="application/json")
