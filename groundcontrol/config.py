"""Typed configuration loaded from TOML.

Every field has a one-line docstring. ``load_config`` validates the whole file at
start and raises :class:`ConfigError` naming the file, the key and what was expected,
so a bad file stops the hub before it binds a socket.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from groundcontrol.protocol import name_problem

#: Anomaly score from which a burst counts, in the hub and in ``groundcontrol backtest``
#: alike: a new record by 5 % over the series' own extremes (see
#: groundcontrol/detector.py). Chosen on real, human-labelled brand-mention series.
ALERT_SCORE = 0.5

#: The repo's default configuration: our brand, competitors and the demo.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "default.toml"


class ConfigError(Exception):
    """A configuration file is unreadable or holds a bad value."""

    def __init__(self, file: str, key: str, expected: str) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(f"{where}{expected}")


@dataclass(frozen=True)
class BrandConfig:
    """A brand we watch."""

    name: str
    """Display name, also the key in brand series ("Northwind")."""
    query: str
    """Query in the query language that decides whether a mention is about it."""
    competitor: bool = False
    """True for competitors we benchmark against, false for our own brands."""


@dataclass(frozen=True)
class QueryConfig:
    """A named query: a saved search that tags mentions it matches."""

    name: str
    """Name shown with matched mentions ("aero-battery")."""
    query: str
    """Query in the query language."""


@dataclass(frozen=True)
class HubConfig:
    """Where the hub listens and how often it publishes."""

    host: str = "127.0.0.1"
    """Address to bind; loopback unless told otherwise."""
    port: int = 8765
    """TCP port for HTTP and websockets."""
    tick_interval: float = 0.25
    """Seconds between ticks sent to every client (bounded rate, whatever the load)."""
    max_message_bytes: int = 8 * 1024 * 1024
    """Largest websocket message accepted on /ingest."""
    river_per_tick: int = 12
    """Most mentions of the live river sent per tick."""
    dedupe_capacity: int = 1_000_000
    """How many recent mention ids the in-memory dedupe remembers."""
    max_future_seconds: float = 3600.0
    """Mentions dated further ahead than this (clock skew allowance) are rejected."""
    max_age_days: float = 3650.0
    """Mentions dated further back than this are rejected."""
    enrich_workers: int = 1
    """Worker processes for enrichment; 0 enriches on the hub's own event loop."""
    tls_cert: str = ""
    """PEM certificate (chain) file: with ``tls_key`` the hub serves https and wss."""
    tls_key: str = ""
    """PEM private key file for ``tls_cert``."""
    feed_state_dir: str = ""
    """Where the feeds the hub runs keep their cursors; empty means
    ``$XDG_STATE_HOME/groundcontrol/feeds``."""


@dataclass(frozen=True)
class StoreConfig:
    """The durable store of mentions, alerts, triage actions and dead letters."""

    path: str = ""
    """SQLite file; empty means ``$XDG_DATA_HOME/groundcontrol/groundcontrol.db``."""
    retention_days: float = 90.0
    """Mentions and dead letters older than this are pruned in the background; 0 keeps all."""
    prune_interval_seconds: float = 600.0
    """How often the background pruning looks for expired rows."""
    rebuild: bool = True
    """On start, rebuild the windows and baselines from the stored history."""
    rebuild_max_mentions: int = 1_000_000
    """Most stored mentions replayed at start (the newest); bounds the restart time."""
    synchronous: str = "normal"
    """"normal": an acked batch survives the hub being killed, and is fsynced within
    about a second; "full": fsync every commit, so it survives a power cut too."""


@dataclass(frozen=True)
class BusConfig:
    """NATS JetStream between hubs, enrichment workers and the store writer (several
    machines); with no ``url`` the hub does everything in its own process."""

    url: str = ""
    """NATS server(s), ``nats://host:4222`` (several comma-separated for a cluster);
    empty: no bus. Credentials come from GROUNDCONTROL_BUS_TOKEN, _USER and _PASSWORD,
    or _CREDS (a .creds file), never from this file."""
    prefix: str = "gc"
    """Start of every stream, subject, consumer and bucket name: two sites may share
    one NATS cluster under two prefixes."""
    ack_wait: str | float = "30s"
    """How long a batch may stay unacknowledged by a worker or the store writer before
    JetStream hands it to another (a worker killed mid-batch loses nothing)."""
    duplicate_window: str | float = "20m"
    """How long JetStream remembers a batch's id, so that a feed's resend is stored
    once (beyond it the store's unique key still keeps one copy of each mention)."""
    replay: str | float = "1h"
    """How much of the enriched stream a hub replays into its windows at start; the
    stream keeps twice this."""
    lease: str | float = "6s"
    """How long the incident detector's leadership lasts unless renewed (every third
    of it); a new leader takes over within about this long after one dies."""
    replicas: int = 1
    """Copies of each stream in a NATS cluster (3 on a three-node cluster)."""

    def seconds(self, name: str) -> float:
        """One of the durations above in seconds (ValueError for a bad one)."""
        value: str | float = getattr(self, name)
        return duration_seconds(value)


