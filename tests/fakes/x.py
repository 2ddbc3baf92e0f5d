"""A fake of the X API v2 filtered stream, its rules and recent search, on loopback.

It speaks the documented shapes: ``GET/POST /2/tweets/search/stream/rules`` (with
``meta.summary``, ``DuplicateRule`` and invalid-rule ``errors``), a chunked
``GET /2/tweets/search/stream`` of ``\\r\\n``-terminated JSON lines with keep-alives,
``GET /2/tweets/search/recent`` with ``since_id``, ``max_results`` and ``next_token``,
and a bearer token check (401). Each stream connection plays a script of steps, so a
test can make one connection rate-limited, the next one cut in the middle of a line,
the next stall, and so on.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

TWEPOCH_MS = 1_288_834_974_657
TOKEN = "AAAAAAAAAAAAAAAAAAAAAfake%2Fbearer%3Dtoken0123456789"
KNOWN_OPERATORS = {"is", "lang", "from", "to", "has", "url", "place", "conversation_id"}
TWEET_FIELDS = {
    "attachments",
    "author_id",
    "conversation_id",
    "created_at",
    "edit_history_tweet_ids",
    "entities",
    "id",
    "lang",
    "note_tweet",
    "public_metrics",
    "text",
}
_TOKEN = re.compile(r'-?"[^"]*"|\S+')


def snowflake(unix_ms: int, seq: int = 0) -> str:
    """An id as X makes them: creation milliseconds since its epoch, then 22 bits."""
    return str(((unix_ms - TWEPOCH_MS) << 22) | (seq & 0x3FFFFF))


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Post:
    id: str
    text: str
    username: str = "dana_k"
    user_id: str = "2244994945"
    followers: int = 1200
    lang: str = "en"
    likes: int = 3
    reposts: int = 1
    replies: int = 2
    quotes: int = 0
    edit_history: list[str] | None = None

    @property
    def created_at(self) -> str:
        ms = (int(self.id) >> 22) + TWEPOCH_MS
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{ms % 1000:03d}Z"
        )

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "edit_history_tweet_ids": self.edit_history or [self.id],
            "created_at": self.created_at,
            "author_id": self.user_id,
            "conversation_id": self.id,
            "lang": self.lang,
            "public_metrics": {
                "retweet_count": self.reposts,
                "reply_count": self.replies,
                "like_count": self.likes,
                "quote_count": self.quotes,
                "bookmark_count": 0,
                "impression_count": 40,
            },
        }

    def user(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "name": self.username.replace("_", " ").title(),
            "username": self.username,
            "public_metrics": {
                "followers_count": self.followers,
                "following_count": 180,
                "tweet_count": 5120,
                "listed_count": 4,
                "like_count": 900,
            },
        }


def post(at_ms: int, text: str, seq: int = 0, **kw: Any) -> Post:
    return Post(snowflake(at_ms, seq), text, **kw)


# Stream steps: one connection's script.


@dataclass
class Send:
    """Index the post and send it on the stream (when one of the rules matches it)."""

    post: Post


@dataclass
class Hide:
    """Index the post without sending it: it was posted while the stream was down."""

    post: Post


@dataclass
class Line:
    """Send these bytes as they are (a keep-alive, a malformed line, an errors line)."""

    raw: bytes


@dataclass
class Cut:
    """Index the post, send half of its line, then drop the connection."""

    post: Post


@dataclass
class Stall:
    """Send nothing at all (no keep-alives either) for this long."""

    seconds: float


@dataclass
class End:
    """Close the response cleanly."""


@dataclass
class Refuse:
    """Answer the connection with this status instead of a stream."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Step = Send | Hide | Line | Cut | Stall | End | Refuse

KEEPALIVE = b"\r\n"
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
TOO_MANY = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": "https://api.twitter.com/2/problems/streaming-connection",
}
UNAVAILABLE = {
    "title": "Service Unavailable",
    "detail": "Service Unavailable",
    "type": "about:blank",
    "status": 503,
}
OPERATIONAL_DISCONNECT = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "UpstreamOperationalDisconnect",
            "detail": "This stream has been disconnected upstream for operational reasons.",
            "type": "https://api.twitter.com/2/problems/operational-disconnect",
        }
    ]
}


def rate_limited(reset_in: float = 0.0) -> Refuse:
    """A 429 with X's rate-limit headers."""
    return Refuse(
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"},
        {
            "x-rate-limit-limit": "50",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(time.time() + reset_in)),
        },
    )


def matches(rule: str, p: Post) -> bool:
    """A small subset of X's rule syntax: words, "phrases", -negation, is:retweet,
    lang:, from:. Every term must hold (implicit AND)."""
    text = p.text.lower()
    for tok in _TOKEN.findall(rule):
        neg = tok.startswith("-")
        tok = tok.removeprefix("-")
        if tok.startswith('"'):
            hit = tok.strip('"').lower() in text
        elif ":" in tok:
            op, arg = tok.split(":", 1)
            if op == "is" and arg == "retweet":
                hit = text.startswith("rt @")
            elif op == "lang":
                hit = p.lang == arg
            elif op == "from":
                hit = p.username.lower() == arg.lower()
            else:
                hit = True
        else:
            hit = re.search(rf"(?<!\w){re.escape(tok.lower())}(?!\w)", text) is not None
        if hit == neg:
            return False
    return True


