"""Settings from the controller's environment: each variable, its fallbacks, its users."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from infra.config.environment import state_dir
from infra.inventory import inventory_dir

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REGIONSTACK_STATE_DIR": "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/s"),
        ({"REGIONSTACK_STATE_DIR": "", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/regionstack"),
        ({"XDG_STATE_HOME": "", "HOME": "/h"}, "/h/.local/state/regionstack"),
    ],
    ids=["explicit", "xdg", "home"],
)
def test_state_dir(env: dict[str, str], expected: str) -> None:
    assert state_dir(env) == Path(expected)


def test_inventories_live_under_the_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", "/state")
    assert inventory_dir("chunan") == Path("/state/inventory/chunan")


def test_only_the_environment_module_reads_settings_from_the_environment() -> None:
    """Elsewhere `os.environ` is only copied whole, for a subprocess."""
    listing = subprocess.run(
        ["git", "grep", "-n", "os.environ", "--", "infra", "modules"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    readers = [
        line
        for line in listing
        if not line.startswith("infra/config/environment.py:") and "dict(os.environ)" not in line
    ]
    assert readers == []


def test_every_variable_is_in_the_operations_table() -> None:
    source = (REPO_ROOT / "infra" / "config" / "environment.py").read_text(encoding="utf-8")
    table = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    names = set(re.findall(r"\b(?:REGIONSTACK|XDG|PULUMI)_[A-Z_]+\b", source))
    assert names
    missing = sorted(n for n in names if f"| `{n}`" not in table)
    assert missing == []
