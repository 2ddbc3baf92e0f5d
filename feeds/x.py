"""X (Twitter) through the API v2 filtered stream, with gaps filled by recent search.

Rules: at start the app's stream rules tagged ``tag`` are made equal to ``rules``
(``GET``/``POST {endpoint}/2/tweets/search/stream/rules``): rules with our tag that
are no longer configured are deleted, missing ones added, rules with other tags left
alone. The stream carries posts for every rule of the app, so posts that matched only
other tags' rules are ignored.

Stream: ``GET {endpoint}/2/tweets/search/stream`` sends one JSON object per line
(``\\r\\n``) and a blank keep-alive line every 20 seconds; when nothing at all arrives
for 20 seconds the connection is dead and the feed reconnects.

Backoff, as X documents it: network errors (refused, cut, stalled) wait 250 ms more
each time up to 16 s; HTTP errors wait 5 s doubling up to 320 s; HTTP 429 waits 1
minute doubling (up to 16 minutes, or until ``x-rate-limit-reset`` if later). All of
it resets once a connection delivers data.

Gaps: the stream has no cursor. The cursor is the newest post id seen (ids grow with
time). After a reconnect or a restart, with ``backfill`` on, recent search
(``GET {endpoint}/2/tweets/search/recent``) fetches every rule's posts since that id
(minus 30 s of overlap, which the hub's dedupe drops) before the stream is read.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from feeds.base import Emitter, FeedConfigError, FeedContext, Skipped, SourceHealth, setting
from groundcontrol.client.ingest import IngestClient
from groundcontrol.model import MAX_TEXT_CHARS, Engagement, Mention

NAME = SOURCE = "x"
SUMMARY = "X (Twitter) posts matching filtered-stream rules; gaps filled by recent search"
DEFAULT_ENDPOINT = "https://api.x.com"
USER_AGENT = "groundcontrol-feed-x"

RULES_PATH = "/2/tweets/search/stream/rules"
STREAM_PATH = "/2/tweets/search/stream"
SEARCH_PATH = "/2/tweets/search/recent"
#: ``note_tweet`` carries the full text of posts longer than 280 characters.
TWEET_FIELDS = "created_at,lang,public_metrics,author_id,conversation_id,note_tweet"
USER_FIELDS = "username,public_metrics"
FIELDS = {"tweet.fields": TWEET_FIELDS, "expansions": "author_id", "user.fields": USER_FIELDS}

#: X sends a keep-alive every 20 s: this long with nothing at all means a dead stream.
KEEPALIVE_TIMEOUT = 20.0
#: Snowflake ids: milliseconds since this epoch, shifted left 22 bits.
TWEPOCH_MS = 1_288_834_974_657
#: Backfill starts this far before the newest post seen (the stream's order is loose).
OVERLAP_MS = 30_000
#: Recent search reaches back 7 days; a little less, so the start is still inside.
SEARCH_WINDOW_MS = 7 * 86_400_000 - 120_000
SEARCH_PAGE = 100
#: Most pages one rule's backfill reads (10 000 posts) before it gives up the rest.
MAX_BACKFILL_PAGES = 100
#: A stream line longer than this is dropped (a post with its expansions is ~10 KiB).
MAX_LINE_BYTES = 1 << 20
DEAD_PAYLOAD_BYTES = 65_536

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_LANG = re.compile(r"^[a-z]{2}$")
#: X still uses a few withdrawn ISO 639-1 codes.
_OLD_LANG = {"in": "id", "iw": "he", "ji": "yi"}


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Tweet:
    """A parsed post: its own id (for the cursor) and its mention.

    For an edited post ``edit`` is true and ``mention.source_id`` is the id of the
    post's first version, which is what the hub knows it by.
    """

    id: int
    mention: Mention
    edit: bool = False


@dataclass
class Parsed:
    """What one stream line or search page held."""

    tweets: list[Tweet] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Problems X reported (described), not tied to a skipped item."""
    disconnect: str = ""
    """X says it is closing the stream, and why."""
    ignored: int = 0
    """Posts that matched only rules of other tags."""


def snowflake_ms(tweet_id: int) -> int:
    """Unix milliseconds at which the post with this id was created."""
    return (tweet_id >> 22) + TWEPOCH_MS


def snowflake_at(unix_ms: int) -> int:
    """The smallest id a post created at ``unix_ms`` can have."""
    return max(0, unix_ms - TWEPOCH_MS) << 22


