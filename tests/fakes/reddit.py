"""A fake of Reddit's OAuth API on loopback: the token endpoint, search and /api/info.

- ``POST /api/v1/access_token``: checks HTTP basic auth (client id and secret) and
  ``grant_type=client_credentials``; issues bearer tokens that live ``token_lifetime``
  seconds (401 ``{"message": "Unauthorized", "error": 401}`` for bad credentials).
- ``GET /search`` and ``GET /r/SUB/search`` with ``q``, ``sort=new``, ``limit``,
  ``after``, ``restrict_sr``: a Listing of ``t3`` children, newest first.
- ``GET /api/info?id=t3_a,t3_b``: a Listing of those posts as they are now.

Every API answer carries ``X-Ratelimit-Used``, ``X-Ratelimit-Remaining`` and
``X-Ratelimit-Reset`` counting down a window of ``quota`` requests; past the quota it
answers 429. It can also be told to answer 429 once, 500, cut a response in half,
or revoke every token after some requests (the 401 of an expired token).
"""

from __future__ import annotations

import base64
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from groundcontrol.query import parse_query
from tests.fakes import cut_off


def post(
    n: int,
    at: float,
    title: str,
    selftext: str = "",
    *,
    subreddit: str = "laptops",
    score: int = 5,
    comments: int = 2,
    edited: float | bool = False,
    author: str | None = None,
) -> dict[str, Any]:
    """A ``t3`` child as Reddit sends it (with raw_json=1), trimmed of the rarer fields."""
    pid = f"p{n:05d}"
    slug = "_".join(title.lower().split())[:40]
    return {
        "kind": "t3",
        "data": {
            "approved_at_utc": None,
            "subreddit": subreddit,
            "selftext": selftext,
            "author_fullname": f"t2_u{n % 13}",
            "title": title,
            "subreddit_name_prefixed": f"r/{subreddit}",
            "name": f"t3_{pid}",
            "upvote_ratio": 0.93,
            "ups": score,
            "score": score,
            "edited": edited,
            "is_self": bool(selftext),
            "created": at,
            "domain": f"self.{subreddit}",
            "over_18": False,
            "removed_by_category": None,
            "subreddit_id": "t5_2qh0u",
            "id": pid,
            "author": author if author is not None else f"user_{n % 13}",
            "num_comments": comments,
            "permalink": f"/r/{subreddit}/comments/{pid}/{slug}/",
            "url": f"https://www.reddit.com/r/{subreddit}/comments/{pid}/{slug}/",
            "subreddit_subscribers": 412_000,
            "created_utc": at,
            "media": None,
            "is_video": False,
        },
    }


def _at(child: Any) -> float:
    data = child.get("data") if isinstance(child, dict) else None
    value = data.get("created_utc") if isinstance(data, dict) else None
    try:
        return float(value) if isinstance(value, int | float | str) else math.inf
    except ValueError:  # a string time that is a number still sorts where it says
        return math.inf


def _name(child: Any, index: int) -> str:
    data = child.get("data") if isinstance(child, dict) else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else f"t3_zz{index}"


def _text(child: Any) -> str:
    data = child.get("data") if isinstance(child, dict) else None
    if not isinstance(data, dict):
        return ""
    return " ".join(str(data.get(k) or "") for k in ("title", "selftext", "body"))


@dataclass
class Seen:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    at: float
    """time.monotonic() on arrival."""
    authorization: str
    user_agent: str
    status: int = 200
    window_start: float = 0.0
    """time.monotonic() when the rate-limit window it was counted in began."""


