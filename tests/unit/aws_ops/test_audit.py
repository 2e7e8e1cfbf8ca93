"""`regionstack audit` (infra/aws/audit.py) against the emulator, in both partitions.

The compliant account is the region as the program declares it; the non-compliant one
is the same with every violation of tests/unit/aws_ops/account.py applied, each of
which must come back as exactly one finding naming its resource and a fix.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest

from infra.aws.audit import (
    CHECKS,
    AuditError,
    AuditReport,
    AuditTarget,
    AwsClients,
    Passed,
    Skipped,
    format_report,
    run_audit,
)
from infra.aws.plan import plan_aws_region
from infra.config.loader import Fleet
from tests.unit.aws_ops.account import VIOLATIONS, BuiltRegion, Violation
from tests.unit.aws_ops.emulator import (
    COMPLIANT,
    LOOPBACK,
    NONCOMPLIANT,
    PARTITION_IDS,
    PARTITIONS,
    emulator_env,
    free_port,
)


def audit(built: BuiltRegion, emulator: str, **target_changes: object) -> AuditReport:
    """The audit of `built`'s account, with its credentials in the environment."""
    target = dataclasses.replace(built.target, **target_changes)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as env:
        for key, value in emulator_env(emulator, built.account).items():
            env.setenv(key, value)
        return run_audit(target, AwsClients(target.region))


@pytest.fixture(scope="module", params=PARTITIONS, ids=PARTITION_IDS)
def compliant(
    request: pytest.FixtureRequest, deployed: Callable[[str, str], BuiltRegion], emulator: str
) -> AuditReport:
    return audit(deployed(request.param[1], COMPLIANT), emulator)


@pytest.fixture(scope="module", params=PARTITIONS, ids=PARTITION_IDS)
def noncompliant(
    request: pytest.FixtureRequest, deployed: Callable[[str, str], BuiltRegion], emulator: str
) -> tuple[BuiltRegion, AuditReport]:
    built = deployed(request.param[1], NONCOMPLIANT)
    return built, audit(built, emulator)


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


def test_findings_are_reported_in_partition_arns(
    noncompliant: tuple[BuiltRegion, AuditReport],
) -> None:
    built, report = noncompliant
    arns = [f.resource for f in report.findings if f.resource.startswith("arn:")]
    assert arns
    assert all(a.startswith(f"arn:{built.plan.partition.name}:") for a in arns), arns


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_guardduty_is_recorded_skipped_where_the_partition_lacks_it(
    deployed: Callable[[str, str], BuiltRegion], emulator: str, partition: str, stack: str
) -> None:
    report = audit(deployed(stack, COMPLIANT), emulator, guardduty=False)
    guardduty = [r for r in report.results if r.check == "guardduty"]
    assert len(guardduty) == 1 and isinstance(guardduty[0], Skipped), format_report(report)
    assert partition in guardduty[0].reason
    assert report.ok


def test_the_load_balancer_ports_come_from_the_flow_matrix(fleet: Fleet) -> None:
    plan = plan_aws_region(fleet, fleet.region("ningxia"))
    target = AuditTarget.from_plan(plan, fleet.standard)
    internet = [f for f in fleet.standard.flows if f.source == "internet"]
    assert target.world_ports == tuple(sorted({p for f in internet for p in f.ports}))


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


def test_the_report_prints_every_finding_with_its_fix(
    noncompliant: tuple[BuiltRegion, AuditReport],
) -> None:
    _, report = noncompliant
    text = format_report(report).splitlines()
    expected = [f"FAIL {f.check}: {f.resource}: {f.problem}" for f in report.findings]
    expected += [f"     fix: {f.fix}" for f in report.findings]
    assert [line for line in expected if line not in text] == []
    assert text[-2].startswith(f"{len(VIOLATIONS)} finding(s)")
