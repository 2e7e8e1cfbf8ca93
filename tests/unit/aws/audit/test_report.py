"""The report `regionstack audit` prints."""

from __future__ import annotations

from infra.aws.audit.model import AuditReport
from infra.aws.audit.report import format_report
from tests.unit.aws.emulator.account import VIOLATIONS, BuiltRegion


def test_the_report_prints_every_finding_with_its_fix(
    noncompliant: tuple[BuiltRegion, AuditReport],
) -> None:
    _, report = noncompliant
    text = format_report(report).splitlines()
    expected = [f"FAIL {f.check}: {f.resource}: {f.problem}" for f in report.findings]
    expected += [f"     fix: {f.fix}" for f in report.findings]
    assert [line for line in expected if line not in text] == []
    assert text[-2].startswith(f"{len(VIOLATIONS)} finding(s)")
