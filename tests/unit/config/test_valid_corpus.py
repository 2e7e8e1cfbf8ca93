"""Configurations that must pass (`valid/*.yaml`): the real GB/T 2260 exceptions and other
cases a too-strict rule would wrongly refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cli import main
from infra.config.loader import validate
from tests.unit.config.cases import Case, apply_case, load_cases

CASES = load_cases("valid")


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_case_is_valid(case: Case, config_dir: Path) -> None:
    apply_case(case, config_dir)
    fleet, report = validate(config_dir)
    assert report.ok, f"{case.name}: {case.description}\n{report.to_text()}"
    assert fleet is not None


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_cli_accepts_the_case(case: Case, config_dir: Path) -> None:
    apply_case(case, config_dir)
    assert main(["--config", str(config_dir), "validate"]) == 0


@pytest.mark.parametrize(
    ("case_name", "code", "parent"),
    [
        ("municipality_districts", "110105", "110000"),
        ("municipality_districts", "500229", "500000"),
        ("province_administered_counties", "429004", "420000"),
        ("province_administered_counties", "469001", "460000"),
    ],
)
def test_exception_federates_to_its_province(
    case_name: str, code: str, parent: str, config_dir: Path
) -> None:
    case = next(c for c in CASES if c.name == case_name)
    apply_case(case, config_dir)
    fleet, report = validate(config_dir)
    assert fleet is not None, report.to_text()
    region = fleet.region(code)
    found = fleet.parent_of(region)
    assert found is not None and found.code == parent
    assert region in fleet.children(found)
