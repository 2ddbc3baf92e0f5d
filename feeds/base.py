"""What every source adapter shares: its resume point on disk, its health, and the
rule that a resume point moves only once the hub has acked what came before it.

An adapter is a module in ``feeds/``: pure ``parse_*`` functions that turn what the
source sends into mentions (and skipped items), plus a thin async loop that fetches,
parses and hands batches to an :class:`Emitter`.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any, overload

from groundcontrol.client.ingest import IngestClient
from groundcontrol.client.spool import Spool
from groundcontrol.client.stream import Access
from groundcontrol.model import Mention
from groundcontrol.protocol import Ack, FeedStatus, Retraction

__all__ = [
    "Changes",
    "CursorError",
    "CursorFile",
    "Emitter",
    "FeedConfigError",
    "FeedContext",
    "Skipped",
    "SourceHealth",
    "default_state_dir",
    "retry_after",
    "setting",
]


def default_state_dir() -> Path:
    """Where feeds keep their cursors when not told: ``$XDG_STATE_HOME/groundcontrol``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "groundcontrol" / "feeds"


#: An item a parser skipped: (why, the item as the source sent it), for dead letters.
Skipped = tuple[str, str]


@dataclasses.dataclass
class Changes:
    """What a source brought: new mentions, edits, deletions and skipped items."""

    mentions: list[Mention] = dataclasses.field(default_factory=list)
    edits: list[Mention] = dataclasses.field(default_factory=list)
    deleted: list[Retraction] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)


#: Longest wait a source may impose with Retry-After; a longer one is taken as this.
MAX_RETRY_AFTER = 6 * 3600.0


