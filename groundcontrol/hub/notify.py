"""Incidents to chat, mail and webhooks, through apprise.

Each ``[[notify]]`` channel of the config names the environment variable that holds
its apprise URL (``slack://...``, ``mailtos://...``, ``ntfy://...``, ``json://...``:
URLs carry tokens, so they never go in the file and never reach a log line; logs and
records name the channel). :class:`Notifier` takes the hub's incident changes and
decides, per channel, what people need to hear:

* **opened, escalated, reopened** go to every channel whose ``min_severity`` the
  incident reaches and whose ``kinds`` include its kind, unless it is snoozed. An
  escalation to a severity the channel already heard about for that incident is not
  sent again.
* **acknowledged, resolved** go only to the channels that heard about the incident:
  the people who were told learn that it is handled, or over.
* **updated, snoozed** never notify (new numbers every few seconds are the walls' job).

Delivery runs off the event loop (apprise is blocking), one task per delivery, each
attempt bounded by a timeout; a failed attempt is retried with exponential backoff
and jitter, up to the channel's ``retries``. Every delivery ends in one record
(:class:`Delivery`: delivered or failed, after how many attempts, and why), which the
hub keeps in the store's ``notifications`` table. A dead channel only delays itself:
each channel has its own few threads, and deliveries of one incident to one channel
go out in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from groundcontrol.config import ConfigError, NotifyConfig
from groundcontrol.protocol import SEVERITY_RANK, Incident, IncidentChange, IncidentEvent

log = logging.getLogger("groundcontrol.hub.notify")

#: Seconds one delivery attempt may take (connect, send, answer).
ATTEMPT_TIMEOUT = 10.0
#: Seconds close() waits for deliveries under way before it gives up on them.
CLOSE_GRACE = 5.0
#: The longest wait between two attempts, however many failed before.
MAX_BACKOFF_SECONDS = 300.0
#: Incident changes waiting for the worker; past this, changes are recorded as failed.
MAX_QUEUED_EVENTS = 1_000
#: Deliveries under way or waiting to retry, all channels together.
MAX_PENDING_DELIVERIES = 500
#: Attempts of one channel running at once (threads): a hung channel holds only these.
THREADS_PER_CHANNEL = 2
#: Incidents whose channels are remembered (for escalations, acks and resolutions).
REMEMBERED_INCIDENTS = 1_024
#: Longest example post quoted in a message, and how many.
EXAMPLE_CHARS = 200
MAX_EXAMPLES = 2
#: Most signals listed in a message.
MAX_SIGNALS_LISTED = 8
#: Longest failure reason kept in a record.
MAX_REASON_CHARS = 500
#: Why the deliveries still under way when the hub stops are recorded as failed.
SHUTTING_DOWN = "hub shutting down"

Outcome = Literal["delivered", "failed"]
Level = Literal["info", "success", "warning", "failure"]
"""apprise's notification types: the colour or icon a chat shows."""

_ANNOUNCED: tuple[IncidentChange, ...] = ("opened", "escalated", "reopened")
_FOLLOW_UPS: tuple[IncidentChange, ...] = ("acknowledged", "resolved")


@dataclass(frozen=True)
class Delivery:
    """How one notification to one channel ended."""

    incident_id: str
    channel: str
    """The channel's name from the config (never its URL)."""
    change: IncidentChange
    at: float
    """When it ended (unix seconds)."""
    attempts: int
    """Attempts made (0: given up on before the first one)."""
    outcome: Outcome
    reason: str = ""
    """Why it failed, in apprise's words when it said something ("" if delivered)."""


@dataclass(frozen=True)
class Message:
    """What a channel receives about one incident change."""

    title: str
    body: str
    """Plain text."""
    level: Level


class DeliveryFailed(Exception):
    """A channel did not take a message; the text says why."""


class Send(Protocol):
    """The network step: deliver ``message`` to ``url`` within ``timeout`` seconds, or
    raise (:class:`DeliveryFailed` with the reason). Blocking: it runs on a thread."""

    def __call__(self, url: str, message: Message, timeout: float) -> None: ...


# ---------------------------------------------------------------------- secrets


