"""/metrics speaks the Prometheus text format and reports what the hub did."""

from __future__ import annotations

import json
import math
import re

import aiohttp
import websockets

from groundcontrol.config import load_config
from groundcontrol.hub.metrics import Metric, render
from groundcontrol.hub.server import start_hub
from groundcontrol.protocol import Welcome, decode_feed_reply

SAMPLE = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? \S+$')


def test_render_escapes_and_formats() -> None:
    text = render(
        [
            Metric("a_total", "Counts things.\nTwo lines.", "counter").add(3),
            Metric("b", "Gauge.", "gauge")
            .add(0.25, {"feed": 'we"ird\\name\n'})
            .add(math.inf, {"feed": "x"}),
        ]
    )
    assert text.splitlines() == [
        "# HELP a_total Counts things.\\nTwo lines.",
        "# TYPE a_total counter",
        "a_total 3",
        "# HELP b Gauge.",
        "# TYPE b gauge",
        'b{feed="we\\"ird\\\\name\\n"} 0.25',
        'b{feed="x"} +Inf',
    ]


async def test_metrics_endpoint_reports_ingest() -> None:
    hub, runner, port = await start_hub(load_config(), port=0)
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ingest") as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "name": "t", "source": "x"}))
            assert isinstance(decode_feed_reply(await ws.recv()), Welcome)
            items = [
                {
                    "source": "x",
                    "source_id": str(i % 3),
                    "text": "Northwind rocks",
                    "created_at": "2026-11-20T10:00:00Z",
                }
                for i in range(5)
            ] + [{"source": "x"}]
            await ws.send(json.dumps({"type": "batch", "seq": 1, "mentions": items}))
            await ws.recv()
            await ws.send(b"{broken")
            await ws.recv()
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/metrics") as resp,
            ):
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = await resp.text()
    finally:
        await runner.cleanup()
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    assert values["groundcontrol_mentions_ingested_total"] == 3
    assert values["groundcontrol_mentions_deduplicated_total"] == 2
    assert values["groundcontrol_mentions_rejected_total"] == 1
    assert values['groundcontrol_ingest_errors_total{code="malformed"}'] == 1
    assert values['groundcontrol_feed_events_per_minute{feed="t",source="x"}'] == 3
    assert values["groundcontrol_process_resident_memory_bytes"] > 0
    assert hub.counters.ingested == 3