def lang_code(value: Any) -> str:
    """X's ``lang`` as an ISO 639-1 code, or "" ("und", "qme", "zxx", ...)."""
    if not isinstance(value, str):
        return ""
    code = value.strip().lower()
    code = _OLD_LANG.get(code, code)
    return code if _LANG.match(code) else ""


def _count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**12:
        return value
    return 0


def _tweet_id(value: Any, what: str = "id") -> int:
    if not isinstance(value, str) or not _DIGITS.match(value) or int(value) <= 0:
        raise ValueError(f"bad {what} {value!r}")
    return int(value)


def users_by_id(includes: Any) -> dict[str, dict[str, Any]]:
    """The ``includes.users`` expansion as id -> user object."""
    users = includes.get("users") if isinstance(includes, dict) else None
    if not isinstance(users, list):
        return {}
    return {u["id"]: u for u in users if isinstance(u, dict) and isinstance(u.get("id"), str)}


def parse_tweet(data: Any, users: Mapping[str, Mapping[str, Any]]) -> Tweet:
    """One post object (``data``) as a mention; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"a post is a JSON object, not {type(data).__name__}")
    tid = _tweet_id(data.get("id"))
    note = data.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) else None
    if not isinstance(text, str) or not text.strip():
        text = data.get("text")
    if not isinstance(text, str):
        raise ValueError("no text")
    # X escapes &, < and > in post text.
    text = html.unescape(text).strip()[:MAX_TEXT_CHARS]
    if not text:
        raise ValueError("empty text")
    created_raw = data.get("created_at")
    if created_raw is None:
        created = datetime.fromtimestamp(snowflake_ms(tid) / 1000, UTC)
    else:
        try:
            if not isinstance(created_raw, str):
                raise ValueError
            created = datetime.fromisoformat(created_raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"bad created_at {created_raw!r}") from None
        if created.tzinfo is None:
            raise ValueError(f"bad created_at {created_raw!r} (no timezone)")
    edit = False
    source_id = str(tid)
    history = data.get("edit_history_tweet_ids")
    if isinstance(history, list) and history and history[0] != str(tid):
        source_id = str(_tweet_id(history[0], "edit_history_tweet_ids[0]"))
        edit = True
    author_id = data.get("author_id")
    user = users.get(author_id, {}) if isinstance(author_id, str) else {}
    username = user.get("username")
    if not isinstance(username, str) or not _USERNAME.match(username):
        username = ""
    user_metrics = user.get("public_metrics")
    followers = _count(user_metrics.get("followers_count")) if isinstance(user_metrics, dict) else 0
    metrics = data.get("public_metrics")
    m = metrics if isinstance(metrics, dict) else {}
    return Tweet(
        id=tid,
        edit=edit,
        mention=Mention(
            source=SOURCE,
            source_id=source_id,
            text=text,
            created_at=created,
            url=(
                f"https://x.com/{username}/status/{tid}"
                if username
                else f"https://x.com/i/web/status/{tid}"
            ),
            author=username,
            author_reach=followers,
            lang=lang_code(data.get("lang")),
            engagement=Engagement(
                likes=_count(m.get("like_count")),
                reposts=_count(m.get("retweet_count")),
                replies=_count(m.get("reply_count")),
                quotes=_count(m.get("quote_count")),
            ),
        ),
    )


def describe_errors(errors: Any) -> list[str]:
    """X's ``errors`` array as readable lines."""
    out: list[str] = []
    for e in errors if isinstance(errors, list) else []:
        if not isinstance(e, dict):
            continue
        title = str(e.get("title") or e.get("reason") or "")
        details = e.get("details")
        detail = (
            "; ".join(str(d) for d in details)
            if isinstance(details, list)
            else str(e.get("detail") or e.get("message") or "")
        )
        value = e.get("value")
        head = title + (f" for {value!r}" if isinstance(value, str) and value else "")
        out.append(f"{head}: {detail}" if head and detail else head or detail or "error")
    return out


def describe_problem(obj: Any) -> str:
    """An error answer (a problem object, perhaps with ``errors``) in one line."""
    if not isinstance(obj, dict):
        return ""
    title, detail = obj.get("title"), obj.get("detail")
    parts = [": ".join(str(v) for v in (title, detail) if isinstance(v, str) and v)]
    parts += describe_errors(obj.get("errors"))
    issue = obj.get("connection_issue")
    if isinstance(issue, str):
        parts.append(issue)
    return "; ".join(p for p in parts if p)[:300]


