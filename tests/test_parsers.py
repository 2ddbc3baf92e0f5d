"""Property tests for every parser that takes outside input: config files, tokens
(files and environment), export times, and what clients decode from a hub. Whatever
the input, each either parses or raises its own error type with a message; nothing
else escapes."""

from __future__ import annotations

import contextlib
import os
import string
import tempfile
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from groundcontrol.cli.export import parse_time
from groundcontrol.config import ConfigError, parse_config
from groundcontrol.hub.auth import Role, TokenConfigError, Tokens
from groundcontrol.protocol import decode_feed_reply, decode_stream

SECTIONS = ["hub", "analytics", "spikes", "demo", "store", "auth"]
KEYS = [
    "host",
    "port",
    "tick_interval",
    "bucket_seconds",
    "window_seconds",
    "history_buckets",
    "alert_score",
    "min_ratio",
    "quiet_hours",
    "takeover_severity",
    "rate",
    "path",
    "retention_days",
    "synchronous",
    "tokens_file",
    "tls_cert",
    "tls_key",
    "enrich_workers",
    "rebuild",
    "nonsense",
]
TOML_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False).map(lambda f: repr(f).replace("inf", "inf")),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(alphabet=string.printable.replace('"', "").replace("\\", ""), max_size=20).map(
        lambda t: '"' + t.replace("\n", " ").replace("\r", " ") + '"'
    ),
    st.just("[1, 2]"),
    st.just('"normal"'),
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, "site.toml")
    except ConfigError as exc:
        assert str(exc).startswith("site.toml: ")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SECTIONS), st.sampled_from(KEYS), TOML_VALUES),
        max_size=6,
    )
)
def test_plausible_configs_load_or_name_the_bad_key(
    entries: list[tuple[str, str, str]],
) -> None:
    by_section: dict[str, dict[str, str]] = {}
    for section, key, value in entries:
        by_section.setdefault(section, {})[key] = value
    text = "\n".join(
        f"[{section}]\n" + "\n".join(f"{k} = {v}" for k, v in keys.items())
        for section, keys in by_section.items()
    )
    try:
        cfg = parse_config(text, "site.toml")
    except ConfigError as exc:
        assert exc.file == "site.toml" and exc.expected
        return
    assert cfg.hub.port >= 0 and cfg.analytics.bucket_seconds > 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_tokens_file_loads_or_says_what_is_wrong(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokens"
        path.write_bytes(content)
        os.chmod(path, 0o600)
        try:
            tokens = Tokens.load(environ={}, file=path)
        except TokenConfigError as exc:
            assert "tokens" in str(exc)
            return
    assert tokens.summary()


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [f"GROUNDCONTROL_TOKEN_{r.upper()}" for r in Role] + ["GROUNDCONTROL_TOKEN_X"]
        ),
        st.text(max_size=60),
        max_size=5,
    )
)
def test_any_token_environment_loads_or_names_the_variable(env: dict[str, str]) -> None:
    try:
        Tokens.load(environ=env, file=None)
    except TokenConfigError as exc:
        assert "GROUNDCONTROL_TOKEN_" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_time_argument_is_a_time_or_a_clear_error(text: str) -> None:
    try:
        value = parse_time(text, now=1_790_000_000.0)
    except ValueError as exc:
        assert "bad time" in str(exc)
        return
    assert isinstance(value, float)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_clients_decode_anything_a_hub_sends_or_raise_a_decode_error(data: bytes) -> None:
    for decode in (decode_stream, decode_feed_reply):
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            decode(data)


def test_clients_survive_deeply_nested_json() -> None:
    deep = b'{"type": "tick", "volume": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for decode in (decode_stream, decode_feed_reply):
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            decode(deep)
