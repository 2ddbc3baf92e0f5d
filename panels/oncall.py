"""Acting on incidents from the keyboard: the on-call wall's keys, shared with the console.

A wall is a kiosk, but the same on-call view over SSH is in someone's hands: in its
*interactive* mode (``groundcontrol wall --act``, which the SSH server runs for the
``oncall`` and ``analyst`` keys) ``k`` acknowledges, ``s`` snoozes (for
:data:`SNOOZE_SECONDS`) and ``R`` resolves one incident, through the hub's HTTP API
(:class:`~groundcontrol.client.api.HubApi`). The hub sends the change to every wall
on its stream, this one included, so the screen shows it the way every wall does.

Which incident: the one on the takeover card when a new incident took over the
screen (the keys work there too), else the *target*, the most urgent incident that
is not resolved, or the one picked with up and down. The
:class:`ActionBar` at the foot names it and the keys, and says for a while how the
last action went.

:func:`act_on_incident` is the one request and its one-line outcome, used here and by
the analyst console (panels/console.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, cast

from rich.text import Text
from textual.widget import Widget

from groundcontrol.client.actor import OPEN_CONSOLE_STATUS
from groundcontrol.client.api import ApiError, HubApi
from groundcontrol.protocol import Incident
from panels.incidents import badge_label, kind_words, status_parts
from panels.state import WallState

IncidentActionName = Literal["ack", "snooze", "resolve"]

#: The on-call keys and what each does (the app binds them: panels/app.py).
ONCALL_KEYS: dict[str, str] = {
    "k": "ack",
    "s": "snooze",
    "R": "resolve",
    "up": "up",
    "down": "down",
    "c": "console",
}
#: How long ``s`` snoozes an incident on the on-call wall.
SNOOZE_SECONDS = 30 * 60.0
#: Seconds the outcome of an action stays on the action bar.
OUTCOME_SECONDS = 8.0


@dataclass(frozen=True)
class Outcome:
    """How an incident action went, in one line."""

    ok: bool
    line: str


async def act_on_incident(
    api: HubApi, incident_id: str, action: IncidentActionName, *, seconds: float | None = None
) -> Outcome:
    """Acknowledge, snooze (for ``seconds``; None: the hub's default) or resolve an
    incident; never raises for what the hub or the network say."""
    try:
        incident = await api.incident_action(incident_id, action, seconds=seconds)
    except ApiError as exc:
        return Outcome(False, f"{action} refused: {exc.reason}")
    return Outcome(True, f"{action}: {incident.title} is {incident.status}")


def targets(incidents: Sequence[Incident]) -> list[Incident]:
    """The incidents someone can still act on, most urgent first (as given)."""
    return [incident for incident in incidents if incident.status != "resolved"]


class ActionBar(Widget):
    """The interactive wall's last line and what its keys do: the target incident and
    the keys, or for a few seconds how the last action went. The app binds the keys
    (:data:`ONCALL_KEYS`) and hands them to :meth:`key`."""

    DEFAULT_CSS = """
    ActionBar {
        dock: bottom;
        height: 1;
        background: $panel;
        color: $text;
    }
    ActionBar > .action-bar--key {
        color: $accent;
        text-style: bold;
    }
    ActionBar > .action-bar--error {
        color: $error;
        text-style: bold;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"action-bar--key", "action-bar--error"}

    def __init__(
        self,
        api: HubApi,
        *,
        clock: Callable[[], float],
        console_key: bool = False,
        id: str | None = None,
    ) -> None:
        """``api``: the hub's HTTP API with a token that may act on incidents.
        ``console_key``: ``c`` ends the app with :data:`OPEN_CONSOLE_STATUS`, which
        the SSH server takes as "open the console"."""
        super().__init__(id=id)
        self.api = api
        self.clock = clock
        self.console_key = console_key
        self.choices: list[Incident] = []
        """The incidents one can act on, most urgent first."""
        self.target_id = ""
        """The incident the keys act on (the first of ``choices`` unless picked)."""
        self.hub_now = 0.0
        self.outcome: Outcome | None = None
        self.outcome_until = 0.0
        self.actions_done = 0
        """Actions the hub answered, refused ones included (tests wait on it)."""

    @property
    def target(self) -> Incident | None:
        return next((i for i in self.choices if i.id == self.target_id), None)

    def show(self, state: WallState, now: float) -> None:
        """Follow the wall's incidents; keep the target while it can be acted on."""
        self.choices = targets(state.incidents())
        if self.target is None:
            self.target_id = self.choices[0].id if self.choices else ""
        self.hub_now = state.hub_now(now)
        self.refresh()

    def key(self, name: str, card: Incident | None = None) -> None:
        """One of :data:`ONCALL_KEYS` was pressed; ``card``: the incident on the
        takeover card, if one is up (the keys act on it, not on the target)."""
        if name in ("ack", "snooze", "resolve"):
            self.act(cast(IncidentActionName, name), card or self.target)
        elif name == "up":
            self.pick(-1)
        elif name == "down":
            self.pick(1)
        elif name == "console" and self.console_key:
            self.app.exit(return_code=OPEN_CONSOLE_STATUS)

    def pick(self, step: int) -> None:
        """Move the target ``step`` places among the incidents one can act on."""
        if not self.choices:
            return
        ids = [incident.id for incident in self.choices]
        index = ids.index(self.target_id) if self.target_id in ids else 0
        self.target_id = ids[(index + step) % len(ids)]
        self.outcome = None
        self.refresh()

    def act(self, action: IncidentActionName, incident: Incident | None) -> None:
        """Ask the hub to do ``action`` to ``incident``; the outcome goes on the bar."""
        if incident is None:
            self._said(Outcome(False, f"{action}: no incident to act on"))
            return
        seconds = SNOOZE_SECONDS if action == "snooze" else None

        async def act() -> None:
            outcome = await act_on_incident(self.api, incident.id, action, seconds=seconds)
            self.actions_done += 1
            self._said(outcome)

        self.run_worker(act(), group="incident-action", exit_on_error=False)

    def _said(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.outcome_until = self.clock() + OUTCOME_SECONDS
        self.refresh()

    async def on_unmount(self) -> None:
        await self.api.close()

    # ------------------------------------------------------------------ drawing

    def keys(self) -> Text:
        """The keys, compact: they leave room for the target on 80 columns."""
        keys = [("k", "ack"), ("s", "snooze 30m"), ("R", "resolve"), ("↑↓", "pick")]
        if self.console_key:
            keys.append(("c", "console"))
        key_style = self.get_component_rich_style("action-bar--key")
        line = Text()
        for key, what in keys:
            line.append(f" {key}", key_style)
            line.append(f" {what}")
        return line

    def outcome_showing(self) -> bool:
        return self.outcome is not None and self.clock() < self.outcome_until

    def subject(self) -> Text:
        """How the last action went, for a while; else the target."""
        if self.outcome is not None and self.outcome_showing():
            style = "" if self.outcome.ok else self.get_component_rich_style("action-bar--error")
            return Text(("✔ " if self.outcome.ok else "✖ ") + self.outcome.line, style)
        incident = self.target
        if incident is None:
            return Text("no incident to act on")
        index = self.choices.index(incident)
        word, _rest, _style = status_parts(incident, self.hub_now, None)
        return Text.assemble(
            (f"▸ {index + 1}/{len(self.choices)} ", "bold"),
            f"{badge_label(incident, short=True)} {kind_words(incident, short=True)} {word} · ",
            (incident.title, "bold"),
        )

    def render(self) -> Text:
        subject = self.subject()
        # An outcome has the whole line for its few seconds: it must be read whole.
        keys = Text() if self.outcome_showing() else self.keys()
        room = max(self.size.width - keys.cell_len - 1, 0)
        subject.truncate(room, overflow="ellipsis", pad=True)
        return Text.assemble(" ", subject, keys)
