"""The SSH server behind ``groundcontrol ssh`` (:mod:`groundcontrol.cli.ssh`).

An asyncssh server that gives each connection its own pseudo-terminal running a client
app: every key gets the wall's on-call view, which acts on incidents for ``oncall``
and ``analyst`` keys (``wall --act``). The app is a child process (``python -m
groundcontrol wall --hub URL ...``) on a pty, with the role's hub token in
``GROUNDCONTROL_TOKEN`` and the key's name in ``GROUNDCONTROL_ACTOR`` (the hub records
it when the token is a relay); the server pumps bytes both ways and passes window
changes on (TIOCSWINSZ on the pty, which signals SIGWINCH to the child, whose
controlling terminal it is). When the SSH session ends the child is hung up on
(SIGHUP, then SIGKILL). When the on-call view of an ``analyst`` key quits with
``OPEN_CONSOLE_STATUS`` (its ``c`` key) the session runs the console on a new pty,
and the on-call view again when the console quits; when the view quits otherwise
the session is closed with its exit status.

* Public keys only, from the authorized-keys file (:func:`load_authorized_keys`): one
  ``<role> <name> <key-type> <base64-key> [comment]`` a line, mode 600.
* The host key (ed25519) is made on the first start and kept with mode 600.
* A session without a pty is refused, so are sessions beyond ``max_sessions``; a
  session without input for ``idle_seconds`` is closed with a message.
* A client that stops reading never slows the others: when its channel's buffer is
  full (asyncssh's ``pause_writing``) its child's pty is no longer read, so the child
  blocks on its own output, and a session that stays so for ``stall_seconds`` is
  dropped (its child hung up on, which frees its hub connection).
* Low-bandwidth sessions (``low_bandwidth``, or a client that sends
  ``LC_GROUNDCONTROL_LOW_BANDWIDTH=1``) get ``GROUNDCONTROL_LOW_BANDWIDTH=1``: the app
  redraws at most once a second and animates nothing.

Imported only when ``groundcontrol ssh`` runs: the other commands never load asyncssh.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import stat
import struct
import sys
import termios
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # asyncssh still names DSA keys (which it can read, and we never accept).
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh

from groundcontrol.cli.bandwidth import LOW_BANDWIDTH_ENV, LowBandwidthError, flag_value
from groundcontrol.cli.ssh import (
    CONSOLE_ROLES,
    DEFAULT_LAYOUT,
    LOW_BANDWIDTH_REQUEST_ENV,
    ROLE_ARGS,
    ROLES,
)
from groundcontrol.client.actor import ACTOR_ENV, OPEN_CONSOLE_STATUS
from groundcontrol.client.stream import TOKEN_ENV

__all__ = [
    "NEEDS_A_TERMINAL",
    "AuthorizedKey",
    "OnCall",
    "SshSetupError",
    "default_host_key_path",
    "ensure_host_key",
    "load_authorized_keys",
    "parse_authorized_keys",
    "start_server",
]

NEEDS_A_TERMINAL = "groundcontrol ssh needs a terminal: use ssh -t"
#: Seconds a child has between SIGHUP and SIGKILL when its session ends.
_GRACE = 2.0
#: What a full-screen app may leave on: the alternate screen, mouse reporting, a
#: hidden cursor, bracketed paste. Sent when a session ends, so the terminal is sane.
_RESET_TERMINAL = (
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l"
    b"\x1b[?1049l\x1b[?25h\x1b[0m\r\n"
)


class SshSetupError(Exception):
    """Why the server refuses to start (a file, its mode, a line of it)."""


@dataclass(frozen=True)
class AuthorizedKey:
    """One line of the authorized-keys file."""

    role: str
    name: str
    key: asyncssh.SSHKey
    where: str

    @property
    def command(self) -> str:
        return ROLES[self.role]


def _require_private(path: Path) -> None:
    """Refuse a file that group or others can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SshSetupError(f"{path} is mode {mode:o}: it must be 600 (chmod 600 {path})")


