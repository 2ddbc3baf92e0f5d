"""Which scene the wall shows, and when it moves on by itself.

The wall has two scenes: the overview (volume, sentiment, spikes, topics, river,
sources) and listening (stories, influencers, triage, compliance, the newest alert
explained). A wall has nobody at its keyboard, so it rotates between them every
``seconds``; someone who does press a key (``1``, ``2``, ``tab``) wants to read what
they picked, so a key holds that scene for ``hold_seconds`` before rotation resumes.

Pure logic on an injected clock (no textual), so rotation is tested without an app.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def scene(self) -> str:
        return self.scenes[self.index]

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
        self.next_at = now + self.seconds if self.seconds > 0 else None

    def due(self, now: float) -> str | None:
        """The scene to switch to if rotation says so at ``now``, else None.

        A clock that jumped (a laptop woke up) switches once, then counts afresh
        from ``now`` rather than replaying every missed switch.
        """
        if self.next_at is None or now < self.next_at:
            return None
        self.index = (self.index + 1) % len(self.scenes)
        self.next_at = now + self.seconds
        return self.scene

    def choose(self, scene: str, now: float) -> str:
        """A person picked ``scene``: show it and hold it for ``hold_seconds``."""
        if scene not in self.scenes:
            raise ValueError(f"no scene named {scene!r}; scenes: {', '.join(self.scenes)}")
        self.index = self.scenes.index(scene)
        self.held_until = now + self.hold_seconds
        if self.seconds > 0:
            self.next_at = self.held_until
        return self.scene

    def following(self) -> str:
        """The scene after the current one (what ``tab`` shows)."""
        return self.scenes[(self.index + 1) % len(self.scenes)]
