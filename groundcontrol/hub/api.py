"""The hub's HTTP API: health, metrics and incidents (triage and the review queue: triage.py).

Beside the pipeline rather than in it: these handlers read what ingest (ingest.py)
counted and committed, what the windows and the incident book hold, and what the
publisher (stream.py) last sent; the incident actions go back out through the
publisher to every wall. Every path but /healthz and / needs a token (access.py).
The shapes are in docs/protocol.md, "HTTP".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from multidict import MultiMapping

from groundcontrol.hub.access import Gate
from groundcontrol.hub.auth import Permission
from groundcontrol.hub.feeds import FeedRegistry
from groundcontrol.hub.ingest import Dedupe
from groundcontrol.hub.metrics import (
    CONTENT_TYPE,
    Metric,
    process_rss_bytes,
    render,
    sqlite_memory_bytes,
    stage_cpu_metric,
    thread_cpu_metric,
)
from groundcontrol.hub.state import CONTROL_CHARS, HUB_NAME, Counters, CurrentWriter
from groundcontrol.hub.stream import Publisher
from groundcontrol.hub.workers import EnrichPool
from groundcontrol.protocol import Whoami
from groundcontrol.signals.analytics import Analytics
from groundcontrol.signals.incidents import IncidentError
from groundcontrol.store.database import Store

if TYPE_CHECKING:
    from groundcontrol.hub.notify import Notifier

#: Most incidents /metrics counts (the book keeps at most 200).
MAX_INCIDENTS_COUNTED = 1_000
#: The actions POST /incidents/ID/ACTION takes.
INCIDENT_ACTIONS = ("ack", "snooze", "resolve")
#: A snooze with no length lasts this long; none may last longer than a week.
DEFAULT_SNOOZE_SECONDS = 3600.0
MAX_SNOOZE_SECONDS = 7 * 86400.0


class IncidentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /incidents/ID/ACTION (all optional; may be empty)."""

    note: str = ""
    """Why (kept in the incident's history)."""
    seconds: float = 0.0
    """For a snooze: how long."""


