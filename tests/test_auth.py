"""Per-role bearer tokens: loading, validation, authorization."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundcontrol.hub.auth import (
    CLIENT_ENV,
    ENV_PREFIX,
    MIN_TOKEN_LENGTH,
    ROLE_PERMISSIONS,
    Denied,
    Permission,
    Principal,
    Role,
    TokenConfigError,
    Tokens,
)

FEED = "feed-aaaaaaaaaaaaaaaa"
FEED2 = "feed-bbbbbbbbbbbbbbbb"
FEED3 = "feed-cccccccccccccccc"
DISPLAY = "display-dddddddddddddddd"
ANALYST = "analyst-eeeeeeeeeeeeeeee"
ADMIN = "admin-ffffffffffffffff"
SHORT = "short-secret"  # 12 chars, under MIN_TOKEN_LENGTH

posix_only = pytest.mark.skipif(os.name != "posix", reason="file mode check is POSIX-only")


def bearer(token: str) -> str:
    return f"Bearer {token}"


def write_tokens(tmp_path: Path, text: str, mode: int = 0o600, name: str = "tokens.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def config_error(*, environ: dict[str, str], file: Path | None = None) -> str:
    with pytest.raises(TokenConfigError) as info:
        Tokens.load(environ=environ, file=file)
    return str(info.value)


def denied(tokens: Tokens, header: str | None, permission: Permission) -> Denied:
    with pytest.raises(Denied) as info:
        tokens.authorize(header, permission)
    return info.value


def all_roles() -> Tokens:
    return Tokens.from_pairs(
        [
            (Role.FEED, FEED, "f"),
            (Role.DISPLAY, DISPLAY, "d"),
            (Role.ANALYST, ANALYST, "a"),
            (Role.ADMIN, ADMIN, "root"),
        ]
    )


TOKEN_OF = {Role.FEED: FEED, Role.DISPLAY: DISPLAY, Role.ANALYST: ANALYST, Role.ADMIN: ADMIN}


# -- constants and the permission table ---------------------------------------------


def test_constants() -> None:
    assert ENV_PREFIX == "GROUNDCONTROL_TOKEN_"
    assert CLIENT_ENV == "GROUNDCONTROL_TOKEN"
    assert MIN_TOKEN_LENGTH == 16
    assert [r.value for r in Role] == ["feed", "display", "analyst", "admin"]
    assert [p.value for p in Permission] == ["ingest", "read", "triage", "incidents", "admin"]


def test_role_permissions_table() -> None:
    assert {
        Role.FEED: frozenset({Permission.INGEST}),
        Role.DISPLAY: frozenset({Permission.READ}),
        Role.ANALYST: frozenset({Permission.READ, Permission.TRIAGE, Permission.INCIDENTS}),
        Role.ADMIN: frozenset(Permission),
    } == ROLE_PERMISSIONS


# -- environment -------------------------------------------------------------------


def test_env_single_tokens_per_role() -> None:
    tokens = Tokens.load(
        environ={
            "GROUNDCONTROL_TOKEN_FEED": FEED,
            "GROUNDCONTROL_TOKEN_DISPLAY": DISPLAY,
            "GROUNDCONTROL_TOKEN_ANALYST": ANALYST,
            "GROUNDCONTROL_TOKEN_ADMIN": ADMIN,
        },
        file=None,
    )
    assert tokens
    assert tokens.summary() == "1 feed, 1 display, 1 analyst, 1 admin token(s)"
    assert tokens.authorize(bearer(FEED), Permission.INGEST) == Principal(
        Role.FEED, "env:GROUNDCONTROL_TOKEN_FEED"
    )
    assert tokens.authorize(bearer(ADMIN), Permission.ADMIN).name == "env:GROUNDCONTROL_TOKEN_ADMIN"


@pytest.mark.parametrize(
    "value",
    [
        f"{FEED},{FEED2},{FEED3}",
        f"{FEED} {FEED2}\t{FEED3}",
        f"  {FEED} ,\n {FEED2},,{FEED3} ,  ",
    ],
)
def test_env_several_tokens_and_separators(value: str) -> None:
    tokens = Tokens.load(environ={"GROUNDCONTROL_TOKEN_FEED": value}, file=None)
    assert tokens.summary() == "3 feed, 0 display, 0 analyst, 0 admin token(s)"
    names = [tokens.authorize(bearer(t), Permission.INGEST).name for t in (FEED, FEED2, FEED3)]
    assert names == [
        "env:GROUNDCONTROL_TOKEN_FEED#1",
        "env:GROUNDCONTROL_TOKEN_FEED#2",
        "env:GROUNDCONTROL_TOKEN_FEED#3",
    ]


@pytest.mark.parametrize("value", ["", "   ", " , ,\n"])
def test_env_empty_values_are_ignored(value: str) -> None:
    tokens = Tokens.load(environ={"GROUNDCONTROL_TOKEN_ADMIN": value}, file=None)
    assert not tokens
    assert tokens.summary() == "0 feed, 0 display, 0 analyst, 0 admin token(s)"


def test_env_client_variable_and_unrelated_variables_are_ignored() -> None:
    tokens = Tokens.load(
        environ={CLIENT_ENV: "whatever", "PATH": "/bin", "GROUNDCONTROL_HUB": "x"}, file=None
    )
    assert not tokens


@pytest.mark.parametrize("var", ["GROUNDCONTROL_TOKEN_WALL", "GROUNDCONTROL_TOKEN_feed"])
def test_env_unknown_role_variable(var: str) -> None:
    message = config_error(environ={var: ADMIN})
    assert var in message
    for role in Role:
        assert role.value in message
    assert ADMIN not in message


def test_env_too_short_token() -> None:
    message = config_error(environ={"GROUNDCONTROL_TOKEN_FEED": f"{FEED},{SHORT}"})
    assert "the 2nd token in GROUNDCONTROL_TOKEN_FEED" in message
    assert "too short" in message
    assert SHORT not in message


def test_env_non_ascii_token() -> None:
    bad = "é" * 20
    message = config_error(environ={"GROUNDCONTROL_TOKEN_DISPLAY": bad})
    assert "the 1st token in GROUNDCONTROL_TOKEN_DISPLAY" in message
    assert "printable ASCII" in message
    assert bad not in message


def test_env_same_token_twice_for_one_role() -> None:
    message = config_error(environ={"GROUNDCONTROL_TOKEN_FEED": f"{FEED} {FEED2} {FEED}"})
    assert "the 3rd token in GROUNDCONTROL_TOKEN_FEED" in message
    assert "the 1st token in GROUNDCONTROL_TOKEN_FEED" in message
    assert FEED not in message


def test_env_same_token_for_two_roles() -> None:
    message = config_error(
        environ={"GROUNDCONTROL_TOKEN_FEED": ADMIN, "GROUNDCONTROL_TOKEN_ADMIN": ADMIN}
    )
    assert "GROUNDCONTROL_TOKEN_FEED" in message
    assert "GROUNDCONTROL_TOKEN_ADMIN" in message
    assert "one role" in message
    assert ADMIN not in message


# -- tokens file ---------------------------------------------------------------------


def test_file_with_names_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write_tokens(
        tmp_path,
        "# Ground Control tokens\n"
        "\n"
        f"feed {FEED} mastodon-feed\n"
        f"  feed\t{FEED2}  \n"
        "   # indented comment\n"
        f"display {DISPLAY}\n"
        f"analyst {ANALYST} alice\n"
        f"admin {ADMIN} ops\n"
        "\n",
    )
    tokens = Tokens.load(environ={}, file=path)
    assert tokens.summary() == "2 feed, 1 display, 1 analyst, 1 admin token(s)"
    assert tokens.authorize(bearer(FEED), Permission.INGEST) == Principal(
        Role.FEED, "mastodon-feed"
    )
    assert tokens.authorize(bearer(FEED2), Permission.INGEST).name == "feed-token-2"
    assert tokens.authorize(bearer(DISPLAY), Permission.READ).name == "display-token-1"
    assert tokens.authorize(bearer(ANALYST), Permission.TRIAGE).name == "alice"
    assert tokens.authorize(bearer(ADMIN), Permission.ADMIN).name == "ops"


def test_file_accepts_str_path_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_bytes(f"\ufefffeed {FEED}\r\nadmin {ADMIN} root\r\n".encode())
    path.chmod(0o600)
    tokens = Tokens.load(environ={}, file=str(path))
    assert tokens.authorize(bearer(FEED), Permission.INGEST).role is Role.FEED
    assert tokens.authorize(bearer(ADMIN), Permission.READ).name == "root"


def test_file_and_env_are_merged(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, f"admin {ADMIN}\n")
    tokens = Tokens.load(environ={"GROUNDCONTROL_TOKEN_FEED": FEED}, file=path)
    assert tokens.summary() == "1 feed, 0 display, 0 analyst, 1 admin token(s)"


def test_file_token_also_in_env_is_rejected(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, f"# header\nfeed {FEED}\n")
    message = config_error(environ={"GROUNDCONTROL_TOKEN_FEED": FEED}, file=path)
    assert f"{path}:2" in message
    assert "GROUNDCONTROL_TOKEN_FEED" in message
    assert FEED not in message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (f"feed {FEED}\nwall {DISPLAY}\n", 2, "not a role"),
        (f"{FEED} feed\n", 1, "not a role"),  # fields swapped: must not echo the token
        ("\n\nadmin\n", 3, "missing the token"),
        (f"feed {FEED}\nfeed {SHORT} short-one\n", 2, "too short"),
        (f"admin {ADMIN} ops extra words\n", 1, "at most 3"),
        (f"feed {FEED2}\nfeed {FEED} a\nfeed {FEED} b\n", 3, "line"),
        (f"feed {FEED}\nadmin {FEED}\n", 2, "one role"),
        (f"feed {FEED} bad\x07name\n", 1, "name"),
        (f"feed {FEED}\x01\n", 1, "printable ASCII"),
    ],
)
def test_file_errors_name_the_line_and_hide_the_token(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write_tokens(tmp_path, text)
    message = config_error(environ={}, file=path)
    assert f"{path}:{line}:" in message
    assert words in message
    for secret in (FEED, FEED2, SHORT, ADMIN, DISPLAY):
        assert secret not in message


def test_file_duplicate_names_both_lines(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, f"feed {FEED}\n\nfeed {FEED}\n")
    message = config_error(environ={}, file=path)
    assert f"{path}:3" in message
    assert f"{path}:1" in message
    assert FEED not in message


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_bytes(f"feed {FEED}\n".encode() + b"admin \xff\xfe" + ADMIN.encode() + b"\n")
    path.chmod(0o600)
    message = config_error(environ={}, file=path)
    assert f"{path}:2" in message
    assert "UTF-8" in message
    assert ADMIN not in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    message = config_error(environ={}, file=path)
    assert str(path) in message
    assert "No such file or directory" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    message = config_error(environ={}, file=tmp_path)
    assert str(tmp_path) in message


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, f"admin {ADMIN}\n", mode=0o000)
    try:
        message = config_error(environ={}, file=path)
    finally:
        path.chmod(0o600)
    assert str(path) in message
    assert "Permission denied" in message


@posix_only
def test_mode_0600_is_accepted(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, f"admin {ADMIN}\n", mode=0o600)
    assert Tokens.load(environ={}, file=path)
    path.chmod(0o400)
    assert Tokens.load(environ={}, file=path)


@posix_only
@pytest.mark.parametrize(
    ("mode", "words"),
    [
        (0o644, "readable by other users (mode 0644)"),
        (0o640, "readable by its group (mode 0640)"),
        (0o604, "readable by other users (mode 0604)"),
        (0o620, "writable by its group (mode 0620)"),
        (0o602, "writable by other users (mode 0602)"),
        (0o666, "readable by other users (mode 0666)"),
    ],
)
def test_mode_check_rejects_group_or_other_access(tmp_path: Path, mode: int, words: str) -> None:
    path = write_tokens(tmp_path, f"admin {ADMIN}\n", mode=mode)
    message = config_error(environ={}, file=path)
    assert f"{path} is {words}: chmod 600 {path}" == message
    assert ADMIN not in message


def test_empty_file_gives_no_tokens(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, "# nothing yet\n\n")
    tokens = Tokens.load(environ={}, file=path)
    assert not tokens


# -- from_pairs / ephemeral -------------------------------------------------------------


def test_from_pairs_validates_like_load() -> None:
    with pytest.raises(TokenConfigError) as info:
        Tokens.from_pairs([(Role.FEED, FEED, "a"), (Role.ADMIN, SHORT, "b")])
    assert "the 2nd token pair" in str(info.value)
    assert SHORT not in str(info.value)
    with pytest.raises(TokenConfigError) as info:
        Tokens.from_pairs([(Role.FEED, FEED, "a"), (Role.DISPLAY, FEED, "b")])
    assert "one role" in str(info.value)
    assert FEED not in str(info.value)
    with pytest.raises(TokenConfigError) as info:
        Tokens.from_pairs([(Role.FEED, FEED, "a"), (Role.FEED, FEED, "b")])
    assert "only once" in str(info.value)
    assert FEED not in str(info.value)


def test_from_pairs_empty_name_gets_a_default() -> None:
    tokens = Tokens.from_pairs([(Role.ANALYST, ANALYST, "")])
    assert tokens.authorize(bearer(ANALYST), Permission.READ).name == "analyst-token-1"


def test_from_pairs_empty_is_falsy() -> None:
    assert not Tokens.from_pairs([])


def test_ephemeral_admin_token_authorizes_everything() -> None:
    tokens, token = Tokens.ephemeral()
    assert len(token) >= MIN_TOKEN_LENGTH
    assert tokens.summary() == "0 feed, 0 display, 0 analyst, 1 admin token(s)"
    for permission in Permission:
        assert tokens.authorize(bearer(token), permission).role is Role.ADMIN
    _, other = Tokens.ephemeral()
    assert other != token
    assert denied(tokens, bearer(other), Permission.READ).status == 401
    assert token not in repr(tokens)
    assert token not in tokens.summary()


# -- authorize -----------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_role_permission_matrix(role: Role, permission: Permission) -> None:
    tokens = all_roles()
    header = bearer(TOKEN_OF[role])
    if permission in ROLE_PERMISSIONS[role]:
        principal = tokens.authorize(header, permission)
        assert principal.role is role
    else:
        error = denied(tokens, header, permission)
        assert error.status == 403
        assert f"{role.value} token may not" in error.reason
        assert TOKEN_OF[role] not in error.reason


def test_forbidden_reason_text() -> None:
    error = denied(all_roles(), bearer(DISPLAY), Permission.INGEST)
    assert error.reason == "a display token may not ingest: /ingest needs a feed or admin token"
    error = denied(all_roles(), bearer(FEED), Permission.READ)
    assert error.reason == (
        "a feed token may not read the stream: /stream needs a display, analyst or admin token"
    )
    error = denied(all_roles(), bearer(ANALYST), Permission.ADMIN)
    assert error.reason.startswith("an analyst token may not ")
    assert error.reason.endswith("an admin token")
    assert str(error) == error.reason


@pytest.mark.parametrize(
    "header",
    [f"bearer {ADMIN}", f"BEARER {ADMIN}", f"  Bearer   {ADMIN}  ", f"Bearer\t{ADMIN}\r\n"],
)
def test_bearer_scheme_is_case_insensitive_and_whitespace_tolerant(header: str) -> None:
    assert all_roles().authorize(header, Permission.ADMIN).name == "root"


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer   "])
def test_missing_token_is_401(header: str | None) -> None:
    error = denied(all_roles(), header, Permission.READ)
    assert error.status == 401
    assert "no token" in error.reason
    assert "Authorization: Bearer <token>" in error.reason
    assert CLIENT_ENV in error.reason


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-configured-token-at-all",
        f"Bearer {ADMIN}x",
        f"Bearer {ADMIN[:-1]}",
        f"Bearer {FEED} {ADMIN}",
        "Bearer é-unicode-ünknown-token",
    ],
)
def test_unknown_token_is_401(header: str) -> None:
    error = denied(all_roles(), header, Permission.READ)
    assert (error.status, error.reason) == (401, "unknown token")


@pytest.mark.parametrize(
    "header", [f"Basic {ADMIN}", ADMIN, f"Token {ADMIN}", f"Bearer:{ADMIN}", "Digest x=y"]
)
def test_malformed_header_is_401_and_asks_for_bearer(header: str) -> None:
    error = denied(all_roles(), header, Permission.READ)
    assert error.status == 401
    assert "Bearer" in error.reason
    assert ADMIN not in error.reason


@pytest.mark.parametrize("header", [None, "", bearer(ADMIN), "Basic abc"])
@pytest.mark.parametrize("permission", list(Permission))
def test_no_tokens_configured_refuses_everyone(header: str | None, permission: Permission) -> None:
    tokens = Tokens.load(environ={}, file=None)
    assert not tokens
    error = denied(tokens, header, permission)
    assert error.status == 401
    assert "no tokens configured" in error.reason
    assert "GROUNDCONTROL_TOKEN_FEED" in error.reason
    assert "tokens_file" in error.reason


def test_denied_pickles_and_prints_its_reason() -> None:
    error = pickle.loads(pickle.dumps(Denied(403, "nope")))
    assert (error.status, error.reason, str(error)) == (403, "nope", "nope")


def test_denied_rejects_other_statuses() -> None:
    with pytest.raises(ValueError):
        Denied(500, "nope")


# -- nothing ever shows a token --------------------------------------------------------


def test_summary_and_repr_never_contain_tokens(tmp_path: Path) -> None:
    path = write_tokens(tmp_path, f"analyst {ANALYST} alice\nadmin {ADMIN}\n")
    tokens = Tokens.load(
        environ={
            "GROUNDCONTROL_TOKEN_FEED": f"{FEED},{FEED2}",
            "GROUNDCONTROL_TOKEN_DISPLAY": DISPLAY,
        },
        file=path,
    )
    assert tokens.summary() == "2 feed, 1 display, 1 analyst, 1 admin token(s)"
    for text in (tokens.summary(), repr(tokens), str(tokens)):
        for secret in (FEED, FEED2, DISPLAY, ANALYST, ADMIN):
            assert secret not in text


# -- property: authorize only ever returns a Principal or raises Denied ----------------


_PROPERTY_TOKENS = all_roles()


@given(
    header=st.one_of(
        st.none(),
        st.text(),
        st.builds(lambda s: "Bearer " + s, st.text()),
        st.builds(lambda s: "bearer\t" + s + " ", st.sampled_from([*TOKEN_OF.values(), ""])),
    ),
    permission=st.sampled_from(list(Permission)),
)
def test_authorize_never_raises_anything_but_denied(
    header: str | None, permission: Permission
) -> None:
    for tokens in (_PROPERTY_TOKENS, Tokens.from_pairs([])):
        try:
            principal = tokens.authorize(header, permission)
        except Denied as error:
            assert error.status in (401, 403)
            assert error.reason
        else:
            assert isinstance(principal, Principal)
            assert permission in ROLE_PERMISSIONS[principal.role]