@dataclass
class FakeReddit:
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"
    token_lifetime: int = 86_400
    posts: list[dict[str, Any]] = field(default_factory=list)
    """Children (``{"kind": ..., "data": ...}``), in any order; malformed ones too."""
    quota: int = 1_000
    """Requests allowed per rate-limit window."""
    window: float = 600.0
    """Seconds in a rate-limit window."""
    rate_limit_next: int = 0
    retry_after: str = "1"
    fail_next: int = 0
    cut_next: int = 0
    """Answer this many searches with half a body and a dropped connection."""
    revoke_after: int | None = None
    """After this many more API requests, every token issued so far stops working."""
    requests: list[Seen] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0
    _used: int = 0
    _window_start: float = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/access_token", self.access_token)
        app.router.add_get("/search", self.search)
        app.router.add_get("/r/{sub}/search", self.search)
        app.router.add_get("/api/info", self.info)
        return app

    def api_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "GET"]

    def _seen(self, request: web.Request) -> Seen:
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            time.monotonic(),
            request.headers.get("Authorization", ""),
            request.headers.get("User-Agent", ""),
        )
        self.requests.append(seen)
        return seen

    # ------------------------------------------------------------------ token

    async def access_token(self, request: web.Request) -> web.Response:
        seen = self._seen(request)
        form = await request.post()
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization", "") != f"Basic {expected}":
            seen.status = 401
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"})
        self.tokens_issued += 1
        token = f"fake-token-{self.tokens_issued}"
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "scope": "*",
            }
        )

    # ------------------------------------------------------------------ API

    def _quota_headers(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._window_start >= self.window:
            self._window_start = now
            self._used = 0
        self._used += 1
        left = max(0.0, self.window - (now - self._window_start))
        return {
            "X-Ratelimit-Used": str(self._used),
            "X-Ratelimit-Remaining": f"{max(0, self.quota - self._used):.1f}",
            # Rounded up, so a client that waits that long finds the new window.
            "X-Ratelimit-Reset": (
                str(math.ceil(left)) if self.window >= 10 else f"{math.ceil(left * 100) / 100:.2f}"
            ),
        }

    def _admit(self, request: web.Request, seen: Seen) -> web.Response | dict[str, str]:
        """The quota headers to answer with, or the answer when the request may not go
        on: a bad or revoked token, the quota used up, a forced 429 or 500."""
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("bearer ")
        if self.revoke_after is not None:
            if self.revoke_after <= 0:
                self.tokens.clear()
                self.revoke_after = None
            else:
                self.revoke_after -= 1
        if not auth.startswith("bearer ") or self.tokens.get(token, 0.0) < time.monotonic():
            seen.status = 401
            return web.json_response(
                {"message": "Unauthorized", "error": 401},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'},
            )
        headers = self._quota_headers()
        seen.window_start = self._window_start
        if self._used > self.quota:
            seen.status = 429
            return web.json_response(
                {"message": "Too Many Requests", "error": 429}, status=429, headers=headers
            )
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            seen.status = 429
            return web.json_response(
                {"message": "Too Many Requests", "error": 429},
                status=429,
                headers={**headers, "Retry-After": self.retry_after},
            )
        if self.fail_next:
            self.fail_next -= 1
            seen.status = 500
            return web.Response(
                status=500, text="<html><body>all of our servers are busy</body></html>"
            )
        return headers

    @staticmethod
    def _listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
        return {
            "kind": "Listing",
            "data": {
                "after": after,
                "dist": len(children),
                "modhash": "",
                "geo_filter": "",
                "children": children,
                "before": None,
            },
        }

    async def search(self, request: web.Request) -> web.StreamResponse:
        seen = self._seen(request)
        quota = self._admit(request, seen)
        if isinstance(quota, web.Response):
            return quota
        q = request.query
        matches = parse_query(q.get("q", "")).matches_text
        sub = request.match_info.get("sub", "")
        found = [
            (i, c)
            for i, c in enumerate(self.posts)
            if matches(_text(c))
            if not (sub and q.get("restrict_sr") in ("1", "true", "on"))
            or str(c.get("data", {}).get("subreddit", "")).lower() == sub.lower()
        ]
        if q.get("sort") == "new":
            found.sort(key=lambda ic: _at(ic[1]), reverse=True)
        limit = max(1, min(100, int(q.get("limit", "25"))))
        start = 0
        if "after" in q:
            names = [_name(c, i) for i, c in found]
            start = names.index(q["after"]) + 1 if q["after"] in names else len(found)
        page = found[start : start + limit]
        after = _name(page[-1][1], page[-1][0]) if page and start + limit < len(found) else None
        body = json.dumps(self._listing([c for _i, c in page], after)).encode()
        headers = {"Content-Type": "application/json; charset=UTF-8", **quota}
        if self.cut_next:
            self.cut_next -= 1
            return await cut_off(request, body, headers)
        return web.Response(body=body, headers=headers)

    async def info(self, request: web.Request) -> web.Response:
        seen = self._seen(request)
        quota = self._admit(request, seen)
        if isinstance(quota, web.Response):
            return quota
        wanted = [n for n in request.query.get("id", "").split(",") if n][:100]
        by_name = {_name(c, i): c for i, c in enumerate(self.posts)}
        children = [by_name[n] for n in wanted if n in by_name]
        return web.json_response(self._listing(children, None), headers=quota)

    # ------------------------------------------------------------------ edits

    def find(self, name: str) -> dict[str, Any]:
        for child in self.posts:
            if child.get("data", {}).get("name") == name:
                data: dict[str, Any] = child["data"]
                return data
        raise KeyError(name)

    def edit(self, name: str, selftext: str, at: float) -> None:
        data = self.find(name)
        data["selftext"] = selftext
        data["edited"] = at

    def delete(self, name: str) -> None:
        """As Reddit shows a post its author deleted."""
        data = self.find(name)
        data.update(selftext="[deleted]", author="[deleted]", removed_by_category="deleted")
