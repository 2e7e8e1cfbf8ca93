"""`regionstack verify` passes on every region of the configured hierarchy.

The testinfra suites of tests/hosts (per role and the flows, the county and city also
across the link to their parent) run through each region's inventory, exactly as an
auditor runs them; the JUnit report must list no failure and no error.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.local.hierarchy import STACKS, Deployment


@pytest.mark.parametrize("stack", STACKS)
def test_verify_passes_on(hierarchy: Deployment, stack: str, tmp_path: Path) -> None:
    junit = tmp_path / f"verify-{stack}.xml"
    result = subprocess.run(
        [
            "regionstack",
            "--config",
            str(hierarchy.project.workdir / "stacks"),
            "verify",
            stack,
            "--junit",
            str(junit),
        ],
        cwd=hierarchy.project.workdir,
        env=hierarchy.project.env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    print(result.stdout)  # the per-role table, in the CI log
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    suites = ET.parse(junit).getroot().iter("testsuite")
    totals = [
        (int(s.get("tests", 0)), int(s.get("failures", 0)), int(s.get("errors", 0))) for s in suites
    ]
    assert sum(t for t, _, _ in totals) > 500, totals
    assert sum(f + e for _, f, e in totals) == 0, totals


def test_audit_of_the_county_reaches_the_hardening_target(
    hierarchy: Deployment, tmp_path: Path
) -> None:
    """Lynis and OpenSCAP on every host of the county (one host per role): the hardening
    index of each must reach the target; the figures are printed for the record."""
    figures = tmp_path / "audit.json"
    result = subprocess.run(
        [
            "regionstack",
            "--config",
            str(hierarchy.project.workdir / "stacks"),
            "verify",
            "chunan",
            "--only",
            "flows",
            "--audit",
            "--audit-json",
            str(figures),
        ],
        cwd=hierarchy.project.workdir,
        env=hierarchy.project.env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    print(result.stdout)
    print(figures.read_text() if figures.exists() else "no figures written")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]