def parse_authorized_keys(text: str, source: str) -> list[AuthorizedKey]:
    """The keys in ``text``; :class:`SshSetupError` names ``source:line`` and the reason."""
    keys: list[AuthorizedKey] = []
    names: dict[bytes, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        fields = line.split(None, 4)
        if len(fields) < 4:
            raise SshSetupError(
                f"{where}: expected <role> <name> <key-type> <base64-key> [comment], "
                f"got {len(fields)} field{'s' if len(fields) != 1 else ''}"
            )
        role, name, key_type, blob = fields[:4]
        if role not in ROLES:
            raise SshSetupError(
                f"{where}: unknown role {role!r} (expected {' or '.join(map(repr, ROLES))})"
            )
        try:
            key = asyncssh.import_public_key(f"{key_type} {blob}")
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise SshSetupError(f"{where}: not a public key ({exc})") from None
        data = key.public_data
        if data in names:
            raise SshSetupError(f"{where}: the same key as {names[data]}")
        names[data] = where
        keys.append(AuthorizedKey(role=role, name=name, key=key, where=where))
    return keys


def load_authorized_keys(path: str | Path) -> list[AuthorizedKey]:
    """The keys of the authorized-keys file at ``path``, which must be mode 600."""
    file = Path(path)
    try:
        _require_private(file)
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SshSetupError(f"cannot read {file}: {exc.strerror or exc}") from None
    keys = parse_authorized_keys(text, str(file))
    if not keys:
        raise SshSetupError(f"{file} has no keys: nobody could log in")
    return keys


def default_host_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/groundcontrol/ssh_host_key`` (``~/.local/state`` by default)."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(state) / "groundcontrol" / "ssh_host_key"


def ensure_host_key(path: str | Path) -> asyncssh.SSHKey:
    """The host key at ``path``; an ed25519 key made there (mode 600) if there is none."""
    file = Path(path)
    if file.exists():
        try:
            _require_private(file)
            return asyncssh.read_private_key(str(file))
        except (OSError, asyncssh.KeyImportError) as exc:
            raise SshSetupError(f"cannot read the host key {file}: {exc}") from None
    key = asyncssh.generate_private_key("ssh-ed25519", comment="groundcontrol ssh host key")
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key())
    except OSError as exc:
        raise SshSetupError(f"cannot write the host key {file}: {exc.strerror or exc}") from None
    return key


