from __future__ import annotations

import json

from infra.fleet.drift_causes import HOST_TASK, HOST_TEST, RESOURCE, Cause, Finding
from infra.fleet.drift_report import (
    CLEAN,
    DRIFTED,
    FAILED,
    RegionScan,
    group_by_cause,
    report_json,
    report_md,
)

SSHD = Cause(HOST_TASK, "portal", "common : Configure sshd | mlps-8.1.4.1")
MACHINE = Cause(RESOURCE, "local:Machine", "<region>-local-<host>", "update: running")
AIDE = Cause(
    HOST_TEST, "hotline", "tests/hosts/test_common.py::test_package_is_installed", "<host>-aide"
)


def finding(region: str, cause: Cause, host: str = "", controls: tuple[str, ...] = ()) -> Finding:
    return Finding(region, cause, f"urn:{region}", host, controls, f"{region} {host}".strip())


def scans() -> list[RegionScan]:
    return [
        RegionScan("tonglu", (finding("tonglu", SSHD, "tonglu-portal-1", ("8.1.4.1b",)),)),
        RegionScan(
            "chunan",
            (
                finding("chunan", AIDE, "chunan-hotline-1"),
                finding("chunan", SSHD, "chunan-portal-1", ("8.1.4.1b",)),
                finding("chunan", MACHINE),
            ),
        ),
        RegionScan("hangzhou"),
        RegionScan(
            "zhejiang", error="`pulumi preview --refresh --stack zhejiang` failed: stack is locked"
        ),
    ]


def test_the_same_drift_in_two_regions_is_one_row() -> None:
    rows = group_by_cause(scans())
    assert [row.cause for row in rows] == [MACHINE, SSHD, AIDE]
    sshd = rows[1]
    assert sshd.regions == ["chunan", "tonglu"]
    assert sshd.hosts == ["chunan-portal-1", "tonglu-portal-1"]
    assert sshd.controls == ["8.1.4.1b"]
    assert rows[0].hosts == []


def test_a_region_status_is_clean_drifted_or_failed() -> None:
    assert [s.status for s in scans()] == [DRIFTED, DRIFTED, CLEAN, FAILED]


def test_json_is_sorted_and_deterministic() -> None:
    text = report_json(scans())
    assert text == report_json(list(reversed(scans())))
    document = json.loads(text)
    assert document["summary"] == {
        "regions": 4,
        "clean": 1,
        "drifted": 2,
        "failed": 1,
        "causes": 3,
        "findings": 4,
    }
    assert [r["region"] for r in document["regions"]] == [
        "chunan",
        "hangzhou",
        "tonglu",
        "zhejiang",
    ]
    sshd = document["causes"][1]
    assert (sshd["kind"], sshd["regions"], sshd["controls"]) == (
        HOST_TASK,
        ["chunan", "tonglu"],
        ["8.1.4.1b"],
    )
    assert [f["region"] for f in sshd["findings"]] == ["chunan", "tonglu"]


def test_markdown_has_a_row_per_cause_and_the_regions_not_scanned() -> None:
    text = report_md(scans())
    assert (
        "4 region(s) scanned: 1 clean, 2 drifted, 1 could not be scanned; 4 finding(s) in 3 cause(s)."
        in text
    )
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 3
    assert "| 2: chunan, tonglu |" in rows[1]
    # A pipe in a task name would split the cell: it is escaped.
    assert "Configure sshd \\| mlps-8.1.4.1" in rows[1]
    assert "- zhejiang: `pulumi preview --refresh --stack zhejiang` failed: stack is locked" in text
    assert text == report_md(list(reversed(scans())))


def test_a_clean_fleet_has_no_table() -> None:
    text = report_md([RegionScan("chunan")])
    assert "1 clean, 0 drifted" in text
    assert "| # |" not in text


def test_a_long_list_of_regions_is_cut_in_the_table_only() -> None:
    many = [RegionScan(f"r{n:02}", (finding(f"r{n:02}", SSHD),)) for n in range(10)]
    assert "10: r00, r01, r02, r03, r04, r05 (+4 more)" in report_md(many)
    assert len(json.loads(report_json(many))["causes"][0]["regions"]) == 10
