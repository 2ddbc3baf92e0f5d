"""``groundcontrol ssh``: the authorized-keys file, the host key, and sessions end to end.

The sessions run against the real server on a free port with asyncssh as the client.
Most use a small stand-in child (it prints its terminal size, its actor and token, and
echoes lines) so each mechanism is checked directly; one runs the real wall against an
in-process hub and waits for its screen.
"""

from __future__ import annotations

import asyncio
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
from groundcontrol.config import ConfigError, parse_config
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
        ("analyst", "alice", "wall"),
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


# Many sessions, a client that stops reading, low bandwidth

#: A light stand-in for the wall, for the many-sessions test: one real hub stream
#: connection (groundcontrol.client.stream.StreamClient, as the wall has), and for each
#: event a full screen of its terminal's size written to the pty, as a repainting app
#: would. Twenty real walls (each ~0.5 s of CPU and ~60 MB to start) would make this
#: test heavy on two cores; test_a_display_key_gets_the_wall runs the real one.
LIGHT_WALL = r"""
import asyncio, os, sys
from groundcontrol.client.stream import Access, StreamClient, stream_url

async def main() -> None:
    columns, rows = os.get_terminal_size(1)
    out = sys.stdout.buffer
    client = StreamClient(stream_url(sys.argv[1]), access=Access.from_env())
    frame = 0
    async for event in client.events():
        frame += 1
        head = f"frame {frame} {type(event).__name__}".ljust(columns)[:columns]
        out.write(("\x1b[H" + head + ("\r\n" + "." * columns) * (rows - 1)).encode())
        out.flush()  # blocks while the server holds this session's output back

asyncio.run(main())
"""