@dataclass(frozen=True)
class AuthConfig:
    """Where the hub finds its tokens (never in this file: see docs)."""

    tokens_file: str = ""
    """A file of ``<role> <token> [<name>]`` lines, mode 600; adds to GROUNDCONTROL_TOKEN_*."""
    relays: tuple[str, ...] = ()
    """Names of tokens (from the tokens file) trusted to act for people: a request from
    one may name its person in ``X-Groundcontrol-Actor``, and the hub records that name
    (the SSH and web servers' tokens)."""


@dataclass(frozen=True)
class AnalyticsConfig:
    """Rolling windows."""

    bucket_seconds: int = 10
    """Width of one series bucket."""
    window_seconds: int = 300
    """The rolling window for shares, sources, brands and topics."""
    series_buckets: int = 60
    """How many buckets of trend each tick carries."""
    history_buckets: int = 360
    """How many buckets are kept in memory for baselines (360 x 10 s = 1 hour)."""
    top_topics: int = 15
    """Hot topics per tick."""
    max_terms_per_bucket: int = 500
    """Distinct terms kept per bucket; rarer ones are dropped to bound memory."""


@dataclass(frozen=True)
class SpikeConfig:
    """When a series' burst opens an incident (see groundcontrol/detector.py for the
    detector and groundcontrol/incidents.py for how bursts become incidents)."""

    alert_score: float = ALERT_SCORE
    """Anomaly score in (0, 1) from which a burst counts: 0.5 is a new record by 5 %
    over the series' own extremes of the last two weeks. The same in ``backtest``."""
    min_rate: float = 10.0
    """Fewest mentions a minute for a burst to count (a record at two a minute is noise)."""
    min_ratio: float = 3.0
    """A burst must also be at least this many times the series' usual rate."""
    memory_days: float = 14.0
    """How long a series' own extremes are remembered."""
    quiet_hours: float = 6.0
    """After a burst, the same series stays quiet this long (one incident per story)."""
    warmup_seconds: float = 120.0
    """Data a series needs before it can burst."""
    end_after_seconds: float = 120.0
    """An incident is over when all its signals have been back to normal this long."""
    regroup_seconds: float = 900.0
    """A new burst on a brand this soon after its incident ended reopens that incident."""
    takeover_severity: str = "warning"
    """The least severity of a new incident that takes over the walls' screens
    ("info", "warning", "critical" or "off")."""
    topic_series: int = 5
    """Hot stories that get a detector of their own (0: none)."""


@dataclass(frozen=True)
class DemoConfig:
    """The built-in synthetic feed."""

    rate: float = 40.0
    """Average mentions per second (the daily rhythm and incidents move it)."""
    seed: int = 7
    """Random seed: the same seed gives the same stream."""


@dataclass(frozen=True)
class SshConfig:
    """``groundcontrol ssh``: its limits (``[ssh]``; its options override them)."""

    idle: str | float = "60m"
    """Close a session after this long without input ("60m", "2h", or seconds)."""
    stall: str | float = "30s"
    """Drop a session whose client has stopped reading for this long (its output is
    held back meanwhile, so the other sessions do not wait for it)."""
    max_sessions: int = 50
    """Sessions at once; more are refused with a message."""
    low_bandwidth: bool = False
    """Every session in low-bandwidth mode: one screen update a second, no animation."""

    def seconds(self, name: str) -> float:
        """``idle`` or ``stall`` in seconds (ValueError for a bad one)."""
        value: str | float = getattr(self, name)
        return duration_seconds(value)


@dataclass(frozen=True)
class TriageRuleConfig:
    """One triage rule: mentions matching ``query`` vote for ``category``."""

    category: str
    """support, sales, product_problem, praise, compliance_risk or other."""
    query: str
    """Query in the query language."""
    weight: float = 1.0
    """How much this rule's vote counts (a strong sign 2, a weak one 0.5)."""