def _disconnect_reason(errors: list[Any]) -> str:
    for e in errors:
        if not isinstance(e, dict):
            continue
        kind = str(e.get("title") or "")
        if e.get("disconnect_type") or kind in ("operational-disconnect", "ConnectionException"):
            return str(e.get("detail") or e.get("disconnect_type") or kind)
    return ""


def _dead(reason: str, payload: bytes | str) -> Skipped:
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    return reason, text[:DEAD_PAYLOAD_BYTES]


def parse_stream_line(line: bytes, tag: str, rule_ids: frozenset[str] = frozenset()) -> Parsed:
    """One line of the filtered stream. Keep-alives (blank lines) give an empty Parsed.

    A post counts when one of its ``matching_rules`` has our ``tag`` or one of our
    ``rule_ids``; other posts are only counted in ``ignored``.
    """
    out = Parsed()
    line = line.strip()
    if not line:
        return out
    try:
        obj = json.loads(line)
    except ValueError as exc:
        out.skipped.append(_dead(f"not JSON: {exc}", line))
        return out
    if not isinstance(obj, dict):
        out.skipped.append(_dead(f"a stream line is a JSON object, not {type(obj).__name__}", line))
        return out
    errors = obj.get("errors")
    errors = errors if isinstance(errors, list) else []
    if "data" not in obj:
        if not errors:
            out.skipped.append(_dead("neither data nor errors", line))
            return out
        out.errors = describe_errors(errors)
        out.disconnect = _disconnect_reason(errors)
        return out
    rules = obj.get("matching_rules")
    if isinstance(rules, list) and rules:
        ours = any(
            isinstance(r, dict) and (r.get("tag") == tag or r.get("id") in rule_ids) for r in rules
        )
        if not ours:
            out.ignored = 1
            return out
    try:
        out.tweets.append(parse_tweet(obj["data"], users_by_id(obj.get("includes"))))
    except ValueError as exc:
        out.skipped.append(_dead(str(exc), line))
    return out


def parse_search_page(body: bytes) -> tuple[Parsed, str]:
    """A recent search response: (what it held, ``meta.next_token`` or "").

    Raises ValueError when the body as a whole is not a search response.
    """
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("meta"), dict):
        problem = describe_problem(obj)
        raise ValueError("not a search response" + (f": {problem}" if problem else ""))
    out = Parsed()
    data = obj.get("data", [])
    if not isinstance(data, list):
        raise ValueError("not a search response: 'data' is not a list")
    users = users_by_id(obj.get("includes"))
    for item in data:
        try:
            out.tweets.append(parse_tweet(item, users))
        except ValueError as exc:
            out.skipped.append(_dead(str(exc), json.dumps(item)))
    if isinstance(obj.get("errors"), list):
        out.errors = describe_errors(obj["errors"])
    token = obj["meta"].get("next_token")
    return out, token if isinstance(token, str) else ""


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    id: str
    value: str
    tag: str = ""


def parse_rules(body: bytes) -> list[Rule]:
    """A ``GET .../stream/rules`` response; ValueError if it is not one."""
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"rules: not JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("meta"), dict):
        raise ValueError("not a rules response: no 'meta'")
    data = obj.get("data", [])
    if not isinstance(data, list):
        raise ValueError("not a rules response: 'data' is not a list")
    rules = []
    for r in data:
        if isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("value"), str):
            tag = r.get("tag")
            rules.append(Rule(r["id"], r["value"], tag if isinstance(tag, str) else ""))
    return rules


def plan_rule_sync(
    existing: list[Rule], wanted: list[str], tag: str
) -> tuple[list[str], list[str]]:
    """(ids of our rules to delete, values to add): rules of other tags stay."""
    ours = [r for r in existing if r.tag == tag]
    delete = [r.id for r in ours if r.value not in wanted]
    have = {r.value for r in ours}
    add = [v for v in dict.fromkeys(wanted) if v not in have]
    return delete, add


@dataclass(frozen=True)
class RuleChange:
    """A ``POST .../stream/rules`` answer."""

    created: list[Rule]
    invalid: list[str]
    """Why rules were refused, one line each."""
    duplicates: dict[str, str]
    """value -> id of a rule with that value that already exists (under another tag)."""
    not_deleted: int = 0


