"""The console's small widgets: the tab bar, the ``:`` command line, the ``/`` search
bar, prompts and pickers, the keys screen (``?``) and the command palette's provider.

They post messages or call back; the app (panels/console.py) decides what happens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from panels.console_model import VIEW_ALIASES, VIEW_NAMES, VIEWS

if TYPE_CHECKING:
    from panels.console import ConsoleApp

#: Words ``:`` completes besides the view names.
COMMAND_WORDS = ("quit", "keys", "back")


# --------------------------------------------------------------------------- tab bar


class ViewTab(Static):
    """One view's tab: click it to show the view."""

    def __init__(self, name: str) -> None:
        super().__init__("", id=f"tab-{name}", classes="view-tab")
        self.view_name = name

    def on_click(self, event: events.Click) -> None:
        event.stop()
        cast("ConsoleApp", self.app).show_view(self.view_name)


class ViewBar(Horizontal):
    """The views as tabs, the current one highlighted; short names when narrow."""

    def compose(self) -> ComposeResult:
        for view in VIEWS:
            yield ViewTab(view.name)

    def show(self, current: str, *, compact: bool, badges: dict[str, str]) -> None:
        for view in VIEWS:
            tab = self.query_one(f"#tab-{view.name}", ViewTab)
            name = view.short if compact and view.name != current else view.name
            badge = badges.get(view.name, "")
            text = f"{view.key} {name}" + (f" {badge}" if badge else "")
            if tab.content != text:
                tab.update(text)
            tab.set_class(view.name == current, "-current")


# --------------------------------------------------------------------------- command line


class CommandLine(Horizontal):
    """``:`` and a view name (tab completes it), like k9s; enter runs it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
        Binding("tab", "complete", "Complete", show=False, priority=True),
    ]

    class Run(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield Label(":", id="command-prompt")
        words = [*VIEW_NAMES, *COMMAND_WORDS, *VIEW_ALIASES]
        yield Input(
            placeholder="view name: " + " ".join(VIEW_NAMES),
            suggester=SuggestFromList(words, case_sensitive=False),
            id="command-input",
            compact=True,
        )

    @property
    def input(self) -> Input:
        return self.query_one("#command-input", Input)

    def open(self) -> None:
        self.display = True
        self.input.value = ""
        self.input.focus()

    def action_close(self) -> None:
        self.display = False
        cast("ConsoleApp", self.app).focus_view()

    async def action_complete(self) -> None:
        """Tab: take the completion the input shows (a view name, an alias, a command)."""
        field = self.input
        if field.suggester is None or not field.value:
            return
        suggestion = await field.suggester.get_suggestion(field.value)
        if suggestion:
            field.value = suggestion
            field.cursor_position = len(suggestion)

    @on(Input.Submitted, "#command-input")
    def _run(self, event: Input.Submitted) -> None:
        event.stop()
        self.display = False
        self.post_message(self.Run(event.value))


# --------------------------------------------------------------------------- search bar


class SearchBar(Vertical):
    """``/``: a search string and a time range; a bad one says why and stays open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
    ]

    class Run(Message):
        def __init__(self, query: str, range_text: str) -> None:
            super().__init__()
            self.query = query
            self.range_text = range_text

    def compose(self) -> ComposeResult:
        with Horizontal(id="search-fields"):
            yield Label("/", id="search-prompt")
            yield Input(
                placeholder='brand:Northwind #aerogate, source:bluesky, author:"x"…',
                id="search-query",
                compact=True,
            )
            yield Label("in", id="search-in")
            yield Input(placeholder="15m 2h 7d from..to", id="search-range", compact=True)
        yield Label("", id="search-error")

    def open(self, query: str, range_text: str, error: str = "") -> None:
        self.display = True
        self.query_one("#search-query", Input).value = query
        self.query_one("#search-range", Input).value = range_text
        self.show_error(error)
        self.query_one("#search-query", Input).focus()

    def show_error(self, error: str) -> None:
        label = self.query_one("#search-error", Label)
        label.update(Text(f"✖ {error}") if error else "")
        label.display = bool(error)

    @property
    def error(self) -> str:
        label = self.query_one("#search-error", Label)
        return str(label.content).removeprefix("✖ ") if label.display else ""

    def action_close(self) -> None:
        self.display = False
        cast("ConsoleApp", self.app).focus_view()

    @on(Input.Submitted)
    def _run(self, event: Input.Submitted) -> None:
        event.stop()
        query = self.query_one("#search-query", Input).value
        range_text = self.query_one("#search-range", Input).value
        self.post_message(self.Run(query, range_text))


# --------------------------------------------------------------------------- modals


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; ``check`` may refuse it with a reason."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        *,
        placeholder: str = "",
        value: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(classes="console-modal")
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(self.title_text, classes="modal-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label("", id="prompt-error")
            yield Label("enter: ok · esc: cancel", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-error").display = False
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        reason = "say something first" if not value else None
        if reason is None and self.check is not None:
            reason = self.check(value)
        if reason:
            label = self.query_one("#prompt-error", Label)
            label.update(Text(f"✖ {reason}"))
            label.display = True
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[str | None]):
    """Pick one of a few values from a list (arrows and enter, or a click)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, options: Sequence[tuple[str, str]], current: str = "") -> None:
        super().__init__(classes="console-modal")
        self.title_text = title
        self.options = list(options)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(self.title_text, classes="modal-title")
            yield OptionList(*(Option(label, id=value) for value, label in self.options))
            yield Label("enter: pick · esc: cancel", classes="modal-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [value for value, _ in self.options]
        options.highlighted = values.index(self.current) if self.current in values else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KeysScreen(ModalScreen[None]):
    """``?``: every key of the view on screen, then the keys that work everywhere."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]):
        super().__init__(classes="console-modal")
        self.title_text = title
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=10)
        table.add_column()
        for index, (heading, keys) in enumerate(self.sections):
            if index:
                table.add_row("", "")
            table.add_row(Text(heading, "bold underline"), "")
            for key, what in keys:
                table.add_row(key, what)
        with Vertical(classes="modal-box keys-box"):
            yield Label(self.title_text, classes="modal-title")
            with VerticalScroll(id="keys-scroll"):
                yield Static(table, id="keys-table")
            yield Label("esc or ?: close", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#keys-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------- palette


class ConsoleCommands(Provider):
    """Every view and action of the console, by name, for the command palette."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("ConsoleApp", self.app)
        return app.palette_commands()

    async def discover(self) -> Hits:
        for name, about, run in self._commands():
            yield DiscoveryHit(name, run, help=about)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, about, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(run), text=name, help=about)
