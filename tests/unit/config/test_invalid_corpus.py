"""The invalid-configuration corpus (`invalid/*.yaml`): each case is a small patch to a copy
of the sample `stacks/` and lists exactly the problems validation must report.

The exact set of (file, rule, key path) is compared both ways, so a rule that stops firing
and a rule that starts firing where it should not both fail a case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.cli import main
from infra.config.loader import validate
from tests.unit.config.cases import Case, apply_case, load_cases, mismatch, problem_key

CASES = load_cases("invalid")
# Problems about a file as a whole, which has no position to point at.
UNPOSITIONED_RULES = {"missing-file", "yaml-encoding"}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 35, f"only {len(CASES)} invalid cases"


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_case_reports_exactly_the_expected_problems(case: Case, config_dir: Path) -> None:
    apply_case(case, config_dir)
    fleet, report = validate(config_dir)
    assert fleet is None, f"{case.name}: an invalid configuration produced a fleet"
    problem = mismatch(case, report.problems)
    assert problem is None, problem


@pytest.mark.parametrize("case", [c.param(expecting=False) for c in CASES])
def test_case_problems_point_at_a_line(case: Case, config_dir: Path) -> None:
    apply_case(case, config_dir)
    _, report = validate(config_dir)
    unplaced = [
        p.to_text()
        for p in report.problems
        if p.rule not in UNPOSITIONED_RULES and (p.line is None or p.column is None)
    ]
    assert not unplaced, f"{case.name}: problems without a position:\n" + "\n".join(unplaced)


@pytest.mark.parametrize("case", [c.param(expecting=False) for c in CASES])
def test_cli_reports_the_same_problems(
    case: Case, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_case(case, config_dir)

    assert main(["--config", str(config_dir), "validate"]) == 1
    text = capsys.readouterr()
    assert "Traceback" not in text.err
    _, report = validate(config_dir)
    assert f"{len(report.problems)} problem(s) found" in text.err
    unlisted = [p.to_text() for p in report.problems if p.to_text() not in text.err]
    assert not unlisted, "text output lacks:\n" + "\n".join(unlisted)

    assert main(["--config", str(config_dir), "validate", "--format", "json"]) == 1
    output = json.loads(capsys.readouterr().out)
    assert output["valid"] is False
    listed = sorted((p["file"], p["rule"], p["path"]) for p in output["problems"])
    assert listed == sorted(problem_key(p) for p in report.problems)
