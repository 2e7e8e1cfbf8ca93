"""Which way imports run: components (modules/) use infra's code, infra/ uses modules/ only
where a Pulumi program is wired, and the configuration imports no target.

A mechanism in infra/ (a machine, a network, a plan) must run without a Pulumi program, as
the bake and the CLI run it; an import of modules/ from there would tie it to one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
# Where a Pulumi program is wired: the entry point, the per-target programs and the mocks
# harness, which stands in for the engine.
WIRING = ("infra/__main__.py", "infra/program/", "infra/aws/mocks.py")
# The ground floor: a target reads the configuration, never the other way round.
NOT_FROM_CONFIG = ("modules", "infra.local", "infra.aws", "infra.program")


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth (a function's own too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


NOT_WIRING = sorted(p for p in INFRA.rglob("*.py") if not relative(p).startswith(WIRING))


def test_the_wiring_exceptions_exist() -> None:
    """A moved program must move its exception here, not leave a stale one behind."""
    assert [w for w in WIRING if not (ROOT / w).exists()] == []


@pytest.mark.parametrize("path", NOT_WIRING, ids=relative)
def test_infra_imports_modules_only_where_a_program_is_wired(path: Path) -> None:
    wrong = [f"line {n}: {m}" for n, m in imported(path) if within(m, ("modules",))]
    assert wrong == [], (
        f"{relative(path)} imports modules/ ({'; '.join(wrong)}): move what it needs into "
        f"infra/ (as the machine, network and firewall mechanisms are), or wire it in "
        f"infra/program/"
    )


@pytest.mark.parametrize("path", sorted((INFRA / "config").rglob("*.py")), ids=relative)
def test_config_imports_no_target(path: Path) -> None:
    wrong = [f"line {n}: {m}" for n, m in imported(path) if within(m, NOT_FROM_CONFIG)]
    assert wrong == [], (
        f"{relative(path)} imports a target ({'; '.join(wrong)}): the configuration is the "
        f"ground floor, so what both need belongs in infra/config/ or infra/names.py"
    )