def parse_rule_change(body: bytes) -> RuleChange:
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"rules change: not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("rules change: not a JSON object")
    data = obj.get("data")
    created = [
        Rule(r["id"], r["value"], str(r.get("tag") or ""))
        for r in (data if isinstance(data, list) else [])
        if isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("value"), str)
    ]
    invalid: list[str] = []
    duplicates: dict[str, str] = {}
    errors = obj.get("errors")
    for e in errors if isinstance(errors, list) else []:
        if not isinstance(e, dict):
            continue
        value, rid = e.get("value"), e.get("id")
        if e.get("title") == "DuplicateRule" and isinstance(value, str) and isinstance(rid, str):
            duplicates[value] = rid
        else:
            invalid += describe_errors([e])
    meta = obj.get("meta")
    summary = meta.get("summary") if isinstance(meta, dict) else None
    summary = summary if isinstance(summary, dict) else {}
    if not invalid and _count(summary.get("invalid")) and not duplicates:
        invalid.append(f"{summary['invalid']} rule(s) invalid (X gave no details)")
    if "data" not in obj and "meta" not in obj and not invalid and not duplicates:
        raise ValueError("not a rules change response: " + describe_problem(obj))
    return RuleChange(created, invalid, duplicates, _count(summary.get("not_deleted")))


# --------------------------------------------------------------------------- backoff


def network_delay(attempt: int, base: float = 0.25) -> float:
    """Network errors: linear, ``base`` more each attempt, up to 64 x ``base`` (16 s)."""
    return min(base * max(1, attempt), 64 * base)


def http_delay(attempt: int, base: float = 5.0) -> float:
    """HTTP errors: exponential from ``base``, doubling, up to 64 x ``base`` (320 s)."""
    return min(base * (1 << (min(max(1, attempt), 30) - 1)), 64 * base)


def rate_limit_delay(attempt: int, base: float = 60.0) -> float:
    """HTTP 429: exponential from ``base`` (1 minute), doubling, up to 16 x ``base``."""
    return min(base * (1 << (min(max(1, attempt), 30) - 1)), 16 * base)


class Reconnect:
    """Which wait comes next, per kind of failure; ``reset`` after data arrives."""

    def __init__(self, network: float = 0.25, http: float = 5.0, rate_limit: float = 60.0):
        self.bases: dict[str, float] = {"network": network, "http": http, "rate": rate_limit}
        self.attempts: dict[str, int] = {"network": 0, "http": 0, "rate": 0}

    def next_delay(self, kind: str, reset_in: float | None = None) -> float:
        self.attempts[kind] += 1
        n, base = self.attempts[kind], self.bases[kind]
        if kind == "network":
            return network_delay(n, base)
        if kind == "http":
            return http_delay(n, base)
        delay = rate_limit_delay(n, base)
        if reset_in is not None and reset_in > delay:
            delay = min(reset_in + 1.0, 3600.0)
        return delay

    def reset(self) -> None:
        for kind in self.attempts:
            self.attempts[kind] = 0


