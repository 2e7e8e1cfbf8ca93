"""What the audit expects of a region, and how its findings name resources."""

from __future__ import annotations

from infra.aws.audit.model import AuditReport, AuditTarget
from infra.aws.plan import plan_aws_region
from infra.config.loader import Fleet
from tests.unit.aws.emulator.account import BuiltRegion


def test_findings_are_reported_in_partition_arns(
    noncompliant: tuple[BuiltRegion, AuditReport],
) -> None:
    built, report = noncompliant
    arns = [f.resource for f in report.findings if f.resource.startswith("arn:")]
    assert arns
    assert all(a.startswith(f"arn:{built.plan.partition.name}:") for a in arns), arns


def test_the_load_balancer_ports_come_from_the_flow_matrix(emulated_fleet: Fleet) -> None:
    plan = plan_aws_region(emulated_fleet, emulated_fleet.region("ningxia"))
    target = AuditTarget.from_plan(plan, emulated_fleet.standard)
    internet = [f for f in emulated_fleet.standard.flows if f.source == "internet"]
    assert target.world_ports == tuple(sorted({p for f in internet for p in f.ports}))
