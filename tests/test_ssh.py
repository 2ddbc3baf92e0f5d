"""``groundcontrol ssh``: the authorized-keys file, the host key, and sessions end to end.

The sessions run against the real server on a free port with asyncssh as the client.
Most use a small stand-in child (it prints its terminal size, its actor and token, and
echoes lines) so each mechanism is checked directly; one runs the real wall against an
in-process hub and waits for its screen.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from groundcontrol.cli.main import main as cli_main
from groundcontrol.cli.ssh_server import (  # asyncssh from there: imported quietly
    NEEDS_A_TERMINAL,
    AuthorizedKey,
    OnCall,
    SshSetupError,
    asyncssh,
    ensure_host_key,
    load_authorized_keys,
    parse_authorized_keys,
    start_server,
)
from groundcontrol.hub.auth import Role
from groundcontrol.hub.server import start_hub
from tests.deadline import until
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, tokens

#: A stand-in for the wall: says its size (again on SIGWINCH), who it is, echoes lines.
STUB = r"""
import os, signal, sys
def show(*_):
    columns, rows = os.get_terminal_size(0)
    sys.stdout.write(f"size {columns}x{rows}\n")
    sys.stdout.flush()
signal.signal(signal.SIGWINCH, show)
sys.stdout.write(f"actor={os.environ.get('GROUNDCONTROL_ACTOR')} "
                 f"token={os.environ.get('GROUNDCONTROL_TOKEN')} "
                 f"term={os.environ.get('TERM')} color={os.environ.get('COLORTERM')} "
                 f"leak={os.environ.get('GROUNDCONTROL_SSH_TOKEN_ANALYST')}"
                 f"/{os.environ.get('GROUNDCONTROL_TOKEN_ADMIN')}\n")
show()
for line in sys.stdin:
    if line.strip() == "quit":
        sys.exit(3)
    sys.stdout.write(f"echo {line.strip()}\n")
    sys.stdout.flush()