@dataclass(frozen=True)
class TriageConfig:
    """How mentions are classified, and when a person should look."""

    review_below: float = 0.6
    """Mentions classified with less confidence than this go to the review queue."""
    rules: tuple[TriageRuleConfig, ...] = ()
    """The rules; a mention no rule matches is "other"."""
    response_target: str | float = "30m"
    """How soon a person should first act on a mention sent to review: "30m", "2h",
    "90s", or seconds; one that waits longer counts as breached in GET /triage/queue."""

    @property
    def response_target_seconds(self) -> float:
        """``response_target`` in seconds (ValueError for a bad one; load_config checks)."""
        return duration_seconds(self.response_target)


@dataclass(frozen=True)
class QuietPeriodConfig:
    """A period in which the company's own accounts should not post."""

    start: str
    """ISO 8601 date or time (UTC when no offset), inclusive."""
    end: str
    """ISO 8601 date or time, exclusive."""


@dataclass(frozen=True)
class ComplianceConfig:
    """What the company's own accounts must not post."""

    accounts: tuple[str, ...] = ()
    """The company's own handles, on any source ("northwind", "@northwind_ir")."""
    safe_harbour: tuple[str, ...] = (
        "forward-looking statement",
        "safe harbor",
        "safe harbour",
    )
    """Wording that makes a post stating financial figures acceptable."""
    quiet_periods: tuple[QuietPeriodConfig, ...] = ()
    """Periods in which any post from those accounts is flagged."""


#: Severities and kinds a ``[[notify]]`` channel may name (groundcontrol/protocol.py).
NOTIFY_SEVERITIES = ("info", "warning", "critical")
NOTIFY_KINDS = ("negative", "positive", "neutral")


@dataclass(frozen=True)
class NotifyConfig:
    """One channel incidents are sent to (chat, mail, a webhook), through apprise."""

    name: str
    """What the hub calls the channel in its logs, metrics and records ("ops-slack")."""
    url_env: str
    """The environment variable holding the channel's apprise URL (URLs carry tokens)."""
    min_severity: str = "warning"
    """The least severity of an incident sent here: "info", "warning" or "critical"."""
    kinds: tuple[str, ...] = ("negative", "positive", "neutral")
    """The kinds of incident sent here ("negative", "positive", "neutral")."""
    retries: int = 5
    """Times a failed delivery is tried again, with backoff, before it counts as failed."""
    backoff_seconds: float = 2.0
    """Wait before the first retry; it doubles (with jitter) before each next one."""


@dataclass(frozen=True)
class FeedTable:
    """One ``[feeds.NAME]`` table as written. Only the feed's adapter knows its keys:
    the command line has it check them before the hub starts."""

    name: str
    """The feed's name on the hub (the table's name)."""
    table: Mapping[str, Any]
    """Its keys and values."""


#: The wall's panels a layout may place, by name (panels/app.py builds each).
WALL_PANELS = (
    "volume",
    "sentiment",
    "incidents",
    "topics",
    "live",
    "sources",
    "feeds",
    "stories",
    "explain",
    "influencers",
    "triage",
    "compliance",
    "tiles",
)
#: The layouts shipped with Ground Control (config/layouts.toml); a site's file adds
#: its own ``[[layouts]]``, and one of the same name replaces the shipped one.
SHIPPED_LAYOUTS = Path(__file__).resolve().parent.parent / "config" / "layouts.toml"
#: The layout the analyst console shows on ``w`` (its overview screen); also a wall.
CONSOLE_LAYOUT = "console"

#: The looks of the wall and the console (panels/palette.py holds their colours):
#: ``colourblind`` has no red/green pair. ``--theme``, GROUNDCONTROL_THEME or
#: ``[wall] theme`` picks one.
THEMES = ("default", "colourblind")
#: Other spellings people type for a theme.
THEME_ALIASES = {
    "colorblind": "colourblind",
    "colour-blind": "colourblind",
    "color-blind": "colourblind",
}
#: The environment variable that picks a theme when ``--theme`` does not.
THEME_ENV = "GROUNDCONTROL_THEME"


def theme_name(text: str) -> str:
    """The theme ``text`` names ("colorblind" is "colourblind"); ValueError naming the
    themes there are otherwise."""
    name = text.strip().lower()
    name = THEME_ALIASES.get(name, name)
    if name not in THEMES:
        raise ValueError(f"no theme {text!r} (themes: {', '.join(THEMES)})")
    return name


@dataclass(frozen=True)
class WallConfig:
    """How the walls and the console look (``[wall]``)."""

    theme: str = "default"
    """Their colours: "default", or "colourblind" (no red/green pair; "colorblind" too)."""


