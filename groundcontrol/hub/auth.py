"""Per-role bearer tokens for the hub.

The model is small on purpose:

- A **role** is what a client is for. ``feed`` processes may write mentions on
  ``/ingest``; a ``display`` (a wall) may read ``/stream``; an ``analyst`` may read
  and record triage actions (``POST /triage``); an ``admin`` may do all of that plus
  the operator-only endpoints such as ``/metrics``. The mapping is ``ROLE_PERMISSIONS``.
- A **token** is an opaque secret that belongs to exactly one role. A client sends
  it as ``Authorization: Bearer <token>``; groundcontrol's own client commands read
  it from ``GROUNDCONTROL_TOKEN``.
- The hub gets its tokens from the environment (``GROUNDCONTROL_TOKEN_FEED``,
  ``_DISPLAY``, ``_ANALYST``, ``_ADMIN``; each may hold several tokens separated by
  commas or whitespace) and/or from a tokens file (``<role> <token> [<name>]`` per
  line) that must be private to its owner (mode 0600). Both sources are merged.

Tokens never come from the main config file: that file is meant to be shared,
committed and pasted into bug reports, and it is usually world-readable. Secrets
live only where their exposure is controlled (the process environment or a
0600 file). For the same reason no message, ``repr`` or summary produced here
ever contains a token's value; errors say "line 3" or "the 2nd token in
GROUNDCONTROL_TOKEN_FEED" instead.

A hub with no tokens configured refuses everyone (there is no "open" mode); the
loopback embedded demo uses ``Tokens.ephemeral()``, a fresh random admin token.

``Tokens.authorize`` checks the presented token against every configured token with
``hmac.compare_digest`` on SHA-256 digests (equal lengths, no early exit, no dict
lookup keyed by the secret), then checks the role's permissions, raising
``Denied`` (401 or 403, with a one-sentence reason for the HTTP body).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from groundcontrol.protocol import name_problem

__all__ = [
    "CLIENT_ENV",
    "ENV_PREFIX",
    "MIN_TOKEN_LENGTH",
    "ROLE_PERMISSIONS",
    "Denied",
    "Permission",
    "Principal",
    "Role",
    "TokenConfigError",
    "Tokens",
]


class Role(StrEnum):
    FEED = "feed"
    DISPLAY = "display"
    ANALYST = "analyst"
    ADMIN = "admin"


class Permission(StrEnum):
    INGEST = "ingest"  # write mentions on /ingest
    READ = "read"  # /stream (ticks, alerts, mentions)
    TRIAGE = "triage"  # POST /triage (record triage actions)
    INCIDENTS = "incidents"  # acknowledge, snooze and resolve incidents; give briefings
    ADMIN = "admin"  # /metrics and anything operator-only


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.FEED: frozenset({Permission.INGEST}),
    Role.DISPLAY: frozenset({Permission.READ}),
    Role.ANALYST: frozenset({Permission.READ, Permission.TRIAGE, Permission.INCIDENTS}),
    Role.ADMIN: frozenset(Permission),
}

ENV_PREFIX = "GROUNDCONTROL_TOKEN_"
CLIENT_ENV = "GROUNDCONTROL_TOKEN"
MIN_TOKEN_LENGTH = 16

_ENV_VARS: dict[str, Role] = {ENV_PREFIX + role.value.upper(): role for role in Role}
_ENV_SEPARATORS = re.compile(r"[\s,]+")
_VALID_ROLES = ", ".join(role.value for role in Role)

# What each permission lets a client do, for the 403 reason: (verb phrase, "X needs").
_PERMISSION_TEXT: dict[Permission, tuple[str, str]] = {
    Permission.INGEST: ("ingest", "/ingest needs"),
    Permission.READ: ("read the stream", "/stream needs"),
    Permission.TRIAGE: ("record triage actions", "POST /triage needs"),
    Permission.INCIDENTS: (
        "acknowledge, snooze or resolve incidents, or give briefings",
        "POST /incidents/ID/ack, /snooze, /resolve and POST /briefings need",
    ),
    Permission.ADMIN: ("use operator-only endpoints", "/metrics and the operator endpoints need"),
}

NO_TOKEN_REASON = (
    f"no token: send 'Authorization: Bearer <token>' (groundcontrol clients read {CLIENT_ENV})"
)
NO_TOKENS_CONFIGURED_REASON = (
    "this hub has no tokens configured and refuses everyone: set "
    + ", ".join(_ENV_VARS)
    + " or [auth] tokens_file"
)
MALFORMED_REASON = "malformed Authorization header: expected 'Bearer <token>'"
UNKNOWN_TOKEN_REASON = "unknown token"


@dataclass(frozen=True)
class Principal:
    """Who a request is from: the role of its token and the name the hub records, the
    token's own or, for a relay (``[auth] relays``), the person it acts for."""

    role: Role
    name: str
    via: str = ""
    """The relay token's name when the request came through one ("" otherwise)."""


