"""A fake web server of RSS and Atom feeds on loopback, in the shapes real ones have.

It serves plain RSS 2.0 (with ``content:encoded`` and ``dc:creator``), Atom 1.0, a
Google Alerts feed (Atom; links wrapped in ``https://www.google.com/url?...&url=REAL``,
``<b>`` highlighting in titles and content) and a Google News search feed (RSS; links
``https://news.google.com/rss/articles/ID?oc=5``, titles ending in `` - Publisher``,
a ``<source>`` element). Every feed has an ETag and a Last-Modified and answers a
matching conditional GET with 304. It can also redirect (301, 302), answer 410 Gone,
rate-limit with 429 and Retry-After, send a truncated document, or drop the connection
in the middle of a body, so an adapter's error paths run against the real wire protocol.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from tests.fakes import cut_off

Kind = Literal["rss", "atom", "alerts", "gnews"]


@dataclass
class Item:
    """One entry, in neutral terms; the feed's kind decides how it is written."""

    id: str
    title: str
    html: str
    link: str
    published: int
    """Unix seconds; 0 leaves the date out."""
    author: str = ""
    publisher: str = ""
    """Google News' ``<source>``."""
    raw: str = ""
    """If set, written as-is instead of the item (a malformed entry)."""


def _rfc822(at: int) -> str:
    return format_datetime(datetime.fromtimestamp(at, UTC), usegmt=True)


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rss_xml(items: list[Item], *, title: str, link: str, language: str = "en-us") -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{escape(title)}</title>",
        f"<link>{escape(link)}</link>",
        f'<atom:link href="{escape(link)}feed/" rel="self" type="application/rss+xml"/>',
        "<description>News and reviews</description>",
        f"<language>{language}</language>",
        "<generator>https://wordpress.org/?v=6.5.2</generator>",
    ]
    for it in items:
        if it.raw:
            out.append(it.raw)
            continue
        out.append("<item>")
        out.append(f"<title>{escape(it.title)}</title>")
        if it.link:
            out.append(f"<link>{escape(it.link)}</link>")
        if it.author:
            out.append(f"<dc:creator><![CDATA[{it.author}]]></dc:creator>")
        if it.published:
            out.append(f"<pubDate>{_rfc822(it.published)}</pubDate>")
        out.append("<category><![CDATA[Laptops]]></category>")
        if it.id:
            out.append(f'<guid isPermaLink="false">{escape(it.id)}</guid>')
        first = it.html.split("</p>")[0].removeprefix("<p>")
        out.append(f"<description><![CDATA[{first} [&#8230;]]]></description>")
        out.append(f"<content:encoded><![CDATA[{it.html}]]></content:encoded>")
        out.append("</item>")
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out).encode("utf-8")


def atom_xml(items: list[Item], *, title: str, feed_id: str, language: str = "en") -> bytes:
    updated = max((it.published for it in items), default=1_700_000_000)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{language}">',
        f"<title>{escape(title)}</title>",
        f"<id>{escape(feed_id)}</id>",
        f"<updated>{_iso(updated)}</updated>",
        f'<link rel="self" href="{escape(feed_id)}"/>',
    ]
    for it in items:
        if it.raw:
            out.append(it.raw)
            continue
        out.append("<entry>")
        out.append(f"<id>{escape(it.id)}</id>")
        out.append(f'<title type="html">{escape(it.title)}</title>')
        out.append(f'<link rel="alternate" type="text/html" href="{escape(it.link)}"/>')
        if it.published:
            out.append(f"<published>{_iso(it.published)}</published>")
            out.append(f"<updated>{_iso(it.published)}</updated>")
        out.append(f"<author><name>{escape(it.author)}</name></author>")
        out.append(f'<content type="html">{escape(it.html)}</content>')
        out.append("</entry>")
    out += ["</feed>", ""]
    return "\n".join(out).encode("utf-8")