def _set_size(fd: int, columns: int, rows: int) -> None:
    """The pty's window size; the kernel sends SIGWINCH to the app in front of it."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _take_terminal() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Make the pty on stdin the child's controlling terminal (it leads a new session)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


#: What the children do not inherit from the server: tokens (the hub's own, the
#: server's per role) and what describes the server's terminal, not the client's.
_PRIVATE_PREFIXES = ("GROUNDCONTROL_TOKEN", "GROUNDCONTROL_SSH_", "TERM_PROGRAM", "TMUX", "STY")
_PRIVATE_NAMES = frozenset({ACTOR_ENV, "COLUMNS", "LINES", "WINDOWID", "VTE_VERSION"})


def _private(name: str) -> bool:
    return name in _PRIVATE_NAMES or name.startswith(_PRIVATE_PREFIXES)


#: The command line of a session's child, from its key: ``python -m groundcontrol ...``.
ChildCommand = Callable[[AuthorizedKey], Sequence[str]]


class OnCall:
    """The server's state: who may log in, what each session runs, how many there are."""

    def __init__(
        self,
        hub: str,
        keys: Sequence[AuthorizedKey],
        tokens: Mapping[str, str | None],
        *,
        max_sessions: int = 50,
        idle_seconds: float = 3600.0,
        stall_seconds: float = 30.0,
        low_bandwidth: bool = False,
        child_command: ChildCommand | None = None,
        console_command: ChildCommand | None = None,
        environ: Mapping[str, str] | None = None,
        layout: str = DEFAULT_LAYOUT,
        config: str | None = None,
    ) -> None:
        """``child_command``: what a session runs first (the role's on-call view);
        ``console_command``: what it runs when that view asks for the console;
        ``layout``: the wall layout of that view; ``config``: the site's config file
        (its layouts, theme), given to every app."""
        self.hub = hub
        self.keys = {entry.key.public_data: entry for entry in keys}
        self.tokens = dict(tokens)
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.stall_seconds = stall_seconds
        """How long a client may leave its output unread before its session is dropped."""
        self.low_bandwidth = low_bandwidth
        """Every session in low-bandwidth mode, whatever the client asks."""
        self.child_command = child_command or self._groundcontrol
        self.console_command = console_command or self._console
        self._environ = {
            name: value
            for name, value in (os.environ if environ is None else environ).items()
            if not _private(name)
        }
        self.sessions: set[Session] = set()
        self.layout = layout
        self._site = ["--config", config] if config else []

    def _groundcontrol(self, who: AuthorizedKey) -> list[str]:
        return [
            sys.executable,
            "-m",
            "groundcontrol",
            who.command,
            "--hub",
            self.hub,
            "--layout",
            self.layout,
            *ROLE_ARGS[who.role],
            *self._site,
        ]

    def _console(self, _who: AuthorizedKey) -> list[str]:
        return [sys.executable, "-m", "groundcontrol", "console", "--hub", self.hub, *self._site]

    def command_for(self, who: AuthorizedKey, app: str) -> Sequence[str]:
        """The command line of ``app``: the role's own, or ``console``."""
        return self.console_command(who) if app == "console" else self.child_command(who)

    async def close(self, message: str = "groundcontrol ssh: the server is stopping") -> None:
        """End every session, saying ``message``; return when they are gone."""
        running = [session.task for session in self.sessions if session.task is not None]
        for session in list(self.sessions):
            session.end(message)
        if running:
            await asyncio.wait(running, timeout=_GRACE + 1.0)

    def child_environ(
        self, who: AuthorizedKey, term: str, *, low_bandwidth: bool = False
    ) -> dict[str, str]:
        """The child's environment: this one, without the server's tokens, plus the
        role's token, the actor and a truecolor terminal; low-bandwidth mode if the
        server or the session (``low_bandwidth``) asks for it."""
        env = dict(self._environ)
        if self.low_bandwidth or low_bandwidth:
            env[LOW_BANDWIDTH_ENV] = "1"
        token = self.tokens.get(who.role)
        if token:
            env[TOKEN_ENV] = token
        env[ACTOR_ENV] = who.name
        env["TERM"] = term or "xterm-256color"
        env["COLORTERM"] = "truecolor"
        return env


class Connection(asyncssh.SSHServer):
    """One SSH connection: public keys from the authorized-keys file, nothing else."""

    def __init__(self, oncall: OnCall) -> None:
        self.oncall = oncall
        self._pending: AuthorizedKey | None = None
        self.who: AuthorizedKey | None = None

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        self._pending = self.oncall.keys.get(key.public_data)
        return self._pending is not None

    def auth_completed(self) -> None:
        # The last key validated is the one whose signature just checked out.
        self.who = self._pending

    def session_requested(self) -> Session | bool:
        if self.who is None:  # pragma: no cover - asyncssh asks only after auth
            return False
        return Session(self.oncall, self.who)


