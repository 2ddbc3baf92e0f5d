"""A fake listening vendor that POSTs batches of documents, signed, with retries.

Bodies follow the shape of a Meltwater-style streaming export (``documents`` with
``author`` and ``engagement`` objects). Signing is written from the two specs
directly, not with the receiver's code, so a mistake on one side shows:

- GitHub: ``X-Hub-Signature-256: sha256=`` + hex HMAC-SHA256 of the raw body.
- Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, and ``webhook-signature:
  v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"``, keyed with the
  base64-decoded part of a ``whsec_...`` secret. Every attempt is signed again with
  its own timestamp and the same id, as Svix-style senders do.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tests.deadline import SAFETY

Signer = Callable[[bytes], dict[str, str]]


def document(
    doc_id: str | int,
    at: int,
    content: str,
    *,
    source_type: str = "twitter",
    title: str = "",
    handle: str = "",
    followers: int = 1234,
    language: str = "en",
) -> dict[str, Any]:
    """One document as a vendor sends it; ``at`` is unix seconds."""
    handle = handle or f"user{doc_id}"
    return {
        "id": str(doc_id),
        "url": f"https://twitter.com/{handle}/status/{doc_id}",
        "published_date": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        "source_type": source_type,
        "language": language,
        "country": "US",
        "title": title,
        "content": content,
        "author": {"name": handle.title(), "handle": handle, "followers": followers},
        "engagement": {"likes": 3, "shares": 1, "comments": 0},
        "sentiment": "neutral",
        "matched_keywords": ["northwind"],
    }


def body(docs: list[Any], **extra: Any) -> bytes:
    """A delivery body: the documents plus the envelope fields vendors add."""
    envelope: dict[str, Any] = {
        "request_id": str(uuid.uuid4()),
        "search_id": 31337,
        "count": len(docs),
        **extra,
        "documents": docs,
    }
    return json.dumps(envelope).encode()


def sign_github(secret: str) -> Signer:
    def sign(raw: bytes) -> dict[str, str]:
        digest = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": str(uuid.uuid4())}

    return sign


def new_standard_secret(key: bytes = b"groundcontrol test webhook key!!") -> str:
    return "whsec_" + base64.b64encode(key).decode()


def sign_standard(
    secret: str, msg_id: str | None = None, clock: Callable[[], float] = time.time
) -> Signer:
    """Standard Webhooks: one message id for every attempt, a fresh timestamp each."""
    key = base64.b64decode(secret.split("_", 1)[1])
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"

    def sign(raw: bytes) -> dict[str, str]:
        stamp = str(int(clock()))
        content = msg_id.encode() + b"." + stamp.encode() + b"." + raw
        mac = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": stamp,
            "webhook-signature": f"v1,{mac}",
            "content-type": "application/json",
        }

    return sign


@dataclass
class Attempt:
    status: int
    """0 when the connection failed."""
    text: str


@dataclass
class Vendor:
    """POSTs like a vendor: retries on 5xx and connection errors, not on 4xx."""

    url: str
    attempts: int = 5
    delay: float = 0.1
    max_delay: float = 3600.0
    """The longest wait between two attempts (doubling from ``delay``)."""
    log: list[Attempt] = field(default_factory=list)

    async def post(self, raw: bytes, sign: Signer | None = None) -> Attempt:
        last = Attempt(0, "")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SAFETY)) as http:
            for i in range(self.attempts):
                headers = {"content-type": "application/json", **(sign(raw) if sign else {})}
                try:
                    # A stream, not bytes: aiohttp warns about big bytes bodies.
                    data = io.BytesIO(raw)
                    async with http.post(self.url, data=data, headers=headers) as resp:
                        last = Attempt(resp.status, await resp.text())
                except aiohttp.ClientError as exc:
                    last = Attempt(0, str(exc))
                self.log.append(last)
                if 200 <= last.status < 500:
                    return last
                if i + 1 < self.attempts:
                    await asyncio.sleep(min(self.max_delay, self.delay * (2**i)))
        return last