def rule_problem(value: str) -> str:
    """Why X would refuse this rule, or ""."""
    if value.count('"') % 2:
        return "Unterminated quoted string. (at position 1)"
    if value.count("(") != value.count(")"):
        return "Unbalanced parentheses. (at position 1)"
    for m in re.finditer(r"(?:^|\s)-?([A-Za-z_]+):", value):
        if m[1] not in KNOWN_OPERATORS:
            return (
                f"Reference to invalid operator '{m[1]}'. Operator is not available in current "
                "product or product packaging. Please refer to complete available operator list "
                "at https://developer.twitter.com/en/docs/twitter-api/tweets/filtered-stream/"
                f"integrate/build-a-rule. (at position {m.start(1) + 1})"
            )
    return ""


def _sent() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class FakeX:
    token: str = TOKEN
    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    connections: list[list[Step]] = field(default_factory=list)
    """One script per stream connection, used in order; after the script (or with
    none left) the connection idles with keep-alives."""
    keepalive_every: float = 0.05
    search_refusals: list[Refuse] = field(default_factory=list)
    """Answers for the next recent search requests instead of results."""
    stream_connects: int = 0
    stream_params: list[dict[str, str]] = field(default_factory=list)
    search_requests: list[dict[str, str]] = field(default_factory=list)
    rule_posts: list[Any] = field(default_factory=list)
    _next_rule: int = 1_700_000_000_000_000_000
    _live: list[asyncio.Queue[Post]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/2/tweets/search/stream/rules", self.get_rules)
        app.router.add_post("/2/tweets/search/stream/rules", self.post_rules)
        app.router.add_get("/2/tweets/search/stream", self.stream)
        app.router.add_get("/2/tweets/search/recent", self.search)
        return app

    def add_rule(self, value: str, tag: str = "") -> str:
        self._next_rule += 1
        rid = str(self._next_rule)
        self.rules[rid] = {"id": rid, "value": value, **({"tag": tag} if tag else {})}
        return rid

    def index(self, p: Post) -> None:
        if all(q.id != p.id for q in self.posts):
            self.posts.append(p)

    def publish(self, p: Post) -> None:
        """Post it now: index it for recent search and send it on every open stream,
        after the rest of that connection's script (when one of the rules matches it)."""
        self.index(p)
        for queue in self._live:
            queue.put_nowait(p)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _problem(
        status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response(
            body, status=status, headers=headers, content_type="application/problem+json"
        )

    def _invalid_request(self, message: str) -> web.Response:
        return self._problem(
            400,
            {
                "errors": [{"parameters": {}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        )

    def _check_fields(self, request: web.Request) -> str:
        q = request.query
        bad = set(q.get("tweet.fields", "").split(",")) - TWEET_FIELDS - {""}
        if bad:
            return (
                f"The `tweet.fields` query parameter value [{sorted(bad)[0]}] "
                f"is not one of {sorted(TWEET_FIELDS)}"
            )
        if q.get("expansions", "author_id") != "author_id":
            return "The `expansions` query parameter value is not supported by this fake"
        return ""

    # ------------------------------------------------------------------ rules

    async def get_rules(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._problem(401, UNAUTHORIZED)
        meta = {"sent": _sent(), "result_count": len(self.rules)}
        if not self.rules:
            return web.json_response({"meta": meta})
        return web.json_response({"data": list(self.rules.values()), "meta": meta})

    async def post_rules(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._problem(401, UNAUTHORIZED)
        try:
            body = await request.json()
        except ValueError:
            return self._invalid_request("Request body is not valid JSON")
        self.rule_posts.append(body)
        if not isinstance(body, dict) or len(body) != 1 or not ({"add", "delete"} >= set(body)):
            return self._invalid_request("Request must have exactly one of 'add' or 'delete'")
        if "delete" in body:
            ids = body["delete"].get("ids") if isinstance(body["delete"], dict) else None
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                return self._invalid_request("$.delete.ids: a non-empty list of rule ids")
            gone = [i for i in ids if self.rules.pop(i, None) is not None]
            missing = [i for i in ids if i not in gone]
            out: dict[str, Any] = {
                "meta": {
                    "sent": _sent(),
                    "summary": {"deleted": len(gone), "not_deleted": len(missing)},
                }
            }
            if missing:
                out["errors"] = [
                    {
                        "errors": [{"parameters": {}, "message": "Rule does not exist"}],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                        "value": i,
                    }
                    for i in missing
                ]
            return web.json_response(out)
        add = body["add"]
        if not isinstance(add, list) or not add:
            return self._invalid_request("$.add: a non-empty list of rules")
        for item in add:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("value"), str)
                or not item["value"]
                or not isinstance(item.get("tag", ""), str)
                or set(item) - {"value", "tag"}
            ):
                return self._invalid_request(f"$.add: bad rule object {item!r}")
        errors: list[dict[str, Any]] = []
        for item in add:
            problem = rule_problem(item["value"])
            if problem:
                errors.append(
                    {
                        "value": item["value"],
                        "details": [problem],
                        "title": "UnprocessableEntity",
                        "type": "https://api.twitter.com/2/problems/invalid-rules",
                    }
                )
        if errors:
            # Invalid rules: nothing of the request is created.
            summary = {"created": 0, "not_created": len(add), "valid": len(add) - len(errors)}
            summary["invalid"] = len(errors)
            return web.json_response(
                {"meta": {"sent": _sent(), "summary": summary}, "errors": errors}, status=400
            )
        created = []
        by_value = {r["value"]: r["id"] for r in self.rules.values()}
        for item in add:
            if item["value"] in by_value:
                errors.append(
                    {
                        "value": item["value"],
                        "id": by_value[item["value"]],
                        "title": "DuplicateRule",
                        "type": "https://api.twitter.com/2/problems/duplicate-rules",
                    }
                )
                continue
            rid = self.add_rule(item["value"], item.get("tag", ""))
            by_value[item["value"]] = rid
            created.append(self.rules[rid])
        summary = {
            "created": len(created),
            "not_created": len(add) - len(created),
            "valid": len(add),
            "invalid": 0,
        }
        out = {"meta": {"sent": _sent(), "summary": summary}}
        if created:
            out["data"] = created
        if errors:
            out["errors"] = errors
        return web.json_response(out, status=201 if created else 200)

    # ------------------------------------------------------------------ stream

    def line(self, p: Post) -> bytes | None:
        """The stream line for a post, or None when no rule matches it."""
        rules = [
            {"id": r["id"], "tag": r.get("tag", "")}
            for r in self.rules.values()
            if matches(r["value"], p)
        ]
        if not rules:
            return None
        obj = {"data": p.data(), "includes": {"users": [p.user()]}, "matching_rules": rules}
        return json.dumps(obj, separators=(",", ":")).encode() + b"\r\n"

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._problem(401, UNAUTHORIZED)
        problem = self._check_fields(request)
        if problem:
            return self._invalid_request(problem)
        self.stream_connects += 1
        self.stream_params.append(dict(request.query))
        script = self.connections.pop(0) if self.connections else []
        if script and isinstance(script[0], Refuse):
            r = script[0]
            return self._problem(r.status, r.body, r.headers)
        resp = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        live: asyncio.Queue[Post] = asyncio.Queue()
        self._live.append(live)
        try:
            for step in script:
                if isinstance(step, Send):
                    self.index(step.post)
                    data = self.line(step.post)
                    if data is not None:
                        await resp.write(data)
                elif isinstance(step, Hide):
                    self.index(step.post)
                elif isinstance(step, Line):
                    await resp.write(step.raw)
                elif isinstance(step, Cut):
                    self.index(step.post)
                    data = self.line(step.post) or b'{"data":{"id":"1"'
                    await resp.write(data[: len(data) // 2])
                    await asyncio.sleep(0.01)
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                elif isinstance(step, Stall):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, End):
                    await resp.write_eof()
                    return resp
                await asyncio.sleep(0)
            while True:
                try:
                    published = await asyncio.wait_for(live.get(), self.keepalive_every)
                except TimeoutError:
                    await resp.write(KEEPALIVE)
                    continue
                data = self.line(published)
                if data is not None:
                    await resp.write(data)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._live.remove(live)
        return resp

    # ------------------------------------------------------------------ search

    async def search(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._problem(401, UNAUTHORIZED)
        q = dict(request.query)
        self.search_requests.append(q)
        if self.search_refusals:
            r = self.search_refusals.pop(0)
            return self._problem(r.status, r.body, r.headers)
        problem = self._check_fields(request)
        if not q.get("query"):
            problem = "The `query` query parameter can not be empty"
        try:
            per = int(q.get("max_results", "10"))
            since = int(q.get("since_id", "0"))
            offset = (
                int(q["next_token"].removeprefix("b26v89c19zqg8o3f")) if "next_token" in q else 0
            )
        except ValueError:
            problem = problem or "bad max_results, since_id or next_token"
        else:
            if not 10 <= per <= 100:
                problem = problem or (
                    f"The `max_results` query parameter value [{per}] is not between 10 and 100"
                )
        if problem:
            return self._invalid_request(problem)
        start_ms = 0
        if "start_time" in q:
            start_ms = int(
                datetime.fromisoformat(q["start_time"].replace("Z", "+00:00")).timestamp() * 1000
            )
        found = sorted(
            (
                p
                for p in self.posts
                if int(p.id) > since
                and (int(p.id) >> 22) + TWEPOCH_MS >= start_ms
                and matches(q["query"], p)
            ),
            key=lambda p: int(p.id),
            reverse=True,
        )
        page = found[offset : offset + per]
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        users = {p.user_id: p.user() for p in page}
        meta: dict[str, Any] = {
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
            "result_count": len(page),
        }
        if offset + per < len(found):
            meta["next_token"] = f"b26v89c19zqg8o3f{offset + per}"
        return web.json_response(
            {
                "data": [p.data() for p in page],
                "includes": {"users": list(users.values())},
                "meta": meta,
            }
        )
