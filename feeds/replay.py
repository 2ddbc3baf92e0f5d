"""Replay an NDJSON file of mentions to a hub: incident replays and load tests.

The input is what ``groundcontrol tail`` and ``groundcontrol export --format ndjson``
write: one JSON mention per line, possibly gzip-compressed (detected by its magic
bytes), or ``-`` for standard input. The fields the hub fills (id, sentiment, brands,
queries, terms, received_at) are dropped before sending: the hub enriches again.

Pacing follows a schedule, not a sleep per item: line ``i`` is due at
``start + (t_i - t_first) / speed`` on the loop clock, where ``t`` is the mention's
``received_at`` when the file has it, else its ``created_at``. Mentions due within
:data:`FLUSH_EVERY` of each other go in one batch (at most ``batch_size``).

The cursor is the byte offset after the last acked line, with the file's identity
(size, mtime_ns, inode, a hash of its first 4 KiB): a restart resumes right after what
the hub acked; a changed file starts over. ``run`` returns once the file is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import logging
import os
import re
import sys
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from feeds.base import (
    CursorFile,
    Emitter,
    FeedConfigError,
    FeedContext,
    Skipped,
    SourceHealth,
    setting,
)
from groundcontrol.client.stream import Backoff
from groundcontrol.model import MAX_SHORT_CHARS, Mention
from groundcontrol.protocol import Ack

log = logging.getLogger("groundcontrol.feeds.replay")

NAME = "replay"
SUMMARY = "replay an NDJSON file of mentions (from tail or export) at recorded pace or flat out"
#: The source the feed announces to the hub when ``source`` does not override it.
SOURCE = "replay"
#: A batch holds mentions due within this many seconds of its first one.
FLUSH_EVERY = 0.1
#: Keep a batch's raw lines under this, well below the hub's default 8 MiB message limit.
MAX_BATCH_BYTES = 4 * 1024 * 1024
#: Batches sent and not yet acked before the replay waits for the hub.
MAX_AHEAD = 16
#: Count the lines of a plain file up front (for progress) only when it is this small.
COUNT_LINES_UP_TO = 512 * 1024 * 1024
HEAD_BYTES = 4096
GZIP_MAGIC = b"\x1f\x8b"
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
#: Fields the hub fills; a replay leaves them empty so the hub enriches afresh.
_HUB_FILLED: dict[str, Any] = {
    "id": "",
    "sentiment": 0.0,
    "sentiment_label": "",
    "brands": [],
    "queries": [],
    "terms": [],
    "received_at": 0.0,
}

_decoder = msgspec.json.Decoder(Mention)


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Parsed:
    """A usable line: its number, the mention as the source had it, and its pace time
    (``received_at`` when recorded, else ``created_at``, in unix seconds)."""

    line: int
    mention: Mention
    at: float


def parse_line(raw: bytes, line: int) -> Parsed | None:
    """One NDJSON line as a mention with the hub's fields stripped; None for a blank line.

    ValueError says what is wrong, starting with ``line N:``.
    """
    if not raw.strip():
        return None
    try:
        m = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ValueError(f"line {line}: not a mention: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"line {line}: not JSON: {exc}") from None
    at = m.received_at if m.received_at > 0 else m.created_at.timestamp()
    return Parsed(line, msgspec.structs.replace(m, **_HUB_FILLED), at)


def parse_lines(lines: list[tuple[int, bytes]]) -> tuple[list[Parsed], list[Skipped]]:
    """Numbered NDJSON lines as (usable lines, skipped ones); blank lines are neither."""
    parsed: list[Parsed] = []
    skipped: list[Skipped] = []
    for number, raw in lines:
        try:
            p = parse_line(raw, number)
        except ValueError as exc:
            skipped.append((str(exc), raw.decode("utf-8", "replace")[:65_536]))
            continue
        if p is not None:
            parsed.append(p)
    return parsed, skipped


def lap_prefix(id_prefix: str, lap: int, laps: int) -> str:
    """What goes before every source_id in lap ``lap`` (1-based) of ``laps``: the
    prefix alone for a single lap, the prefix and the lap number (``"lt-2."``) for more."""
    return f"{id_prefix}{lap}." if laps > 1 else id_prefix


def prepare(m: Mention, *, source: str = "", prefix: str = "") -> Mention:
    """``m`` under another source and/or with a prefixed source_id; ValueError when the
    prefixed source_id gets too long."""
    changes: dict[str, Any] = {}
    if source:
        changes["source"] = source
    if prefix:
        source_id = prefix + m.source_id
        if len(source_id) > MAX_SHORT_CHARS:
            raise ValueError(
                f"source_id with prefix {prefix!r} is longer than {MAX_SHORT_CHARS} characters"
            )
        changes["source_id"] = source_id
    return msgspec.structs.replace(m, **changes) if changes else m


def retime(m: Mention, *, shift: float, speed: float, base: float, latest: float) -> Mention:
    """``m`` with created_at moved onto the replay's clock.

    ``base`` (the first line's pace time) becomes ``base + shift``; other times keep
    their distance to it divided by ``speed``. Never later than ``latest`` (now): the
    hub refuses mentions from the future.
    """
    created = m.created_at.timestamp()
    moved = min(base + shift + (created - base) / speed, latest)
    return msgspec.structs.replace(m, created_at=datetime.fromtimestamp(moved, UTC))


# --------------------------------------------------------------------------- the file


def file_identity(path: Path) -> dict[str, Any]:
    """What tells the same file from a changed one: size, mtime_ns, inode, head hash."""
    st = path.stat()
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "head": hashlib.sha256(head).hexdigest(),
    }


@dataclass(frozen=True)
class Start:
    """Where a run starts: lap (1-based), byte offset and lines before it; ``note`` says
    why (a resume, a changed file); ``done`` when the whole replay was acked already."""

    lap: int = 1
    offset: int = 0
    line: int = 0
    note: str = ""
    done: bool = False


def resume_point(
    cursor: dict[str, Any], identity: dict[str, Any] | None, settings: Settings
) -> Start:
    """Where to start given the saved cursor and the file as it is now."""
    if identity is None or not cursor:
        return Start()
    if cursor.get("file") != identity:
        return Start(note="the file changed since the saved cursor: starting over")
    if cursor.get("source", "") != settings.source or cursor.get("id_prefix", "") != (
        settings.id_prefix
    ):
        return Start(note="source or id_prefix changed since the saved cursor: starting over")
    try:
        lap, offset, line = int(cursor["lap"]), int(cursor["offset"]), int(cursor["line"])
    except (KeyError, TypeError, ValueError):
        return Start(note="the saved cursor is not a replay cursor: starting over")
    if lap < 1 or offset < 0 or line < 0:
        return Start(note="the saved cursor is not a replay cursor: starting over")
    if cursor.get("done") and lap >= settings.loop:
        return Start(lap, offset, line, done=True)
    return Start(lap, offset, line, note=f"resuming lap {lap} after line {line} (byte {offset})")


def _open(path: Path | None, stdin: BinaryIO | None) -> tuple[BinaryIO, BinaryIO | None, bool]:
    """(the lines stream, the raw file under it for progress or None, gzip?)."""
    if path is None:
        src = stdin if stdin is not None else sys.stdin.buffer
        peek = getattr(src, "peek", None)
        gz = peek is not None and peek(2)[:2] == GZIP_MAGIC
        return (gzip.GzipFile(fileobj=src, mode="rb") if gz else src), None, gz  # type: ignore[return-value]
    raw = open(path, "rb")  # noqa: SIM115 - closed by the reader thread
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, True  # type: ignore[return-value]
    return raw, raw, False


def count_lines(path: Path) -> int:
    """Lines in a plain file; a last line without a newline counts."""
    n = 0
    last = b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


# A message from the reader thread.
_Lines = tuple[str, Any]


class _Reader:
    """Reads lines in a daemon thread (a blocked stdin never holds up the event loop nor
    the process's exit) and hands them over in blocks, at most a few blocks ahead."""

    def __init__(
        self,
        path: Path | None,
        stdin: BinaryIO | None,
        offset: int,
        line: int,
        *,
        count: bool,
    ) -> None:
        self.path = path
        self.stdin = stdin
        self.offset = offset
        self.line = line
        self.count = count
        self.queue: asyncio.Queue[_Lines] = asyncio.Queue()
        self._room = threading.Semaphore(8)
        self._stop = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name="replay-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    async def get(self, within: float | None) -> _Lines | None:
        """The next message, or None when ``within`` seconds passed first."""
        try:
            msg = await asyncio.wait_for(self.queue.get(), within)
        except TimeoutError:
            return None
        self._room.release()
        return msg

    def _put(self, msg: _Lines) -> bool:
        while not self._room.acquire(timeout=0.25):
            if self._stop.is_set():
                return False
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, msg)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    def _work(self) -> None:
        try:
            f, raw, gz = _open(self.path, self.stdin)
        except OSError as exc:
            self._put(("error", exc))
            return
        try:
            if self.count and self.path is not None and not gz:
                size = self.path.stat().st_size
                if size <= COUNT_LINES_UP_TO:
                    self._put(("total", count_lines(self.path)))
            if self.offset:
                f.seek(self.offset)
            self._read(f, raw, per_block=1 if self.path is None else 1000)
        except OSError as exc:
            self._put(("error", exc))
        finally:
            if self.path is not None:
                f.close()
                if raw is not None:
                    raw.close()

    def _read(self, f: BinaryIO, raw: BinaryIO | None, per_block: int) -> None:
        offset, number = self.offset, self.line
        while not self._stop.is_set():
            block: list[tuple[int, int, bytes]] = []
            size = 0
            end: _Lines | None = None
            while len(block) < per_block and size < (1 << 20):
                try:
                    text = f.readline()
                except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                    end = ("cut", exc)
                    break
                except OSError as exc:
                    end = ("error", exc)
                    break
                if not text:
                    end = ("eof", None)
                    break
                offset += len(text)
                number += 1
                size += len(text)
                block.append((number, offset, text))
            if block:
                where = raw.tell() if raw is not None and not raw.closed else None
                if not self._put(("lines", (block, where))):
                    return
            if end is not None:
                self._put(end)
                return


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    file: str = setting("NDJSON file of mentions (from tail or export; .gz too); '-' for stdin")
    speed: float = setting("recorded pace times this (2 = twice as fast)", 1.0)
    fast: bool = setting("send as fast as the hub acks, ignoring the recorded pace", False)
    shift_time: bool = setting(
        "move created_at so the replay happens now (--no-shift-time keeps the dates)", True
    )
    source: str = setting("send every mention under this source instead, e.g. 'replay'", "")
    id_prefix: str = setting("put this before every source_id, to replay a file again", "")
    loop: int = setting("times to replay the file (laps get their number in the prefix)", 1)
    batch_size: int = setting("most mentions in one batch", 500)

    def check(self) -> None:
        if not self.file.strip():
            raise FeedConfigError("file is empty: name a file, or '-' for stdin")
        if not self.speed > 0:
            raise FeedConfigError(f"speed must be above 0, not {self.speed}")
        if self.source and not _SOURCE_NAME.match(self.source):
            raise FeedConfigError(
                f"source {self.source!r}: lower case letters, digits, '_', '.', '-' "
                "(at most 32, starting with a letter or digit)"
            )
        if self.loop < 1:
            raise FeedConfigError(f"loop must be 1 or more, not {self.loop}")
        if not 1 <= self.batch_size <= 5000:
            raise FeedConfigError(f"batch_size must be 1 to 5000, not {self.batch_size}")
        if self.file == "-" and self.loop > 1:
            raise FeedConfigError("loop needs a file: standard input can be read only once")


# --------------------------------------------------------------------------- the loop


class _AckEmitter(Emitter):
    """An Emitter that also wakes the replay when an ack makes room."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acked = asyncio.Event()

    def on_ack(self, ack: Ack, first_sent: float) -> None:
        super().on_ack(ack, first_sent)
        self.acked.set()


class _NoCursor(CursorFile):
    """Standard input cannot resume: nothing to load, nothing saved."""

    def __init__(self) -> None:
        super().__init__("-")

    def load(self) -> dict[str, Any]:
        return {}

    def save(self, cursor: dict[str, Any]) -> None:
        pass


@dataclass
class _Progress:
    started: float
    total: int | None = None
    size: int | None = None
    lines: int = 0  # lines handled this run
    line: int = 0  # the current line number in the file
    pos: int | None = None  # bytes of the (raw) file read
    sent: int = 0
    skipped: int = 0
    lap: int = 1
    laps: int = 1

    def report(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.lines / elapsed
        lap = f"lap {self.lap}/{self.laps}: " if self.laps > 1 else ""
        left: float | None = None
        if self.total:
            where = f"line {self.line} of {self.total} ({100 * self.line / self.total:.0f}%)"
            left = (self.total - self.line) + (self.laps - self.lap) * self.total
        elif self.size and self.pos is not None:
            where = (
                f"line {self.line}, {self.pos / 2**20:.1f} of {self.size / 2**20:.1f} MiB "
                f"({100 * self.pos / self.size:.0f}%)"
            )
            done = self.pos / self.size
            if done > 0:
                left = self.lines * (1 - done) / done
        else:
            where = f"line {self.line}"
        eta = f", ETA {left / rate:.0f}s" if left is not None and rate > 0 else ""
        return f"{lap}{where}, {rate:.0f} lines/s{eta}; {self.sent} sent, {self.skipped} skipped"


class _Replay:
    """One run of the replay: the schedule, the batch being filled, and where it stands."""

    def __init__(
        self,
        settings: Settings,
        ctx: FeedContext,
        *,
        path: Path | None,
        stdin: BinaryIO | None,
        identity: dict[str, Any] | None,
        now: Callable[[], float],
        pause: Callable[[float], Awaitable[None]],
        backoff: Backoff,
        progress: _Progress,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.say = ctx.on_event
        self.path = path
        self.stdin = stdin
        self.identity = identity
        self.now = now
        self.pause = pause
        self.backoff = backoff
        self.progress = progress
        self.health = SourceHealth(ctx.clock)
        self.emitter = _AckEmitter(ctx.cursor_file() if path is not None else _NoCursor())
        self.client = ctx.client(settings.source or SOURCE, self.emitter, self.health)
        self.batch: list[Mention] = []
        self.batch_bytes = 0
        self.batch_due = 0.0
        self.moved = False  # the position moved since the last emit
        self.cursor: dict[str, Any] = {}
        self.name = "standard input" if path is None else str(path)

    def _at(self, lap: int, offset: int, line: int, *, done: bool = False) -> None:
        if not self.batch and not self.moved:
            self.batch_due = self.now()
        self.moved = True
        self.cursor = {
            "file": self.identity,
            "source": self.settings.source,
            "id_prefix": self.settings.id_prefix,
            "lap": lap,
            "offset": offset,
            "line": line,
            "done": done,
        }

    async def flush(self) -> None:
        """Emit the batch (or just the new position) once the hub has room for it."""
        if not self.batch and not self.moved:
            return
        while self.client.pending >= MAX_AHEAD:
            self.emitter.acked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.emitter.acked.wait(), 1.0)
        batch, self.batch, self.batch_bytes, self.moved = self.batch, [], 0, False
        await self.emitter.emit(batch, self.cursor)
        self.progress.sent += len(batch)

    async def lap(self, lap: int, offset: int, line: int, *, count: bool) -> bool:
        """Replay the file once from ``offset`` (after ``line``); False: stop the replay."""
        s = self.settings
        prefix = lap_prefix(s.id_prefix, lap, s.loop)
        anchor: float | None = None  # the loop time the first mention is due
        base = shift = last = 0.0
        while True:
            reader = _Reader(self.path, self.stdin, offset, line, count=count)
            reader.start()
            try:
                while True:
                    timeout = None
                    if self.batch or self.moved:
                        timeout = max(0.0, self.batch_due + FLUSH_EVERY - self.now())
                    msg = await reader.get(timeout)
                    if msg is None:
                        await self.flush()
                        continue
                    kind, value = msg
                    if kind == "total":
                        self.progress.total = value
                        continue
                    if kind == "eof":
                        self._at(lap, offset, line, done=lap == s.loop)
                        await self.flush()
                        return True
                    if kind == "cut":
                        why = f"{self.name} is cut after line {line} ({value}): stopping there"
                        self.say(why)
                        self.health.error(why)
                        self._at(lap, offset, line, done=True)
                        await self.flush()
                        return False
                    if kind == "error":
                        break
                    block, where = value
                    self.health.ok()
                    self.backoff.reset()
                    self.health.got(len(block))
                    self.progress.pos = where
                    for number, end, raw in block:
                        self.progress.lines += 1
                        self.progress.line = line = number
                        offset = end
                        try:
                            p = parse_line(raw, number)
                            if p is None:
                                self._at(lap, offset, line)
                                continue
                            m = prepare(p.mention, source=s.source, prefix=prefix)
                        except ValueError as exc:
                            reason = str(exc)
                            if not reason.startswith("line "):
                                reason = f"line {number}: {reason}"
                            self.client.report_dead(reason, raw.decode("utf-8", "replace"))
                            self.progress.skipped += 1
                            self._at(lap, offset, line)
                            continue
                        if anchor is None:
                            anchor, base = self.now(), p.at
                            shift = self.ctx.clock() - base
                        last = max(last, (p.at - base) / s.speed)
                        due = self.now() if s.fast else anchor + last
                        if (self.batch or self.moved) and (
                            len(self.batch) >= s.batch_size
                            or self.batch_bytes + len(raw) > MAX_BATCH_BYTES
                            or due - self.batch_due >= FLUSH_EVERY
                        ):
                            await self.flush()
                        if not s.fast:
                            wait = due - self.now()
                            if wait > 0:
                                await self.pause(wait)
                        if s.shift_time:
                            m = retime(
                                m, shift=shift, speed=s.speed, base=base, latest=self.ctx.clock()
                            )
                        if not self.batch and not self.moved:
                            self.batch_due = due
                        self.batch.append(m)
                        self.batch_bytes += len(raw)
                        self._at(lap, offset, line)
            finally:
                reader.stop()
            # A read error: say why, wait, and open the file again where it stood.
            await self.flush()
            delay = self.backoff.next_delay()
            why = f"cannot read {self.name} after line {line}: {value}"
            self.health.error(why)
            if self.path is None:
                self.say(f"{why}; standard input cannot be opened again: stopping")
                return False
            self.say(f"{why}; retrying in {delay:.1f}s")
            await asyncio.sleep(delay)
            try:
                same = await asyncio.to_thread(file_identity, self.path) == self.identity
            except OSError:
                same = True  # still unreadable: the next open says so again
            if not same:
                self.say(f"{self.name} changed during the replay: stopping (a restart starts over)")
                return False
            count = False


def _input_path(file: str) -> Path | None:
    """The file to read, or None for standard input."""
    return None if file == "-" else Path(os.path.expanduser(file))


async def run(
    settings: Settings,
    ctx: FeedContext,
    *,
    stdin: BinaryIO | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    progress_every: float = 2.0,
    backoff: Backoff | None = None,
) -> None:
    """Replay ``settings.file`` to the hub; returns when it is done and acked.

    Test-only: ``stdin`` stands for standard input; ``clock`` (monotonic seconds) and
    ``sleep`` drive the schedule (default the event loop's); ``progress_every`` seconds
    between progress reports; ``backoff`` between attempts to read after a read error.
    """
    say = ctx.on_event
    now = clock or asyncio.get_running_loop().time
    path = _input_path(settings.file)
    identity: dict[str, Any] | None = None
    if path is not None:
        try:
            identity = await asyncio.to_thread(file_identity, path)
        except OSError as exc:
            raise FeedConfigError(
                f"feed {ctx.name}: cannot read {path}: {exc.strerror or exc}"
            ) from None
        cursor_file: CursorFile = ctx.cursor_file()
        start = resume_point(cursor_file.load(), identity, settings)
        if start.done:
            say(
                f"{path} was replayed already (cursor {cursor_file.path}); "
                "remove the cursor or use another --name to replay it again"
            )
            return
    else:
        start = Start()
    if start.note:
        say(start.note)
    progress = _Progress(
        started=now(),
        size=identity["size"] if identity else None,
        laps=settings.loop,
        lap=start.lap,
        line=start.line,
    )
    replay = _Replay(
        settings,
        ctx,
        path=path,
        stdin=stdin,
        identity=identity,
        now=now,
        pause=sleep or asyncio.sleep,
        backoff=backoff or Backoff(initial=1.0, maximum=60.0),
        progress=progress,
    )
    client = replay.client
    client.start()
    pace = "as fast as the hub acks" if settings.fast else f"at {settings.speed:g}x recorded pace"
    laps = f", {settings.loop} laps" if settings.loop > 1 else ""
    what = "standard input (it cannot resume)" if path is None else str(path)
    say(f"replaying {what} to {ctx.hub} {pace}{laps}")

    async def report() -> None:
        while True:
            await asyncio.sleep(progress_every)
            say(progress.report(now()))

    reporter = asyncio.create_task(report())
    try:
        offset, line = start.offset, start.line
        for lap in range(start.lap, settings.loop + 1):
            progress.lap = lap
            if not await replay.lap(lap, offset, line, count=lap == start.lap):
                break
            offset, line = 0, 0
        reporter.cancel()
        while not await client.drain(timeout=max(progress_every, 0.1)):
            say(f"waiting for the hub to ack {client.pending} batch(es)")
        elapsed = max(now() - progress.started, 1e-9)
        st = client.stats
        say(
            f"done: {progress.lines} lines in {elapsed:.1f}s "
            f"({progress.lines / elapsed:.0f} lines/s), {progress.sent} mentions sent, "
            f"{progress.skipped} skipped; the hub accepted {st.accepted}, "
            f"{st.duplicates} duplicates, {st.rejected} rejected"
        )
    finally:
        reporter.cancel()
        await client.close()