class HttpApi:
    """The handlers of the hub's HTTP paths; ``Hub.app()`` routes to them."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        gate: Gate,
        counters: Counters,
        feeds: FeedRegistry,
        analytics: Analytics,
        publisher: Publisher,
        dedupe: Dedupe,
        enrich_pool: EnrichPool,
        notifier: Notifier | None,
        writer: CurrentWriter,
    ) -> None:
        self.clock = clock
        self.gate = gate
        self.counters = counters
        self.feeds = feeds
        self.analytics = analytics
        self.publisher = publisher
        self.dedupe = dedupe
        self.enrich_pool = enrich_pool
        self.notifier = notifier
        self.writer = writer

    # ------------------------------------------------------------------ health

    async def handle_index(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=(
                f"{HUB_NAME}\n"
                "GET /healthz  health as JSON\n"
                "GET /metrics  Prometheus metrics (admin token)\n"
                "GET /whoami  the name this hub records for you, and your role (any token)\n"
                "POST /triage  claim, assign, label, escalate, resolve, ignore or note a mention"
                " (analyst token)\n"
                "GET /triage/queue  the review queue, oldest first, with owners and waits"
                " (analyst token)\n"
                "GET /mentions/ID  one mention: its triage state and history, its copies"
                " (analyst token)\n"
                "GET /mentions?q=SEARCH&since=2h  search the stored mentions, newest first"
                " (analyst token)\n"
                "GET /history?by=day&brands=A,B  mentions and share of voice per brand"
                " (analyst token; format=csv)\n"
                "WS  /ingest   feeds send batches of mentions (docs/protocol.md)\n"
                "GET /incidents  open and recent incidents as JSON (display token)\n"
                "GET /incidents/ID  one incident with its whole history\n"
                "POST /incidents/ID/ack | /snooze | /resolve  (analyst token)\n"
                "GET /briefings  active and recent briefings (display token)\n"
                "POST /briefings  put a banner on every wall for a while (analyst token)\n"
                "POST /briefings/ID/withdraw  take it down (analyst token)\n"
                "WS  /stream   walls get hello, snapshot, ticks, incidents and triage actions\n"
            )
        )

    async def handle_whoami(self, request: web.Request) -> web.Response:
        """Who the hub takes the caller for: the name it records (the person a relay
        acts for, else the token's name) and the token's role. Any known token."""
        principal = self.gate.authorize(request, None)
        if principal is None:
            body = Whoami(name="local", role="admin")
        else:
            body = Whoami(name=principal.name, role=principal.role.value)
        return web.json_response(msgspec.to_builtins(body))

    async def handle_healthz(self, _request: web.Request) -> web.Response:
        now = self.clock()
        last_tick = self.publisher.last_tick
        last = last_tick.at if last_tick else None
        c = self.counters
        body = {
            "status": "ok",
            "hub": HUB_NAME,
            "demo": self.feeds.demo,
            "uptime_s": round(now - c.started_at, 3),
            "ingested": c.ingested,
            "duplicates": c.duplicates,
            "rejected": c.rejected,
            "errors": c.errors,
            "clients": len(self.publisher.subscribers),
            "feeds": [msgspec.to_builtins(f) for f in self.feeds.infos(now)],
            "last_tick_age_s": None if last is None else round(now - last, 3),
            "store": self._store_health(),
        }
        return web.json_response(body)

    def _store_health(self) -> dict[str, Any] | None:
        w = self.writer()
        if w is None:
            return None
        st = w.stats
        return {
            "path": str(w.store.path),
            "bytes": w.file_bytes(),
            "commit_p50_ms": round(st.quantile(0.5) * 1000, 2),
            "commit_p99_ms": round(st.quantile(0.99) * 1000, 2),
            "failures": st.failures,
            "last_error": st.last_error,
            "rebuilt_mentions": self.counters.rebuilt,
        }

    # ------------------------------------------------------------------ metrics

    async def handle_metrics(self, request: web.Request) -> web.Response:
        self.gate.authorize(request, Permission.ADMIN)
        return web.Response(
            body=render(self.metrics()).encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    def metrics(self) -> list[Metric]:
        """Everything /metrics reports."""
        now = self.clock()
        c = self.counters
        publisher = self.publisher
        errors = Metric(
            "groundcontrol_ingest_errors_total",
            "Messages refused as a whole on /ingest, by error code.",
            "counter",
        )
        for code, n in sorted(c.errors.items()):
            errors.add(n, {"code": code})
        lag = Metric(
            "groundcontrol_feed_last_seen_age_seconds",
            "Seconds since each connected feed last delivered a batch.",
            "gauge",
        )
        rate = Metric(
            "groundcontrol_feed_events_per_minute",
            "Mentions each connected feed delivered in the last minute.",
            "gauge",
        )
        feed_errors = Metric(
            "groundcontrol_feed_errors", "Errors reported by or about each feed.", "gauge"
        )
        behind = Metric(
            "groundcontrol_feed_lag_seconds",
            "How far behind real time each feed's newest mention was when it arrived.",
            "gauge",
        )
        spool = Metric(
            "groundcontrol_feed_spool_depth",
            "Unacked batches each feed reports in its disk spool.",
            "gauge",
        )
        spool_bytes = Metric(
            "groundcontrol_feed_spool_bytes", "Bytes of each feed's disk spool.", "gauge"
        )
        waiting = Metric(
            "groundcontrol_feed_rate_limit_wait_seconds",
            "Seconds each feed has left in a wait its source imposed.",
            "gauge",
        )
        pending = Metric(
            "groundcontrol_feed_pending_batches",
            "Batches each feed has sent or queued and not yet had acked.",
            "gauge",
        )
        for f in list(self.feeds.connected.values())[:64]:
            labels = {"feed": f.name, "source": f.source}
            lag.add(max(0.0, now - f.last_seen), labels)
            rate.add(f.events_per_min(now), labels)
            feed_errors.add(f.errors + f.reported_errors, labels)
            behind.add(f.lag_seconds, labels)
            spool.add(f.spool_depth, labels)
            spool_bytes.add(f.spool_bytes, labels)
            pending.add(f.pending, labels)
            waiting.add(f.rate_limit_wait, labels)
        up = Metric(
            "groundcontrol_feed_up",
            "1 for each feed connected now, 0 for one that went away or that the hub runs "
            "and could not start (what the wall's FEEDS panel shows as DOWN).",
            "gauge",
        )
        heard = Metric(
            "groundcontrol_feed_last_event_age_seconds",
            "Seconds since each connected feed last heard from its source (absent: never).",
            "gauge",
        )
        for info in self.feeds.infos(now):
            labels = {"feed": info.name, "source": info.source}
            up.add(1 if info.connected else 0, labels)
            if info.connected and info.last_event_at:
                heard.add(max(0.0, now - info.last_event_at), labels)
        denied = Metric(
            "groundcontrol_auth_denied_total",
            "Requests refused for a missing, unknown or insufficient token.",
            "counter",
        )
        for (path, status), n in sorted(self.gate.denied.items()):
            denied.add(n, {"path": path, "status": str(status)})
        notified = Metric(
            "groundcontrol_notifications_total",
            "Incident notifications to chat, mail and webhooks that ended, by channel and "
            "outcome (delivered, or failed after its retries).",
            "counter",
        )
        if self.notifier is not None:
            for (channel, outcome), n in sorted(self.notifier.outcomes.items()):
                notified.add(n, {"channel": channel, "outcome": outcome})
        incidents = Metric(
            "groundcontrol_incidents",
            "Incidents the walls show, by status and severity (resolved: in the last 30 min).",
            "gauge",
        )
        shown: dict[tuple[str, str], int] = {}
        for inc in self.analytics.incidents.current(now, limit=MAX_INCIDENTS_COUNTED):
            shown[(inc.status, inc.severity)] = shown.get((inc.status, inc.severity), 0) + 1
        for state in ("open", "acknowledged", "snoozed", "resolved"):
            for level in ("info", "warning", "critical"):
                incidents.add(shown.get((state, level), 0), {"status": state, "severity": level})
        changes = Metric(
            "groundcontrol_incident_changes_total",
            "Incident changes (opened, escalated, acknowledged, resolved...) since the start.",
            "counter",
        )
        for change, n in sorted(c.incident_events.items()):
            changes.add(n, {"change": change})
        return [
            incidents,
            changes,
            Metric("groundcontrol_mentions_ingested_total", "Mentions taken (new).", "counter").add(
                c.ingested
            ),
            Metric(
                "groundcontrol_mentions_deduplicated_total",
                "Mentions dropped as already seen (resends).",
                "counter",
            ).add(c.duplicates),
            Metric(
                "groundcontrol_mentions_rejected_total",
                "Mentions rejected by validation.",
                "counter",
            ).add(c.rejected),
            Metric("groundcontrol_batches_total", "Batches taken.", "counter").add(c.batches),
            Metric(
                "groundcontrol_mentions_edited_total",
                "Edits of mentions received from sources (applied to the store).",
                "counter",
            ).add(c.edits),
            Metric(
                "groundcontrol_mentions_deleted_total",
                "Deletions of mentions received from sources (removed from the store).",
                "counter",
            ).add(c.deletions),
            errors,
            Metric("groundcontrol_stream_clients", "Clients connected to /stream.", "gauge").add(
                len(publisher.subscribers)
            ),
            Metric("groundcontrol_feeds_connected", "Feeds connected to /ingest.", "gauge").add(
                len(self.feeds.connected)
            ),
            lag,
            rate,
            feed_errors,
            behind,
            spool,
            spool_bytes,
            pending,
            waiting,
            up,
            heard,
            denied,
            notified,
            *self._store_metrics(),
            Metric(
                "groundcontrol_review_pending",
                "Mentions the triage rules sent to review that nobody has resolved or ignored "
                "yet (counted every few seconds; -1 without a store or before the first count).",
                "gauge",
            ).add(publisher.review_pending()),
            Metric(
                "groundcontrol_dedupe_ids", "Mention ids the in-memory dedupe holds.", "gauge"
            ).add(len(self.dedupe)),
            Metric(
                "groundcontrol_tick_duration_seconds",
                "Time the last tick took to fold mentions into the windows.",
                "gauge",
            ).add(publisher.tick_seconds),
            Metric("groundcontrol_tick_seconds_total", "Time spent building ticks.", "counter").add(
                publisher.tick_seconds_total
            ),
            Metric("groundcontrol_ticks_total", "Ticks published.", "counter").add(
                publisher.tick_seq
            ),
            Metric(
                "groundcontrol_enrich_fallbacks_total",
                "Batches enriched inline because a worker process died.",
                "counter",
            ).add(self.enrich_pool.fallbacks),
            Metric("groundcontrol_uptime_seconds", "Seconds since the hub started.", "gauge").add(
                now - c.started_at
            ),
            Metric(
                "groundcontrol_process_resident_memory_bytes",
                "Resident memory of the hub process.",
                "gauge",
            ).add(process_rss_bytes()),
            stage_cpu_metric(*([w.stats.stage_cpu] if (w := self.writer()) else [])),
            thread_cpu_metric(),
        ]

    def _store_metrics(self) -> list[Metric]:
        w = self.writer()
        if w is None:
            return []
        st = w.stats
        latency = Metric(
            "groundcontrol_store_commit_seconds",
            "Time one store transaction (a group of batches) took to commit, "
            f"over the last {len(st.commit_seconds)} commits.",
            "summary",
        )
        for q in (0.5, 0.9, 0.99):
            latency.add(st.quantile(q), {"quantile": str(q)})
        latency.add(st.commit_seconds_sum, suffix="_sum")
        latency.add(st.commits, suffix="_count")
        return [
            Metric(
                "groundcontrol_store_bytes",
                "Size of the store on disk (database and WAL).",
                "gauge",
            ).add(w.file_bytes()),
            latency,
            Metric(
                "groundcontrol_store_mentions_written_total",
                "New mentions committed to the store.",
                "counter",
            ).add(st.mentions_written),
            Metric(
                "groundcontrol_store_dead_letters_total",
                "Rejected items and refused messages kept as dead letters.",
                "counter",
            ).add(st.dead_letters_written),
            Metric(
                "groundcontrol_store_failures_total",
                "Store commits that failed (their batches were not acked).",
                "counter",
            ).add(st.failures),
            Metric(
                "groundcontrol_store_pruned_total",
                "Rows deleted by the retention policy.",
                "counter",
            ).add(st.pruned),
            Metric(
                "groundcontrol_store_checkpoints_total",
                "WAL checkpoints (copies into the database file) done.",
                "counter",
            ).add(st.checkpoints),
            Metric(
                "groundcontrol_store_checkpoint_seconds_total",
                "Time spent in WAL checkpoints.",
                "counter",
            ).add(st.checkpoint_seconds_sum),
            Metric(
                "groundcontrol_store_wal_truncations_total",
                "Times the writer truncated a WAL the passive checkpoints could not keep small.",
                "counter",
            ).add(st.wal_truncations),
            Metric(
                "groundcontrol_store_queue_jobs",
                "Writes waiting for the store's writer thread.",
                "gauge",
            ).add(st.queued_jobs),
            Metric(
                "groundcontrol_sqlite_memory_bytes",
                "Memory SQLite holds in the hub (page caches, sorters, statements).",
                "gauge",
            ).add(sqlite_memory_bytes()),
            Metric(
                "groundcontrol_store_rebuilt_mentions",
                "Stored mentions replayed into the windows when the hub started.",
                "gauge",
            ).add(self.counters.rebuilt),
        ]

    # ------------------------------------------------------------------ incidents

    async def handle_incidents(self, request: web.Request) -> web.Response:
        """Open and recent incidents, most urgent first: ``{"incidents": [...]}``.

        With ``all=1`` and a store, every stored incident, newest first (``limit``, up
        to 500, default 100).
        """
        self.gate.authorize(request, Permission.READ)
        limit = _incidents_limit(request.query)
        if request.query.get("all") in ("1", "true", "yes"):
            writer = self.writer()
            if writer is None:
                raise web.HTTPServiceUnavailable(
                    text="this hub runs without a store (--no-store): only current incidents\n"
                )
            found = await writer.read(lambda store: store.incidents(limit=limit))
        else:
            found = self.analytics.incidents.current(self.clock(), limit=limit)
        return web.json_response({"incidents": [msgspec.to_builtins(i) for i in found]})

    async def handle_incident(self, request: web.Request) -> web.Response:
        """One incident, with its whole history from the store when there is one."""
        self.gate.authorize(request, Permission.READ)
        incident_id = request.match_info["id"]
        incident = self.analytics.incidents.get(incident_id)
        history: list[dict[str, Any]] | None = None
        notifications: list[dict[str, Any]] = []
        writer = self.writer()
        if writer is not None:

            def read(store: Store) -> tuple[Any, Any, Any]:
                return (
                    store.incident(incident_id),
                    store.incident_history(incident_id),
                    store.notifications(incident_id),
                )

            stored, steps, notifications = await writer.read(read)
            incident = incident or stored
            history = [
                {"at": at, "action": action, "by": by, "detail": detail}
                for at, action, by, detail in steps
            ]
        if incident is None:
            raise web.HTTPNotFound(text=f"no incident {incident_id[:80]!r}\n")
        body = msgspec.to_builtins(incident)
        if history is not None:
            body["history"] = history
        body["notifications"] = notifications
        return web.json_response(body)

    async def handle_incident_action(self, request: web.Request) -> web.Response:
        """Acknowledge, snooze or resolve an incident; the updated incident comes back,
        and every wall shows who did it and when."""
        principal = self.gate.authorize(request, Permission.INCIDENTS)
        incident_id = request.match_info["id"]
        action = request.match_info["action"]
        if action not in INCIDENT_ACTIONS:
            raise web.HTTPNotFound(
                text=f"no action {action[:40]!r}: use {', '.join(INCIDENT_ACTIONS)}\n"
            )
        raw = await request.read()
        try:
            body = (
                msgspec.json.decode(raw, type=IncidentRequest) if raw.strip() else IncidentRequest()
            )
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise web.HTTPBadRequest(text=f"bad incident action: {exc}\n") from None
        if CONTROL_CHARS.search(body.note):
            raise web.HTTPBadRequest(text="bad incident action: control characters in note\n")
        by = principal.name if principal is not None else "local"
        now = self.clock()
        book = self.analytics.incidents
        if book.get(incident_id) is None:
            raise web.HTTPNotFound(text=f"no incident {incident_id[:80]!r} is open on this hub\n")
        try:
            if action == "ack":
                event = book.acknowledge(incident_id, by=by, at=now)
            elif action == "snooze":
                seconds = body.seconds or DEFAULT_SNOOZE_SECONDS
                if not (0 < seconds <= MAX_SNOOZE_SECONDS):
                    raise web.HTTPBadRequest(
                        text=f"bad incident action: a snooze lasts from 1 s to 7 days, "
                        f"not {body.seconds:g} s\n"
                    )
                event = book.snooze(incident_id, by=by, at=now, seconds=seconds)
            else:
                event = book.resolve(incident_id, by=by, at=now, note=body.note)
        except IncidentError as exc:
            raise web.HTTPConflict(text=f"{exc}\n") from None
        # Stored, told to the notifier and sent to every wall, as the tick's own are.
        self.publisher.incident_changed(event)
        return web.json_response(msgspec.to_builtins(event.incident))


def _incidents_limit(query: MultiMapping[str]) -> int:
    """``limit`` of GET /incidents (default 100), or a 400 naming what is wrong."""
    unknown = sorted(set(query) - {"all", "limit"})
    if unknown:
        raise web.HTTPBadRequest(
            text=f"bad incidents request: unknown parameter {unknown[0]!r} (use all, limit)\n"
        )
    limit = 100
    text = query.get("limit")
    if text is not None:
        if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= 500):
            raise web.HTTPBadRequest(
                text=f"bad incidents request: limit must be from 1 to 500, not {text[:20]!r}\n"
            )
        limit = int(text)
    return limit