class TokenConfigError(Exception):
    """A bad tokens file or environment value. The message never contains a token."""


class Denied(Exception):
    """A request is not authorized: 401 (no or unknown token) or 403 (wrong role)."""

    def __init__(self, status: int, reason: str) -> None:
        if status not in (401, 403):
            raise ValueError(f"Denied status must be 401 or 403, not {status}")
        super().__init__(status, reason)  # both in args, so it pickles
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"Denied({self.status}, {self.reason!r})"


@dataclass(frozen=True)
class _Entry:
    role: Role
    name: str
    digest: bytes = field(repr=False)


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _check_token(token: str, source: str) -> None:
    """Raise TokenConfigError if ``token`` is unusable. Never mentions its value."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenConfigError(
            f"{source}: token is too short ({len(token)} characters; "
            f"at least {MIN_TOKEN_LENGTH} are required)"
        )
    for position, char in enumerate(token, 1):
        if not ("!" <= char <= "~"):
            raise TokenConfigError(
                f"{source}: token has a character that is not printable ASCII "
                f"(at position {position}); tokens must fit an HTTP header"
            )


def _check_name(name: str, source: str) -> None:
    # The same rule as for the people a relay names (protocol.name_problem).
    problem = name_problem(name)
    if problem:
        raise TokenConfigError(f"{source}: the token name: {problem}")


class _Builder:
    """Collects (role, token, name, source) and rejects repeated tokens."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Role, str]] = {}
        self._entries: list[_Entry] = []
        self._counts: dict[Role, int] = dict.fromkeys(Role, 0)

    def auto_name(self, role: Role) -> str:
        return f"{role.value}-token-{self._counts[role] + 1}"

    def add(self, role: Role, token: str, name: str, source: str) -> None:
        _check_token(token, source)
        _check_name(name, source)
        # A dict keyed by the secret is fine here: this is configuration time, not a
        # request path, so there is no timing side channel to worry about.
        previous = self._seen.get(token)
        if previous is not None:
            prev_role, prev_source = previous
            if prev_role is role:
                raise TokenConfigError(
                    f"{source}: the same token is already given at {prev_source}; "
                    "each token may appear only once"
                )
            raise TokenConfigError(
                f"{source}: this {role.value} token is already given as {_article(prev_role)} "
                f"token at {prev_source}; a token must belong to exactly one role"
            )
        self._seen[token] = (role, source)
        self._counts[role] += 1
        self._entries.append(_Entry(role, name, _digest(token.encode("ascii"))))

    def build(self) -> Tokens:
        return Tokens(self._entries)


def _load_environ(builder: _Builder, environ: Mapping[str, str]) -> None:
    unknown = sorted(key for key in environ if key.startswith(ENV_PREFIX) and key not in _ENV_VARS)
    if unknown:
        names = ", ".join(unknown)
        raise TokenConfigError(
            f"unknown token variable {names}: the valid roles are {_VALID_ROLES} "
            f"(set {', '.join(_ENV_VARS)}; clients use {CLIENT_ENV})"
        )
    for var, role in _ENV_VARS.items():
        value = environ.get(var, "")
        tokens = [t for t in _ENV_SEPARATORS.split(value) if t]
        for index, token in enumerate(tokens, 1):
            source = f"the {_ordinal(index)} token in {var}"
            name = f"env:{var}" if len(tokens) == 1 else f"env:{var}#{index}"
            builder.add(role, token, name, source)


def _check_file_mode(fd: int, shown: str) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if not mode & 0o077:
        return
    what = "readable" if mode & 0o044 else "writable" if mode & 0o022 else "accessible"
    who = "other users" if mode & 0o007 else "its group"
    raise TokenConfigError(f"{shown} is {what} by {who} (mode {mode:04o}): chmod 600 {shown}")


