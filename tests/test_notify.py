"""Incident notifications through apprise (groundcontrol/notify.py): who hears about
what, the message, retries with backoff, the record of every delivery, secrets, and
the hub's wiring down to the store's notifications table.

Deliveries go through the real apprise path to a loopback JSON webhook
(tests/fakes/webhook_sink.py), except where a test only needs the timing of attempts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from groundcontrol.config import ConfigError, NotifyConfig, parse_config
from groundcontrol.hub.notify import Delivery, DeliveryFailed, Message, Notifier, render_message
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.protocol import Incident, IncidentChange, IncidentEvent, Signal
from groundcontrol.store.database import Store
from tests.deadline import SAFETY
from tests.fakes.webhook_sink import WebhookSink
from tests.test_hub import small_config

T0 = 1_796_000_000.0  # 2026-11-30T...Z: any fixed time will do
TIMEOUT = SAFETY


def incident(**changes: Any) -> Incident:
    """A critical negative incident on Northwind, with its numbers."""
    base = Incident(
        id="inc-aerogate",
        title="Northwind negative surge: #aerogate, battery",
        brand="Northwind",
        kind="negative",
        severity="critical",
        status="open",
        started_at=T0,
        updated_at=T0 + 120,
        ratio=6.2,
        mentions=1240,
        negative_share=0.58,
        baseline_negative_share=0.12,
        signals=[
            Signal(
                series="brand:Northwind",
                label="Northwind",
                kind="volume",
                started_at=T0,
                value=250.0,
                baseline=40.0,
                peak=310.0,
            ),
            Signal(
                series="negative:brand:Northwind",
                label="Northwind negative",
                kind="negative",
                started_at=T0,
                value=150.0,
                baseline=5.0,
                peak=180.0,
                share=0.58,
                baseline_share=0.12,
            ),
            Signal(
                series="topic:#aerogate",
                label="#aerogate",
                kind="topic",
                started_at=T0 + 30,
                value=90.0,
                baseline=0.5,
                peak=95.5,
            ),
        ],
        top_terms=["#aerogate", "battery", "swelling"],
        top_sources=["x", "reddit"],
        examples=[
            "My Aero 14 battery swelled up overnight, the trackpad is lifting. " * 6,
            "Second Aero 14 with a swollen battery in our office #aerogate",
            "A third example that should not be quoted",
        ],
    )
    return msgspec.structs.replace(base, **changes)


def event(change: IncidentChange, **changes: Any) -> IncidentEvent:
    return IncidentEvent(change=change, incident=incident(**changes))


def channel(name: str, **settings: Any) -> NotifyConfig:
    settings.setdefault("backoff_seconds", 0.01)
    return NotifyConfig(name=name, url_env=f"GC_NOTIFY_{name.upper()}", **settings)


def notifier(
    channels: Sequence[NotifyConfig],
    records: list[Delivery],
    sink: WebhookSink | None = None,
    **kwargs: Any,
) -> Notifier:
    """A notifier whose channels post to ``sink`` at /<channel name>."""
    environ = {c.url_env: sink.url(c.name) if sink else "fake://x" for c in channels}
    kwargs.setdefault("grace", 5.0)
    return Notifier(channels, record=records.append, environ=environ, **kwargs)


async def until(what: Callable[[], bool], within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def titles(sink: WebhookSink, path: str) -> list[str]:
    return [r.body["title"] for r in sink.on(path)]


# ---------------------------------------------------------------------- delivery


async def test_a_critical_negative_incident_reaches_a_json_webhook() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        n = notifier([channel("ops")], records, sink, clock=lambda: T0 + 200)
        await n.start()
        n.submit(event("opened"))
        await until(lambda: bool(records))
        await n.close()
    [got] = sink.on("ops")
    assert got.headers["Content-Type"] == "application/json"
    assert got.body["title"] == "[CRITICAL] Northwind negative surge: #aerogate, battery"
    assert got.body["type"] == "failure"
    text = got.body["message"]
    for expected in (
        "Negative surge, severity critical.",
        "Status: open",
        "6.2x the usual rate",
        "1,240 mentions",
        "Negative share: 58% (usual 12%)",
        "- Northwind: peak 310/min vs usual 40.0/min",
        "- Northwind negative: peak 180/min vs usual 5.0/min, 58% negative (usual 12%)",
        "- #aerogate: peak 95.5/min vs usual 0.5/min",
        "Top terms: #aerogate, battery, swelling",
        "Top sources: x, reddit",
        "Second Aero 14 with a swollen battery",
        "Started: 2026-",
        "inc-aerogate",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "A third example" not in text  # two examples at most
    first_example = next(line for line in text.splitlines() if "trackpad" in line)
    assert len(first_example) <= 200 + len('- ""')  # cut to ~200 characters
    assert records == [Delivery("inc-aerogate", "ops", "opened", T0 + 200, 1, "delivered", "")]
    assert n.outcomes[("ops", "delivered")] == 1


async def test_a_channel_hears_only_from_its_least_severity_and_its_kinds() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        channels = [
            channel("everything", min_severity="info"),
            channel("ops"),  # warning and above
            channel("praise", min_severity="info", kinds=("positive",)),
        ]
        n = notifier(channels, records, sink)
        await n.start()
        n.submit(event("opened", id="small", severity="info"))
        n.submit(event("opened", id="big", severity="warning"))
        await n.close()
    assert sorted(titles(sink, "everything")) == [  # two incidents: in any order
        "[INFO] Northwind negative surge: #aerogate, battery",
        "[WARNING] Northwind negative surge: #aerogate, battery",
    ]
    assert [r.body["type"] for r in sink.on("ops")] == ["warning"]
    assert [r.body["message"].splitlines()[-1] for r in sink.on("ops")] == ["Incident: big"]
    assert sink.on("praise") == []
    assert sorted((d.channel, d.incident_id) for d in records) == [
        ("everything", "big"),
        ("everything", "small"),
        ("ops", "big"),
    ]


async def test_a_snoozed_incident_is_not_sent_and_updates_never_are() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        n = notifier([channel("ops", min_severity="info")], records, sink)
        await n.start()
        n.submit(event("opened", status="snoozed", snoozed_until=T0 + 3600))
        n.submit(event("escalated", status="snoozed", snoozed_until=T0 + 3600))
        n.submit(event("updated"))
        n.submit(event("snoozed", status="snoozed", snoozed_until=T0 + 3600))
        await n.close()
    assert sink.received == []
    assert records == []


async def test_an_escalation_is_sent_once_to_each_channel() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        n = notifier([channel("ops"), channel("pager", min_severity="critical")], records, sink)
        await n.start()
        n.submit(event("opened", severity="warning"))
        n.submit(event("escalated", severity="critical"))
        n.submit(event("escalated", severity="critical"))  # nothing new to say
        await n.close()
    assert titles(sink, "ops") == [
        "[WARNING] Northwind negative surge: #aerogate, battery",
        "[CRITICAL] Northwind negative surge: #aerogate, battery (escalated)",
    ]
    # The pager never heard of the warning: the escalation is its first word of it.
    assert titles(sink, "pager") == [
        "[CRITICAL] Northwind negative surge: #aerogate, battery (escalated)"
    ]
    assert "Escalated to critical." in sink.on("pager")[0].body["message"]
    assert len(records) == 3


async def test_acknowledged_and_resolved_go_only_to_channels_told_before() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        channels = [channel("ops"), channel("praise", min_severity="info", kinds=("positive",))]
        n = notifier(channels, records, sink)
        await n.start()
        n.submit(event("opened"))
        n.submit(event("acknowledged", status="acknowledged", acked_by="ana", acked_at=T0 + 300))
        n.submit(event("resolved", status="resolved", ended_at=T0 + 900, resolved_at=T0 + 1020))
        # An incident nobody was told about: its acknowledgement goes nowhere.
        n.submit(event("opened", id="quiet", severity="info"))
        n.submit(event("acknowledged", id="quiet", status="acknowledged", acked_by="ana"))
        await n.close()
    assert titles(sink, "ops") == [  # in order, per incident and channel
        "[CRITICAL] Northwind negative surge: #aerogate, battery",
        "[ACKNOWLEDGED] Northwind negative surge: #aerogate, battery",
        "[RESOLVED] Northwind negative surge: #aerogate, battery",
    ]
    ack, resolved = sink.on("ops")[1:]
    assert "Status: acknowledged by ana at 2026-" in ack.body["message"]
    assert "Status: over, it ended by itself at 2026-" in resolved.body["message"]
    assert resolved.body["type"] == "success"
    assert sink.on("praise") == []
    assert [d.change for d in records] == ["opened", "acknowledged", "resolved"]


def test_a_positive_surge_does_not_read_like_a_crisis() -> None:
    message = render_message(
        event(
            "opened",
            kind="positive",
            severity="warning",
            title="Northwind positive surge: #northwindpulse",
            negative_share=0.05,
            positive_share=0.7,
        )
    )
    assert message.title == "[POSITIVE] Northwind positive surge: #northwindpulse"
    assert message.level == "success"
    assert message.body.startswith("Good news: a positive surge")
    assert "Positive share: 70%" in message.body
    for alarm in ("CRITICAL", "WARNING", "warning", "critical", "severity"):
        assert alarm not in message.body and alarm not in message.title
    resolved_by_someone = render_message(
        event("resolved", status="resolved", resolved_by="ana", resolved_at=T0 + 60)
    )
    assert "Status: resolved by ana at 2026-" in resolved_by_someone.body


# ---------------------------------------------------------------------- retries


async def test_two_failures_then_success_is_recorded_as_delivered_after_3_attempts() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        sink.fail_next(2)
        n = notifier([channel("ops", retries=5)], records, sink)
        await n.start()
        n.submit(event("opened"))
        await until(lambda: bool(records))
        await n.close()
    assert [r.status for r in sink.on("ops")] == [500, 500, 200]
    [d] = records
    assert (d.outcome, d.attempts, d.reason) == ("delivered", 3, "")


async def test_a_permanent_failure_is_recorded_with_apprise_s_reason_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    records: list[Delivery] = []
    async with WebhookSink() as sink:
        sink.fail_next(100)
        ops = channel("ops", retries=2)
        secret_url = f"json://bot:s3cr3t-token@127.0.0.1:{sink.port}/ops"
        n = Notifier([ops], record=records.append, environ={ops.url_env: secret_url})
        await n.start()
        n.submit(event("opened"))
        await until(lambda: bool(records))
        await n.close()
    assert len(sink.on("ops")) == 3
    [d] = records
    assert (d.outcome, d.attempts) == ("failed", 3)
    assert "500" in d.reason, d.reason
    assert "s3cr3t-token" not in d.reason
    assert "s3cr3t-token" not in caplog.text
    assert "ops" in caplog.text  # the log names the channel instead
    assert n.outcomes[("ops", "failed")] == 1


async def test_retries_back_off_exponentially() -> None:
    calls: list[float] = []

    def send(url: str, message: Message, timeout: float) -> None:
        calls.append(time.monotonic())
        if len(calls) < 4:
            raise DeliveryFailed("busy")

    records: list[Delivery] = []
    n = notifier([channel("ops", retries=3, backoff_seconds=0.05)], records, send=send)
    await n.start()
    n.submit(event("opened"))
    await until(lambda: bool(records))
    await n.close()
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    # Each wait is the base doubled per failure, times a jitter of 0.5 to 1.
    for i, gap in enumerate(gaps):
        assert gap >= 0.05 * 2**i * 0.5, gaps
    assert records[0].attempts == 4 and records[0].outcome == "delivered"


async def test_a_dead_channel_does_not_delay_a_healthy_one() -> None:
    records: list[Delivery] = []
    async with WebhookSink() as healthy, WebhookSink() as dead:
        dead.hang()
        channels = [channel("dead"), channel("ops")]
        environ = {channels[0].url_env: dead.url("dead"), channels[1].url_env: healthy.url("ops")}
        # An attempt on the dead channel outlasts the test: a healthy channel that
        # waited behind it would never be told before close.
        n = Notifier(channels, record=records.append, environ=environ, timeout=3600, grace=0.1)
        await n.start()
        n.submit(event("opened"))
        await until(lambda: any(d.channel == "ops" for d in records))
        await dead.wait_for(1)  # the dead one was tried, and hangs
        assert [d.channel for d in records] == ["ops"]  # while the dead one still hangs
        await n.close()  # gives up on it
    by_channel = {d.channel: d for d in records}
    assert by_channel["ops"].outcome == "delivered"
    assert by_channel["dead"].outcome == "failed"
    assert by_channel["dead"].reason == "hub shutting down"


async def test_close_records_what_was_never_sent() -> None:
    records: list[Delivery] = []
    n = notifier([channel("ops")], records, send=lambda *_: None)
    n.submit(event("opened"))  # queued, the worker never started
    await n.close()
    n.submit(event("opened", id="late"))  # after close: never raises, recorded
    # Queued ones still go out within the grace; the late one is refused.
    assert [(d.incident_id, d.outcome, d.reason) for d in records] == [
        ("inc-aerogate", "delivered", ""),
        ("late", "failed", "hub shutting down"),
    ]


# ---------------------------------------------------------------------- config


NOTIFY = '[[notify]]\nname = "ops"\nurl_env = "OPS_URL"\n'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (NOTIFY + 'min_severity = "urgent"', "notify[0].min_severity", "urgent"),
        (NOTIFY + 'kinds = ["negative", "angry"]', "notify[0].kinds", "angry"),
        (NOTIFY + "kinds = []", "notify[0].kinds", "at least one"),
        (NOTIFY + NOTIFY, "notify[1].name", "duplicate channel 'ops'"),
        (NOTIFY + "retries = 0", "notify[0].retries", "1 or more"),
        (NOTIFY + "backoff_seconds = 0", "notify[0].backoff_seconds", "above 0"),
        (NOTIFY + "backoff_seconds = -1.5", "notify[0].backoff_seconds", "above 0"),
        (
            '[[notify]]\nname = "ops"\nurl_env = "slack://T0/B0/xoxb"\n',
            "notify[0].url_env",
            "never goes in this file",
        ),
        ('[[notify]]\nname = "ops"\n', "notify[0].url_env", "missing"),
        (NOTIFY + 'url = "json://x"', "notify[0].url", "unknown key"),
    ],
)
def test_bad_notify_settings_name_the_key(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gc.toml")
    assert info.value.key == key
    assert words in str(info.value)
    assert str(info.value).startswith(f"gc.toml: {key}: ")


def test_notify_channels_parse_with_defaults() -> None:
    cfg = parse_config(
        NOTIFY + '\n[[notify]]\nname = "pager"\nurl_env = "PAGER_URL"\n'
        'min_severity = "critical"\nkinds = ["negative"]\nretries = 2\n'
    )
    ops, pager = cfg.notify
    assert ops == NotifyConfig(name="ops", url_env="OPS_URL")
    assert (ops.min_severity, ops.kinds, ops.retries, ops.backoff_seconds) == (
        "warning",
        ("negative", "positive", "neutral"),
        5,
        2.0,
    )
    assert (pager.min_severity, pager.kinds, pager.retries) == ("critical", ("negative",), 2)


def test_a_missing_url_variable_names_the_channel_and_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        Notifier([channel("ops")], record=lambda _d: None, environ={}, source="gc.toml")
    assert info.value.key == "notify[0].url_env"
    assert "'ops'" in str(info.value) and "GC_NOTIFY_OPS" in str(info.value)


def test_a_url_apprise_cannot_use_stops_the_start_without_showing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as info:
        Notifier(
            [channel("ops")],
            record=lambda _d: None,
            environ={"GC_NOTIFY_OPS": "nosuchservice://s3cr3t@example"},
        )
    assert "GC_NOTIFY_OPS" in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in caplog.text  # apprise logs the URL it cannot parse, masked


async def test_apprise_log_lines_never_show_a_channel_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = "json://bot:s3cr3t-token@127.0.0.1:9/ops"
    n = Notifier([channel("ops")], record=lambda _d: None, environ={"GC_NOTIFY_OPS": url})
    logging.getLogger("apprise").warning("cannot reach %s", url)
    await n.close()
    assert "cannot reach <the URL in $GC_NOTIFY_OPS>" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_the_hub_refuses_to_start_without_a_channel_s_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GC_NOTIFY_OPS", raising=False)
    config = dataclasses.replace(small_config(), notify=(channel("ops"),))
    with pytest.raises(ConfigError, match=r"notify\[0\]\.url_env: channel 'ops'.*GC_NOTIFY_OPS"):
        Hub(config)


def test_a_demo_hub_tells_no_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GC_NOTIFY_OPS", raising=False)
    config = dataclasses.replace(small_config(), notify=(channel("ops"),))
    assert Hub(config, demo=True).notifier is None  # synthetic incidents stay in-house


# ---------------------------------------------------------------------- the hub


async def test_the_hub_notifies_and_keeps_the_record_in_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "gc.db"
    async with WebhookSink() as sink:
        monkeypatch.setenv("GC_NOTIFY_OPS", sink.url("ops"))
        config = dataclasses.replace(small_config(), notify=(channel("ops"),))
        hub, runner, port = await start_hub(config, port=0, store_path=db)
        try:
            assert hub.notifier is not None
            hub._incident_changed(event("opened"))
            await sink.wait_for(1, path="ops")
            url = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                body: dict[str, Any] = {}

                async def recorded() -> bool:
                    nonlocal body
                    async with http.get(f"{url}/incidents/inc-aerogate") as resp:
                        assert resp.status == 200
                        body = await resp.json()
                    return bool(body["notifications"])

                deadline = time.monotonic() + TIMEOUT
                while not await recorded():
                    assert time.monotonic() < deadline, "no notification record in the store"
                    await asyncio.sleep(0.05)
                async with http.get(f"{url}/metrics") as resp:
                    metrics = await resp.text()
        finally:
            await runner.cleanup()
    [row] = body["notifications"]
    assert {k: row[k] for k in ("channel", "change", "attempts", "outcome", "reason")} == {
        "channel": "ops",
        "change": "opened",
        "attempts": 1,
        "outcome": "delivered",
        "reason": "",
    }
    assert 'groundcontrol_notifications_total{channel="ops",outcome="delivered"} 1' in metrics
    assert 'groundcontrol_notifications_total{channel="ops",outcome="failed"} 0' in metrics
    store = Store(db, create=False)
    try:
        [stored] = store.notifications("inc-aerogate")
    finally:
        store.close()
    assert (stored["channel"], stored["outcome"]) == ("ops", "delivered")


async def test_after_a_restart_the_people_told_still_hear_how_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "gc.db"
    async with WebhookSink() as sink:
        monkeypatch.setenv("GC_NOTIFY_OPS", sink.url("ops"))
        config = dataclasses.replace(small_config(), notify=(channel("ops"),))
        hub, runner, _port = await start_hub(config, port=0, store_path=db)
        try:
            hub._incident_changed(event("opened"))
            await sink.wait_for(1, path="ops")
            deadline = time.monotonic() + TIMEOUT
            while not hub.writer or not await hub.writer.read(
                lambda s: s.notifications("inc-aerogate")
            ):
                assert time.monotonic() < deadline, "no notification record in the store"
                await asyncio.sleep(0.05)
        finally:
            await runner.cleanup()
        hub2, runner2, _port2 = await start_hub(config, port=0, store_path=db)
        try:
            assert hub2.analytics.incidents.get("inc-aerogate") is not None
            done = hub2.analytics.incidents.resolve("inc-aerogate", by="ana", at=time.time())
            hub2._incident_changed(done)
            await sink.wait_for(2, path="ops")
        finally:
            await runner2.cleanup()
