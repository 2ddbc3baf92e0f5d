"""Mentions that listening vendors (Meltwater, Brandwatch, Talkwalker...) push to us.

The vendor POSTs a JSON body holding a list of documents to ``/webhooks/<feed name>``,
signed with a shared secret. A :class:`Receiver` checks the signature, maps each
document to a mention through dotted paths (``author.handle``), hands the batch to
the hub and answers 200 only once the hub has acked it. Anything the hub has not
stored yet gets a 503, so the vendor's own retry covers it: there is no cursor.

Two ways to run it: inside the hub, which mounts :meth:`Receiver.handle` on its own
app, or alone (:func:`run`), which serves the same route on ``listen`` and forwards
to the hub over /ingest like any other feed.

Signatures (``signature``):

- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``.
- ``standard`` (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``
  (space-separated, any one may match); the secret is ``whsec_<base64 key>``; a
  timestamp more than 5 minutes off is refused, and a ``webhook-id`` already taken
  is answered 200 again without ingesting it twice.
- ``none``: no check at all; must be asked for, and is warned about.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from feeds.base import (
    Changes,
    Emitter,
    FeedConfigError,
    FeedContext,
    SourceHealth,
    setting,
)
from feeds.html import html_to_text
from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Backoff
from groundcontrol.model import MAX_SHORT_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS, Engagement, Mention
from groundcontrol.protocol import Ack, Retraction

log = logging.getLogger("groundcontrol.feeds.webhook")

NAME = "webhook"
SUMMARY = "mentions that listening vendors (Meltwater, Brandwatch...) POST to an HTTP endpoint"
DEFAULT_SOURCE = "webhook"
SIGNATURES = ("github", "standard", "none")
#: Standard Webhooks: a timestamp further than this from our clock is refused.
TIMESTAMP_TOLERANCE = 300.0
#: Standard Webhooks: how many recent ``webhook-id`` values are remembered.
REPLAY_MEMORY = 10_000
#: A body is sent to the hub in batches of at most this many items and ~bytes.
BATCH_ITEMS = 500
BATCH_BYTES = 2 * 1024 * 1024
#: Asked of a vendor that got a 503 (seconds).
RETRY_AFTER = 30

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_NOT_SOURCE_CHARS = re.compile(r"[^a-z0-9_.-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
_LANG = re.compile(r"^[a-z]{2}$")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    signature: str = setting(
        "how deliveries are signed: github (X-Hub-Signature-256), standard "
        "(Standard Webhooks) or none (anyone who can reach the endpoint may post)",
        "github",
    )
    secret_env: str = setting(
        "environment variable holding the shared secret (standard: whsec_...)",
        "GROUNDCONTROL_WEBHOOK_SECRET",
    )
    listen: str = setting("HOST:PORT to serve on when run alone", "127.0.0.1:8790")
    items: str = setting(
        "dotted path to the list of documents in the body ('' = the body itself)", "documents"
    )
    text_field: str = setting("dotted path to a document's text", "content")
    title_field: str = setting("dotted path to its title (put before the text)", "title")
    id_field: str = setting("dotted path to its id at the vendor", "id")
    created_field: str = setting(
        "dotted path to when it was posted (ISO 8601, unix seconds or ms)", "published_date"
    )
    url_field: str = setting("dotted path to its URL", "url")
    author_field: str = setting("dotted path to its author's handle", "author.handle")
    reach_field: str = setting("dotted path to the author's followers", "author.followers")
    lang_field: str = setting("dotted path to its language code", "language")
    source_field: str = setting(
        "dotted path to the network it came from (becomes the mention's source)", "source_type"
    )
    likes_field: str = setting("dotted path to its likes", "engagement.likes")
    reposts_field: str = setting("dotted path to its shares", "engagement.shares")
    replies_field: str = setting("dotted path to its comments", "engagement.comments")
    deleted_field: str = setting(
        "dotted path to a flag: true means it was deleted at the source", "deleted"
    )
    edited_field: str = setting(
        "dotted path to a flag: true means a new version of a document sent before", "edited"
    )
    source: str = setting("source name when a document does not say", DEFAULT_SOURCE)
    html: bool = setting("the text is HTML: turn it into plain text", False)
    max_body_bytes: int = setting("largest body taken; bigger ones get 413", 5 * 1024 * 1024)
    ack_timeout: float = setting(
        "seconds to wait for the hub's ack before answering 503 (the vendor retries)", 30.0
    )

    def check(self) -> None:
        if self.signature not in SIGNATURES:
            raise FeedConfigError(
                f"signature must be one of {', '.join(SIGNATURES)}, not {self.signature!r}"
            )
        if self.signature != "none" and not self.secret_env:
            raise FeedConfigError(f"signature {self.signature} needs secret_env")
        parse_listen(self.listen)
        for name in ("text_field", "id_field", "created_field"):
            if not getattr(self, name).strip():
                raise FeedConfigError(f"{name} is empty")
        if not _SOURCE_NAME.match(self.source):
            raise FeedConfigError(
                f"source {self.source!r}: lower case letters, digits, '_', '.', '-' (1-32)"
            )
        if self.max_body_bytes < 1:
            raise FeedConfigError(f"max_body_bytes must be at least 1, not {self.max_body_bytes}")
        if not self.ack_timeout > 0:
            raise FeedConfigError(f"ack_timeout must be above 0, not {self.ack_timeout}")


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8790`` for IPv6) as (host, port); FeedConfigError if not."""
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise FeedConfigError(f"listen {listen!r}: expected HOST:PORT, e.g. 0.0.0.0:8790")
    return host, int(port_text)