@dataclass(frozen=True)
class PanelPlacement:
    """One cell of a scene's grid: a panel, its span, and panels stacked under it."""

    name: str
    """The panel: one of :data:`WALL_PANELS`."""
    width: int = 1
    """Columns of the scene's grid it spans."""
    height: int = 1
    """Rows of the scene's grid it spans."""
    below: tuple[str, ...] = ()
    """Panels stacked under it in the same cell (the wall's sources over feeds)."""


@dataclass(frozen=True)
class SceneConfig:
    """One scene of a layout: a grid of panels, on screen for ``dwell``."""

    name: str
    """What the status bar calls the scene ("overview")."""
    panels: tuple[PanelPlacement, ...]
    """Its panels, placed left to right, top to bottom in the grid."""
    dwell: str | float = "30s"
    """How long it stays up before the next scene ("60s", "2m" or seconds)."""
    columns: int = 1
    """Columns of its grid (of equal width)."""
    rows: int = 0
    """Rows of its grid (of equal height); 0: as many as the panels need."""

    @property
    def dwell_seconds(self) -> float:
        return duration_seconds(self.dwell)


@dataclass(frozen=True)
class LayoutConfig:
    """A wall's layout: its scenes, in rotation order (``wall --layout NAME``)."""

    name: str
    """The name ``groundcontrol wall --layout`` takes."""
    scenes: tuple[SceneConfig, ...]
    """The scenes it rotates through; the first is where it starts."""


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    hub: HubConfig = field(default_factory=HubConfig)
    """The hub's network settings."""
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    """Rolling windows."""
    spikes: SpikeConfig = field(default_factory=SpikeConfig)
    """Spike detection."""
    demo: DemoConfig = field(default_factory=DemoConfig)
    """The built-in demo feed."""
    ssh: SshConfig = field(default_factory=SshConfig)
    """``groundcontrol ssh``'s limits (``[ssh]``)."""
    store: StoreConfig = field(default_factory=StoreConfig)
    """The durable store."""
    auth: AuthConfig = field(default_factory=AuthConfig)
    """Access tokens."""
    bus: BusConfig = field(default_factory=BusConfig)
    """NATS JetStream between machines (``[bus]``); off without a url."""
    wall: WallConfig = field(default_factory=WallConfig)
    """How the walls and the console look (``[wall]``)."""
    brands: tuple[BrandConfig, ...] = ()
    """Brands we watch, ours and competitors."""
    queries: tuple[QueryConfig, ...] = ()
    """Named saved searches."""
    triage: TriageConfig = field(default_factory=TriageConfig)
    """Classification of mentions into support, sales, product problems..."""
    compliance: ComplianceConfig = field(default_factory=ComplianceConfig)
    """Compliance checks on the company's own accounts."""
    notify: tuple[NotifyConfig, ...] = ()
    """Channels incidents are sent to (``[[notify]]`` tables)."""
    layouts: tuple[LayoutConfig, ...] = ()
    """Wall layouts: the shipped ones (config/layouts.toml), then the file's own
    ``[[layouts]]`` (one of a shipped name replaces it)."""
    feeds: tuple[FeedTable, ...] = ()
    """Feeds the hub runs, from ``[feeds.NAME]`` tables (read by their adapters when the
    command line starts them: ``feeds.registry.specs_from_config``)."""
    source: str = "<defaults>"
    """Where this configuration came from."""


T = TypeVar("T")

#: Seconds in each unit a duration may name ("90s", "15m", "15min", "2h", "7d", "2w").
DURATION_UNITS: dict[str, float] = {
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)?\s*$")


def duration_seconds(value: str | float) -> float:
    """``"30m"``, ``"2h"``, ``"90s"``, ``"1d"``, ``"2w"``, ``"45"`` or a number of
    seconds, in seconds; ValueError unless it is a finite duration above 0. The one
    parser of durations: config keys and the command line's ``--for`` and snoozes."""
    if isinstance(value, bool):
        raise ValueError(f'expected a duration such as "30m", "2h" or seconds, got {value!r}')
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f'expected a duration such as "30m", "2h" or seconds, got {value!r}')
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]
    if not 0 < seconds < float("inf"):
        raise ValueError(f"expected a duration above 0, got {value!r}")
    return seconds


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (tuple, list):
        (inner, *_rest) = get_args(tp)
        return f"an array of {_type_name(inner)}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, str(tp)
    )


