"""Every check against an account: what a compliant and a non-compliant one report, and
the accounts the audit refuses to read."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from infra.aws.audit.clients import AwsClients
from infra.aws.audit.model import AuditError, AuditReport, Passed
from infra.aws.audit.report import format_report
from infra.aws.audit.runner import CHECKS, run_audit
from tests.unit.aws.audit.emulated_audit import audit
from tests.unit.aws.emulator import COMPLIANT, LOOPBACK, free_port
from tests.unit.aws.emulator.account import VIOLATIONS, BuiltRegion, Violation


def test_a_compliant_account_has_no_findings(compliant: AuditReport) -> None:
    assert compliant.ok, format_report(compliant)


@pytest.mark.parametrize("check", list(CHECKS))
def test_each_check_passes_something_in_a_compliant_account(
    compliant: AuditReport, check: str
) -> None:
    passed = [r for r in compliant.results if isinstance(r, Passed) and r.check == check]
    assert passed, format_report(compliant)


def test_the_audit_reads_the_account_of_the_credentials(compliant: AuditReport) -> None:
    assert compliant.account.startswith("1000000000"), compliant.account


@pytest.mark.parametrize("violation", VIOLATIONS, ids=[v.name for v in VIOLATIONS])
def test_violation_is_found_with_its_resource_and_fix(
    noncompliant: tuple[BuiltRegion, AuditReport], violation: Violation
) -> None:
    built, report = noncompliant
    resource = violation.resource(built)
    matches = [
        f
        for f in report.findings
        if f.check == violation.check and resource in f.resource and violation.problem in f.problem
    ]
    assert len(matches) == 1, format_report(report)
    fix = matches[0].fix
    identifier = re.split("[:/]", resource)[-1]  # an ARN's last part, or the id itself
    named = identifier in fix or f"pulumi up --stack {built.plan.stack}" in fix
    assert named, f"the fix does not name the resource or the redeploy: {fix}"


def test_nothing_but_the_violations_is_found(noncompliant: tuple[BuiltRegion, AuditReport]) -> None:
    _, report = noncompliant
    assert len(report.findings) == len(VIOLATIONS), format_report(report)


def test_credentials_of_another_partition_are_refused(
    deployed: Callable[[str, str], BuiltRegion], emulator: str
) -> None:
    built = deployed("ningxia", COMPLIANT)
    # The emulator answers with the partition of the region asked: a global region here
    # stands for global credentials used against a China stack.
    with pytest.raises(AuditError, match=r"partition aws; ningxia runs in aws-cn"):
        audit(built, emulator, region="ap-east-1")


def test_missing_credentials_name_what_to_set(
    deployed: Callable[[str, str], BuiltRegion], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = deployed("ningxia", COMPLIANT)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AuditError, match=r"AWS_PROFILE.*AWS_ACCESS_KEY_ID"):
        run_audit(built.target, AwsClients(built.target.region))


def test_an_unreachable_endpoint_is_named(deployed: Callable[[str, str], BuiltRegion]) -> None:
    built = deployed("ningxia", COMPLIANT)
    closed = f"http://{LOOPBACK}:{free_port()}"  # nothing listens there
    with pytest.raises(AuditError, match=f"cannot reach {closed}"):
        run_audit(built.target, AwsClients(built.target.region, closed))
