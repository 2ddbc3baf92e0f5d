"""The adapters Ground Control ships, and the one way their settings are read.

Every adapter module in ``feeds/`` provides:

- ``NAME``: its type name (``"bluesky"``), the ``groundcontrol feed NAME`` command;
- ``SUMMARY``: one line for ``--help``;
- ``Settings``: a frozen dataclass whose fields are made with :func:`feeds.base.setting`;
  the same fields are the command's ``--options`` and the keys of its config table;
- ``async def run(settings, ctx: FeedContext) -> None``: runs until cancelled.

A config file names feeds in ``[feeds.NAME]`` tables. ``type`` defaults to ``NAME``,
so ``[feeds.reddit]`` runs the reddit adapter and ``[feeds.press]`` with
``type = "rss"`` runs a second rss adapter under its own name and cursor.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import re
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, cast

from feeds.base import FeedConfigError, FeedContext
from groundcontrol.config import Config, ConfigError

__all__ = [
    "ADAPTERS",
    "FeedModule",
    "FeedSpec",
    "add_options",
    "load",
    "settings_from_args",
    "settings_from_table",
    "specs_from_config",
]

#: Adapter type name -> module. The order is the order of ``groundcontrol feed --help``.
ADAPTERS: dict[str, str] = {
    "bluesky": "feeds.bluesky",
    "mastodon": "feeds.mastodon",
    "reddit": "feeds.reddit",
    "hackernews": "feeds.hackernews",
    "rss": "feeds.rss",
    "x": "feeds.x",
    "webhook": "feeds.webhook",
    "replay": "feeds.replay",
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


class FeedModule(Protocol):
    NAME: str
    SUMMARY: str
    Settings: type[Any]

    def run(self, settings: Any, ctx: FeedContext) -> Awaitable[None]: ...


@dataclasses.dataclass(frozen=True)
class FeedSpec:
    """One configured feed: its name on the hub, its adapter and its settings."""

    name: str
    type: str
    settings: Any

    def run(self, ctx: FeedContext) -> Awaitable[None]:
        return load(self.type).run(self.settings, ctx)


def available() -> list[str]:
    """The adapter types whose module is present."""
    return [name for name, module in ADAPTERS.items() if importlib.util.find_spec(module)]


def load(type_name: str) -> FeedModule:
    if type_name not in ADAPTERS:
        raise FeedConfigError(
            f"no feed type {type_name!r}; the types are {', '.join(sorted(ADAPTERS))}"
        )
    return cast(FeedModule, importlib.import_module(ADAPTERS[type_name]))


def _fields(settings_cls: type[Any]) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(settings_cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(settings_cls)]


def _kind(hint: Any) -> str:
    if hint in (str, int, float, bool):
        return cast(str, hint.__name__)
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return "list[str]"
    raise TypeError(f"setting type {hint!r} is not one of str, int, float, bool, list[str]")


def _convert(value: Any, kind: str, where: str) -> Any:
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    shown = {"list[str]": "a list of strings", "str": "a string"}.get(kind, f"a {kind}")
    raise FeedConfigError(f"{where}: expected {shown}, got {value!r}")


def settings_from_table(name: str, table: Mapping[str, Any], where: str = "") -> FeedSpec:
    """A ``[feeds.NAME]`` table as a FeedSpec; FeedConfigError names the bad key."""
    prefix = f"{where}: " if where else ""
    if not _NAME.match(name):
        raise FeedConfigError(
            f"{prefix}feeds.{name}: a feed name is lower case letters, digits, '_', '.', '-'"
        )
    type_name = table.get("type", name)
    if not isinstance(type_name, str):
        raise FeedConfigError(f"{prefix}feeds.{name}.type: expected a string")
    try:
        module = load(type_name)
    except FeedConfigError as exc:
        raise FeedConfigError(f"{prefix}feeds.{name}: {exc}") from None
    values: dict[str, Any] = {}
    known = {"type"}
    for f, hint in _fields(module.Settings):
        known.add(f.name)
        if f.name in table:
            values[f.name] = _convert(table[f.name], _kind(hint), f"{prefix}feeds.{name}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FeedConfigError(f"{prefix}feeds.{name}: {f.name} is required")
    unknown = sorted(set(table) - known)
    if unknown:
        raise FeedConfigError(
            f"{prefix}feeds.{name}: unknown key {unknown[0]!r}; "
            f"{type_name} takes {', '.join(sorted(known))}"
        )
    return FeedSpec(name, type_name, _build(module, values, f"{prefix}feeds.{name}"))


def _build(module: FeedModule, values: dict[str, Any], where: str) -> Any:
    try:
        settings = module.Settings(**values)
        check: Callable[[], None] | None = getattr(settings, "check", None)
        if check is not None:
            check()
    except (FeedConfigError, ValueError) as exc:
        raise FeedConfigError(f"{where}: {exc}") from None
    return settings


def add_options(parser: argparse.ArgumentParser, module: types.ModuleType | FeedModule) -> None:
    """Add a ``--option`` to ``parser`` for each of the adapter's settings."""
    for f, hint in _fields(module.Settings):
        kind = _kind(hint)
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if kind == "bool":
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, help=help_text
            )
            continue
        default = (
            None
            if required
            else (f.default if f.default_factory is dataclasses.MISSING else f.default_factory())
        )
        if default not in (None, "", []):
            help_text += f" (default: {default})"
        if kind == "list[str]":
            parser.add_argument(
                flag,
                dest=f.name,
                action="append",
                metavar=f.name.upper().removesuffix("S"),
                required=required,
                help=help_text + " (repeat for more)",
            )
        else:
            converter: Callable[[str], Any] = {"int": int, "float": float}.get(kind, str)
            parser.add_argument(
                flag, dest=f.name, type=converter, required=required, help=help_text
            )


def settings_from_args(module: FeedModule, args: argparse.Namespace) -> Any:
    """The adapter's Settings from parsed ``--options`` (unset ones keep their default)."""
    values = {
        f.name: getattr(args, f.name)
        for f, _hint in _fields(module.Settings)
        if getattr(args, f.name, None) is not None
    }
    return _build(module, values, f"feed {module.NAME}")


def specs_from_config(config: Config) -> tuple[FeedSpec, ...]:
    """The config's ``[feeds.NAME]`` tables read by their adapters; ConfigError names
    the file and the bad key (checked before the hub starts)."""
    specs = []
    for feed in config.feeds:
        try:
            specs.append(settings_from_table(feed.name, feed.table))
        except FeedConfigError as exc:
            raise ConfigError(config.source, "", str(exc)) from None
    return tuple(specs)