# --------------------------------------------------------------------------- parsing


class BodyError(ValueError):
    """The body as a whole is not what the settings describe (answered 400)."""


@dataclass
class Parsed(Changes):
    """What one delivery holds."""

    @property
    def documents(self) -> int:
        return len(self.mentions) + len(self.edits) + len(self.deleted) + len(self.skipped)


def lookup(doc: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``doc`` (``author.handle``, ``tags.0``), or None.

    An empty path is the document itself.
    """
    if not path:
        return doc
    value = doc
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def parse_time(value: Any) -> datetime:
    """ISO 8601 (no zone = UTC), or unix seconds, or unix milliseconds; ValueError if not."""
    if isinstance(value, str) and _NUMBER.match(value):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"bad time {value!r}")
        if seconds > 1e11:  # past the year 5138 in seconds: milliseconds
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"bad time {value!r}") from None
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"bad time {value!r}: not ISO 8601 or unix time") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise ValueError(f"bad time {value!r}")


def source_name(value: Any, default: str) -> str:
    """A vendor's network name (``"Online News"``) as a mention source (``online_news``)."""
    if not isinstance(value, str):
        return default
    name = _NOT_SOURCE_CHARS.sub("_", value.strip().lower()).strip("_.-")[:32]
    return name if _SOURCE_NAME.match(name) else default


def _count(value: Any) -> int:
    if isinstance(value, str) and _NUMBER.match(value):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return max(0, min(int(value), 10**12))
    return 0


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True or (isinstance(value, int) and value == 1)


def _short(value: Any, limit: int = MAX_SHORT_CHARS) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub(" ", value).strip()[:limit]


def _lang(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code if _LANG.match(code) else ""


def _doc_id(doc: Any, settings: Settings) -> str:
    raw = lookup(doc, settings.id_field)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"no id at {settings.id_field!r}")
    doc_id = raw.strip()
    if len(doc_id) > MAX_SHORT_CHARS or _CONTROL.search(doc_id):
        raise ValueError(f"bad id at {settings.id_field!r}")
    return doc_id


def parse_document(doc: Any, settings: Settings) -> Mention | Retraction:
    """One vendor document as a mention (or a retraction when flagged deleted);
    ValueError says what is missing or wrong."""
    if not isinstance(doc, dict):
        raise ValueError(f"a document is a JSON object, not {type(doc).__name__}")
    doc_id = _doc_id(doc, settings)
    source = source_name(lookup(doc, settings.source_field), settings.source)
    if settings.deleted_field and _flag(lookup(doc, settings.deleted_field)):
        return Retraction(source=source, source_id=doc_id)
    created = parse_time(lookup(doc, settings.created_field))
    body = lookup(doc, settings.text_field)
    title = lookup(doc, settings.title_field) if settings.title_field else None
    parts = [v for v in (title, body) if isinstance(v, str) and v.strip()]
    if settings.html:
        parts = [html_to_text(p) for p in parts]
    text = _CONTROL.sub(" ", "\n\n".join(p.strip() for p in parts)).strip()
    if not text:
        raise ValueError(f"no text at {settings.text_field!r}")
    url = lookup(doc, settings.url_field)
    url = url.strip() if isinstance(url, str) else ""
    if len(url) > MAX_URL_CHARS or _CONTROL.search(url):
        url = ""
    return Mention(
        source=source,
        source_id=doc_id,
        text=text[:MAX_TEXT_CHARS],
        created_at=created,
        url=url,
        author=_short(lookup(doc, settings.author_field)),
        author_reach=_count(lookup(doc, settings.reach_field)),
        lang=_lang(lookup(doc, settings.lang_field)),
        engagement=Engagement(
            likes=_count(lookup(doc, settings.likes_field)),
            reposts=_count(lookup(doc, settings.reposts_field)),
            replies=_count(lookup(doc, settings.replies_field)),
        ),
    )


def parse_body(body: bytes, settings: Settings) -> Parsed:
    """A delivery's body: its mentions, edits, deletions and skipped documents.

    Raises BodyError when the body is not JSON or has no list at ``settings.items``.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BodyError(f"body is not JSON: {exc}") from None
    if settings.items:
        docs = lookup(data, settings.items)
        if not isinstance(docs, list):
            raise BodyError(f"no list of documents at {settings.items!r}")
    else:
        docs = data if isinstance(data, list) else [data]
    parsed = Parsed()
    for doc in docs:
        try:
            item = parse_document(doc, settings)
        except (ValueError, msgspec.ValidationError) as exc:
            parsed.skipped.append((str(exc), json.dumps(doc)[:65_536]))
            continue
        if isinstance(item, Retraction):
            parsed.deleted.append(item)
        elif settings.edited_field and _flag(lookup(doc, settings.edited_field)):
            parsed.edits.append(item)
        else:
            parsed.mentions.append(item)
    return parsed


Batch = tuple[list[Mention], list[Mention], list[Retraction]]


def batches(parsed: Parsed) -> list[Batch]:
    """The delivery cut into batches the hub takes whole (items and bytes bounded)."""
    out: list[Batch] = []
    mentions: list[Mention] = []
    edits: list[Mention] = []
    deleted: list[Retraction] = []
    count = size = 0
    tagged: list[tuple[list[Any], Mention | Retraction]] = [
        *((mentions, m) for m in parsed.mentions),
        *((edits, m) for m in parsed.edits),
        *((deleted, r) for r in parsed.deleted),
    ]
    for into, item in tagged:
        n = len(msgspec.json.encode(item))
        if count >= BATCH_ITEMS or (size and size + n > BATCH_BYTES):
            out.append((list(mentions), list(edits), list(deleted)))
            for part in (mentions, edits, deleted):
                part.clear()
            count = size = 0
        into.append(item)
        count += 1
        size += n
    if count:
        out.append((mentions, edits, deleted))
    return out


# --------------------------------------------------------------------------- signatures


def github_signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_github(key: bytes, headers: Mapping[str, str], body: bytes) -> str:
    """'' when ``X-Hub-Signature-256`` signs ``body``; else why not."""
    given = headers.get("X-Hub-Signature-256", "").strip()
    if not given:
        return "missing X-Hub-Signature-256 header"
    if not given.lower().startswith("sha256="):
        return "X-Hub-Signature-256 is not sha256=<hex>"
    expected = github_signature(key, body)
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        return "X-Hub-Signature-256 does not match the body"
    return ""


def standard_key(secret: str) -> bytes:
    """A Standard Webhooks secret (``whsec_<base64>``) as its HMAC key."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a Standard Webhooks secret (whsec_ then base64)") from None