class SourceError(Exception):
    """X failed in a way worth retrying: ``kind`` is network, http or rate."""

    def __init__(
        self, kind: str, message: str, reset_at: float | None = None, status: int = 0
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.reset_at = reset_at
        self.status = status


class Refused(Exception):
    """X refused the credential (401) or the access level (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _problem(body: bytes) -> str:
    try:
        return describe_problem(json.loads(body))
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()


def _failure(status: int, headers: Mapping[str, str], body: bytes, what: str) -> Exception:
    detail = _problem(body)
    said = f"{what}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status in (401, 403):
        return Refused(status, said)
    if status == 429:
        reset: float | None
        try:
            reset = float(headers.get("x-rate-limit-reset", ""))
        except ValueError:
            reset = None
        return SourceError("rate", said, reset, status)
    return SourceError("http", said, status=status)


async def _request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    what: str,
    *,
    timeout: float,  # noqa: ASYNC109 (aiohttp's per-request timeout)
    params: Mapping[str, str] | None = None,
    body: Any = None,
    ok: tuple[int, ...] = (200,),
) -> bytes:
    async with http.request(
        method, url, params=params, json=body, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as resp:
        data = await resp.read()
        if resp.status in ok:
            return data
        raise _failure(resp.status, resp.headers, data, what)


@dataclass(frozen=True)
class RuleSync:
    rules: list[Rule]
    """Our rules as they stand now."""
    added: list[str]
    deleted: list[str]
    shared: dict[str, str]
    """value -> id of configured rules that exist under another tag (X keeps one)."""

    @property
    def ids(self) -> frozenset[str]:
        return frozenset([r.id for r in self.rules] + list(self.shared.values()))


async def sync_rules(
    http: aiohttp.ClientSession,
    endpoint: str,
    wanted: list[str],
    tag: str,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 (aiohttp's per-request timeout)
) -> RuleSync:
    """Make the rules tagged ``tag`` equal ``wanted``; leave other tags' rules alone.

    FeedConfigError when X refuses a rule (the message says which and why); Refused for
    a bad token or access level; SourceError for failures worth retrying.
    """
    url = endpoint.rstrip("/") + RULES_PATH
    try:
        existing = parse_rules(await _request(http, "GET", url, "stream rules", timeout=timeout))
        delete, add = plan_rule_sync(existing, wanted, tag)
        if delete:
            change = parse_rule_change(
                await _request(
                    http,
                    "POST",
                    url,
                    "deleting stream rules",
                    timeout=timeout,
                    body={"delete": {"ids": delete}},
                )
            )
            if change.invalid or change.not_deleted:
                raise SourceError(
                    "http", "deleting stream rules: " + "; ".join(change.invalid or ["refused"])
                )
        shared: dict[str, str] = {}
        created: list[Rule] = []
        if add:
            change = parse_rule_change(
                await _request(
                    http,
                    "POST",
                    url,
                    "adding stream rules",
                    timeout=timeout,
                    body={"add": [{"value": v, "tag": tag} for v in add]},
                    ok=(200, 201, 400),
                )
            )
            if change.invalid:
                raise FeedConfigError(
                    "X refused the stream rules: "
                    + "; ".join(change.invalid)
                    + " (see X's rule syntax: https://docs.x.com/x-api/posts/filtered-stream)"
                )
            shared, created = change.duplicates, change.created
    except ValueError as exc:
        raise SourceError("http", str(exc)) from None
    kept = [r for r in existing if r.tag == tag and r.id not in delete]
    return RuleSync(kept + created, add, delete, shared)


# --------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class Settings:
    rules: list[str] = setting(  # noqa: RUF009 (the contract's way to declare a setting)
        "a filtered-stream rule in X's rule syntax, e.g. 'northwind -is:retweet'"
    )
    tag: str = setting("the tag marking the rules this feed owns", "groundcontrol")
    endpoint: str = setting("X API base URL", DEFAULT_ENDPOINT)
    bearer_token_env: str = setting(
        "environment variable holding the app-only bearer token", "X_BEARER_TOKEN"
    )
    backfill: bool = setting(
        "after a reconnect or restart, fetch missed posts with recent search (last 7 days)",
        True,
    )

    def check(self) -> None:
        if not self.rules or not all(r.strip() for r in self.rules):
            raise FeedConfigError("rules is empty: give at least one rule")
        if len(set(self.rules)) != len(self.rules):
            raise FeedConfigError("rules has the same rule twice")
        if not self.tag.strip():
            raise FeedConfigError("tag is empty")
        if not self.endpoint.startswith(("http://", "https://")):
            raise FeedConfigError(f"endpoint must be an http(s) URL, not {self.endpoint!r}")


def _since_id(cursor: Mapping[str, Any]) -> int:
    value = cursor.get("since_id")
    return int(value) if isinstance(value, str) and _DIGITS.match(value) else 0


class _Feed:
    """The loop's state: where the stream stands, and what to tell the hub."""

    def __init__(
        self,
        settings: Settings,
        ctx: FeedContext,
        http: aiohttp.ClientSession,
        client: IngestClient,
        emitter: Emitter,
        health: SourceHealth,
        retry: Reconnect,
        *,
        newest: int,
        stall_timeout: float,
        request_timeout: float,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.say = ctx.on_event
        self.http = http
        self.client = client
        self.emitter = emitter
        self.health = health
        self.retry = retry
        self.newest = newest
        self.stall_timeout = stall_timeout
        self.request_timeout = request_timeout
        self.endpoint = settings.endpoint.rstrip("/")
        self.rule_ids: frozenset[str] = frozenset()
        self.backfill = settings.backfill

    def cursor(self, newest: int | None = None) -> dict[str, Any]:
        return {"since_id": str(self.newest if newest is None else newest)}

    async def take(self, parsed: Parsed, *, cursor_at: int | None = None) -> None:
        """Report skipped items and hand the posts to the hub (oldest first)."""
        self.health.got(len(parsed.tweets) + len(parsed.skipped))
        for reason, payload in parsed.skipped:
            self.client.report_dead(reason, payload)
        if parsed.errors:
            self.say("X reported: " + "; ".join(parsed.errors[:3]))
        if not parsed.tweets:
            return
        tweets = sorted(parsed.tweets, key=lambda t: t.id)
        if cursor_at is None:
            self.newest = max(self.newest, tweets[-1].id)
        cursor = self.cursor(cursor_at)
        fresh = [t.mention for t in tweets if not t.edit]
        edits = [t.mention for t in tweets if t.edit]
        # The hub applies a batch's edits before its new mentions: an edit goes in a
        # batch after the one with the post it changes.
        if fresh or not edits:
            await self.emitter.emit(fresh, cursor)
        if edits:
            await self.emitter.emit([], cursor, edits=edits)

    async def sync_rules(self) -> None:
        while True:
            try:
                sync = await sync_rules(
                    self.http,
                    self.endpoint,
                    self.settings.rules,
                    self.settings.tag,
                    timeout=self.request_timeout,
                )
            except Refused as exc:
                raise self.refused(exc) from None
            except (SourceError, aiohttp.ClientError, TimeoutError) as exc:
                await self.wait_after(exc, "syncing rules")
                continue
            self.rule_ids = sync.ids
            for value, rid in sync.shared.items():
                self.say(
                    f"rule {value!r} already exists under another tag (id {rid}): "
                    "its posts are taken too"
                )
            self.say(
                f"rules tagged {self.settings.tag!r}: {len(sync.rules)} "
                f"(added {len(sync.added)}, deleted {len(sync.deleted)})"
            )
            self.health.ok()
            return

    def refused(self, exc: Refused) -> FeedConfigError:
        if exc.status == 401:
            return FeedConfigError(
                f"feed {self.ctx.name}: X refused the bearer token in "
                f"{self.settings.bearer_token_env} ({exc})"
            )
        return FeedConfigError(
            f"feed {self.ctx.name}: X refused access ({exc}); the filtered stream needs "
            "an app in a project with Pro (or Enterprise) access"
        )

    async def wait_after(self, exc: BaseException, doing: str) -> None:
        """Say why ``doing`` failed and sleep the backoff for that kind of failure."""
        if isinstance(exc, SourceError):
            kind, why = exc.kind, str(exc)
            reset_in = None if exc.reset_at is None else exc.reset_at - self.ctx.clock()
        else:
            kind, reset_in = "network", None
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        delay = self.retry.next_delay(kind, reset_in)
        if kind == "rate":
            self.health.waiting(delay, f"rate limited ({why}); waiting {delay:.0f}s")
        else:
            self.health.error(f"{doing}: {why}")
        self.say(f"{doing} failed: {why}; retrying in {delay:.2f}s")
        await asyncio.sleep(delay)

    async def fill_gap(self) -> None:
        """Fetch every rule's posts since the newest one seen, before reading the stream."""
        start = self.newest
        now_ms = int(self.ctx.clock() * 1000)
        since = snowflake_at(snowflake_ms(start) - OVERLAP_MS)
        params = {**FIELDS, "max_results": str(SEARCH_PAGE)}
        oldest_ms = now_ms - SEARCH_WINDOW_MS
        if snowflake_ms(since) < oldest_ms:
            params["start_time"] = datetime.fromtimestamp(oldest_ms / 1000, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            lost = datetime.fromtimestamp(snowflake_ms(start) / 1000, UTC)
            self.say(
                f"the gap starts {lost:%Y-%m-%d %H:%M} UTC, beyond recent search's 7 days: "
                f"posts before {params['start_time']} are lost"
            )
        else:
            params["since_id"] = str(since)
        found = 0
        newest = start
        url = self.endpoint + SEARCH_PATH
        for rule in self.settings.rules:
            token = ""
            for page in range(MAX_BACKFILL_PAGES):
                query = {**params, "query": rule}
                if token:
                    query["next_token"] = token
                try:
                    body = await _request(
                        self.http,
                        "GET",
                        url,
                        "recent search",
                        timeout=self.request_timeout,
                        params=query,
                    )
                    parsed, token = parse_search_page(body)
                except ValueError as exc:
                    raise SourceError("http", f"recent search: {exc}") from None
                found += len(parsed.tweets)
                newest = max([newest] + [t.id for t in parsed.tweets])
                # The cursor stays where the gap starts until the whole gap is in.
                await self.take(parsed, cursor_at=start)
                if not token:
                    break
                if page == MAX_BACKFILL_PAGES - 1:
                    self.say(f"backfill of {rule!r} stopped after {MAX_BACKFILL_PAGES} pages")
        self.newest = max(self.newest, newest)
        await self.emitter.emit([], self.cursor())
        self.say(f"backfill: {found} post(s) since id {start} from recent search")

    async def connect(self) -> None:
        """One stream connection: backfill if due, then read until it ends."""
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=None
        )
        url = self.endpoint + STREAM_PATH
        async with self.http.get(url, params=FIELDS, timeout=timeout) as resp:
            if resp.status != 200:
                body = await resp.content.read(65_536)
                raise _failure(resp.status, resp.headers, body, "stream")
            self.say(f"connected to {url}")
            self.health.ok()
            if self.backfill and self.newest:
                try:
                    await self.fill_gap()
                except Refused as exc:
                    if exc.status == 401:
                        raise
                    self.backfill = False
                    self.say(f"backfill off: {exc} (recent search needs Basic access or above)")
                except SourceError as exc:
                    if exc.status != 400:
                        raise
                    # X refuses the search itself: asking again would not help.
                    self.health.error(str(exc))
                    self.say(
                        f"backfill failed: {exc}; posts missed since id {self.newest} are lost"
                    )
            await self.read(resp)

    async def read(self, resp: aiohttp.ClientResponse) -> None:
        buf = b""
        skipping = False
        first = True
        while True:
            try:
                chunk = await asyncio.wait_for(resp.content.readany(), self.stall_timeout)
            except TimeoutError:
                raise SourceError(
                    "network", f"stream stalled: nothing for {self.stall_timeout:g}s"
                ) from None
            if not chunk:
                if buf.strip():
                    raise SourceError(
                        "network", f"stream cut in the middle of a line ({buf[:40]!r}...)"
                    )
                raise SourceError("network", "X closed the stream")
            if first:
                first = False
                self.retry.reset()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            if skipping and lines:
                lines, skipping = lines[1:], False
            if len(buf) > MAX_LINE_BYTES:
                self.client.report_dead(
                    f"stream line longer than {MAX_LINE_BYTES} bytes",
                    buf[:1024].decode(errors="replace"),
                )
                buf, skipping = b"", True
            parsed = Parsed()
            for line in lines:
                one = parse_stream_line(line, self.settings.tag, self.rule_ids)
                parsed.tweets += one.tweets
                parsed.skipped += one.skipped
                parsed.errors += one.errors
                parsed.disconnect = parsed.disconnect or one.disconnect
            await self.take(parsed)
            if parsed.disconnect:
                raise SourceError("network", f"X disconnected the stream: {parsed.disconnect}")

    async def run(self) -> None:
        await self.sync_rules()
        if self.newest == 0:
            self.say("no cursor yet: starting from the stream's present")
        elif not self.backfill:
            self.say(f"backfill is off: posts since id {self.newest} that were missed are lost")
        while True:
            try:
                await self.connect()
            except Refused as exc:
                raise self.refused(exc) from None
            except (SourceError, aiohttp.ClientError, TimeoutError) as exc:
                await self.wait_after(exc, "stream")


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    stall_timeout: float = KEEPALIVE_TIMEOUT,
    network_base: float = 0.25,
    http_base: float = 5.0,
    rate_limit_base: float = 60.0,
    request_timeout: float = 30.0,
) -> None:
    """Sync the rules, then read the filtered stream and push its posts to the hub."""
    token = ctx.secret(settings.bearer_token_env, "the X app-only bearer token")
    cursor_file = ctx.cursor_file()
    newest = _since_id(cursor_file.load())
    health = SourceHealth(ctx.clock)
    emitter = Emitter(cursor_file)
    client = ctx.client(SOURCE, emitter, health)
    client.start()
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            feed = _Feed(
                settings,
                ctx,
                http,
                client,
                emitter,
                health,
                Reconnect(network_base, http_base, rate_limit_base),
                newest=newest,
                stall_timeout=stall_timeout,
                request_timeout=request_timeout,
            )
            await feed.run()
    finally:
        await client.close()
