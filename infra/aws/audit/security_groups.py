"""The `security-groups` check: no group of the stack's VPC is open to the internet
beyond what the flow matrix (infra/aws/flows.py) opens on the load balancer's group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from infra.aws.audit.clients import AwsClients, pages
from infra.aws.audit.model import WORLD, Finding, Passed, Result, Scope, Skipped
from infra.aws.audit.stack_resources import resource_label, stack_vpcs, tag_map


def _load_balancer_groups(aws: AwsClients, vpc_ids: set[str]) -> set[str]:
    """The security groups of the region's application load balancers."""
    groups: set[str] = set()
    balancers = pages(aws("elbv2"), "describe_load_balancers", "LoadBalancers")
    for balancer in balancers:
        if balancer.get("Type") == "application" and balancer.get("VpcId") in vpc_ids:
            groups.update(balancer.get("SecurityGroups", []))
    return groups


def _world_sources(permission: dict[str, Any]) -> list[str]:
    v4 = [r["CidrIp"] for r in permission.get("IpRanges", []) if r.get("CidrIp") in WORLD]
    v6 = [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", []) if r.get("CidrIpv6") in WORLD]
    return v4 + v6


def _describe_ports(permission: dict[str, Any]) -> str:
    protocol = permission.get("IpProtocol")
    if protocol == "-1":
        return "all traffic"
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def _revoke(group_id: str, permission: dict[str, Any], source: str, region: str) -> str:
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": source}]}
        if ":" in source
        else {"IpRanges": [{"CidrIp": source}]}
    )
    spec = {k: permission[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in permission}
    return (
        f"aws ec2 revoke-security-group-ingress --group-id {group_id} --region {region} "
        f"--ip-permissions '{json.dumps([{**spec, **ranges}], separators=(',', ':'))}'"
    )


def check_security_groups(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "security-groups"
    vpc_ids = {vpc["VpcId"] for vpc in stack_vpcs(target, aws)}
    if not vpc_ids:
        yield Skipped(check, "no VPC of the stack (see the flow-logs finding)")
        return
    allowed_groups = _load_balancer_groups(aws, vpc_ids)
    groups = pages(
        aws("ec2"),
        "describe_security_groups",
        "SecurityGroups",
        Filters=[{"Name": "vpc-id", "Values": sorted(vpc_ids)}],
    )
    for group in groups:
        group_id = group["GroupId"]
        label = resource_label(group_id, tag_map(group.get("Tags")))
        open_rules = 0
        for permission in group.get("IpPermissions", []):
            for source in _world_sources(permission):
                designed = (
                    group_id in allowed_groups
                    and permission.get("IpProtocol") == "tcp"
                    and permission.get("FromPort") == permission.get("ToPort")
                    and permission.get("FromPort") in target.world_ports
                )
                if designed:
                    continue
                open_rules += 1
                ports = ", ".join(str(p) for p in target.world_ports)
                yield Finding(
                    check,
                    label,
                    f"admits {_describe_ports(permission)} from {source}; the flow matrix "
                    f"opens only the load balancer's group to the internet, on tcp {ports}",
                    _revoke(group_id, permission, source, target.region),
                )
        if not open_rules:
            yield Passed(check, label, "no ingress from the internet beyond the design")
