"""The layers hold (import-linter's contracts in pyproject.toml), and breaking them fails.

``make test`` runs ``lint-imports`` before the suite; these tests run it too, on the
repository and on copies of it with one forbidden import added, so the contract is
shown to fail the build when broken. A runtime check adds what a static one cannot
see: no module of the core or the feeds pulls textual in when imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def test_the_layers_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("groundcontrol/listen/probe.py", "import textual", "Only the panels import textual"),
        ("groundcontrol/cli/probe.py", "import textual_serve", "Only the panels import textual"),
        ("groundcontrol/signals/probe.py", "import sqlite3", "pure: no sockets, no SQL"),
        ("feeds/probe.py", "import groundcontrol.hub.server", "Feeds use only the client"),
        ("panels/probe.py", "import groundcontrol.store.database", "Panels use only the client"),
        ("groundcontrol/store/probe.py", "import groundcontrol.signals.analytics", "One-way"),
        ("groundcontrol/config_probe.py", "import feeds.registry", "Nothing below the command"),
    ],
)
def test_a_forbidden_import_breaks_the_build(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for name in ("groundcontrol", "feeds", "panels"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(line + "\n", "utf-8")
    result = lint(tmp_path)
    assert result.returncode != 0
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert contract in broken, broken
    assert module.replace("/", ".").removesuffix(".py") in broken


def test_no_textual_at_runtime() -> None:
    # Import every core and feed module in a fresh interpreter and check that
    # textual never got loaded, transitively included.
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for pkg in ("groundcontrol", "feeds")
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if p.name != "__main__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "roots = ('textual', 'textual_serve', 'panels')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"textual was imported by the core: {out.stdout}"
