"""JUnit: the suite of a testcase, the summary and the merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.verify.report import format_summary, merge_junit, suite_of, summarize_junit


@pytest.mark.parametrize(
    ("classname", "name", "role"),
    [
        ("tests.hosts.test_portal", "test_waf_blocks_attacks[chunan-portal-1-x]", "portal"),
        ("tests.hosts.test_data_exchange", "test_x", "data_exchange"),
        ("", "tests.hosts.test_flows", "flows"),  # a collection error
        ("tests.unit.test_x", "test_y", "other"),
    ],
)
def test_suite_of_a_junit_testcase(classname: str, name: str, role: str) -> None:
    assert suite_of(classname, name) == role


PORTAL_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="portal" errors="1" failures="1" skipped="1" tests="5" time="12.5">
<testcase classname="tests.hosts.test_portal" name="test_a[chunan-portal-1]" time="1"/>
<testcase classname="tests.hosts.test_portal" name="test_b[chunan-portal-1]" time="1"/>
<testcase classname="tests.hosts.test_portal" name="test_waf[chunan-portal-1]" time="1">
  <failure message="AssertionError: 200 != 403&#10;second line">trace</failure></testcase>
<testcase classname="tests.hosts.test_portal" name="test_c[chunan-portal-1]" time="1">
  <error message="failed on setup with &quot;RuntimeError: ssh&quot;">trace</error></testcase>
<testcase classname="tests.hosts.test_portal" name="test_d[chunan-portal-1]" time="1">
  <skipped message="not here"/></testcase>
</testsuite></testsuites>
"""
FLOWS_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="flows" errors="0" failures="0" skipped="0" tests="2" time="4.0">
<testcase classname="tests.hosts.test_flows" name="test_allowed_flow_connects[x]" time="1"/>
<testcase classname="tests.hosts.test_flows" name="test_nothing_else_connects[y]" time="1"/>
</testsuite></testsuites>
"""


@pytest.fixture
def junit_parts(tmp_path: Path) -> list[tuple[str, Path]]:
    (tmp_path / "portal.xml").write_text(PORTAL_XML)
    (tmp_path / "flows.xml").write_text(FLOWS_XML)
    return [("portal", tmp_path / "portal.xml"), ("flows", tmp_path / "flows.xml")]


def test_summary_counts_per_role_from_a_junit_file(junit_parts: list[tuple[str, Path]]) -> None:
    counts, failures = summarize_junit(junit_parts[0][1])
    portal = counts["portal"]
    assert (portal.passed, portal.failed, portal.skipped, portal.seconds) == (2, 2, 1, 12.5)
    assert [(f.suite, f.test, f.message) for f in failures] == [
        ("portal", "test_waf[chunan-portal-1]", "AssertionError: 200 != 403"),
        ("portal", "test_c[chunan-portal-1]", 'failed on setup with "RuntimeError: ssh"'),
    ]


def test_merged_junit_holds_every_role_suite(
    junit_parts: list[tuple[str, Path]], tmp_path: Path
) -> None:
    merged = tmp_path / "out" / "verify.xml"
    merge_junit(junit_parts, merged)
    counts, _ = summarize_junit(merged)
    assert {role: (c.passed, c.failed, c.skipped) for role, c in counts.items()} == {
        "portal": (2, 2, 1),
        "flows": (2, 0, 0),
    }
    text = merged.read_text()
    assert 'tests="7"' in text and 'failures="1"' in text and 'errors="1"' in text


def test_summary_table_is_readable(junit_parts: list[tuple[str, Path]], tmp_path: Path) -> None:
    merged = tmp_path / "verify.xml"
    merge_junit(junit_parts, merged)
    counts, failures = summarize_junit(merged)
    text = format_summary("chunan", counts, failures, ["4 hosts from /inv"])
    lines = text.splitlines()
    assert lines[0] == "verify of chunan:"
    assert lines[1] == "  4 hosts from /inv"
    assert lines[2].split() == ["SUITE", "PASSED", "FAILED", "SKIPPED", "TIME"]
    # Suites in the order of SUITES, whatever the order of their reports.
    assert lines[3].split() == ["portal", "2", "2", "1", "12.5s"]
    assert lines[4].split() == ["flows", "2", "0", "0", "4.0s"]
    assert lines[5].split() == ["total", "4", "2", "1"]
    assert "    portal: test_waf[chunan-portal-1]: AssertionError: 200 != 403" in lines
    assert lines[-1] == "4 passed, 2 failed, 1 skipped"