async def test_twenty_sessions_one_hub_stream_each_and_a_stalled_reader_is_dropped(
    keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twenty sessions at once, each with its own hub stream connection; one client
    stops reading (its channel paused, a small window) and is dropped after the stall
    limit, its child and hub connection gone, while the other nineteen keep receiving."""
    hub, runner, hub_port = await start_hub(
        small_config(), port=0, tokens=tokens(), store_path=tmp_path / "gc.db"
    )
    hub_url = f"http://127.0.0.1:{hub_port}"
    oncall = OnCall(
        hub_url,
        keys.authorized,
        {"display": TOKENS[Role.DISPLAY]},
        max_sessions=20,
        stall_seconds=1.0,
        child_command=lambda _who: [sys.executable, "-c", LIGHT_WALL, hub_url],
    )
    try:
        async with serve(oncall, tmp_path) as port, contextlib.AsyncExitStack() as stack:

            async def open_one(size: tuple[int, int]) -> asyncssh.SSHClientProcess[bytes]:
                conn = await stack.enter_async_context(connect(port, keys.lobby))
                return await conn.create_process(
                    term_type="xterm",
                    term_size=size,
                    encoding=None,
                    window=16384,
                    max_pktsize=16384,
                )

            screens = [Screen(await open_one((80, 24))) for _ in range(19)]
            pumps = [asyncio.ensure_future(s.pump()) for s in screens]
            # The one that will stall repaints 240x67 (16 KB a frame): it fills fast.
            stalled = await open_one((240, 67))
            first = await stalled.stdout.readuntil(b"frame 1 ")
            assert first.endswith(b"frame 1 ")
            for screen in screens:
                await until(lambda s=screen: b"frame 1 " in s.data, "every session's screen")
            await until(lambda: len(hub.subscribers) == 20, "20 hub stream connections")
            assert len(oncall.sessions) == 20
            # The 21st is refused (max_sessions) and opens no hub connection.
            async with connect(port, keys.lobby) as conn:
                extra = await conn.create_process(term_type="xterm", encoding=None)
                assert b"the server is full (20 at once)" in await extra.stdout.read()
            (dropped,) = [s for s in oncall.sessions if s._size == (240, 67)]
            child = dropped._process
            assert child is not None

            stalled.channel.pause_reading()
            before = [len(s.data) for s in screens]
            await until(lambda: dropped not in oncall.sessions, "the stalled session to go")
            during = [len(s.data) for s in screens]
            # Meanwhile every other session kept receiving its screens.
            assert all(b > a for a, b in zip(before, during, strict=True)), (before, during)
            await until(lambda: child.returncode is not None, "its child to end")
            await until(lambda: len(hub.subscribers) == 19, "its hub connection to close")
            assert len(oncall.sessions) == 19
            assert all(p.returncode is None for p in (s._process for s in oncall.sessions) if p)
            after = [len(s.data) for s in screens]
            await until(
                lambda: all(len(s.data) > n for s, n in zip(screens, after, strict=True)),
                "the others to go on",
            )
            for task in pumps:
                task.cancel()
    finally:
        await runner.cleanup()
    log = capsys.readouterr().err
    assert "dropped: the client has not read its output for 1 s" in log
    assert "wall ended (dropped: the client stopped reading for 1 s)" in log


#: Says whether its session runs in low-bandwidth mode, then ends.
SAYS_BANDWIDTH = "import os; print('low=' + os.environ.get('GROUNDCONTROL_LOW_BANDWIDTH', '-'))"


async def test_low_bandwidth_per_connection_from_the_ssh_environment_or_for_all(
    keys: Keys, tmp_path: Path
) -> None:
    def says(_who: AuthorizedKey) -> Sequence[str]:
        return [sys.executable, "-c", SAYS_BANDWIDTH]

    async def ask(port: int, env: dict[str, str]) -> tuple[bytes, int | None]:
        async with connect(port, keys.lobby) as conn:
            process = await conn.create_process(term_type="xterm", env=env, encoding=None)
            out = await process.stdout.read()
            await process.wait_closed()
            return out, process.exit_status

    oncall = OnCall("ws://127.0.0.1:1", keys.authorized, {}, child_command=says)
    async with serve(oncall, tmp_path) as port:
        assert b"low=-" in (await ask(port, {}))[0]
        assert b"low=1" in (await ask(port, {"LC_GROUNDCONTROL_LOW_BANDWIDTH": "1"}))[0]
        assert b"low=-" in (await ask(port, {"LC_GROUNDCONTROL_LOW_BANDWIDTH": "0"}))[0]
        out, status = await ask(port, {"LC_GROUNDCONTROL_LOW_BANDWIDTH": "maybe"})
        assert b"LC_GROUNDCONTROL_LOW_BANDWIDTH='maybe': expected 1 or 0" in out
        assert status == 1
    everyone = OnCall(
        "ws://127.0.0.1:1", keys.authorized, {}, low_bandwidth=True, child_command=says
    )
    async with serve(everyone, tmp_path) as port:
        assert b"low=1" in (await ask(port, {}))[0]


def test_the_ssh_limits_come_from_the_config_and_a_bad_one_is_named(tmp_path: Path) -> None:
    config = parse_config('[ssh]\nidle = "15m"\nstall = 5\nmax_sessions = 3\n', "site.toml")
    assert (config.ssh.seconds("idle"), config.ssh.seconds("stall")) == (900.0, 5.0)
    assert config.ssh.max_sessions == 3 and not config.ssh.low_bandwidth
    for text, reason in [
        ('[ssh]\nidle = "soon"', 'site.toml: ssh.idle: expected a duration such as "30m"'),
        ("[ssh]\nstall = 0", "site.toml: ssh.stall: expected a duration above 0"),
        ("[ssh]\nmax_sessions = 0", "site.toml: ssh.max_sessions: expected 1 or more"),
        ("[ssh]\nidle_minutes = 5", "site.toml: ssh.idle_minutes: unknown key"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_config(text, "site.toml")
        assert str(caught.value).startswith(reason)


def test_every_session_shows_the_layout_asked_for_with_the_site_config(keys: Keys) -> None:
    lobby, alice = keys.authorized
    plain = OnCall("ws://hub:1", keys.authorized, {})
    assert list(plain.command_for(lobby, "wall"))[3:8] == [
        "wall",
        "--hub",
        "ws://hub:1",
        "--layout",
        "oncall",
    ]
    site = OnCall("ws://hub:1", keys.authorized, {}, layout="lobby", config="/etc/gc/site.toml")
    wall = list(site.command_for(alice, "wall"))
    assert wall[wall.index("--layout") + 1] == "lobby"
    assert wall[-2:] == ["--config", "/etc/gc/site.toml"] and "--act" in wall
    assert list(site.command_for(alice, "console"))[-2:] == ["--config", "/etc/gc/site.toml"]


def test_the_command_refuses_a_layout_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["ssh", "--layout", "lobby", "--authorized-keys", str(tmp_path / "k")]) == 2
    assert "no layout named 'lobby' (layouts: wall, oncall, console)" in capsys.readouterr().err
