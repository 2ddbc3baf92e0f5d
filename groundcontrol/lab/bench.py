"""``groundcontrol bench``: throughput and feed-to-tick latency of a real hub.

Two runs in one process, same payloads, same client:

1. a real hub (``groundcontrol hub`` in a subprocess, so it has a core of its own)
   fed demo mentions over a loopback websocket, with a /stream client reading
   ticks; latency is the time from a batch leaving the feed to the first tick
   whose ``ingested_total`` includes it (one clock: the bench's own);
2. the baseline: a bare ``websockets`` server that only decodes each batch and acks.

The ratio of the two is what to quote: machines here are shared and noisy, so only
numbers measured side by side in the same run mean anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import msgspec

from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.stream import Access, StreamClient, stream_url
from groundcontrol.model import Mention
from groundcontrol.protocol import Ack, Snapshot, Tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: user + system) of a process (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    # After the command name: state, ppid, ... utime and stime are the 12th and 13th.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and of every process under it (the hub's enrichment
    workers), by pid: /proc/<pid>/stat, which counts every thread of a process."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parents[int(entry)], cpu[int(entry)] = st
    out: dict[int, float] = {}
    for child, seconds in cpu.items():
        p = child
        while p and p != pid:
            p = parents.get(p, 0)
        if p == pid:
            out[child] = seconds
    return out


@dataclass
class CpuSample:
    """CPU counters of a server under test at one moment."""

    processes: dict[int, float]
    """pid -> CPU seconds, the server and its children (process_cpu)."""
    metrics: dict[str, float]
    """The hub's /metrics (stage and thread CPU counters); empty for the baseline."""


def _cpu_sampler(pid: int, metrics_url: str | None, token: str | None) -> Callable[[], CpuSample]:
    def sample() -> CpuSample:
        metrics = scrape_metrics(metrics_url, token) if metrics_url and token else {}
        return CpuSample(process_cpu(pid), metrics)

    return sample


def cpu_per_mention(result: RunResult, pid: int) -> dict[str, object]:
    """CPU µs per mention of a run: in all, the server process, its children (the
    workers), by stage and by thread (from the /metrics counters)."""
    if len(result.cpu) != 2 or not result.mentions:
        return {}
    before, after = result.cpu
    per = 1e6 / result.mentions

    def spent(pids: list[int]) -> float:
        return sum(after.processes.get(p, 0.0) - before.processes.get(p, 0.0) for p in pids)

    children = [p for p in after.processes if p != pid]
    out: dict[str, object] = {
        "total": round(spent([pid, *children]) * per, 1),
        "server": round(spent([pid]) * per, 1),
        "workers": round(spent(children) * per, 1),
    }
    for prefix, key in (
        ("groundcontrol_stage_cpu_seconds_total{stage=", "stages"),
        ("groundcontrol_thread_cpu_seconds_total{thread=", "threads"),
    ):
        table: dict[str, float] = {}
        for name, value in after.metrics.items():
            if name.startswith(prefix):
                label = name[len(prefix) + 1 : -2]
                table[label] = round((value - before.metrics.get(name, 0.0)) * per, 1)
        if table:
            out[key] = dict(sorted(table.items(), key=lambda kv: -kv[1]))
    return out


def make_pool(source: MentionSource, size: int, start: float) -> list[Mention]:
    """``size`` mentions to push, taken from ``source`` a minute at a time from
    ``start`` (the demo's, from the command line), before any clock starts."""
    pool: list[Mention] = []
    t = start
    while len(pool) < size:
        pool.extend(source.between(t, t + 60))
        t += 60
    return pool[:size]


class MentionSource(Protocol):
    """Something that makes mentions for a span of time (the demo stream)."""

    def between(self, t0: float, t1: float) -> list[Mention]: ...


#: Mentions generated before a run, then pushed round and round.
POOL_SIZE = 60_000


@dataclass
class RunResult:
    """One run's measurements."""

    mentions: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    cpu: list[CpuSample] = field(default_factory=list)
    """CPU counters when the measured part started and when it ended."""

    @property
    def rate(self) -> float:
        return self.mentions / self.seconds if self.seconds else 0.0


@dataclass
class _Counts:
    """What the acks of one run add up to."""

    accepted: int = 0
    measured: int = 0
    """Mentions acked after the warm-up."""
    measuring: bool = False
    hub_start: int = 0
    """The hub's ingested_total when the run connected (from the snapshot)."""


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


