"""The `guardduty` and `flow-logs` checks: the detector and the VPC flow log
modules/aws/detection.py declares."""

from __future__ import annotations

from collections.abc import Iterator

from infra.aws.audit.clients import pages
from infra.aws.audit.model import Finding, Passed, Result, Scope, Skipped
from infra.aws.audit.stack_resources import resource_label, stack_vpcs, tag_map
from infra.aws.partition import SERVICES
from infra.aws.tags import TAG_STACK


def check_guardduty(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "guardduty"
    if not target.guardduty:
        spec = SERVICES["guardduty"]
        yield Skipped(
            check, f"partition {target.partition.name} does not offer GuardDuty ({spec.source})"
        )
        return
    guardduty = aws("guardduty")
    detectors = list(pages(guardduty, "list_detectors", "DetectorIds"))
    if not detectors:
        problem = f"no GuardDuty detector in {target.region}: threats go undetected"
        declaration = "modules/aws/detection.py declares the detector"
        yield scope.missing(check, "guardduty", "detector/*", problem, declaration)
    for detector in detectors:
        resource = scope.arn("guardduty", f"detector/{detector}")
        status = guardduty.get_detector(DetectorId=detector).get("Status")
        if status == "ENABLED":
            yield Passed(check, resource, "enabled")
        else:
            yield Finding(
                check,
                resource,
                f"the detector is {status}",
                f"aws guardduty update-detector --detector-id {detector} --enable "
                f"--region {target.region}",
            )


def check_flow_logs(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "flow-logs"
    vpcs = stack_vpcs(target, aws)
    if not vpcs:
        problem = f"no VPC tagged {TAG_STACK}={target.stack} in {target.region}"
        declaration = "modules/aws/network.py declares the VPC"
        yield scope.missing(check, "ec2", "vpc/*", problem, declaration)
    ec2 = aws("ec2")
    for vpc in vpcs:
        vpc_id = vpc["VpcId"]
        label = resource_label(vpc_id, tag_map(vpc.get("Tags")))
        logs = list(
            pages(
                ec2,
                "describe_flow_logs",
                "FlowLogs",
                Filters=[{"Name": "resource-id", "Values": [vpc_id]}],
            )
        )
        delivering = [
            log
            for log in logs
            if log.get("FlowLogStatus") == "ACTIVE"
            and log.get("TrafficType") == "ALL"
            and log.get("DeliverLogsStatus") != "FAILED"
        ]
        if delivering:
            yield Passed(check, label, f"{delivering[0]['FlowLogId']} records all traffic")
            continue
        seen = "; ".join(
            f"{log['FlowLogId']}: {log.get('FlowLogStatus')}, {log.get('TrafficType')} traffic, "
            f"delivery {log.get('DeliverLogsStatus')} {log.get('DeliverLogsErrorMessage', '')}".strip()
            for log in logs
        )
        yield Finding(
            check,
            label,
            f"no active flow log of all traffic delivering ({seen or 'no flow log at all'})",
            "fix the delivery role and log group named in the error, or "
            f"`{target.redeploy()}` (modules/aws/detection.py declares the flow log)",
        )
