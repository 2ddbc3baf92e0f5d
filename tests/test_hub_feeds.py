"""Feeds configured in ``[feeds.NAME]`` tables: validated with the config, run inside
the hub over its own loopback listener, and shown to the wall with their health."""

from __future__ import annotations

import dataclasses
import sqlite3
import sys
import time
import types
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from feeds import registry
from feeds.base import FeedConfigError, FeedContext, setting
from groundcontrol.cli.hosting import start_hub_with_feeds
from groundcontrol.config import ConfigError, parse_config
from groundcontrol.hub.auth import Role, Tokens
from groundcontrol.hub.metrics import render
from groundcontrol.hub.server import start_hub
from tests.deadline import until
from tests.fakes.hn_algolia import FakeAlgolia, story
from tests.test_hub import small_config

T0 = int(time.time()) - 600
DISPLAY_TOKEN = "display-token-for-the-wall-0123456789"


def config_with_feeds(text: str) -> str:
    return '[[brands]]\nname = "Northwind"\nquery = "northwind"\n' + text


def read(text: str) -> tuple[registry.FeedSpec, ...]:
    """What the command line does before it starts a hub: the config, then each feed's
    table read by its adapter."""
    return registry.specs_from_config(parse_config(text, "gc.toml"))


def test_feed_tables_are_validated_with_the_config() -> None:
    specs = read(
        config_with_feeds(
            '[feeds.hackernews]\nquery = "northwind"\ninterval = 10\n'
            '[feeds.hn-eu]\ntype = "hackernews"\nquery = "northwind eu"\n'
        )
    )
    assert [(f.name, f.type) for f in specs] == [
        ("hackernews", "hackernews"),
        ("hn-eu", "hackernews"),
    ]
    assert specs[0].settings.interval == 10.0
    bad = {
        "[feeds.hackernews]\ninterval = 10\n": "feeds.hackernews: query is required",
        '[feeds.hackernews]\nquery = "x"\ninterval = "soon"\n': (
            "feeds.hackernews.interval: expected a float, got 'soon'"
        ),
        '[feeds.hackernews]\nquery = "x"\nqueryy = "y"\n': "unknown key 'queryy'",
        '[feeds.hackernews]\nquery = "x"\ninterval = -1\n': "interval must be above 0",
        '[feeds.myspace]\nquery = "x"\n': "no feed type 'myspace'",
        '[feeds.hackernews]\nquery = "x"\napi_token = "s3cret"\n': (
            "secrets never go in the config file"
        ),
        '[feeds."Bad Name"]\ntype = "hackernews"\nquery = "x"\n': "a feed name is lower case",
    }
    for text, expected in bad.items():
        with pytest.raises(ConfigError, match=r"gc\.toml") as info:
            read(config_with_feeds(text))
        assert expected in str(info.value), (text, str(info.value))
        assert "s3cret" not in str(info.value)


@pytest.fixture
async def algolia() -> AsyncIterator[tuple[FakeAlgolia, str]]:
    fake = FakeAlgolia()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@dataclasses.dataclass(frozen=True)
class _BoomSettings:
    credential_env: str = setting("variable with the credential", "BOOM_TOKEN_FOR_TEST")