def alerts_xml(items: list[Item], *, query: str, path: str) -> bytes:
    """Google Alerts' feed: Atom, ``<b>`` highlights, links through google.com/url."""
    updated = max((it.published for it in items), default=1_700_000_000)
    user, alert = path.rstrip("/").split("/")[-2:]
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">',
        f"<id>tag:google.com,2005:reference/alerts/feeds/{user}/{alert}</id>",
        f"<title>Google Alert - {escape(query)}</title>",
        f'<link href="https://www.google.com/alerts/feeds/{user}/{alert}" rel="self"></link>',
        f"<updated>{_iso(updated)}</updated>",
    ]
    for it in items:
        if it.raw:
            out.append(it.raw)
            continue
        out.append("<entry>")
        out.append(f"<id>tag:google.com,2013:googlealerts/feed:{escape(it.id)}</id>")
        out.append(f'<title type="html">{escape(it.title)}</title>')
        out.append(f'<link href="{escape(it.link)}"></link>')
        out.append(f"<published>{_iso(it.published)}</published>")
        out.append(f"<updated>{_iso(it.published)}</updated>")
        out.append(f'<content type="html">{escape(it.html)}</content>')
        out.append("<author><name></name></author>")
        out.append("</entry>")
    out += ["</feed>", ""]
    return "\n".join(out).encode("utf-8")