def _convert(file: str, key: str, tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ConfigError(file, key, f"expected a table, got {type(value).__name__}")
        return _build(file, key, tp, value)
    if origin is tuple:
        (inner, *_rest) = get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {_type_name(tp)}, got {type(value).__name__}")
        return tuple(_convert(file, f"{key}[{i}]", inner, v) for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(file, key, f"expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, f"expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, f"expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, f"expected a string, got {value!r}")
        return value
    if tp == str | float:  # a duration: "30m" or seconds (checked in _check)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(file, key, f"expected a duration or a number, got {value!r}")
        return value
    raise ConfigError(file, key, f"unsupported type {tp}")  # pragma: no cover


def _build(file: str, prefix: str, cls: type[T], data: Mapping[str, Any]) -> T:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in fields or name == "source":
            known = ", ".join(n for n in fields if n != "source")
            raise ConfigError(file, key, f"unknown key (known keys here: {known})")
        kwargs[name] = _convert(file, key, hints[name], value)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            key = f"{prefix}.{name}" if prefix else name
            raise ConfigError(file, key, f"missing; expected {_type_name(hints[name])}")
    return cls(**kwargs)


def _check(cfg: Config) -> None:
    file = cfg.source
    positive: list[tuple[str, float]] = [
        ("hub.tick_interval", cfg.hub.tick_interval),
        ("analytics.bucket_seconds", cfg.analytics.bucket_seconds),
        ("analytics.window_seconds", cfg.analytics.window_seconds),
        ("analytics.series_buckets", cfg.analytics.series_buckets),
        ("analytics.history_buckets", cfg.analytics.history_buckets),
        ("analytics.top_topics", cfg.analytics.top_topics),
        ("hub.max_message_bytes", cfg.hub.max_message_bytes),
        ("demo.rate", cfg.demo.rate),
    ]
    for key, value in positive:
        if value <= 0:
            raise ConfigError(file, key, f"expected a number above 0, got {value}")
    if not 0 < cfg.spikes.alert_score < 1:
        raise ConfigError(
            file,
            "spikes.alert_score",
            f"expected a score between 0 and 1, got {cfg.spikes.alert_score}",
        )
    sp = cfg.spikes
    for key, value in (
        ("spikes.min_ratio", sp.min_ratio),
        ("spikes.memory_days", sp.memory_days),
        ("spikes.quiet_hours", sp.quiet_hours),
        ("spikes.end_after_seconds", sp.end_after_seconds),
    ):
        if not value > 0:
            raise ConfigError(file, key, f"expected a number above 0, got {value}")
    for key, value in (
        ("spikes.min_rate", sp.min_rate),
        ("spikes.warmup_seconds", sp.warmup_seconds),
        ("spikes.regroup_seconds", sp.regroup_seconds),
        ("spikes.topic_series", sp.topic_series),
    ):
        if value < 0:
            raise ConfigError(file, key, f"expected 0 or more, got {value}")
    if sp.takeover_severity not in ("info", "warning", "critical", "off"):
        raise ConfigError(
            file,
            "spikes.takeover_severity",
            f'expected "info", "warning", "critical" or "off", got {sp.takeover_severity!r}',
        )
    check_bus(cfg)
    try:
        theme_name(cfg.wall.theme)
    except ValueError as exc:
        raise ConfigError(file, "wall.theme", str(exc)) from None
    for i, relay in enumerate(cfg.auth.relays):
        problem = name_problem(relay)
        if problem:
            raise ConfigError(file, f"auth.relays[{i}]", f"not a token name: {problem}")
    if bool(cfg.hub.tls_cert) != bool(cfg.hub.tls_key):
        raise ConfigError(
            file,
            "hub.tls_key" if cfg.hub.tls_cert else "hub.tls_cert",
            "expected both tls_cert and tls_key, or neither",
        )
    if cfg.store.synchronous not in ("normal", "full"):
        raise ConfigError(
            file,
            "store.synchronous",
            f'expected "normal" or "full", got {cfg.store.synchronous!r}',
        )
    if cfg.store.retention_days < 0:
        raise ConfigError(
            file,
            "store.retention_days",
            f"expected 0 (keep all) or more, got {cfg.store.retention_days}",
        )
    if cfg.store.prune_interval_seconds <= 0:
        raise ConfigError(
            file,
            "store.prune_interval_seconds",
            f"expected a number above 0, got {cfg.store.prune_interval_seconds}",
        )
    if not 0 <= cfg.hub.enrich_workers <= 64:
        raise ConfigError(
            file,
            "hub.enrich_workers",
            f"expected a number of processes from 0 to 64, got {cfg.hub.enrich_workers}",
        )
    if not 0 <= cfg.hub.port <= 65535:
        raise ConfigError(file, "hub.port", f"expected a port from 0 to 65535, got {cfg.hub.port}")
    a = cfg.analytics
    if a.window_seconds % a.bucket_seconds:
        raise ConfigError(
            file,
            "analytics.window_seconds",
            f"expected a multiple of analytics.bucket_seconds ({a.bucket_seconds}), "
            f"got {a.window_seconds}",
        )
    if a.history_buckets * a.bucket_seconds < 2 * a.window_seconds:
        raise ConfigError(
            file,
            "analytics.history_buckets",
            "expected enough history for two windows "
            f"(at least {2 * a.window_seconds // a.bucket_seconds}), got {a.history_buckets}",
        )
    if a.series_buckets > a.history_buckets:
        raise ConfigError(
            file,
            "analytics.series_buckets",
            f"expected at most analytics.history_buckets ({a.history_buckets})",
        )
    from groundcontrol.query import QuerySyntaxError, parse_query

    seen: set[str] = set()
    for i, brand in enumerate(cfg.brands):
        if not brand.name.strip():
            raise ConfigError(file, f"brands[{i}].name", "expected a non-empty name")
        if brand.name in seen:
            raise ConfigError(file, f"brands[{i}].name", f"duplicate brand {brand.name!r}")
        seen.add(brand.name)
        try:
            parse_query(brand.query)
        except QuerySyntaxError as exc:
            raise ConfigError(file, f"brands[{i}].query", f"expected a valid query: {exc}") from exc
    from groundcontrol.model import CATEGORIES

    if not 0.0 <= cfg.triage.review_below <= 1.0:
        raise ConfigError(
            file, "triage.review_below", f"expected 0 to 1, got {cfg.triage.review_below}"
        )
    try:
        cfg.triage.response_target_seconds  # noqa: B018 - parsed to check it
    except ValueError as exc:
        raise ConfigError(file, "triage.response_target", str(exc)) from None
    for i, rule in enumerate(cfg.triage.rules):
        key = f"triage.rules[{i}]"
        if rule.category not in CATEGORIES:
            raise ConfigError(
                file,
                f"{key}.category",
                f"expected one of {', '.join(CATEGORIES)}, got {rule.category!r}",
            )
        if rule.weight <= 0:
            raise ConfigError(file, f"{key}.weight", f"expected above 0, got {rule.weight}")
        try:
            parse_query(rule.query)
        except QuerySyntaxError as exc:
            raise ConfigError(file, f"{key}.query", f"expected a valid query: {exc}") from exc
    for period in cfg.compliance.quiet_periods:
        try:
            start, end = parse_moment(period.start), parse_moment(period.end)
        except ValueError as exc:
            raise ConfigError(file, "compliance.quiet_periods", str(exc)) from None
        if end <= start:
            raise ConfigError(
                file,
                "compliance.quiet_periods",
                f"quiet period {period.start} to {period.end} ends before it starts",
            )
    names: set[str] = set()
    for i, q in enumerate(cfg.queries):
        if q.name in names:
            raise ConfigError(file, f"queries[{i}].name", f"duplicate query {q.name!r}")
        names.add(q.name)
        try:
            parse_query(q.query)
        except QuerySyntaxError as exc:
            raise ConfigError(
                file, f"queries[{i}].query", f"expected a valid query: {exc}"
            ) from exc
    _check_notify(cfg)
    _check_layouts(file, cfg.layouts)


def check_bus(cfg: Config) -> None:
    """ConfigError naming the key of whatever is wrong in ``[bus]``."""
    bus = cfg.bus
    for name in ("ack_wait", "duplicate_window", "replay", "lease"):
        try:
            bus.seconds(name)
        except ValueError as exc:
            raise ConfigError(cfg.source, f"bus.{name}", str(exc)) from None
    for url in filter(None, (u.strip() for u in bus.url.split(","))):
        if not re.match(r"^(nats|tls)://[^/\s]+$", url):
            raise ConfigError(
                cfg.source, "bus.url", f"expected nats://host:port or tls://host:port, got {url!r}"
            )
    if not re.match(r"^[A-Za-z0-9_-]{1,32}$", bus.prefix):
        raise ConfigError(
            cfg.source, "bus.prefix", f"expected letters, digits, - or _, got {bus.prefix!r}"
        )
    if not 1 <= bus.replicas <= 5:
        raise ConfigError(cfg.source, "bus.replicas", f"expected 1 to 5, got {bus.replicas}")


def _check_layouts(file: str, layouts: tuple[LayoutConfig, ...]) -> None:
    """Every layout names known panels with sizes that fit its grid, and a dwell."""
    names: set[str] = set()
    for i, layout in enumerate(layouts):
        key = f"layouts[{i}]"
        if not layout.name.strip():
            raise ConfigError(file, f"{key}.name", "expected a non-empty name")
        if layout.name in names:
            raise ConfigError(file, f"{key}.name", f"duplicate layout {layout.name!r}")
        names.add(layout.name)
        if not layout.scenes:
            raise ConfigError(file, f"{key}.scenes", "expected at least one scene")
        scene_names: set[str] = set()
        for j, scene in enumerate(layout.scenes):
            _check_scene(file, f"{key}.scenes[{j}]", scene, scene_names)


def _check_scene(file: str, key: str, scene: SceneConfig, seen: set[str]) -> None:
    if not scene.name.strip():
        raise ConfigError(file, f"{key}.name", "expected a non-empty name")
    if scene.name in seen:
        raise ConfigError(file, f"{key}.name", f"duplicate scene {scene.name!r}")
    seen.add(scene.name)
    try:
        scene.dwell_seconds  # noqa: B018 (validates)
    except ValueError as exc:
        raise ConfigError(file, f"{key}.dwell", str(exc)) from None
    if scene.columns < 1:
        raise ConfigError(file, f"{key}.columns", f"expected 1 or more, got {scene.columns}")
    if scene.rows < 0:
        raise ConfigError(file, f"{key}.rows", f"expected 0 or more, got {scene.rows}")
    if not scene.panels:
        raise ConfigError(file, f"{key}.panels", "expected at least one panel")
    placed: set[str] = set()
    for k, cell in enumerate(scene.panels):
        where = f"{key}.panels[{k}]"
        named = [(f"{where}.name", cell.name)]
        named += [(f"{where}.below[{m}]", n) for m, n in enumerate(cell.below)]
        for name_key, name in named:
            if name not in WALL_PANELS:
                raise ConfigError(
                    file, name_key, f"unknown panel {name!r} (panels: {', '.join(WALL_PANELS)})"
                )
            if name in placed:
                raise ConfigError(file, name_key, f"panel {name!r} is already in this scene")
            placed.add(name)
        if not 1 <= cell.width <= scene.columns:
            raise ConfigError(
                file,
                f"{where}.width",
                f"expected 1 to {scene.columns} (the scene's columns), got {cell.width}",
            )
        if cell.height < 1 or (scene.rows and cell.height > scene.rows):
            most = f"1 to {scene.rows} (the scene's rows)" if scene.rows else "1 or more"
            raise ConfigError(file, f"{where}.height", f"expected {most}, got {cell.height}")


def _check_notify(cfg: Config) -> None:
    """The ``[[notify]]`` channels; their environment variables are read when the hub
    starts (groundcontrol/notify.py), not here: configs are parsed without them."""
    file = cfg.source
    channels: set[str] = set()
    for i, ch in enumerate(cfg.notify):
        key = f"notify[{i}]"
        if not ch.name.strip():
            raise ConfigError(file, f"{key}.name", "expected a non-empty name")
        if ch.name in channels:
            raise ConfigError(file, f"{key}.name", f"duplicate channel {ch.name!r}")
        channels.add(ch.name)
        if not _ENV_NAME.fullmatch(ch.url_env):
            raise ConfigError(
                file,
                f"{key}.url_env",
                "expected the name of an environment variable that holds the URL "
                f"(the URL itself never goes in this file), got {ch.url_env[:40]!r}",
            )
        if ch.min_severity not in NOTIFY_SEVERITIES:
            raise ConfigError(
                file,
                f"{key}.min_severity",
                f'expected "info", "warning" or "critical", got {ch.min_severity!r}',
            )
        if not ch.kinds:
            raise ConfigError(file, f"{key}.kinds", "expected at least one kind")
        for kind in ch.kinds:
            if kind not in NOTIFY_KINDS:
                raise ConfigError(
                    file,
                    f"{key}.kinds",
                    f'expected "negative", "positive" or "neutral", got {kind!r}',
                )
        if ch.retries <= 0:
            raise ConfigError(file, f"{key}.retries", f"expected 1 or more, got {ch.retries}")
        if not ch.backoff_seconds > 0:
            raise ConfigError(
                file,
                f"{key}.backoff_seconds",
                f"expected a number above 0, got {ch.backoff_seconds}",
            )


def _check_ssh(cfg: Config) -> None:
    for name in ("idle", "stall"):
        try:
            cfg.ssh.seconds(name)
        except ValueError as exc:
            raise ConfigError(cfg.source, f"ssh.{name}", str(exc)) from None
    if cfg.ssh.max_sessions < 1:
        raise ConfigError(
            cfg.source, "ssh.max_sessions", f"expected 1 or more, got {cfg.ssh.max_sessions}"
        )


#: What an environment variable's name may look like (POSIX).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def default_store_path() -> Path:
    """Where the store lives when neither the config nor ``--db`` says."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "groundcontrol" / "groundcontrol.db"


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from exc
    auth = data.get("auth")
    if isinstance(auth, Mapping):
        for name in auth:
            if name != "tokens_file" and "token" in name.lower():
                raise ConfigError(
                    source,
                    f"auth.{name}",
                    "tokens never go in the config file: set GROUNDCONTROL_TOKEN_FEED,"
                    " _DISPLAY, _ANALYST or _ADMIN in the environment, or name a file"
                    " with auth.tokens_file",
                )
    feeds = _feed_tables(source, data.pop("feeds", {}))
    cfg = _build(source, "", Config, data)
    cfg = dataclasses.replace(cfg, source=source, feeds=feeds)
    _check(cfg)
    _check_ssh(cfg)
    return dataclasses.replace(cfg, layouts=_with_shipped(cfg.layouts, source))


def parse_layouts(text: str, source: str = "<string>") -> tuple[LayoutConfig, ...]:
    """The ``[[layouts]]`` of TOML text, checked (any other key is refused)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from exc
    for name in data:
        if name != "layouts":
            raise ConfigError(source, name, "unknown key (known keys here: layouts)")
    layouts: tuple[LayoutConfig, ...] = _convert(
        source, "layouts", tuple[LayoutConfig, ...], data.get("layouts", [])
    )
    _check_layouts(source, layouts)
    return layouts


_shipped_cache: tuple[LayoutConfig, ...] | None = None


def shipped_layouts() -> tuple[LayoutConfig, ...]:
    """The layouts in config/layouts.toml (wall, oncall)."""
    global _shipped_cache
    if _shipped_cache is None:
        _shipped_cache = parse_layouts(SHIPPED_LAYOUTS.read_text("utf-8"), str(SHIPPED_LAYOUTS))
    return _shipped_cache


def _with_shipped(own: tuple[LayoutConfig, ...], source: str) -> tuple[LayoutConfig, ...]:
    if source == str(SHIPPED_LAYOUTS):
        return own
    mine = {layout.name for layout in own}
    return tuple(lay for lay in shipped_layouts() if lay.name not in mine) + own


def find_layout(cfg: Config, name: str) -> LayoutConfig:
    """The layout called ``name``; ConfigError naming the ones there are otherwise."""
    for layout in cfg.layouts:
        if layout.name == name:
            return layout
    known = ", ".join(layout.name for layout in cfg.layouts)
    raise ConfigError(cfg.source, "layouts", f"no layout named {name!r} (layouts: {known})")


#: Words that mark a setting as a secret: its value must come from the environment.
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey")


def _feed_tables(source: str, tables: Any) -> tuple[FeedTable, ...]:
    """The ``[feeds.NAME]`` tables, checked for what any feed must respect (a table, no
    secret in the file); their own keys are the adapters' business."""
    if not isinstance(tables, Mapping):
        raise ConfigError(source, "feeds", "expected a table of [feeds.NAME] tables")
    out = []
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ConfigError(source, f"feeds.{name}", "expected a table")
        for key in table:
            if any(w in key.lower() for w in _SECRET_WORDS) and not key.endswith("_env"):
                raise ConfigError(
                    source,
                    f"feeds.{name}.{key}",
                    "secrets never go in the config file: put it in an environment "
                    f"variable and name the variable with {key}_env",
                )
        out.append(FeedTable(str(name), dict(table)))
    return tuple(out)


def parse_moment(text: str) -> float:
    """Unix seconds of an ISO 8601 date or time (UTC when it has no offset); ValueError
    naming the text otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def load_config(path: str | Path | None = None) -> Config:
    """Load a config file, or the packaged default when ``path`` is None."""
    p = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(str(p), "", "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "", f"cannot read: {exc}") from exc
    return parse_config(text, str(p))


def pick_theme(flag: str | None, cfg: Config) -> str:
    """The theme a wall or console shows: ``--theme`` (``flag``, checked by the command
    line), else GROUNDCONTROL_THEME, else the config's ``[wall] theme``. A bad value in
    the environment is a ConfigError naming the variable."""
    if flag:
        return theme_name(flag)
    from_env = os.environ.get(THEME_ENV, "").strip()
    if from_env:
        try:
            return theme_name(from_env)
        except ValueError as exc:
            raise ConfigError("the environment", THEME_ENV, str(exc)) from None
    return theme_name(cfg.wall.theme)
