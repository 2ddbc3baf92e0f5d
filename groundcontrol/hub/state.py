"""What the hub's stages share: its counters, its name, and the store writer's slot.

Small on purpose. Ingest (ingest.py) counts what it takes, the publisher (stream.py)
stamps the counts on every tick, and the HTTP API (api.py) reports them; each stage
gets these objects from ``Hub`` (server.py) in its constructor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from groundcontrol import __version__
from groundcontrol.store.requests import AskStore
from groundcontrol.store.writer import StoreWriter

HUB_NAME = f"groundcontrol/{__version__}"

#: C0 controls other than tab, newline and carriage return, and DEL: no social text
#: has them, and they can corrupt terminals and CSV exports downstream.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: The hub's store writer, or None: a hub without a store (``--no-store``), or one
#: whose store is not open yet. Stages ask at each use, since the store opens at
#: startup, after they are built.
CurrentWriter: TypeAlias = Callable[[], StoreWriter | None]

#: How the hub asks its store for triage, briefings, search and history: its own
#: writer, or with ``[bus]`` the store writer on the bus (store/requests.py); None
#: when it has neither. Asked at each use, as ``CurrentWriter``.
CurrentStore: TypeAlias = Callable[[], AskStore | None]


@dataclass
class Counters:
    """What the hub has done since it started."""

    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    edits: int = 0
    """Edits of mentions received from sources."""
    deletions: int = 0
    """Deletions of mentions received from sources."""
    incident_events: dict[str, int] = field(default_factory=dict)
    """Incident changes by kind of change (opened, escalated, acknowledged...)."""
    started_at: float = 0.0
    """When the hub started (its clock)."""
    ingested_before: int = 0
    """Mentions the store took before this process started (the wall's total goes on
    across restarts; /metrics counters start at 0, as counters do)."""
    rebuilt: int = 0
    """Stored mentions replayed into the windows when the hub started."""

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1