def _load_file(builder: _Builder, file: str | Path) -> None:
    shown = str(file)
    try:
        with open(file, "rb") as handle:
            _check_file_mode(handle.fileno(), shown)
            data = handle.read()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise TokenConfigError(f"cannot read tokens file {shown}: {reason}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        source = f"{shown}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenConfigError(f"{source}: not valid UTF-8 text") from None
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        # Never echo a field: a misordered line would put the token in the role field.
        try:
            role = Role(fields[0])
        except ValueError:
            raise TokenConfigError(
                f"{source}: the first field is not a role; expected '<role> <token> [<name>]' "
                f"with a role among {_VALID_ROLES}"
            ) from None
        if len(fields) == 1:
            raise TokenConfigError(
                f"{source}: missing the token; expected '<role> <token> [<name>]'"
            )
        if len(fields) > 3:
            raise TokenConfigError(
                f"{source}: {len(fields)} fields where at most 3 are expected: "
                "'<role> <token> [<name>]' (names may not contain spaces)"
            )
        name = fields[2] if len(fields) == 3 else builder.auto_name(role)
        builder.add(role, fields[1], name, source)


class Tokens:
    """The set of tokens a hub accepts. Build it with ``load``, ``from_pairs`` or
    ``ephemeral``; ask it with ``authorize``."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[_Entry] = ()) -> None:
        self._entries: tuple[_Entry, ...] = tuple(entries)

    @classmethod
    def load(cls, *, environ: Mapping[str, str], file: str | Path | None) -> Tokens:
        """Tokens from ``GROUNDCONTROL_TOKEN_<ROLE>`` variables and an optional tokens
        file, merged. Raises TokenConfigError on any problem."""
        builder = _Builder()
        _load_environ(builder, environ)
        if file is not None:
            _load_file(builder, file)
        return builder.build()

    @classmethod
    def ephemeral(cls) -> tuple[Tokens, str]:
        """A fresh random admin token, for a hub that only its own process talks to."""
        token = secrets.token_urlsafe(32)
        return cls.from_pairs([(Role.ADMIN, token, "ephemeral-admin")]), token

    def plus(self, role: Role, token: str, name: str) -> Tokens:
        """These tokens and one more (the hub's own, for the feeds it runs)."""
        _check_token(token, f"the {name} token")
        return Tokens([*self._entries, _Entry(role, name, _digest(token.encode("ascii")))])

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[Role, str, str]]) -> Tokens:
        """Tokens from ``(role, token, name)`` triples, validated like ``load``.
        An empty name gets a default one."""
        builder = _Builder()
        for index, (role_value, token, name) in enumerate(pairs, 1):
            source = f"the {_ordinal(index)} token pair"
            try:
                role = Role(role_value)
            except ValueError:
                raise TokenConfigError(
                    f"{source}: not a role; the valid roles are {_VALID_ROLES}"
                ) from None
            builder.add(role, token, name or builder.auto_name(role), source)
        return builder.build()

    def authorize(self, authorization: str | None, permission: Permission | None) -> Principal:
        """The principal behind an ``Authorization`` header value, if its role has
        ``permission`` (None: any known token will do); otherwise raise Denied (401
        or 403)."""
        if not self._entries:
            raise Denied(401, NO_TOKENS_CONFIGURED_REASON)
        if authorization is None or not authorization.strip():
            raise Denied(401, NO_TOKEN_REASON)
        parts = authorization.strip().split(None, 1)
        if parts[0].lower() != "bearer":
            raise Denied(401, MALFORMED_REASON)
        if len(parts) == 1:
            raise Denied(401, NO_TOKEN_REASON)
        presented = _digest(parts[1].strip().encode("utf-8", "surrogatepass"))
        match: _Entry | None = None
        for entry in self._entries:  # every entry, no early exit
            if hmac.compare_digest(entry.digest, presented) and match is None:
                match = entry
        if match is None:
            raise Denied(401, UNKNOWN_TOKEN_REASON)
        if permission is None:
            return Principal(match.role, match.name)
        permission = Permission(permission)
        if permission not in ROLE_PERMISSIONS[match.role]:
            raise Denied(403, _forbidden_reason(match.role, permission))
        return Principal(match.role, match.name)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def names(self) -> frozenset[str]:
        """The tokens' names (never their values)."""
        return frozenset(entry.name for entry in self._entries)

    def summary(self) -> str:
        counts = dict.fromkeys(Role, 0)
        for entry in self._entries:
            counts[entry.role] += 1
        return ", ".join(f"{counts[role]} {role.value}" for role in Role) + " token(s)"

    def __repr__(self) -> str:
        return f"<Tokens: {self.summary()}>"


def _forbidden_reason(role: Role, permission: Permission) -> str:
    verb, needs = _PERMISSION_TEXT[permission]
    allowed = [r.value for r in Role if permission in ROLE_PERMISSIONS[r]]
    roles = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
    return f"{_article(role.value)} token may not {verb}: {needs} {_article(roles)} token"
