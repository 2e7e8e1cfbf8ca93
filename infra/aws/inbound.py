"""Each aws host's own inbound allow list: the flow matrix as the `common` role renders it.

On the local target a host's nftables allow list names its peers' addresses
(infra/local/firewall_rules.py). An aws host's peers are auto scaling hosts whose
addresses are not known in advance, so the same list names the *subnets* they run in:
the security groups (infra/aws/flows.py, the same rules this is derived from) remain the
precise control, per component; the host firewall is the second, coarser layer that
still refuses every port and source the matrix does not name - defence in depth that
keeps working if a security group is opened by hand.

A security group peer becomes the subnets of its tier (COMPONENT_SUBNET; the load
balancer's are the public subnets); a CIDR peer (admin, call centre, a child region's
exchange subnets) stays itself.
"""

from __future__ import annotations

from infra.aws.flows import ALB_GROUP, SgRule
from infra.aws.plan import COMPONENT_SUBNET, AwsRegionPlan

PUBLIC_TIER = "public"


def _sources(plan: AwsRegionPlan, rule: SgRule) -> list[str]:
    if rule.peer_kind == "cidr":
        return [rule.peer]
    tier = PUBLIC_TIER if rule.peer == ALB_GROUP else COMPONENT_SUBNET[rule.peer]
    return [subnet.cidr for subnet in plan.subnets if subnet.tier == tier]


def inbound_by_host(plan: AwsRegionPlan, rules: list[SgRule]) -> dict[str, list[dict[str, object]]]:
    """Per host (its `Name`): `[{flow, ports, sources}]`, the local target's format."""
    by_component: dict[str, dict[str, tuple[set[int], set[str]]]] = {}
    for rule in rules:
        if rule.direction != "ingress":
            continue
        for flow in rule.flows:
            ports, sources = by_component.setdefault(rule.group, {}).setdefault(
                flow, (set(), set())
            )
            ports.add(rule.port)
            sources.update(_sources(plan, rule))
    return {
        host.name: [
            {"flow": flow, "ports": sorted(ports), "sources": sorted(sources)}
            for flow, (ports, sources) in sorted(by_component.get(host.component, {}).items())
        ]
        for host in plan.hosts
    }