async def drive(
    url: str,
    pool: list[Mention],
    *,
    seconds: float,
    batch: int,
    window: int,
    ticks: bool,
    pid: int | None,
    progress: bool,
    warmup: float = 1.0,
    access: Access | None = None,
    rate: float | None = None,
    sample_cpu: Callable[[], CpuSample] | None = None,
) -> RunResult:
    """Push batches as fast as acks allow (or ``rate`` mentions a second) for
    ``seconds``; measure. ``sample_cpu`` is called when the measured part starts and
    when it ends (on a thread: it may read the hub's /metrics)."""
    result = RunResult()
    base_ids = [m.source_id for m in pool]
    base_texts = [m.text for m in pool]
    cumulative: list[tuple[int, float]] = []  # (hub's ingested total after batch, send time)
    counts = _Counts()

    def on_ack(ack: Ack, first_sent: float) -> None:
        counts.accepted += ack.accepted
        if counts.measuring:
            counts.measured += ack.accepted + ack.duplicates
            cumulative.append((counts.hub_start + counts.accepted, first_sent))

    client = IngestClient(
        url,
        name="bench",
        source="bench",
        window=window,
        max_pending=window,
        on_ack=on_ack,
        access=access,
    )
    tick_task: asyncio.Task[None] | None = None
    tick_log: list[tuple[float, int]] = []

    async def read_ticks() -> None:
        async for ev in StreamClient(stream_url(url), access=access).events():
            if isinstance(ev, Snapshot):
                counts.hub_start = ev.tick.ingested_total
            elif isinstance(ev, Tick):
                tick_log.append((time.perf_counter(), ev.ingested_total))

    if ticks:
        tick_task = asyncio.create_task(read_ticks())
        await asyncio.sleep(0.3)
    client.start()
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + seconds
    next_report = start + 5
    next_rss = start
    rnd = 0
    i = 0
    sent = 0.0
    measured_start = 0.0
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if not counts.measuring and now >= measure_from:
            if sample_cpu is not None:
                result.cpu.append(await asyncio.to_thread(sample_cpu))
            counts.measuring = True
            measured_start = now = time.perf_counter()
        if pid is not None and now >= next_rss:
            result.rss_samples.append((now - start, rss_mb(pid)))
            next_rss = now + 1.0
        if progress and now >= next_report:
            print(
                f"  ... {now - start:5.0f}s  {counts.accepted:>9} mentions acked",
                file=sys.stderr,
                flush=True,
            )
            next_report = now + 5
        chunk = pool[i : i + batch]
        if len(chunk) < batch:
            rnd += 1
            i = 0
            # Each lap's texts end in whitespace of their own (the lap in binary, tabs
            # and spaces): what enrichment makes of them is the same, but a cache of
            # exact texts sees only the repeats the demo itself has, as in one long run.
            tail = " " + format(rnd, "b").replace("0", " ").replace("1", "\t")
            for m, b, text in zip(pool, base_ids, base_texts, strict=True):
                # Fresh ids each lap, so nothing dedupes. The lap goes first: real ids grow
                # with time (snowflakes, TIDs, base36), so new ones land together in the
                # id index; a suffix would scatter every lap across all earlier ones.
                m.source_id = f"{rnd:06d}~{b}"
                m.text = text + tail
            chunk = pool[:batch]
        i += batch
        if rate:
            sent += len(chunk)
            delay = start + sent / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await client.submit(chunk)
    measured_end = time.perf_counter()
    result.seconds = measured_end - measured_start
    result.mentions = counts.measured
    if sample_cpu is not None:
        result.cpu.append(await asyncio.to_thread(sample_cpu))
    await client.drain(timeout=10)
    if ticks:
        await asyncio.sleep(1.5)  # let the last measured batches reach a tick
    await client.close()
    if tick_task is not None:
        tick_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick_task
    # Latency: first tick (by arrival) whose total covers the batch.
    j = 0
    for total, sent in cumulative:
        while j < len(tick_log) and tick_log[j][1] < total:
            j += 1
        if j == len(tick_log):
            break
        result.latencies_ms.append((tick_log[j][0] - sent) * 1000)
    return result


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server not ready at {url} after {timeout}s")