@overload
def retry_after(value: str | None, now: float, default: float) -> float: ...
@overload
def retry_after(value: str | None, now: float, default: None = None) -> float | None: ...
def retry_after(value: str | None, now: float, default: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for, as delta-seconds or an HTTP date (``now``
    is the current unix time), at most MAX_RETRY_AFTER; ``default`` when the header
    is absent or unreadable."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return default
    return max(0.0, min(MAX_RETRY_AFTER, seconds))


class CursorError(Exception):
    """A cursor file cannot be read or written; the message names the file."""


class CursorFile:
    """A feed's resume point: a small JSON object, replaced atomically on save.

    Written to a temporary file, fsynced, renamed over the old one and the directory
    fsynced, so a crash leaves either the old cursor or the new one, never half.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        """The saved cursor, or {} when there is none yet."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CursorError(f"{self.path}: cannot read the cursor: {exc.strerror}") from exc
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise CursorError(
                f"{self.path}: not a cursor ({exc}); move it aside to start from now"
            ) from exc
        if not isinstance(value, dict):
            raise CursorError(f"{self.path}: not a cursor (expected a JSON object)")
        return value

    def save(self, cursor: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(cursor, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise CursorError(f"{self.path}: cannot save the cursor: {exc.strerror}") from exc


class SourceHealth:
    """What an adapter knows about its source, reported to the hub with the feed's status."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.last_event_at = 0.0
        self.errors = 0
        self.detail = ""
        self.wait_until = 0.0
        self._events: deque[tuple[float, int]] = deque(maxlen=240)

    def got(self, n: int) -> None:
        """``n`` items arrived from the source (mentions or skipped ones)."""
        now = self.clock()
        if n:
            self.last_event_at = now
            self._events.append((now, n))

    def ok(self) -> None:
        """The source answered normally: clear a previous error or wait."""
        self.detail = ""
        self.wait_until = 0.0

    def error(self, detail: str) -> None:
        self.errors += 1
        self.detail = detail[:200]

    def waiting(self, seconds: float, detail: str) -> None:
        """The source asked us to wait ``seconds`` (a 429, an exhausted quota)."""
        self.wait_until = self.clock() + max(0.0, seconds)
        self.detail = detail[:200]

    def status(self) -> FeedStatus:
        now = self.clock()
        return FeedStatus(
            last_event_at=self.last_event_at,
            events_per_min=float(sum(n for t, n in self._events if now - t <= 60.0)),
            errors=self.errors,
            detail=self.detail,
            rate_limit_wait=max(0.0, self.wait_until - now),
        )


class Emitter:
    """Hands batches to an :class:`IngestClient` and saves the cursor that follows each
    batch once the hub has acked it and everything before it.

    A restart then resumes from the last acked position: what was in flight is
    fetched again, and the hub's dedupe drops what it already has. Nothing is skipped.
    """

    def __init__(self, cursor: CursorFile) -> None:
        self.cursor = cursor
        self.client: IngestClient | None = None
        self._waiting: deque[tuple[int, dict[str, Any]]] = deque()
        self._acked_seq = 0
        self.saved: dict[str, Any] = {}

    def attach(self, client: IngestClient) -> None:
        self.client = client

    async def emit(
        self,
        mentions: list[Mention],
        cursor: dict[str, Any],
        *,
        edits: list[Mention] | None = None,
        deleted: list[Retraction] | None = None,
    ) -> None:
        """Send ``mentions``; ``cursor`` is where the source stands after them.

        ``edits`` are new versions of mentions the source says were changed (the hub
        replaces its copy, or stores it if it had none); ``deleted`` names mentions
        their authors deleted (the hub removes its copy).
        """
        assert self.client is not None, "attach() a client first"
        if mentions or edits or deleted:
            seq = await self.client.submit(mentions, edits=edits, deleted=deleted)
            self._waiting.append((seq, cursor))
        elif not self._waiting:
            self._save(cursor)
        else:
            # Nothing new: the position still moves, after what is in flight.
            last_seq = self._waiting[-1][0]
            self._waiting.append((last_seq, cursor))

    def on_ack(self, ack: Ack, _first_sent: float) -> None:
        """Pass as the client's ``on_ack``: acks come in order."""
        self._acked_seq = max(self._acked_seq, ack.seq)
        latest: dict[str, Any] | None = None
        while self._waiting and self._waiting[0][0] <= self._acked_seq:
            latest = self._waiting.popleft()[1]
        if latest is not None:
            self._save(latest)

    def _save(self, cursor: dict[str, Any]) -> None:
        self.cursor.save(cursor)
        self.saved = cursor


# --------------------------------------------------------------------------- contract


class FeedConfigError(Exception):
    """A feed's settings are wrong or a credential is missing; the message says which."""


def setting(help: str, default: Any = dataclasses.MISSING) -> Any:
    """A field of an adapter's ``Settings``: its help text for ``--help`` and the docs.

    Fields without a default are required. Types allowed: str, int, float, bool and
    list[str]. A field whose name ends in ``_env`` names an environment variable that
    holds a credential: the value in the config is the variable's name, never the secret.
    """
    if isinstance(default, list):
        items = list(default)
        return dataclasses.field(default_factory=lambda: list(items), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class FeedContext:
    """What an adapter's ``run`` is given besides its settings: where the hub is, its
    own name (the feed's name on the hub and its cursor file), where to keep state,
    how to report progress, and where credentials come from."""

    hub: str
    name: str
    state_dir: Path = dataclasses.field(default_factory=default_state_dir)
    access: Access | None = None
    on_event: Callable[[str], None] = lambda _message: None
    clock: Callable[[], float] = time.time
    env: Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)
    spool: Spool | None = None

    def cursor_file(self) -> CursorFile:
        return CursorFile(self.state_dir / f"{self.name}.json")

    def secret(self, variable: str, what: str) -> str:
        """The credential in environment variable ``variable``; FeedConfigError if unset."""
        if not variable:
            raise FeedConfigError(f"feed {self.name}: no environment variable named for {what}")
        value = self.env.get(variable, "")
        if not value:
            raise FeedConfigError(
                f"feed {self.name}: environment variable {variable} ({what}) is not set"
            )
        return value

    def client(
        self, source: str, emitter: Emitter, health: SourceHealth | None = None
    ) -> IngestClient:
        """An :class:`IngestClient` to the hub wired to ``emitter`` and ``health``;
        attached to the emitter, not started."""
        client = IngestClient(
            self.hub,
            name=self.name,
            source=source,
            on_event=self.on_event,
            on_ack=emitter.on_ack,
            access=self.access,
            health=health.status if health is not None else None,
            spool=self.spool,
        )
        emitter.attach(client)
        return client