"""

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def stub(_who: AuthorizedKey) -> Sequence[str]:
    return [sys.executable, "-c", STUB]


def key_line(role: str, name: str, key: asyncssh.SSHKey) -> str:
    return f"{role} {name} {key.export_public_key().decode().strip()}"


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# The authorized-keys file


def test_a_good_file_with_comments_blank_lines_and_both_roles(tmp_path: Path) -> None:
    lobby = asyncssh.generate_private_key("ssh-ed25519")
    alice = asyncssh.generate_private_key("ssh-ed25519")
    text = (
        "# who is on call\n\n"
        f"{key_line('display', 'lobby', lobby)} the lobby screen\n"
        f"   {key_line('analyst', 'alice', alice)}\n"
    )
    keys = load_authorized_keys(write_private(tmp_path / "keys", text))
    assert [(k.role, k.name, k.command) for k in keys] == [
        ("display", "lobby", "wall"),
        ("analyst", "alice", "console"),
    ]
    assert keys[0].key.public_data == lobby.public_data
    assert keys[1].where.endswith("keys:4")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("display lobby", "expected <role> <name> <key-type> <base64-key> [comment], got 2"),
        ("viewer bob ssh-ed25519 {blob}", "unknown role 'viewer'"),
        ("display lobby ssh-ed25519 not-base64!", "not a public key"),
        ("display lobby ssh-rsa {blob}", "not a public key (Public key algorithm mismatch)"),
        ("analyst again ssh-ed25519 {blob}", "the same key as"),
    ],
)
def test_each_bad_line_is_refused_with_its_number_and_why(
    tmp_path: Path, line: str, reason: str
) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    blob = key.export_public_key().decode().split()[1]
    text = f"# keys\n{key_line('display', 'lobby', key)}\n\n{line.format(blob=blob)}\n"
    path = write_private(tmp_path / "keys", text)
    with pytest.raises(SshSetupError) as caught:
        load_authorized_keys(path)
    assert str(caught.value).startswith(f"{path}:4: ")
    assert reason in str(caught.value)


def test_a_file_others_can_read_is_refused_naming_the_file_and_mode(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = write_private(tmp_path / "keys", key_line("display", "lobby", key), mode=0o644)
    with pytest.raises(SshSetupError, match=r"keys is mode 644: it must be 600"):
        load_authorized_keys(path)
    empty = write_private(tmp_path / "empty", "# nobody yet\n")
    with pytest.raises(SshSetupError, match="has no keys"):
        load_authorized_keys(empty)


def test_the_command_refuses_to_start_on_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_private(tmp_path / "keys", "display lobby\n")
    argv = ["ssh", "--authorized-keys", str(path), "--host-key", str(tmp_path / "hk")]
    assert cli_main(argv) == 2
    assert f"{path}:1: expected" in capsys.readouterr().err


def test_the_host_key_is_made_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "groundcontrol" / "ssh_host_key"
    first = ensure_host_key(path)
    assert first.get_algorithm() == "ssh-ed25519"
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_host_key(path).public_data == first.public_data
    path.chmod(0o644)
    with pytest.raises(SshSetupError, match="mode 644"):
        ensure_host_key(path)


# Sessions, end to end


class Keys:
    def __init__(self) -> None:
        self.lobby = asyncssh.generate_private_key("ssh-ed25519")
        self.alice = asyncssh.generate_private_key("ssh-ed25519")
        self.stranger = asyncssh.generate_private_key("ssh-ed25519")
        text = f"{key_line('display', 'lobby', self.lobby)}\n"
        text += f"{key_line('analyst', 'alice', self.alice)}\n"
        self.authorized = parse_authorized_keys(text, "keys")


@pytest.fixture
def keys() -> Keys:
    return Keys()


@contextlib.asynccontextmanager
async def serve(oncall: OnCall, tmp_path: Path) -> AsyncIterator[int]:
    acceptor = await start_server(oncall, "127.0.0.1", 0, ensure_host_key(tmp_path / "hk"))
    try:
        yield acceptor.get_port()
    finally:
        acceptor.close()
        await oncall.close()
        await acceptor.wait_closed()


def connect(port: int, key: asyncssh.SSHKey) -> asyncssh.connection._ConnectionContextManager:
    return asyncssh.connect(
        "127.0.0.1", port, username="oncall", client_keys=[key], known_hosts=None
    )


class Screen:
    """Everything a session's stdout has said so far."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes]) -> None:
        self.data = b""
        self.process = process

    async def pump(self) -> None:
        while chunk := await self.process.stdout.read(65536):
            self.data += chunk

    def text(self) -> bytes:
        return ANSI.sub(b"", self.data)


@pytest.fixture
async def stub_server(keys: Keys, tmp_path: Path) -> AsyncIterator[tuple[OnCall, int]]:
    oncall = OnCall(
        "ws://127.0.0.1:1",
        keys.authorized,
        {"display": "display-secret", "analyst": "analyst-secret"},
        max_sessions=1,
        child_command=stub,
        environ={
            **os.environ,
            "GROUNDCONTROL_SSH_TOKEN_ANALYST": "analyst-secret",
            "GROUNDCONTROL_TOKEN_ADMIN": "admin-secret",
        },
    )
    async with serve(oncall, tmp_path) as port:
        yield oncall, port


async def test_a_session_gets_a_pty_its_token_and_actor_follows_resizes_and_ends(
    stub_server: tuple[OnCall, int], keys: Keys
) -> None:
    oncall, port = stub_server
    async with connect(port, keys.lobby) as conn:
        process = await conn.create_process(
            term_type="xterm-256color", term_size=(80, 24), encoding=None
        )
        screen = Screen(process)
        pump = process.channel.get_connection().create_task(screen.pump())
        await until(lambda: b"size 80x24" in screen.data, "the first size")
        assert (
            b"actor=lobby token=display-secret term=xterm-256color color=truecolor leak=None/None"
            in screen.data
        )
        process.change_terminal_size(100, 30)
        await until(lambda: b"size 100x30" in screen.data, "the new size")
        # A second session is beyond --max-sessions 1: refused with a message.
        other = await conn.create_process(term_type="xterm", encoding=None)
        refusal = await other.stdout.read()
        await other.wait_closed()
        assert b"the server is full (1 at once); try again later" in refusal
        assert other.exit_status == 1
        # Input reaches the child; when it ends, so does the session, with its code.
        process.stdin.write(b"hello\r")
        await until(lambda: b"echo hello" in screen.data, "the echo")
        process.stdin.write(b"quit\r")
        await process.wait_closed()
        await pump
        assert process.exit_status == 3
        assert not oncall.sessions