async def _boom_run(settings: _BoomSettings, ctx: FeedContext) -> None:
    ctx.secret(settings.credential_env, "the boom credential")


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed type whose credential is missing from the environment."""
    module = types.ModuleType("tests_boom_feed")
    module.NAME = "boom"  # type: ignore[attr-defined]
    module.SUMMARY = "always missing its credential"  # type: ignore[attr-defined]
    module.Settings = _BoomSettings  # type: ignore[attr-defined]
    module.run = _boom_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_boom_feed", module)
    monkeypatch.setitem(registry.ADAPTERS, "boom", "tests_boom_feed")
    monkeypatch.delenv("BOOM_TOKEN_FOR_TEST", raising=False)


async def test_the_hub_runs_its_configured_feeds_and_shows_their_health(
    algolia: tuple[FakeAlgolia, str], tmp_path: Path, boom: None
) -> None:
    fake, endpoint = algolia
    fake.hits = [story(i, T0 + i, f"Northwind story {i}") for i in range(1, 41)]
    specs = (
        registry.settings_from_table(
            "hn", {"type": "hackernews", "query": "northwind", "endpoint": endpoint}
        ),
        registry.settings_from_table("boom", {}),
    )
    config = small_config()
    db = tmp_path / "gc.db"
    # Only a display token: the feeds get the hub's own token for this run.
    tokens = Tokens.from_pairs([(Role.DISPLAY, DISPLAY_TOKEN, "wall")])
    hub, runner, _port, _feeds = await start_hub_with_feeds(
        config,
        specs,
        port=0,
        store_path=db,
        tokens=tokens,
        state_dir=tmp_path / "state",
    )
    try:

        def running() -> bool:
            infos = {f.name: f for f in hub.feed_infos(time.time())}
            return hub.counters.ingested == 40 and "hn" in infos and bool(infos["hn"].last_event_at)

        await until(running, "the feeds to run")
        infos = {f.name: f for f in hub.feed_infos(time.time())}
        exposition = render(hub.metrics())
    finally:
        await runner.cleanup()
    assert hub.counters.ingested == 40
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 40
    hn = infos["hn"]
    assert hn.connected and hn.source == "hackernews"
    assert hn.last_event_at > 0
    failed = infos["boom"]
    assert not failed.connected
    assert "BOOM_TOKEN_FOR_TEST" in failed.detail and "not set" in failed.detail
    assert (tmp_path / "state" / "hn.json").exists()
    assert hub.configured["boom"][0] == "failed"
    assert 'groundcontrol_feed_up{feed="hn",source="hackernews"} 1' in exposition
    assert 'groundcontrol_feed_up{feed="boom",source=""} 0' in exposition
    assert 'groundcontrol_feed_last_event_age_seconds{feed="hn"' in exposition


async def test_a_named_feed_that_goes_away_is_shown_as_down(tmp_path: Path) -> None:
    from groundcontrol.client.ingest import IngestClient

    hub, runner, port = await start_hub(small_config(), port=0)
    client = IngestClient(f"ws://127.0.0.1:{port}", name="reddit-eu", source="reddit")
    client.start()
    try:
        await until(lambda: any(f.name == "reddit-eu" for f in hub.feed_infos(time.time())))
        await client.close()
        await until(lambda: not hub.feed_infos(time.time())[0].connected, "the feed to go")
        infos = hub.feed_infos(time.time())
    finally:
        await runner.cleanup()
    (info,) = infos
    assert (info.name, info.source, info.connected) == ("reddit-eu", "reddit", False)
    assert info.down_since > 0


def test_settings_from_args_match_the_config_table() -> None:
    import argparse

    module = registry.load("hackernews")
    parser = argparse.ArgumentParser()
    registry.add_options(parser, module)
    args = parser.parse_args(["--query", "northwind", "--interval", "5"])
    from_args = registry.settings_from_args(module, args)
    from_table = registry.settings_from_table("hackernews", {"query": "northwind", "interval": 5})
    assert from_args == from_table.settings
    with pytest.raises(FeedConfigError, match="query is empty"):
        registry.settings_from_args(module, parser.parse_args(["--query", " "]))


def test_the_example_config_names_every_adapter() -> None:
    from groundcontrol.config import DEFAULT_CONFIG, load_config

    example = DEFAULT_CONFIG.parent / "feeds.example.toml"
    cfg = load_config(example)
    text = example.read_text("utf-8")
    specs = registry.specs_from_config(cfg)
    types_named = {f.type for f in specs} | ({"replay"} if 'type = "replay"' in text else set())
    assert types_named == set(registry.ADAPTERS)
    assert [b.name for b in cfg.brands] == ["Northwind", "Contoso", "Fabrikam"]
