"""Problems and reports: key paths, text for people, JSON for tools."""

from __future__ import annotations

import json

import pytest

from infra.config.problems import Problem, Report, format_key_path


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("regions", 2, "parent"), "regions[2].parent"),
        (("regions", 0, "aws", "admin_cidrs", 1), "regions[0].aws.admin_cidrs[1]"),
        (("tls", "min_version"), "tls.min_version"),
        ((), "<document>"),
    ],
)
def test_format_key_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_key_path(path) == text


PROBLEM = Problem(
    "stacks/regions/33-zhejiang.yaml",
    "regions[2].parent",
    "parent 330000 does not match code 330127",
    'set `parent: "330100"`',
    "parent-prefix",
    "330000",
    28,
    5,
)


def test_problem_text_names_place_value_fix_and_rule() -> None:
    assert PROBLEM.to_text() == (
        "stacks/regions/33-zhejiang.yaml:28:5: regions[2].parent: parent 330000 does not match "
        "code 330127 (got '330000')\n"
        '    fix: set `parent: "330100"`  [parent-prefix]'
    )


def test_problem_without_position_names_the_file() -> None:
    problem = Problem(
        "stacks/tiers/county.yaml", "<document>", "missing", "create it", "missing-file"
    )
    assert problem.location() == "stacks/tiers/county.yaml"


def test_report_json_lists_every_field() -> None:
    report = Report([PROBLEM])
    data = json.loads(report.to_json())
    assert data == {"valid": False, "problems": [PROBLEM.to_dict()]}
    assert set(data["problems"][0]) == {
        "file",
        "path",
        "message",
        "hint",
        "rule",
        "value",
        "line",
        "column",
    }


def test_empty_report_is_valid() -> None:
    report = Report()
    assert report.ok and report.to_text() == "configuration is valid"
    assert json.loads(report.to_json()) == {"valid": True, "problems": []}


def test_report_text_counts_the_problems() -> None:
    assert Report([PROBLEM, PROBLEM]).to_text().endswith("2 problem(s) found")
