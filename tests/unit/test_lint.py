"""The static checks of the house style: each tool must pass on the whole repo.

They run as tests so that `scripts/test.sh` (and CI) fail on a lint error exactly as on a
failing test, and the tool's own output is shown on failure.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

CHECKS = {
    "ruff": [str(BIN / "ruff"), "check", "."],
    "ruff-format": [str(BIN / "ruff"), "format", "--check", "infra", "modules"],
    "mypy": [str(BIN / "mypy")],
    "yamllint": [str(BIN / "yamllint"), "--strict", "."],
    # The roles and the site playbook: the production profile (.ansible-lint), offline.
    "ansible-lint": [str(BIN / "ansible-lint"), "--offline", "--strict", "playbooks", "roles"],
    "ansible-syntax-check": [
        str(BIN / "ansible-playbook"),
        "--syntax-check",
        "-i",
        "localhost,",
        "playbooks/site.yml",
    ],
    # The committed stack files must be what `regionstack render` writes today.
    "render-check": [str(BIN / "regionstack"), "render", "--check"],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_static_check_passes(name: str) -> None:
    result = subprocess.run(CHECKS[name], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import_no_test_code(path: Path) -> None:
    """A benchmark measures the shipped code: what it shares with the tests lives outside
    tests/ (the aws mocks harness is infra/aws/mocks.py)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    ]
    assert [m for m in imported if m == "tests" or m.startswith("tests.")] == []
