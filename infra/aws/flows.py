"""The flow matrix as security group rules: the `aws` counterpart of the local nftables.

`security_group_rules(plan, standard)` is a pure function of the region plan and the
standard's `flows` - the same source the local target renders into nftables
(infra/local/firewall_rules.py) - and returns every ingress and egress rule of the
region's security groups. Nothing else opens a port: the module creates exactly these.

There is one security group per component and one for the portal's load balancer
(`alb`). Endpoints on the `aws` target:

* a component is its security group, `all_hosts` every component's group; a rule between
  two groups is an ingress rule on the destination's group referencing the source's, and
  the matching egress rule on the source's group referencing the destination's;
* `admin` and `call_centre` are the region's `admin_cidrs` and `call_centre_cidrs`;
* `internet` reaches only the load balancer: the flow `internet -> portal` becomes
  ingress from 0.0.0.0/0 to the `alb` group on the flow's ports (443, and 80, which the
  load balancer itself answers with a redirect to 443), and one hop from the `alb` group
  to the portal's group on 443 only - the load balancer forwards nothing else, so the
  portal hosts never accept a connection from the internet;
* `parent.data_exchange` is another region's VPC: its exchange reaches its parent's over
  a link the network team provides (transit gateway, peering or Direct Connect), so the
  flow is an egress rule from this region's exchange to the parent's data subnets, and on
  the parent an ingress rule from each child's data subnets (read from the fleet: the
  subnet plan is a pure function of the child's VPC CIDR, infra/aws/plan.py).

Platform egress (`PLATFORM_EGRESS`) is what a host needs beyond the matrix and says why;
DNS, time and instance metadata go to link-local or VPC resolver addresses that security
groups do not filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from infra.aws.plan import AwsRegionPlan
from infra.config.schema import COMPONENTS, PARENT_PREFIX, Flow, Standard
from infra.names import FEDERATED_COMPONENT

ALB_GROUP = "alb"
ALB_FORWARDED_PORTS = (443,)  # the load balancer answers 80 itself (redirect to HTTPS)
INTERNET = "0.0.0.0/0"
PORTAL = "portal"

Direction = Literal["ingress", "egress"]
PeerKind = Literal["group", "cidr"]


@dataclass(frozen=True)
class PlatformEgress:
    port: int
    reason: str


PLATFORM_EGRESS: tuple[PlatformEgress, ...] = (
    PlatformEgress(443, "SSM agent, AWS APIs and package mirrors over HTTPS, through the NAT"),
    PlatformEgress(80, "Debian mirrors over HTTP (apt verifies every package's signature)"),
)
PLATFORM_FLOW = "platform-egress"


@dataclass(frozen=True, order=True)
class SgRule:
    """One TCP port opened on one security group, towards one peer."""

    group: str  # the group the rule belongs to: a component or `alb`
    direction: Direction
    peer_kind: PeerKind
    peer: str  # a group (component or `alb`) or a CIDR
    port: int
    flows: tuple[str, ...]  # the flows (or `platform-egress`) that need it

    @property
    def key(self) -> tuple[str, Direction, PeerKind, str, int]:
        return (self.group, self.direction, self.peer_kind, self.peer, self.port)


def _groups_of(endpoint: str) -> tuple[str, ...] | None:
    if endpoint in COMPONENTS:
        return (endpoint,)
    if endpoint == "all_hosts":
        return COMPONENTS
    return None


def _cidrs_of(plan: AwsRegionPlan, endpoint: str) -> tuple[str, ...] | None:
    if endpoint == "admin":
        return plan.admin_cidrs
    if endpoint == "call_centre":
        return plan.call_centre_cidrs
    return None


def _between_groups(
    sources: Iterable[str], destinations: Iterable[str], ports: Iterable[int], flow: str
) -> list[SgRule]:
    rules = []
    for src in sources:
        for dst in destinations:
            for port in ports:
                rules.append(SgRule(dst, "ingress", "group", src, port, (flow,)))
                rules.append(SgRule(src, "egress", "group", dst, port, (flow,)))
    return rules


def _federation(plan: AwsRegionPlan, flow: Flow, ports: tuple[int, ...]) -> list[SgRule]:
    if flow.source != FEDERATED_COMPONENT or flow.destination != (
        PARENT_PREFIX + FEDERATED_COMPONENT
    ):
        raise ValueError(
            f"flow {flow.name}: only {FEDERATED_COMPONENT} -> "
            f"{PARENT_PREFIX}{FEDERATED_COMPONENT} can cross regions on the aws target"
        )
    rules = []
    if plan.parent is not None:
        for cidr in plan.parent.cidrs:
            for port in ports:
                rules.append(
                    SgRule(FEDERATED_COMPONENT, "egress", "cidr", cidr, port, (flow.name,))
                )
    for child in plan.children:
        for cidr in child.cidrs:
            for port in ports:
                rules.append(
                    SgRule(FEDERATED_COMPONENT, "ingress", "cidr", cidr, port, (flow.name,))
                )
    return rules


def _flow_rules(plan: AwsRegionPlan, flow: Flow) -> list[SgRule]:
    ports = tuple(sorted(set(flow.ports)))
    if flow.source.startswith(PARENT_PREFIX) or flow.destination.startswith(PARENT_PREFIX):
        return _federation(plan, flow, ports)
    sources, destinations = _groups_of(flow.source), _groups_of(flow.destination)
    if destinations is None:
        raise ValueError(
            f"flow {flow.name}: destination {flow.destination!r} has no security group on "
            "the aws target (components, all_hosts or parent.data_exchange)"
        )
    if sources is not None:
        return _between_groups(sources, destinations, ports, flow.name)
    if flow.source == "internet":
        if destinations != (PORTAL,):
            raise ValueError(
                f"flow {flow.name}: only the portal, behind its load balancer, faces the "
                f"internet on the aws target, not {flow.destination!r}"
            )
        rules = [SgRule(ALB_GROUP, "ingress", "cidr", INTERNET, p, (flow.name,)) for p in ports]
        forwarded = [p for p in ports if p in ALB_FORWARDED_PORTS]
        return rules + _between_groups((ALB_GROUP,), destinations, forwarded, flow.name)
    cidrs = _cidrs_of(plan, flow.source)
    if cidrs is None:
        raise ValueError(
            f"flow {flow.name}: source {flow.source!r} has no meaning on the aws target "
            "(components, all_hosts, internet, admin or call_centre)"
        )
    return [
        SgRule(dst, "ingress", "cidr", cidr, port, (flow.name,))
        for dst in destinations
        for cidr in cidrs
        for port in ports
    ]


def _merged(rules: Iterable[SgRule]) -> list[SgRule]:
    """One rule per (group, direction, peer, port), naming every flow that needs it."""
    by_key: dict[tuple[str, Direction, PeerKind, str, int], SgRule] = {}
    for rule in rules:
        known = by_key.get(rule.key)
        if known is None:
            by_key[rule.key] = rule
        elif not set(rule.flows) <= set(known.flows):
            flows = tuple(dict.fromkeys(known.flows + rule.flows))
            by_key[rule.key] = SgRule(*rule.key, flows)
    return sorted(by_key.values())


def security_group_rules(plan: AwsRegionPlan, standard: Standard) -> list[SgRule]:
    """Every rule of the region's security groups, sorted; see the module docstring."""
    rules: list[SgRule] = []
    for flow in standard.flows:
        rules.extend(_flow_rules(plan, flow))
    for component in COMPONENTS:
        for egress in PLATFORM_EGRESS:
            rules.append(
                SgRule(component, "egress", "cidr", INTERNET, egress.port, (PLATFORM_FLOW,))
            )
    return _merged(rules)


def slug(value: str) -> str:
    """A group, peer or CIDR as it may appear in a resource or tag name."""
    return value.replace("_", "-").replace(".", "-").replace("/", "-")


def group_name(stack: str, group: str) -> str:
    """The `Name` tag of a region's security group (the policies find groups by it)."""
    return f"{stack}-{slug(group)}"


def security_groups() -> tuple[str, ...]:
    """The region's security groups: one per component, and the load balancer's."""
    return (*COMPONENTS, ALB_GROUP)