async def test_the_child_ends_when_the_client_goes(
    stub_server: tuple[OnCall, int], keys: Keys
) -> None:
    oncall, port = stub_server
    async with connect(port, keys.alice) as conn:
        process = await conn.create_process(term_type="xterm", encoding=None)
        screen = Screen(process)
        conn.create_task(screen.pump())
        await until(lambda: b"token=analyst-secret" in screen.data, "the analyst's token")
        (session,) = oncall.sessions
        child = session._process
        assert child is not None and child.returncode is None
    await until(lambda: child.returncode is not None, "the child to end")
    await until(lambda: not oncall.sessions, "the session to go")


async def test_no_pty_and_unknown_keys_are_refused(
    stub_server: tuple[OnCall, int], keys: Keys
) -> None:
    _, port = stub_server
    async with connect(port, keys.lobby) as conn:
        result = await conn.run("ls", encoding=None)
    assert result.stdout == f"{NEEDS_A_TERMINAL}\r\n".encode()
    assert result.exit_status == 1
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(port, keys.stranger):
            pass


async def test_an_idle_session_is_closed_with_a_message(keys: Keys, tmp_path: Path) -> None:
    oncall = OnCall("ws://127.0.0.1:1", keys.authorized, {}, idle_seconds=0.3, child_command=stub)
    async with serve(oncall, tmp_path) as port, connect(port, keys.lobby) as conn:
        process = await conn.create_process(term_type="xterm", encoding=None)
        screen = Screen(process)
        await screen.pump()
        await process.wait_closed()
    assert b"size 80x24" in screen.data
    assert b"groundcontrol ssh: closed after 0.005 minutes without input" in screen.data


async def test_a_display_key_gets_the_wall(keys: Keys, tmp_path: Path) -> None:
    hub, runner, hub_port = await start_hub(
        small_config(), port=0, tokens=tokens(), store_path=tmp_path / "gc.db"
    )
    oncall = OnCall(
        f"http://127.0.0.1:{hub_port}", keys.authorized, {"display": TOKENS[Role.DISPLAY]}
    )
    try:
        async with serve(oncall, tmp_path) as port:
            async with connect(port, keys.lobby) as conn:
                process = await conn.create_process(
                    term_type="xterm-256color", term_size=(100, 30), encoding=None
                )
                screen = Screen(process)
                pump = conn.create_task(screen.pump())
                await until(lambda: b"GROUND CONTROL" in screen.text(), "the wall's screen")
                # In the on-call layout: one scene, named in the status bar.
                await until(lambda: b"1/1 oncall" in screen.text(), "the on-call layout")
                # The wall is connected to the hub with the display token.
                await until(lambda: hub.subscribers, "the wall on the hub's stream")
                process.stdin.write(b"q")
                await process.wait_closed()
                await pump
            assert process.exit_status == 0
    finally:
        await runner.cleanup()


async def test_stopping_the_server_ends_each_session_with_a_message(
    stub_server: tuple[OnCall, int], keys: Keys
) -> None:
    oncall, port = stub_server
    async with connect(port, keys.lobby) as conn:
        process = await conn.create_process(term_type="xterm", encoding=None)
        screen = Screen(process)
        pump = conn.create_task(screen.pump())
        await until(lambda: b"size 80x24" in screen.data, "the session")
        await oncall.close()
        await process.wait_closed()
        await pump
    assert screen.data.endswith(b"groundcontrol ssh: the server is stopping\r\n")
    assert process.exit_status == 128 + 1  # SIGHUP, as a terminal hang-up
    assert not oncall.sessions
