"""Config loading: good files load, bad ones name the file, the key and the expectation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from groundcontrol.cli.main import main
from groundcontrol.config import ConfigError, load_config, parse_config


def test_default_config_loads() -> None:
    cfg = load_config()
    assert [b.name for b in cfg.brands] == ["Northwind", "Contoso", "Fabrikam"]
    assert cfg.hub.host == "127.0.0.1"
    assert cfg.analytics.window_seconds % cfg.analytics.bucket_seconds == 0


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[hub]\nport = 'eighty'\n", "hub.port", "expected an integer"),
        ("[hub]\nport = 70000\n", "hub.port", "0 to 65535"),
        ("[hub]\nprot = 1\n", "hub.prot", "unknown key"),
        ("[analytics]\nwindow_seconds = 305\n", "analytics.window_seconds", "multiple"),
        ("[spikes]\nalert_score = 1.5\n", "spikes.alert_score", "between 0 and 1"),
        ("[spikes]\ntimezone = 'UTC'\n", "spikes.timezone", "unknown key"),
        ("[spikes]\nmin_ratio = 0\n", "spikes.min_ratio", "above 0"),
        ("[spikes]\nquiet_hours = -1\n", "spikes.quiet_hours", "above 0"),
        ("[spikes]\nmin_rate = -5\n", "spikes.min_rate", "0 or more"),
        ("[spikes]\ntakeover_severity = 'loud'\n", "spikes.takeover_severity", '"off"'),
        ("[[brands]]\nname = 'A'\n", "brands[0].query", "missing"),
        ("[[brands]]\nname = 'A'\nquery = '(a OR'\n", "brands[0].query", "valid query"),
        (
            "[[brands]]\nname='A'\nquery='a'\n[[brands]]\nname='A'\nquery='b'\n",
            "brands[1].name",
            "duplicate",
        ),
        ("hub = 3\n", "hub", "expected a table"),
        ("[hub\n", "", "not valid TOML"),
    ],
)
def test_bad_config_names_file_key_and_expectation(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    err = info.value
    assert err.file == "site.toml"
    assert err.key == key
    assert words in str(err)
    assert str(err).startswith("site.toml: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_a_bad_config_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nport = 'x'\n", "utf-8")
    assert main(["hub", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: hub.port: expected an integer" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[triage.rules]]\ncategory = "complaint"\nquery = "x"', "triage.rules[0].category"),
        ('[[triage.rules]]\ncategory = "praise"\nquery = "(love"', "triage.rules[0].query"),
        ('[[triage.rules]]\ncategory = "praise"\nquery = "x"\nweight = 0', "weight"),
        ("[triage]\nreview_below = 2", "triage.review_below: expected 0 to 1"),
        (
            '[compliance]\nquiet_periods = [{start = "2027-02-01", end = "2027-01-01"}]',
            "ends before it starts",
        ),
        ('[compliance]\nquiet_periods = [{start = "soon", end = "2027-01-01"}]', "ISO 8601"),
    ],
)
def test_bad_triage_and_compliance_settings_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text, "t.toml")


def test_the_default_config_ships_triage_rules() -> None:
    cfg = load_config()
    assert {r.category for r in cfg.triage.rules} >= {"support", "sales", "praise"}
    assert "northwind" in cfg.compliance.accounts