def gnews_xml(items: list[Item], *, query: str) -> bytes:
    """Google News' search feed (news.google.com/rss/search?q=...)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>',
        "<generator>NFE/5.0</generator>",
        f"<title>&quot;{escape(query)}&quot; - Google News</title>",
        f"<link>https://news.google.com/search?q={quote(query)}&amp;hl=en-US&amp;gl=US"
        "&amp;ceid=US:en</link>",
        "<language>en-US</language>",
        "<webMaster>news-webmaster@google.com</webMaster>",
        "<copyright>Copyright © 2026 Google. All rights reserved.</copyright>",
        f"<lastBuildDate>{_rfc822(1_795_000_000)}</lastBuildDate>",
        "<description>Google News</description>",
    ]
    for it in items:
        if it.raw:
            out.append(it.raw)
            continue
        description = (
            f'<a href="{it.link}" target="_blank">{escape(it.title.rsplit(" - ", 1)[0])}</a>'
            f'&nbsp;&nbsp;<font color="#6f6f6f">{escape(it.publisher)}</font>'
        )
        out.append("<item>")
        out.append(f"<title>{escape(it.title)}</title>")
        out.append(f"<link>{escape(it.link)}</link>")
        out.append(f'<guid isPermaLink="false">{escape(it.id)}</guid>')
        out.append(f"<pubDate>{_rfc822(it.published)}</pubDate>")
        out.append(f"<description>{escape(description)}</description>")
        if it.publisher:
            out.append(f'<source url="https://www.{it.publisher.lower().replace(" ", "")}.com">')
            out[-1] += f"{escape(it.publisher)}</source>"
        out.append("</item>")
    out += ["</channel></rss>", ""]
    return "\n".join(out).encode("utf-8")


# ------------------------------------------------------------------------- item makers


def news_item(n: int, at: int, title: str, *, author: str = "Dana Reyes") -> Item:
    """A blog or newspaper article (RSS or Atom)."""
    return Item(
        id=f"https://www.laptopmag.example/?p={1000 + n}",
        title=title,
        html=f"<p>{title}: what we found.</p><p>Read <a href='https://x.example'>more</a>.</p>",
        link=f"https://www.laptopmag.example/2026/11/story-{n}/",
        published=at,
        author=author,
    )


def alerts_link(real: str) -> str:
    return (
        "https://www.google.com/url?rct=j&sa=t&url="
        + quote(real, safe=":/")
        + "&ct=ga&cd=CAIyGjk2NDM0ZTFmMjk4YjY2OGQ6Y29tOmVuOlVT&usg=AOvVaw3Qm7oZc4mZ2Lq1b0w4kPp9"
    )


def alert_item(n: int, at: int, word: str, real: str) -> Item:
    """A Google Alerts entry: ``word`` highlighted in title and content."""
    return Item(
        id=str(10395837749120392738 + n),
        title=f"<b>{word}</b> Aero 14 review, part {n}",
        html=f"The <b>{word}</b> Aero 14 (2026) is back with a new battery &middot; {n}",
        link=alerts_link(real),
        published=at,
    )


def gnews_article_id(real: str) -> str:
    """The older Google News article id: urlsafe base64 of a protobuf holding the URL."""
    url = real.encode()
    amp = (real.rstrip("/") + "/amp/").encode()
    data = b"\x08\x13\x22" + _varint(len(url)) + url + b"\xd2\x01" + _varint(len(amp)) + amp
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def gnews_opaque_id(n: int) -> str:
    """The newer form: the protobuf holds an opaque token, not the URL."""
    token = b"AU_yqL" + hashlib.sha1(str(n).encode()).hexdigest().encode()
    data = b"\x08\x13\x22" + _varint(len(token)) + token
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def gnews_item(n: int, at: int, title: str, publisher: str, real: str, *, old: bool = True) -> Item:
    article = gnews_article_id(real) if old else gnews_opaque_id(n)
    return Item(
        id=article,
        title=f"{title} - {publisher}",
        html="",
        link=f"https://news.google.com/rss/articles/{article}?oc=5",
        published=at,
        publisher=publisher,
    )


EMPTY_RSS_ITEM = "<item><category>misc</category><comments>0</comments></item>"


# ------------------------------------------------------------------------------ server


@dataclass
class Feed:
    kind: Kind
    items: list[Item] = field(default_factory=list)
    title: str = "Feed"
    validators: bool = True
    """Send ETag and Last-Modified (and honour them)."""


@dataclass
class Request:
    path: str
    if_none_match: str
    if_modified_since: str
    at: float
    status: int = 0


@dataclass
class FakeFeeds:
    feeds: dict[str, Feed] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)
    """Paths that answer 500."""
    rate_limit_next: dict[str, int] = field(default_factory=dict)
    retry_after: str = "1"
    truncate_next: dict[str, int] = field(default_factory=dict)
    """Answer this many requests with the first half of the document (a complete HTTP
    response whose XML stops in the middle)."""
    cut_next: dict[str, int] = field(default_factory=dict)
    """Answer this many requests with half a body and a dropped connection."""
    requests: list[Request] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self.serve)
        return app

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def document(self, path: str) -> bytes:
        feed = self.feeds[path]
        if feed.kind == "rss":
            return rss_xml(feed.items, title=feed.title, link="https://www.laptopmag.example/")
        if feed.kind == "atom":
            return atom_xml(feed.items, title=feed.title, feed_id=f"urn:fake:{path}")
        if feed.kind == "alerts":
            return alerts_xml(feed.items, query=feed.title, path=path)
        return gnews_xml(feed.items, query=feed.title)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        req = Request(
            path,
            request.headers.get("If-None-Match", ""),
            request.headers.get("If-Modified-Since", ""),
            time.monotonic(),
        )
        self.requests.append(req)
        try:
            resp = await self._answer(request, path)
        except web.HTTPException as exc:
            req.status = exc.status
            raise
        req.status = resp.status
        return resp

    async def _answer(self, request: web.Request, path: str) -> web.StreamResponse:
        if path in self.redirects:
            status, target = self.redirects[path]
            cls = {301: web.HTTPMovedPermanently, 302: web.HTTPFound}.get(
                status, web.HTTPTemporaryRedirect
            )
            raise cls(location=target)
        if path in self.gone:
            return web.Response(status=410, text="Gone")
        if path in self.down:
            return web.Response(status=500, text="Internal Server Error")
        if self.rate_limit_next.get(path):
            self.rate_limit_next[path] -= 1
            return web.Response(
                status=429, text="Too Many Requests", headers={"Retry-After": self.retry_after}
            )
        if path not in self.feeds:
            return web.Response(status=404, text="Not Found")
        feed = self.feeds[path]
        body = self.document(path)
        ctype = "application/atom+xml" if feed.kind in ("atom", "alerts") else "application/rss+xml"
        headers = {"Content-Type": f"{ctype}; charset=UTF-8"}
        if feed.validators:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            newest = max((it.published for it in feed.items), default=1_700_000_000)
            headers["ETag"] = etag
            headers["Last-Modified"] = _rfc822(newest)
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            if inm is not None:
                if inm == etag:
                    return web.Response(status=304, headers={"ETag": etag})
            elif ims:
                try:
                    if parsedate_to_datetime(ims).timestamp() >= newest:
                        return web.Response(status=304)
                except (TypeError, ValueError):
                    pass
        if self.truncate_next.get(path):
            self.truncate_next[path] -= 1
            return web.Response(body=body[: len(body) // 2], headers=headers)
        if self.cut_next.get(path):
            self.cut_next[path] -= 1
            return await cut_off(request, body, headers)
        return web.Response(body=body, headers=headers)
