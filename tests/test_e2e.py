"""End to end with the real commands: hub, demo feed and tail as separate processes."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundcontrol.lab.bench import free_port
from tests.deadline import SAFETY, until_sync

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


FEED_TOKEN = "feed-e2e-0123456789abcdef"
DISPLAY_TOKEN = "display-e2e-0123456789abcdef"
HUB_ENV = {"GROUNDCONTROL_TOKEN_FEED": FEED_TOKEN, "GROUNDCONTROL_TOKEN_DISPLAY": DISPLAY_TOKEN}


def spawn(
    *args: str, env: dict[str, str] | None = None, stderr: Path | None = None
) -> subprocess.Popen[bytes]:
    """The command as a child; its stderr to a pipe, or to ``stderr`` to watch it run."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(stderr, "wb") if stderr else contextlib.nullcontext(subprocess.PIPE) as err:
        return subprocess.Popen(
            [sys.executable, "-m", "groundcontrol", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )


def keeps_retrying(proc: subprocess.Popen[bytes], stderr: Path, says: bytes) -> None:
    """Wait until ``proc`` has said ``says`` twice (it tried, then tried again)."""
    until_sync(
        lambda: stderr.read_bytes().count(says) >= 2 or proc.poll() is not None,
        f"a second {says!r}",
    )
    assert proc.poll() is None, f"gave up: {stderr.read_bytes()[-500:]!r}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_lines(proc: subprocess.Popen[bytes], seconds: float, want: int) -> Iterator[bytes]:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    got = 0
    buf = b""
    while time.monotonic() < deadline and got < want:
        if not sel.select(timeout=0.2):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            got += 1
            yield line


def test_hub_demo_feed_and_tail(tmp_path: Path) -> None:
    port = free_port()
    hub_url = f"ws://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Start tail first: it must wait for the hub with a clear message, not crash.
        tail_err = tmp_path / "tail.stderr"
        tail = spawn(
            "tail", "--hub", hub_url, env={"GROUNDCONTROL_TOKEN": DISPLAY_TOKEN}, stderr=tail_err
        )
        procs.append(tail)
        keeps_retrying(tail, tail_err, b"unreachable")  # not up yet: tail waits for it
        hub = spawn("hub", "--port", str(port), "--db", str(tmp_path / "gc.db"), env=HUB_ENV)
        procs.append(hub)
        feed = spawn(
            "feed",
            "demo",
            "--hub",
            hub_url,
            "--rate",
            "200",
            "--seed",
            "3",
            env={"GROUNDCONTROL_TOKEN": FEED_TOKEN},
        )
        procs.append(feed)
        lines = list(read_lines(tail, seconds=SAFETY, want=300))
        # A tail without a token is refused with the reason, and keeps retrying.
        anonymous_err = tmp_path / "anonymous.stderr"
        anonymous = spawn(
            "tail", "--hub", hub_url, env={"GROUNDCONTROL_TOKEN": ""}, stderr=anonymous_err
        )
        procs.append(anonymous)
        keeps_retrying(anonymous, anonymous_err, b"HTTP 401: no token")
        assert len(lines) >= 300, f"only {len(lines)} mentions arrived"
        mentions = [json.loads(line) for line in lines]
        ids = [m["id"] for m in mentions]
        assert len(set(ids)) == len(ids), "tail printed a mention twice"
        for m in mentions:
            assert m["id"] == f"{m['source']}:{m['source_id']}"
            assert -1.0 <= m.get("sentiment", 0.0) <= 1.0
            assert m["sentiment_label"] in ("positive", "neutral", "negative")
            assert m["received_at"] > 0
        assert {m["source"] for m in mentions} >= {"bluesky", "x", "reddit"}
        assert {m.get("lang") for m in mentions} >= {"en", "de", "da"}
        assert sum(1 for m in mentions if "Northwind" in m.get("brands", [])) > 50
        assert any(m.get("terms") for m in mentions)
        assert {m["sentiment_label"] for m in mentions} == {"positive", "neutral", "negative"}
    finally:
        for p in reversed(procs):
            stop(p)
    tail.communicate()
    err = tail_err.read_bytes()
    assert b"unreachable" in err and b"Traceback" not in err
    anonymous.communicate()
    err = anonymous_err.read_bytes()
    assert b"HTTP 401: no token" in err, err[-500:]


def test_tail_with_a_query_and_a_bad_query() -> None:
    bad = spawn("tail", "--hub", "ws://127.0.0.1:9", "(northwind")
    _out, err = bad.communicate(timeout=SAFETY)
    assert bad.returncode == 2
    assert b"bad query" in err and b"Traceback" not in err