def _start(
    args: list[str], health: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    try:
        _wait_healthy(health, proc)
    except RuntimeError:
        proc.kill()
        _out, err = proc.communicate()
        raise RuntimeError(err.decode(errors="replace")[-2000:]) from None
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _measure(
    server: list[str],
    pool: list[Mention],
    *,
    seconds: float,
    batch: int,
    window: int,
    ticks: bool,
    port_flag: str = "--port",
    token: str | None = None,
    rate: float | None = None,
) -> tuple[RunResult, dict[str, object]]:
    """Start a server process on a free port, drive it, stop it; the run and its CPU
    per mention (:func:`cpu_per_mention`).

    With ``token`` the server gets it as its admin token (GROUNDCONTROL_TOKEN_ADMIN),
    the run sends it, and the server's /metrics are read before it stops.
    """
    port = free_port()
    env = {"GROUNDCONTROL_TOKEN_ADMIN": token} if token else None
    proc = _start([*server, port_flag, str(port)], f"http://127.0.0.1:{port}/healthz", env)
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        result = asyncio.run(
            drive(
                f"ws://127.0.0.1:{port}",
                pool,
                seconds=seconds,
                batch=batch,
                window=window,
                ticks=ticks,
                pid=proc.pid,
                progress=True,
                access=Access(token=token),
                rate=rate,
                sample_cpu=_cpu_sampler(proc.pid, metrics_url if token else None, token),
            )
        )
        if token:
            result.metrics = scrape_metrics(metrics_url, token)
        return result, cpu_per_mention(result, proc.pid)
    finally:
        _stop(proc)


def scrape_metrics(url: str, token: str) -> dict[str, float]:
    """A hub's /metrics as {sample name with labels: value}."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


@dataclass(frozen=True)
class Rate:
    """A fixed feeding rate: mentions a second, or a fraction of the rate the same
    invocation measured at full speed."""

    per_second: float = 0.0
    fraction: float = 0.0

    def resolve(self, full_speed: float) -> float:
        return self.per_second or self.fraction * full_speed


def run_bench(
    source: Callable[[int], MentionSource],
    *,
    seconds: float,
    as_json: bool,
    batch: int,
    window: int,
    baseline: bool = True,
    config: str | None = None,
    store: bool = True,
    rate: Rate | None = None,
) -> int:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    say(f"bench: generating {POOL_SIZE} demo mentions ...")
    start = time.time() - 3600
    pool = make_pool(source(POOL_SIZE), POOL_SIZE, start)
    token = secrets.token_urlsafe(32)
    hub_args = ["-m", "groundcontrol", "hub", "--log-level", "WARNING"]
    hub_args += ["--config", config] if config else []

    def hub_run(db: Path, paced: float | None) -> tuple[RunResult, dict[str, object]]:
        args = [*hub_args, *(["--db", str(db)] if store else ["--no-store"])]
        return _measure(
            args,
            pool,
            seconds=seconds,
            batch=batch,
            window=window,
            ticks=True,
            token=token,
            rate=paced,
        )

    fixed = rate.per_second if rate is not None and rate.per_second else None
    how = f"at {fixed:,.0f} mentions/s" if fixed else "at full speed"
    say(
        f"bench: hub run {how}, {seconds:.0f}s (+1s warm-up), batches of {batch},"
        f" {window} in flight"
    )
    with tempfile.TemporaryDirectory(prefix="groundcontrol-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        say(f"bench: store {db if store else 'off (--no-store)'}")
        hub, hub_cpu = hub_run(db, fixed)
        stored = _count_rows(db) if store else None
    base, base_cpu = RunResult(), dict[str, object]()
    if baseline and not fixed:
        say("bench: baseline run (bare websockets server that only decodes)")
        base, base_cpu = _measure(
            ["-m", "groundcontrol.lab.bench"],
            pool,
            seconds=seconds,
            batch=batch,
            window=window,
            ticks=False,
            port_flag="--baseline-port",
        )
    paced: RunResult | None = None
    paced_rate = 0.0
    paced_cpu: dict[str, object] = {}
    if rate is not None and rate.fraction:
        paced_rate = rate.resolve(hub.rate)
        say(f"bench: hub run at {paced_rate:,.0f} mentions/s ({rate.fraction:.0%} of full speed)")
        with tempfile.TemporaryDirectory(prefix="groundcontrol-bench-") as tmp:
            paced, paced_cpu = hub_run(Path(tmp) / "bench.db", paced_rate)
    rss = hub.rss_samples
    after_minute = next((mb for t, mb in rss if t >= 60), None)
    report: dict[str, object] = {
        "events_per_s": round(hub.rate, 1),
        "rate": fixed,
        "baseline_events_per_s": round(base.rate, 1) if base.rate else None,
        "ratio": round(hub.rate / base.rate, 3) if base.rate else None,
        "latency_p50_ms": round(_percentile(hub.latencies_ms, 50), 1),
        "latency_p99_ms": round(_percentile(hub.latencies_ms, 99), 1),
        "seconds": round(hub.seconds, 2),
        "mentions": hub.mentions,
        "batch": batch,
        "window": window,
        "cpu_us_per_mention": hub_cpu,
        "baseline_cpu_us_per_mention": base_cpu.get("total"),
        "hub_rss_mb_start": round(rss[0][1], 1) if rss else None,
        "hub_rss_mb_after_1min": round(after_minute, 1) if after_minute else None,
        "hub_rss_mb_end": round(rss[-1][1], 1) if rss else None,
        "hub_rss_growth_after_1min_pct": (
            round((rss[-1][1] - after_minute) / after_minute * 100, 2) if after_minute else None
        ),
        "cpus": os.cpu_count(),
        "store": store,
        "stored_mentions": stored,
        "store_commit_p50_ms": _ms(
            hub.metrics, 'groundcontrol_store_commit_seconds{quantile="0.5"}'
        ),
        "store_commit_p99_ms": _ms(
            hub.metrics, 'groundcontrol_store_commit_seconds{quantile="0.99"}'
        ),
        "store_commits": hub.metrics.get("groundcontrol_store_commit_seconds_count"),
        "store_bytes": hub.metrics.get("groundcontrol_store_bytes"),
    }
    if paced is not None:
        report["paced"] = {
            "rate": round(paced_rate, 1),
            "fraction": rate.fraction if rate is not None else None,
            "events_per_s": round(paced.rate, 1),
            "latency_p50_ms": round(_percentile(paced.latencies_ms, 50), 1),
            "latency_p99_ms": round(_percentile(paced.latencies_ms, 99), 1),
            "cpu_us_per_mention": paced_cpu.get("total"),
        }
    if as_json:
        print(json.dumps(report))
        return 0
    what = f" at {fixed:,.0f}/s" if fixed else ""
    print(
        f"hub:       {hub.rate:>10,.0f} mentions/s {what} ({hub.mentions:,} in {hub.seconds:.1f}s)"
    )
    if base.rate:
        print(f"baseline:  {base.rate:>10,.0f} mentions/s  (decode only)")
        print(f"ratio:     {report['ratio']}")
    print(
        f"latency:   p50 {report['latency_p50_ms']} ms, p99 {report['latency_p99_ms']} ms "
        f"(feed send to first tick counting it; {len(hub.latencies_ms)} batches)"
    )
    if rss:
        print(
            f"hub RSS:   {report['hub_rss_mb_start']} MiB at start, "
            f"{report['hub_rss_mb_end']} MiB at end"
        )
    if store:
        print(
            f"store:     commit p50 {report['store_commit_p50_ms']} ms, "
            f"p99 {report['store_commit_p99_ms']} ms "
            f"({report['store_commits'] or 0:.0f} group commits); {stored:,} mentions stored"
        )
    if paced is not None:
        print(
            f"paced:     {paced.rate:>10,.0f} mentions/s (asked {paced_rate:,.0f}): "
            f"latency p50 {_percentile(paced.latencies_ms, 50):.1f} ms, "
            f"p99 {_percentile(paced.latencies_ms, 99):.1f} ms"
        )
    print(cpu_table(hub_cpu, base_cpu.get("total")))
    return 0


def cpu_table(cpu: dict[str, object], baseline: object = None) -> str:
    """The CPU per mention of a run as a table: totals, then by stage and by thread."""
    if not cpu:
        return "cpu:       not measured (no /proc?)"
    lines = ["", "CPU µs per mention", f"  {'hub and workers':<34} {cpu['total']:>7}"]
    lines.append(f"  {'  hub process':<34} {cpu['server']:>7}")
    lines.append(f"  {'  worker processes':<34} {cpu['workers']:>7}")
    if baseline is not None:
        lines.append(f"  {'bare websocket baseline':<34} {baseline:>7}")
    for key, title in (("stages", "by stage"), ("threads", "hub threads")):
        table = cpu.get(key)
        if isinstance(table, dict):
            lines.append(f"  {title}:")
            lines += [f"    {name:<32} {us:>7}" for name, us in table.items()]
    return "\n".join(lines)


def _ms(metrics: dict[str, float], name: str) -> float | None:
    value = metrics.get(name)
    return None if value is None else round(value * 1000, 2)


def _count_rows(db: Path) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as con:
        n: int = con.execute("SELECT count(*) FROM mentions").fetchone()[0]
    return n


# ---------------------------------------------------------------------- baseline server


async def _baseline_server(port: int) -> None:
    """A bare websockets server that decodes batches and acks: the floor to compare with."""
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.http11 import Request, Response

    decoder = msgspec.json.Decoder()
    encoder = msgspec.json.Encoder()

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = decoder.decode(raw)
            kind = msg.get("type")
            if kind == "hello":
                await ws.send(encoder.encode({"type": "welcome", "protocol": 1, "hub": "baseline"}))
            elif kind == "batch":
                n = len(msg["mentions"])
                await ws.send(
                    encoder.encode(
                        {
                            "type": "ack",
                            "seq": msg["seq"],
                            "accepted": n,
                            "duplicates": 0,
                            "rejected": 0,
                        }
                    )
                )

    def health(_conn: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return _conn.respond(200, "ok\n")
        return None

    async with serve(handler, "127.0.0.1", port, max_size=64 * 1024 * 1024, process_request=health):
        await asyncio.Future()


if __name__ == "__main__":  # pragma: no cover - run by run_bench in a subprocess
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-port":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_baseline_server(int(sys.argv[2])))
    else:
        print("usage: python -m groundcontrol.lab.bench --baseline-port PORT", file=sys.stderr)
        sys.exit(2)
