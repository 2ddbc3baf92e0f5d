"""The hub's search and history over HTTP: GET /mentions and GET /history.

Beside the pipeline, like api.py: both read the store through the writer's reader
connection on a worker thread (``StoreWriter.read``), never on the event loop, and a
search page is bounded in work (store/search.py), so a search never holds the reader
for long. A hub on the bus asks the store writer to run the same reads
(store/requests.py). Both take an analyst token (``Permission.TRIAGE``). The shapes are in
docs/protocol.md, "HTTP"; the search syntax in groundcontrol/query.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec
from aiohttp import web
from multidict import MultiMapping

from groundcontrol.config import Config
from groundcontrol.hub.access import Gate
from groundcontrol.hub.auth import Permission
from groundcontrol.hub.state import CONTROL_CHARS, CurrentStore
from groundcontrol.protocol import History, SearchPage
from groundcontrol.query import QuerySyntaxError, parse_search, parse_when
from groundcontrol.store import requests
from groundcontrol.store.search import BUCKET_SECONDS, decode_cursor

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "SearchApi"]

#: GET /mentions: mentions a page holds when no limit is given, and the most it may.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Longest search text accepted.
MAX_QUERY_CHARS = 2_000
#: GET /history: the range when none is given, in days, per bucket size.
DEFAULT_DAYS = {"hour": 7, "day": 90, "week": 365}
#: Most brands one history names.
MAX_BRANDS = 50

_NO_STORE = "this hub runs without a store (--no-store): nothing to search\n"
_SEARCH_PARAMS = ("q", "since", "until", "before", "limit")
_HISTORY_PARAMS = ("by", "since", "until", "brands", "format")
_CSV_HEADER = ("start", "brand", "mentions", "negative", "share_of_voice", "negative_share")


def _single(query: MultiMapping[str], allowed: Sequence[str], what: str) -> dict[str, str]:
    """The parameters, each given at most once and all known; a 400 otherwise."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise _bad(what, f"unknown parameter {unknown[0][:40]!r} (use {', '.join(allowed)})")
    out: dict[str, str] = {}
    for name in allowed:
        values = query.getall(name, [])
        if len(values) > 1:
            raise _bad(what, f"{name} may be given once")
        if values:
            if CONTROL_CHARS.search(values[0]):
                raise _bad(what, f"control characters in {name}")
            out[name] = values[0]
    return out


def _json(body: msgspec.Struct) -> web.Response:
    """A protocol struct as the JSON body of a response."""
    return web.Response(body=msgspec.json.encode(body), content_type="application/json")


def _bad(what: str, reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f"bad {what}: {reason}\n")


def _when(params: dict[str, str], name: str, now: float, what: str) -> float | None:
    text = params.get(name)
    if text is None or not text.strip():
        return None
    try:
        return parse_when(text, now=now)
    except ValueError as exc:
        raise _bad(what, f"{name}: {exc}") from None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SearchApi:
    """The handlers of GET /mentions and GET /history; ``Hub.app()`` routes to them."""

    def __init__(
        self,
        *,
        config: Config,
        clock: Callable[[], float],
        gate: Gate,
        store: CurrentStore,
    ) -> None:
        self.config = config
        self.clock = clock
        self.gate = gate
        self.store = store

    async def handle_mentions(self, request: web.Request) -> web.Response:
        """One page of a search over the stored mentions, newest first."""
        self.gate.authorize(request, Permission.TRIAGE)
        params = _single(request.query, _SEARCH_PARAMS, "search")
        now = self.clock()
        text = params.get("q", "")
        if len(text) > MAX_QUERY_CHARS:
            raise _bad("search", f"q is longer than {MAX_QUERY_CHARS} characters")
        try:
            search = parse_search(text)
        except QuerySyntaxError as exc:
            raise _bad("search", str(exc)) from None
        since = _when(params, "since", now, "search")
        until = _when(params, "until", now, "search")
        if since is not None and until is not None and since >= until:
            raise _bad("search", "since must be before until")
        limit = DEFAULT_LIMIT
        if "limit" in params:
            raw = params["limit"]
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not (
                1 <= int(raw) <= MAX_LIMIT
            ):
                raise _bad(
                    "search",
                    f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:20]!r}",
                )
            limit = int(raw)
        before = params.get("before") or None
        if before is not None:
            try:
                decode_cursor(before)
            except ValueError as exc:
                raise _bad("search", str(exc)) from None
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        items, nxt, scanned, took = await ask(
            requests.SearchMentions(
                query=text, since=since, until=until, before=before, limit=limit
            )
        )
        page = SearchPage(
            query=str(search),
            since=since,
            until=until,
            items=items,
            next=nxt,
            scanned=scanned,
            took_ms=round(took, 2),
        )
        return _json(page)

    async def handle_history(self, request: web.Request) -> web.Response:
        """Mentions, negative ones and shares per bucket and brand, as JSON or CSV."""
        self.gate.authorize(request, Permission.TRIAGE)
        params = _single(request.query, _HISTORY_PARAMS, "history")
        by = params.get("by", "day")
        if by not in DEFAULT_DAYS:
            raise _bad("history", f"by must be hour, day or week, not {by[:20]!r}")
        fmt = params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise _bad("history", f"format must be json or csv, not {fmt[:20]!r}")
        now = self.clock()
        until = _when(params, "until", now, "history")
        until = now if until is None else until
        since = _when(params, "since", now, "history")
        since = until - DEFAULT_DAYS[by] * 86400.0 if since is None else since
        if since >= until:
            raise _bad("history", "since must be before until")
        wanted = [b.strip() for b in params.get("brands", "").split(",") if b.strip()]
        if len(wanted) > MAX_BRANDS:
            raise _bad("history", f"at most {MAX_BRANDS} brands")
        ask = self.store()
        if ask is None:
            raise web.HTTPServiceUnavailable(text=_NO_STORE)
        answer = await ask(
            requests.History(
                by=by,
                since=since,
                until=until,
                wanted=wanted,
                configured=[b.name for b in self.config.brands],
            )
        )
        if isinstance(answer, str):
            raise _bad("history", answer)
        names, rows = answer
        start = rows[0].at if rows else since
        if fmt == "csv":
            out = io.StringIO()
            sheet = csv.writer(out, lineterminator="\n")
            sheet.writerow(_CSV_HEADER)
            for r in rows:
                sheet.writerow(
                    (
                        _iso(r.at),
                        r.brand,
                        r.mentions,
                        r.negative,
                        r.share_of_voice,
                        r.negative_share,
                    )
                )
            return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8")
        end = rows[-1].at + BUCKET_SECONDS[by] if rows else until
        return _json(History(by=by, since=start, until=end, brands=names, rows=rows))