class _Redactor(logging.Filter):
    """Keeps channel URLs (they carry tokens) out of apprise's log records: apprise
    names the URL it cannot parse, and its records reach the hub's log."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, tuple[str, int]] = {}

    def add(self, secret: str, label: str) -> None:
        if len(secret) < 8:  # no real URL is this short; redacting it would garble text
            return
        with self._lock:
            _label, n = self._secrets.get(secret, (label, 0))
            self._secrets[secret] = (label, n + 1)

    def remove(self, secret: str) -> None:
        with self._lock:
            label, n = self._secrets.get(secret, ("", 0))
            if n > 1:
                self._secrets[secret] = (label, n - 1)
            else:
                self._secrets.pop(secret, None)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets.items(), key=lambda kv: -len(kv[0]))
        for secret, (label, _n) in secrets:
            if secret in text:
                text = text.replace(secret, label)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            with contextlib.suppress(Exception):  # a record that cannot format stays as is
                message = record.getMessage()
                clean = self.redact(message)
                if clean != message:
                    record.msg, record.args = clean, None
        return True


_REDACTOR = _Redactor()


def channel_urls(
    channels: Sequence[NotifyConfig],
    *,
    environ: Mapping[str, str] | None = None,
    source: str = "<config>",
) -> dict[str, str]:
    """Each channel's URL from the environment variable its ``url_env`` names.

    Raises :class:`ConfigError` naming the channel and the variable when one is unset
    or empty: the hub refuses to start rather than drop notifications silently.
    """
    env = os.environ if environ is None else environ
    urls: dict[str, str] = {}
    for i, ch in enumerate(channels):
        url = env.get(ch.url_env, "").strip()
        if not url:
            raise ConfigError(
                source,
                f"notify[{i}].url_env",
                f"channel {ch.name!r}: the environment variable {ch.url_env} is not set; "
                "it must hold the channel's apprise URL",
            )
        urls[ch.name] = url
    return urls


def _check_apprise_urls(
    channels: Sequence[NotifyConfig], urls: Mapping[str, str], source: str
) -> None:
    import apprise

    for i, ch in enumerate(channels):
        if apprise.Apprise.instantiate(urls[ch.name]) is None:
            raise ConfigError(
                source,
                f"notify[{i}].url_env",
                f"channel {ch.name!r}: the URL in {ch.url_env} is not one apprise can use "
                "(see https://appriseit.com/ for each service's URL form)",
            )


# ---------------------------------------------------------------------- sending


def send_with_apprise(url: str, message: Message, timeout: float) -> None:
    """Deliver ``message`` to one apprise URL; raise :class:`DeliveryFailed` with what
    apprise said when it did not go through. Blocking."""
    import apprise

    service = apprise.Apprise.instantiate(url)
    if service is None:
        raise DeliveryFailed("apprise cannot use the channel's URL")
    # The call's own timeout does not stop a blocked socket: bound those too, so a
    # thread given up on ends soon after.
    service.socket_connect_timeout = min(service.socket_connect_timeout, timeout)
    service.socket_read_timeout = min(service.socket_read_timeout, timeout)
    batch = apprise.Apprise()
    batch.add(service)
    result = batch.notify(
        body=message.body,
        title=message.title,
        notify_type=apprise.NotifyType(message.level),
        body_format=apprise.NotifyFormat.TEXT,
        timeout=timeout,
    )
    if result:
        return
    # The result carries this call's own log lines, whichever thread apprise used
    # (a LogCapture on the shared logger would mix up concurrent deliveries).
    said = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        said.append(f"no answer within {timeout:g} s")
    raise DeliveryFailed("; ".join(dict.fromkeys(said)) or f"apprise: {result.status.name}")


# ---------------------------------------------------------------------- messages


def _iso(at: float | None) -> str:
    if at is None:
        return "?"
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rate(per_minute: float) -> str:
    return f"{per_minute:,.0f}" if per_minute >= 100 else f"{per_minute:.1f}"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_SIZE_WORDS = {"info": "a modest one", "warning": "a big one", "critical": "a very big one"}


def _headline(inc: Incident) -> str:
    if inc.kind == "positive":
        # Good news: say so first, and keep alarm words out of it.
        return f"Good news: a positive surge, {_SIZE_WORDS[inc.severity]}. Nothing to fix."
    kind = "Negative surge" if inc.kind == "negative" else "Volume surge"
    return f"{kind}, severity {inc.severity}."


def _status(inc: Incident) -> str:
    if inc.status == "acknowledged":
        return f"Status: acknowledged by {inc.acked_by or 'someone'} at {_iso(inc.acked_at)}."
    if inc.status == "snoozed":
        return f"Status: snoozed until {_iso(inc.snoozed_until)}."
    if inc.status == "resolved":
        if inc.resolved_by:
            return f"Status: resolved by {inc.resolved_by} at {_iso(inc.resolved_at)}."
        return f"Status: over, it ended by itself at {_iso(inc.ended_at or inc.resolved_at)}."
    return "Status: open, not acknowledged yet." if inc.kind != "positive" else "Status: open."


def _tag(change: IncidentChange, inc: Incident) -> str:
    if change == "acknowledged":
        return "ACKNOWLEDGED"
    if change == "resolved":
        return "RESOLVED"
    if inc.kind == "positive":
        return "POSITIVE"
    return inc.severity.upper()


def _level(change: IncidentChange, inc: Incident) -> Level:
    if change == "resolved" or inc.kind == "positive":
        return "success"
    if change == "acknowledged" or inc.severity == "info":
        return "info"
    return "failure" if inc.severity == "critical" else "warning"


def render_message(event: IncidentEvent) -> Message:
    """The title and plain-text body a channel receives about ``event``."""
    inc, change = event.incident, event.change
    title = f"[{_tag(change, inc)}] {inc.title}"
    if change == "escalated":
        title += " (escalated)"
    elif change == "reopened":
        title += " (going again)"
    lines = [_headline(inc)]
    if change == "escalated":
        lines.append(f"Escalated to {inc.severity}.")
    elif change == "reopened":
        lines.append("Reopened: it had ended or was snoozed, and it is going again.")
    lines.append(_status(inc))
    lines.append(
        f"Surge: {inc.ratio:.1f}x the usual rate, {inc.mentions:,} mentions since it started."
    )
    if inc.kind == "positive":
        lines.append(
            f"Positive share: {inc.positive_share:.0%}; negative share: "
            f"{inc.negative_share:.0%} (usual {inc.baseline_negative_share:.0%})."
        )
    else:
        lines.append(
            f"Negative share: {inc.negative_share:.0%} (usual {inc.baseline_negative_share:.0%})."
        )
    if inc.signals:
        lines.append("Signals:")
        for s in inc.signals[:MAX_SIGNALS_LISTED]:
            line = f"- {s.label}: peak {_rate(s.peak)}/min vs usual {_rate(s.baseline)}/min"
            if s.share is not None:
                usual = "" if s.baseline_share is None else f" (usual {s.baseline_share:.0%})"
                line += f", {s.share:.0%} negative{usual}"
            if not s.active:
                line += ", back to normal"
            lines.append(line)
    if inc.top_terms:
        lines.append(f"Top terms: {', '.join(inc.top_terms[:8])}")
    if inc.top_sources:
        lines.append(f"Top sources: {', '.join(inc.top_sources[:5])}")
    examples = [_cut(e, EXAMPLE_CHARS) for e in inc.examples[:MAX_EXAMPLES] if e.strip()]
    if examples:
        lines.append("Examples:")
        lines.extend(f'- "{e}"' for e in examples)
    lines.append(f"Started: {_iso(inc.started_at)}")
    lines.append(f"Incident: {inc.id}")
    return Message(title=title, body="\n".join(lines), level=_level(change, inc))


# ---------------------------------------------------------------------- the notifier


@dataclass(frozen=True)
class _Channel:
    config: NotifyConfig
    url: str = field(repr=False)

    @property
    def name(self) -> str:
        return self.config.name


@dataclass
class _Delivery:
    """One message on its way to one channel."""

    channel: _Channel
    event: IncidentEvent
    message: Message
    attempts: int = 0
    done: bool = False


class Notifier:
    """Sends incident changes to the configured channels (see the module docstring).

    ``record`` gets every :class:`Delivery` once it ends; ``send`` is the network
    step (apprise by default). Raises :class:`ConfigError` when a channel's
    environment variable is unset, or (with apprise) holds a URL apprise cannot use.
    """

    def __init__(
        self,
        channels: Sequence[NotifyConfig],
        *,
        record: Callable[[Delivery], None],
        clock: Callable[[], float] = time.time,
        send: Send | None = None,
        environ: Mapping[str, str] | None = None,
        source: str = "<config>",
        timeout: float = ATTEMPT_TIMEOUT,
        grace: float = CLOSE_GRACE,
        rng: random.Random | None = None,
    ) -> None:
        urls = channel_urls(channels, environ=environ, source=source)
        self._channels = [_Channel(c, urls[c.name]) for c in channels]
        for ch in self._channels:
            _REDACTOR.add(ch.url, f"<the URL in ${ch.config.url_env}>")
        logging.getLogger("apprise").addFilter(_REDACTOR)
        if send is None:
            try:
                _check_apprise_urls(channels, urls, source)
            except ConfigError:
                self._forget_secrets()
                raise
            send = send_with_apprise
        self._send = send
        self._record = record
        self.clock = clock
        self.timeout = timeout
        self.grace = grace
        self._rng = rng or random.Random()
        self.outcomes: dict[tuple[str, str], int] = {
            (ch.name, outcome): 0 for ch in self._channels for outcome in ("delivered", "failed")
        }
        """Deliveries that ended, by (channel, outcome), for /metrics."""
        self._queue: asyncio.Queue[IncidentEvent] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self._heard: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._pending: set[asyncio.Task[None]] = set()
        self._lanes: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._slots = {ch.name: asyncio.Semaphore(THREADS_PER_CHANNEL) for ch in self._channels}
        self._executor: ThreadPoolExecutor | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def channels(self) -> list[str]:
        """The channels' names, in config order."""
        return [ch.name for ch in self._channels]

    def pending(self) -> int:
        """Deliveries under way or waiting to retry."""
        return len(self._pending)

    # ------------------------------------------------------------------ loop side

    def submit(self, event: IncidentEvent) -> None:
        """Queue an incident change for the channels that want it. Never blocks and
        never raises: a change that cannot be queued is recorded as failed."""
        try:
            if self._closed:
                self._refuse(event, SHUTTING_DOWN)
                return
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._refuse(event, f"more than {MAX_QUEUED_EVENTS} incident changes waiting")
        except Exception:
            log.exception("notifying incident %s (%s) failed", event.incident.id, event.change)

    async def start(self) -> None:
        """Start the worker that hands queued changes to the channels."""
        if self._worker is None and not self._closed:
            self._worker = asyncio.create_task(self._run(), name="notifier")
            log.info("notifying %s", ", ".join(self.channels))

    async def close(self) -> None:
        """Stop: wait up to ``grace`` seconds for the deliveries under way, then give
        up on the rest (each recorded as failed, "hub shutting down")."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while not self._queue.empty():  # what the worker had not taken yet
            self._dispatch(self._queue.get_nowait())
        if self._pending:
            _done, late = await asyncio.wait(set(self._pending), timeout=self.grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("gave up on %d notifications: the hub is shutting down", len(late))
        if self._executor is not None:
            # Threads still blocked end with their socket timeouts; nobody waits for them.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._forget_secrets()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            self._dispatch(event)

    def _dispatch(self, event: IncidentEvent) -> None:
        try:
            chosen = self._route(event)
            if not chosen:
                return
            message = render_message(event)
            for ch in chosen:
                self._spawn(_Delivery(ch, event, message))
        except Exception:  # one bad change must not stop the worker
            log.exception("notifying incident %s (%s) failed", event.incident.id, event.change)

    def remember(self, incident: Incident, channels: Iterable[str]) -> None:
        """Channels that heard about ``incident`` before a restart (from the store), so
        its acknowledgement and end still reach them and its severity is not sent
        again."""
        names = {ch.name for ch in self._channels}
        heard = {name: SEVERITY_RANK[incident.severity] for name in channels if name in names}
        if heard:
            self._heard[incident.id] = heard
            self._heard.move_to_end(incident.id)
            while len(self._heard) > REMEMBERED_INCIDENTS:
                self._heard.popitem(last=False)

    def _route(self, event: IncidentEvent) -> list[_Channel]:
        """The channels that hear about ``event``; remembers who heard what."""
        inc = event.incident
        if event.change in _ANNOUNCED:
            if inc.status == "snoozed":
                return []
            rank = SEVERITY_RANK[inc.severity]
            heard = self._heard.get(inc.id, {})
            chosen = []
            for ch in self._channels:
                if rank < SEVERITY_RANK[ch.config.min_severity] or inc.kind not in ch.config.kinds:
                    continue
                before = heard.get(ch.name)
                if event.change != "reopened" and before is not None and before >= rank:
                    continue  # this channel already heard of this severity
                heard[ch.name] = rank if before is None else max(before, rank)
                chosen.append(ch)
            if chosen:
                self._heard[inc.id] = heard
                self._heard.move_to_end(inc.id)
                while len(self._heard) > REMEMBERED_INCIDENTS:
                    self._heard.popitem(last=False)
            return chosen
        if event.change in _FOLLOW_UPS:
            told = self._heard.get(inc.id, {})
            return [ch for ch in self._channels if ch.name in told]
        return []

    def _refuse(self, event: IncidentEvent, reason: str) -> None:
        chosen = self._route(event)
        if chosen:
            message = render_message(event)
            for ch in chosen:
                self._finish(_Delivery(ch, event, message), "failed", reason)

    def _spawn(self, job: _Delivery) -> None:
        if len(self._pending) >= MAX_PENDING_DELIVERIES:
            self._finish(job, "failed", f"more than {MAX_PENDING_DELIVERIES} deliveries pending")
            return
        key = (job.event.incident.id, job.channel.name)
        # Deliveries of one incident to one channel go in order (opened before resolved).
        task = asyncio.create_task(
            self._deliver(job, self._lanes.get(key)), name=f"notify-{job.channel.name}"
        )
        self._lanes[key] = task
        self._pending.add(task)

        def ended(t: asyncio.Task[None]) -> None:
            self._pending.discard(t)
            if self._lanes.get(key) is t:
                del self._lanes[key]
            if t.cancelled():  # perhaps before it began: still one record
                self._finish(job, "failed", SHUTTING_DOWN)
            elif (exc := t.exception()) is not None:
                log.error("notification to %s crashed: %r", job.channel.name, exc)
                self._finish(job, "failed", f"crashed: {type(exc).__name__}: {exc}")

        task.add_done_callback(ended)

    async def _deliver(self, job: _Delivery, after: asyncio.Task[None] | None) -> None:
        if after is not None:
            await asyncio.wait([after])
        ch = job.channel
        attempts_allowed = ch.config.retries + 1
        while True:
            job.attempts += 1
            reason = await self._attempt(ch, job.message)
            if reason is None:
                self._finish(job, "delivered")
                return
            if job.attempts >= attempts_allowed:
                self._finish(job, "failed", reason)
                return
            delay = self._backoff(ch.config, job.attempts)
            log.warning(
                "notification of incident %s (%s) to %s failed (attempt %d of %d): %s; "
                "trying again in %.1f s",
                job.event.incident.id,
                job.event.change,
                ch.name,
                job.attempts,
                attempts_allowed,
                reason,
                delay,
            )
            await asyncio.sleep(delay)

    async def _attempt(self, ch: _Channel, message: Message) -> str | None:
        """One attempt on a thread; the reason it failed, or None."""
        slot = self._slots[ch.name]
        try:
            async with asyncio.timeout(self.timeout):
                await slot.acquire()
        except TimeoutError:
            return "the channel's earlier deliveries are still hanging"
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._pool(), self._send, ch.url, message, self.timeout
            )
        except BaseException:
            slot.release()
            raise
        # The slot is free when the thread is, not when we stop waiting for it.
        future.add_done_callback(lambda f: _released(slot, f))
        try:
            # A little past the attempt's own timeout: the send should give up first
            # and say why.
            async with asyncio.timeout(self.timeout + 1.0):
                await asyncio.shield(future)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except DeliveryFailed as exc:
            return _REDACTOR.redact(str(exc))[:MAX_REASON_CHARS] or "failed"
        except Exception as exc:
            return _REDACTOR.redact(f"{type(exc).__name__}: {exc}")[:MAX_REASON_CHARS]
        return None

    def _pool(self) -> ThreadPoolExecutor:
        # Our own threads, not the loop's default executor: a hung channel must not
        # hold the threads the hub's store reads use.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=max(1, THREADS_PER_CHANNEL * len(self._channels)),
                thread_name_prefix="notify",
            )
        return self._executor

    def _backoff(self, config: NotifyConfig, attempt: int) -> float:
        """Exponential, with jitter so channels failing together do not retry together."""
        wait = min(MAX_BACKOFF_SECONDS, config.backoff_seconds * 2.0 ** min(attempt - 1, 30))
        return wait * self._rng.uniform(0.5, 1.0)

    def _finish(self, job: _Delivery, outcome: Outcome, reason: str = "") -> None:
        if job.done:
            return
        job.done = True
        ch, event = job.channel, job.event
        delivery = Delivery(
            incident_id=event.incident.id,
            channel=ch.name,
            change=event.change,
            at=self.clock(),
            attempts=job.attempts,
            outcome=outcome,
            reason=reason[:MAX_REASON_CHARS],
        )
        self.outcomes[(ch.name, outcome)] = self.outcomes.get((ch.name, outcome), 0) + 1
        if outcome == "delivered":
            log.info(
                "notified %s of incident %s (%s), attempt %d",
                ch.name,
                event.incident.id,
                event.change,
                job.attempts,
            )
        else:
            log.error(
                "notification of incident %s (%s) to %s failed after %d attempts: %s",
                event.incident.id,
                event.change,
                ch.name,
                job.attempts,
                reason,
            )
        try:
            self._record(delivery)
        except Exception:
            log.exception("recording a notification to %s failed", ch.name)

    def _forget_secrets(self) -> None:
        for ch in self._channels:
            _REDACTOR.remove(ch.url)


def _released(slot: asyncio.Semaphore, future: asyncio.Future[None]) -> None:
    slot.release()
    if not future.cancelled():
        future.exception()  # retrieved: an attempt given up on may still fail later