def verify_standard(key: bytes, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """'' when the Standard Webhooks headers sign ``body`` and are fresh; else why not."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", stamp),
        ("webhook-signature", signatures),
    ):
        if not value:
            return f"missing {name} header"
    if not stamp.isdigit():
        return f"webhook-timestamp {stamp[:20]!r} is not unix seconds"
    off = int(stamp) - now
    if abs(off) > TIMESTAMP_TOLERANCE:
        when = "in the future" if off > 0 else "old"
        return f"webhook-timestamp is {abs(off):.0f}s {when} (limit {TIMESTAMP_TOLERANCE:.0f}s)"
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    ok = False
    for part in signatures.split():
        version, _, value = part.partition(",")
        # Every candidate is compared, so the time taken does not say which matched.
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            ok = True
    return "" if ok else "no webhook-signature matches the body"


# --------------------------------------------------------------------------- receiver


class HubUnavailable(Exception):
    """The hub did not ack in time, or the receiver is closing."""


class Receiver:
    """Takes vendor deliveries and answers only once the hub has stored them.

    Counters: ``deliveries`` (bodies taken), ``accepted`` and ``skipped`` (documents),
    ``rejected_signatures`` (401s), ``replays`` (a known ``webhook-id`` again),
    ``unavailable`` (503s).
    """

    def __init__(
        self, settings: Settings, ctx: FeedContext, *, hub_backoff: Backoff | None = None
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.health = SourceHealth(ctx.clock)
        self.hub_backoff = hub_backoff
        self.client: IngestClient | None = None
        self.deliveries = 0
        self.accepted = 0
        self.skipped = 0
        self.rejected_signatures = 0
        self.replays = 0
        self.unavailable = 0
        self._acks: dict[int, asyncio.Future[Ack]] = {}
        self._seen: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._key: bytes | None = None
        """The HMAC key, read from the environment by start()."""

    async def start(self) -> None:
        """Read the secret and connect to the hub (in the background); call before
        serving requests (they get 503 until then). FeedConfigError when the secret
        is missing or not a secret of the configured kind."""
        if self.client is not None:
            return
        self._key = self._load_key()
        emitter = Emitter(self.ctx.cursor_file())  # no cursor: it never has one to save
        client = self.ctx.client(self.settings.source, emitter, self.health)
        if self.hub_backoff is not None:
            client.backoff = self.hub_backoff
        chained = client.on_ack

        def on_ack(ack: Ack, first_sent: float) -> None:
            if chained is not None:
                chained(ack, first_sent)
            waiter = self._acks.get(ack.seq)
            if waiter is not None and not waiter.done():
                waiter.set_result(ack)

        client.on_ack = on_ack
        self.client = client
        client.start()
        if self.settings.signature == "none":
            warning = (
                f"webhook {self.ctx.name}: signature = none: anyone who can reach the "
                "endpoint can post mentions"
            )
            log.warning(warning)
            self.ctx.on_event(warning)

    def _load_key(self) -> bytes:
        settings, ctx = self.settings, self.ctx
        if settings.signature == "none":
            return b""
        secret = ctx.secret(settings.secret_env, f"the {settings.signature} webhook secret")
        if settings.signature == "github":
            return secret.encode()
        try:
            return standard_key(secret)
        except ValueError as exc:
            raise FeedConfigError(f"feed {ctx.name}: {settings.secret_env}: {exc}") from None

    async def close(self) -> None:
        for waiter in self._acks.values():
            if not waiter.done():
                waiter.set_exception(HubUnavailable("the receiver is closing"))
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def handle(self, request: web.Request) -> web.Response:
        """``POST /webhooks/<name>``: one delivery."""
        if self.client is None or self._key is None:
            return web.Response(
                status=503, text="not started\n", headers={"Retry-After": str(RETRY_AFTER)}
            )
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._refuse(413, f"body of {request.content_length} bytes is over {limit}")
        try:
            body = await _read_body(request, limit)
        except (HttpProcessingError, ConnectionError, aiohttp.ClientPayloadError) as exc:
            return self._refuse(400, f"body cut short: {type(exc).__name__}: {exc}")
        if body is None:
            return self._refuse(413, f"body is over {limit} bytes")
        reason = self._verify(request.headers, body)
        if reason:
            self.rejected_signatures += 1
            return self._refuse(401, f"signature: {reason}")
        msg_id = (
            request.headers.get("webhook-id", "") if self.settings.signature == "standard" else ""
        )
        if msg_id in self._seen:
            self.replays += 1
            self._seen.move_to_end(msg_id)
            return web.json_response(self._seen[msg_id])
        try:
            parsed = parse_body(body, self.settings)
        except BodyError as exc:
            if self.client is not None:
                self.client.report_dead(str(exc), body[:65_536].decode("utf-8", "replace"))
            return self._refuse(400, str(exc))
        self.deliveries += 1
        self.health.got(parsed.documents)
        if self.client is not None:
            for why, payload in parsed.skipped:
                self.client.report_dead(why, payload)
        try:
            answer = await self._deliver(parsed)
        except HubUnavailable as exc:
            self.unavailable += 1
            self.health.error(f"503: {exc}")
            self.ctx.on_event(f"answered 503 (the vendor retries): {exc}")
            return web.Response(
                status=503, text=f"{exc}\n", headers={"Retry-After": str(RETRY_AFTER)}
            )
        self.accepted += answer["accepted"]
        self.skipped += answer["skipped"]
        self.health.ok()
        if msg_id:
            self._seen[msg_id] = answer
            while len(self._seen) > REPLAY_MEMORY:
                self._seen.popitem(last=False)
        return web.json_response(answer)

    def _verify(self, headers: Mapping[str, str], body: bytes) -> str:
        kind = self.settings.signature
        assert self._key is not None, "start() first"
        if kind == "github":
            return verify_github(self._key, headers, body)
        if kind == "standard":
            return verify_standard(self._key, headers, body, self.ctx.clock())
        return ""

    def _refuse(self, status: int, reason: str) -> web.Response:
        line = reason.splitlines()[0] if reason else str(status)
        self.health.error(f"{status}: {line}")
        self.ctx.on_event(f"refused a delivery ({status}): {line}")
        return web.Response(status=status, text=line + "\n")

    async def _deliver(self, parsed: Parsed) -> dict[str, int]:
        """Send the delivery's batches; wait for every ack (HubUnavailable on timeout)."""
        client = self.client
        if client is None:
            raise HubUnavailable("the receiver is not started")
        sent = 0
        loop = asyncio.get_running_loop()
        seqs: list[int] = []
        waiters: list[asyncio.Future[Ack]] = []
        try:
            async with asyncio.timeout(self.settings.ack_timeout):
                for mentions, edits, deleted in batches(parsed):
                    seq = await client.submit(mentions, edits=edits, deleted=deleted)
                    # No await between submit's return and here: the ack cannot come first.
                    waiter: asyncio.Future[Ack] = loop.create_future()
                    self._acks[seq] = waiter
                    seqs.append(seq)
                    waiters.append(waiter)
                    sent += len(mentions) + len(edits) + len(deleted)
                acks = await asyncio.gather(*waiters)
        except TimeoutError:
            raise HubUnavailable(
                f"the hub did not ack within {self.settings.ack_timeout:g}s "
                f"({client.stats.last_error or 'not connected'})"
            ) from None
        finally:
            for seq in seqs:
                self._acks.pop(seq, None)
        rejected = sum(a.rejected for a in acks)
        return {
            "accepted": sent - rejected,
            "skipped": len(parsed.skipped) + rejected,
            "duplicates": sum(a.duplicates for a in acks),
        }


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The raw body, or None once it is over ``limit`` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- run


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    on_listening: Callable[[Receiver, int], None] | None = None,
    hub_backoff: Backoff | None = None,
) -> None:
    """Serve ``POST /webhooks/<name>`` on ``settings.listen`` until cancelled.

    ``on_listening(receiver, port)`` is called once the port is bound (tests ask for
    port 0); ``hub_backoff`` sets how fast the hub is retried (tests).
    """
    host, port = parse_listen(settings.listen)
    receiver = Receiver(settings, ctx, hub_backoff=hub_backoff)
    path = f"/webhooks/{ctx.name}"
    # The receiver reads the body itself, with its own limit.
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await receiver.start()
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise FeedConfigError(
                f"feed {ctx.name}: cannot listen on {settings.listen}: {exc.strerror or exc}"
            ) from None
        bound: int = runner.addresses[0][1]
        ctx.on_event(
            f"listening on http://{host}:{bound}{path} "
            f"(signature {settings.signature}), forwarding to {ctx.hub}"
        )
        if on_listening is not None:
            on_listening(receiver, bound)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await receiver.close()
