"""`regionstack verify` passes on every region of the configured hierarchy.

The testinfra suites of tests/hosts (per role and the flows, the county and city also
across the link to their parent) run through each region's inventory, exactly as an
auditor runs them; the JUnit report must list no failure and no error. The county booted
from the image layers and the one converged from the bare image pass the same checks with
the same results (issue #13 point 5).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.local.hierarchy import BARE_COUNTY, COUNTY, PLANS, STACKS, Deployment


def junit_of(hierarchy: Deployment, stack: str) -> Path:
    """Where the verify test keeps a region's JUnit report, for the parity test below."""
    return hierarchy.project.workdir.parent / f"verify-{stack}.xml"


@pytest.mark.parametrize("stack", STACKS)
def test_verify_passes_on(hierarchy: Deployment, stack: str) -> None:
    junit = junit_of(hierarchy, stack)
    result = hierarchy.regionstack("verify", stack, "--junit", str(junit))
    print(result.stdout)  # the per-role table, in the CI log
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    suites = ET.parse(junit).getroot().iter("testsuite")
    totals = [
        (int(s.get("tests", 0)), int(s.get("failures", 0)), int(s.get("errors", 0))) for s in suites
    ]
    assert sum(t for t, _, _ in totals) > 500, totals
    assert sum(f + e for _, f, e in totals) == 0, totals


def _results(junit: Path, stack: str) -> dict[str, str]:
    """Each check of a report, with the region's own names and addresses made generic, and
    its outcome."""
    network = PLANS[stack].cidr.rsplit(".", 2)[0] + "."
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        name = re.sub(rf"\b{stack}\b", "<county>", name).replace(network, "<net>.")
        outcome = next((child.tag for child in case), "passed")
        results[name] = outcome
    return results


def test_baked_and_bare_county_pass_the_same_checks(hierarchy: Deployment) -> None:
    reports = {stack: junit_of(hierarchy, stack) for stack in (COUNTY, BARE_COUNTY)}
    missing = [str(path) for path in reports.values() if not path.exists()]
    assert not missing, f"verify did not report on both counties: {missing}"
    baked, bare = (_results(reports[stack], stack) for stack in (COUNTY, BARE_COUNTY))
    assert len(baked) > 500, len(baked)
    only = sorted(set(baked) ^ set(bare))
    assert not only, f"checks run on one county only: {only[:40]}"
    differ = {name: (baked[name], bare[name]) for name in baked if baked[name] != bare[name]}
    assert not differ, f"(baked, bare) outcomes differ: {differ}"


def test_hardening_of_the_county_reaches_the_target(hierarchy: Deployment, tmp_path: Path) -> None:
    """Lynis and OpenSCAP on every host of the county (one host per role): the hardening
    index of each must reach the target; the figures are printed for the record."""
    figures = tmp_path / "hardening.json"
    result = hierarchy.regionstack(
        "verify",
        "chunan",
        "--only",
        "flows",
        "--hardening",
        "--hardening-json",
        str(figures),
        timeout=1800,
    )
    print(result.stdout)
    print(figures.read_text() if figures.exists() else "no figures written")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]
