"""Which scene the wall shows, and when it moves on by itself.

The wall has two scenes: the overview (volume, sentiment, spikes, topics, river,
sources) and listening (stories, influencers, triage, compliance, the newest alert
explained). A wall has nobody at its keyboard, so it rotates between them every
``seconds``; someone who does press a key (``1``, ``2``, ``tab``) wants to read what
they picked, so a key holds that scene for ``hold_seconds`` before rotation resumes.

A layout (groundcontrol/config.py, ``[[layouts]]``) gives each scene its own dwell
(``dwells``); ``seconds`` then only says whether rotation is on (0: off) unless a
command line set it for every scene. A wall that restarts picks up where its clock
says the rotation is (:meth:`SceneRotation.resume`, from :class:`RotationStore`).

Pure logic on an injected clock (no textual), so rotation is tested without an app.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: Scene names in rotation order; the first is the one a wall starts on.
SCENES: tuple[str, ...] = ("overview", "listening")
#: Seconds each scene stays up before the wall moves on (``--rotate``'s default).
DEFAULT_ROTATE_SECONDS = 30.0
#: Seconds a key press holds the chosen scene before rotation resumes.
HOLD_SECONDS = 300.0


@dataclass
class SceneRotation:
    """The current scene and the time of the next automatic switch.

    ``seconds`` of 0 turns rotation off: the wall stays where it is (the overview,
    unless a key chose otherwise).
    """

    seconds: float = DEFAULT_ROTATE_SECONDS
    hold_seconds: float = HOLD_SECONDS
    scenes: tuple[str, ...] = SCENES
    index: int = 0
    next_at: float | None = None
    """Wall clock of the next switch (None: not started, or rotation is off)."""
    held_until: float = 0.0
    """Wall clock until which a key press holds the scene."""
    dwells: tuple[float, ...] = field(default=())
    """Seconds each scene stays up, by index (empty: ``seconds`` for all)."""
    started_at: float = 0.0
    """Wall clock at which the current scene came up."""

    @property
    def scene(self) -> str:
        return self.scenes[self.index]

    def dwell(self, index: int) -> float:
        """Seconds scene ``index`` stays up."""
        return self.dwells[index] if index < len(self.dwells) else self.seconds

    def resume(self, index: int, started_at: float, now: float) -> None:
        """Start where a rotation that showed scene ``index`` from ``started_at`` is
        by ``now`` (after a restart); a saved time in the future (the clock went
        back) shows the saved scene from ``now``."""
        if self.seconds <= 0 or not 0 <= index < len(self.scenes):
            self.start(now)
            return
        if started_at > now:
            self.index = index
            self.start(now)
            return
        cycle = sum(self.dwell(i) for i in range(len(self.scenes)))
        at = started_at
        if now - at > cycle:
            # Whole cycles missed while the wall was off: skip them in one step.
            at += math.floor((now - at) / cycle - 1) * cycle
        while at + self.dwell(index) <= now:
            at += self.dwell(index)
            index = (index + 1) % len(self.scenes)
        self.index = index
        self.started_at = at
        self.next_at = at + self.dwell(index)

    def label(self, now: float, *, short: bool = False) -> str:
        """What the status bar says: "1/2 overview", then "· held 4m59s" while a key
        holds it (left out when ``short``: 80 columns have no room for it)."""
        text = f"{self.index + 1}/{len(self.scenes)} {self.scene}"
        if self.is_held(now) and not short:
            left = int(self.held_until - now)
            text += f" · held {left // 60}m{left % 60:02d}s"
        return text

    def is_held(self, now: float) -> bool:
        return now < self.held_until

    def start(self, now: float) -> None:
        """Begin counting from ``now`` (the wall is on screen)."""
        self.started_at = now
        self.next_at = now + self.dwell(self.index) if self.seconds > 0 else None

    def due(self, now: float) -> str | None:
        """The scene to switch to if rotation says so at ``now``, else None.

        A clock that jumped (a laptop woke up) switches once, then counts afresh
        from ``now`` rather than replaying every missed switch.
        """
        if self.next_at is None or now < self.next_at:
            return None
        self.index = (self.index + 1) % len(self.scenes)
        self.started_at = now
        self.next_at = now + self.dwell(self.index)
        return self.scene

    def choose(self, scene: str, now: float) -> str:
        """A person picked ``scene``: show it and hold it for ``hold_seconds``."""
        if scene not in self.scenes:
            raise ValueError(f"no scene named {scene!r}; scenes: {', '.join(self.scenes)}")
        self.index = self.scenes.index(scene)
        self.started_at = now
        self.held_until = now + self.hold_seconds
        if self.seconds > 0:
            self.next_at = self.held_until
        return self.scene

    def following(self) -> str:
        """The scene after the current one (what ``tab`` shows)."""
        return self.scenes[(self.index + 1) % len(self.scenes)]


def state_dir() -> Path:
    """Where walls keep their rotation: ``$XDG_STATE_HOME/groundcontrol``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "groundcontrol"


@dataclass
class RotationStore:
    """The scene a wall shows and since when, in a small JSON file per layout, so a
    restarted wall carries on with the rotation rather than back at the first scene."""

    path: Path

    @classmethod
    def for_layout(cls, layout: str, directory: Path | None = None) -> RotationStore:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in layout)
        return cls((directory or state_dir()) / f"wall-{safe}.json")

    def load(self) -> tuple[int, float] | None:
        """The saved scene index and its start, or None (none saved, or unreadable)."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
            index, started_at = data["index"], data["started_at"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if isinstance(index, bool) or not isinstance(index, int):
            return None
        if isinstance(started_at, bool) or not isinstance(started_at, int | float):
            return None
        return index, float(started_at)

    def save(self, rotation: SceneRotation) -> None:
        """Write the rotation's scene and start; a wall keeps going if it cannot."""
        data = {
            "index": rotation.index,
            "scene": rotation.scene,
            "started_at": rotation.started_at,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), "utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("cannot save the wall's rotation to %s: %s", self.path, exc)