class Session(asyncssh.SSHServerSession[bytes]):
    """One SSH session: a child app on a pty, its bytes both ways."""

    def __init__(self, oncall: OnCall, who: AuthorizedKey) -> None:
        self.oncall = oncall
        self.who = who
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._term: str | None = None
        self._size = (80, 24)
        self._master: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._reading = False
        self._last_input = time.monotonic()
        self._idle: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self.low_bandwidth = False
        """This session's app runs in low-bandwidth mode."""
        self._closed = False
        self._peer = "?"
        self.task: asyncio.Task[None] | None = None

    # SSHServerSession callbacks

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan
        peer = chan.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: object
    ) -> bool:
        self._term = term_type
        if term_size[0] and term_size[1]:
            self._size = (term_size[0], term_size[1])
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        # ``ssh -t host anything``: the role decides what runs, not the command.
        return True

    def session_started(self) -> None:
        assert self._chan is not None
        # LC_GROUNDCONTROL_LOW_BANDWIDTH=1 ssh -t: Debian's ssh_config sends LC_* as is.
        asked = self._chan.get_environment().get(LOW_BANDWIDTH_REQUEST_ENV, "")
        try:
            wanted = flag_value(LOW_BANDWIDTH_REQUEST_ENV, asked)
        except LowBandwidthError as exc:
            self._refuse(f"groundcontrol ssh: {exc}")
            return
        self.low_bandwidth = self.oncall.low_bandwidth or wanted
        self.task = asyncio.get_running_loop().create_task(self._start())

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self._last_input = time.monotonic()
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, data)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if width and height:
            self._size = (width, height)
            if self._master is not None:
                with contextlib.suppress(OSError):
                    _set_size(self._master, width, height)

    def eof_received(self) -> bool:
        return True  # keep the channel half-open: the app decides when it ends

    def pause_writing(self) -> None:
        # The client is not reading: hold the child's output back (it blocks on its
        # pty, not the server), and drop the session if it stays so.
        self._read(False)
        if self._stall is None:
            loop = asyncio.get_running_loop()
            self._stall = loop.call_later(self.oncall.stall_seconds, self._stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._read(True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._stop_child()

    # The child

    async def _start(self) -> None:
        chan = self._chan
        assert chan is not None
        if self._term is None:
            self._refuse(NEEDS_A_TERMINAL)
            return
        if len(self.oncall.sessions) >= self.oncall.max_sessions:
            self._refuse(
                f"groundcontrol ssh: the server is full ({self.oncall.max_sessions} "
                "at once); try again later"
            )
            return
        self.oncall.sessions.add(self)
        try:
            await self._run_children()
        finally:
            self.oncall.sessions.discard(self)
            if self._idle is not None:
                self._idle.cancel()

    def _log(self, what: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        who = f"{self.who.name} ({self.who.role}) from {self._peer}"
        print(f"{stamp} groundcontrol ssh: {who}: {what}", file=sys.stderr, flush=True)

    def _refuse(self, message: str) -> None:
        assert self._chan is not None
        self._log(f"refused: {message.removeprefix('groundcontrol ssh: ')}")
        self._chan.write(f"{message}\r\n".encode())
        self._chan.exit(1)

    async def _run_children(self) -> None:
        """The role's app, and for an analyst the console each time the on-call view
        quits asking for it (:data:`OPEN_CONSOLE_STATUS`), then the view again; the
        session ends, with its status, when the on-call view quits otherwise."""
        chan = self._chan
        assert chan is not None
        app = self.who.command
        while True:
            code = await self._run_child(app)
            if code is None or self._closed:
                return
            if self._goodbye:  # ended by the server (idle, stopping, stalled)
                break
            if app == "console":
                app = self.who.command
            elif code == OPEN_CONSOLE_STATUS and self.who.role in CONSOLE_ROLES:
                app = "console"
            else:
                break
        chan.write(_RESET_TERMINAL)
        if self._goodbye:
            chan.write(f"{self._goodbye}\r\n".encode())
        chan.exit(code if code >= 0 else 128 - code)

    async def _run_child(self, app: str) -> int | None:
        """Run ``app`` on a pty of its own until it ends: its exit status (None when
        it could not start, and the session was refused)."""
        chan = self._chan
        assert chan is not None
        low = ", low bandwidth" if self.low_bandwidth else ""
        self._log(f"{app} started ({self._size[0]}x{self._size[1]}{low})")
        master, slave = pty.openpty()
        try:
            _set_size(slave, *self._size)
            self._process = await asyncio.create_subprocess_exec(
                *self.oncall.command_for(self.who, app),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.oncall.child_environ(
                    self.who, self._term or "", low_bandwidth=self.low_bandwidth
                ),
                start_new_session=True,
                preexec_fn=_take_terminal,
            )
        except OSError as exc:
            os.close(master)
            self._refuse(f"groundcontrol ssh: cannot start the {app}: {exc}")
            return None
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self._output_done = asyncio.get_running_loop().create_future()
        self._read(True)
        if self._idle is None:  # one idle timer for the session, across its apps
            self._arm_idle()
        if self._closed:  # the client left while the child was starting
            self._stop_child()
        code = await self._process.wait()
        why = self._goodbye.removeprefix("groundcontrol ssh: ")
        why = why or ("the client left" if self._closed else f"status {code}")
        self._log(f"{app} ended ({why})")
        # What the app wrote last (its goodbye, its terminal reset) before the channel ends.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._output_done), 1.0)
        self._read(False)
        self._master = None
        os.close(master)
        return code

    _output_done: asyncio.Future[None]
    _goodbye = ""

    def _read(self, on: bool) -> None:
        """Start or stop copying the child's output to the channel (never while the
        client is not reading: a new child waits for it too)."""
        if self._master is None or on == self._reading or (on and self._stall is not None):
            return
        loop = asyncio.get_running_loop()
        if on:
            loop.add_reader(self._master, self._readable)
        else:
            loop.remove_reader(self._master)
        self._reading = on

    def _readable(self) -> None:
        assert self._master is not None and self._chan is not None
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the child closed the pty
            data = b""
        if not data:
            self._read(False)
            if not self._output_done.done():
                self._output_done.set_result(None)
            return
        if not self._closed:
            self._chan.write(data)

    def _stalled(self) -> None:
        """The client has read nothing for ``stall_seconds``: end its app (which frees
        its hub connection) and close the channel without flushing what it holds."""
        self._stall = None
        process = self._process
        if self._closed or process is None or process.returncode is not None:
            return
        seconds = f"{self.oncall.stall_seconds:g} s"
        self._log(f"dropped: the client has not read its output for {seconds}")
        self._goodbye = self._goodbye or (
            f"groundcontrol ssh: dropped: the client stopped reading for {seconds}"
        )
        self._closed = True  # nothing more goes to a client that does not read
        self._stop_child()
        if self._chan is not None:
            self._chan.abort()

    def _arm_idle(self) -> None:
        loop = asyncio.get_running_loop()
        left = self._last_input + self.oncall.idle_seconds - time.monotonic()
        if left > 0:
            self._idle = loop.call_later(left, self._arm_idle)
            return
        minutes = self.oncall.idle_seconds / 60
        self.end(
            f"groundcontrol ssh: closed after {minutes:g} minute{'s' if minutes != 1 else ''} "
            "without input"
        )

    def end(self, message: str) -> None:
        """End the app; the session closes with ``message``."""
        self._goodbye = self._goodbye or message
        self._stop_child()

    def _stop_child(self) -> None:
        """SIGHUP to the child's process group (as a terminal hang-up would), SIGKILL
        if it is still there after a grace period."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGHUP)
        loop = asyncio.get_running_loop()
        loop.call_later(_GRACE, self._kill, process)

    @staticmethod
    def _kill(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


async def start_server(
    oncall: OnCall, host: str, port: int, host_key: asyncssh.SSHKey
) -> asyncssh.SSHAcceptor:
    """Listen on ``host:port``; ``port=0`` picks a free one (``acceptor.get_port()``)."""
    return await asyncssh.create_server(
        lambda: Connection(oncall),
        host,
        port,
        server_host_keys=[host_key],
        encoding=None,
        password_auth=False,
        kbdint_auth=False,
        gss_host=None,
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )
