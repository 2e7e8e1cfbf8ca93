"""The network and host plan of an `aws` region: a pure function of the unified config.

Like the local plan (infra/local/plan.py), everything the `aws` program creates is named
and laid out from here, so a parent region can compute where its children's exchanges
live (for its security groups) without their stacks having been deployed.

Subnets: the VPC CIDR is cut into 16 equal blocks (a /16 gives /20s, a /22 gives /26s);
block `4 * tier + az` is the subnet of that tier (public 0, private 1, data 2) in that
availability zone. Hosts and NAT gateways span the tier profile's `availability_zones`;
the public tier spans at least two, because an application load balancer needs subnets
in two zones even where a county runs its hosts in one.

Hosts: the portal, hotline and monitor run in the private subnets, the exchange (its
RabbitMQ and PostgreSQL hold the region's data) in the data subnets; host `n` of a
component sits in zone `(n - 1) % zones`. A component whose tier may run more than one
node (`max_count > 1`) is an auto scaling group per host, so scaling within the tier's
bounds adds or removes hosts without replacing the others, and each keeps its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Literal

from infra.aws.partition import Partition, partition
from infra.aws.tags import region_tags
from infra.config.federation import federated_children
from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS, Region
from infra.names import FEDERATED_COMPONENT, host_name

SubnetTier = Literal["public", "private", "data"]
SUBNET_TIERS: tuple[SubnetTier, ...] = ("public", "private", "data")
BLOCKS_PER_TIER = 4  # room for up to three zones, plus one spare block per tier
PREFIX_STEP = 4  # 16 blocks: 3 tiers x 4 zones, and 4 spare
ALB_MIN_ZONES = 2

# Where each component's hosts live.
COMPONENT_SUBNET: dict[str, SubnetTier] = {
    "portal": "private",
    "data_exchange": "data",
    "hotline": "private",
    "security_monitoring": "private",
}


@dataclass(frozen=True)
class SubnetPlan:
    tier: SubnetTier
    zone: int  # index into the region's availability zones, sorted by name
    cidr: str


@dataclass(frozen=True)
class AwsHostPlan:
    name: str  # the `Name` tag: `<stack>-<component>-<n>`, as on the local target
    component: str
    index: int  # 1-based within the component
    zone: int


@dataclass(frozen=True)
class HostGroupPlan:
    component: str
    instance_type: str
    max_count: int
    subnet_tier: SubnetTier
    hosts: tuple[AwsHostPlan, ...]

    @property
    def auto_scaling(self) -> bool:
        return self.max_count > 1


@dataclass(frozen=True)
class Federation:
    """A federation link that crosses into another region's network."""

    stack: str
    code: str
    cidrs: tuple[str, ...]  # the other region's data subnets, where its exchange runs


@dataclass(frozen=True)
class AwsRegionPlan:
    stack: str
    code: str
    tier: str
    standard_version: str
    partition: Partition
    region: str  # the AWS region, e.g. cn-northwest-1
    vpc_cidr: str
    zones: int  # availability zones for hosts and NAT
    public_zones: int
    subnets: tuple[SubnetPlan, ...]
    groups: tuple[HostGroupPlan, ...]
    admin_cidrs: tuple[str, ...]
    call_centre_cidrs: tuple[str, ...]
    parent: Federation | None  # where the exchange federates to; None for a province
    children: tuple[Federation, ...]  # the children whose exchanges federate here

    @property
    def tags(self) -> dict[str, str]:
        return region_tags(self.code, self.stack, self.tier, self.standard_version)

    def subnets_of(self, tier: SubnetTier) -> tuple[SubnetPlan, ...]:
        return tuple(s for s in self.subnets if s.tier == tier)

    def group(self, component: str) -> HostGroupPlan:
        return next(g for g in self.groups if g.component == component)

    @property
    def hosts(self) -> tuple[AwsHostPlan, ...]:
        return tuple(h for g in self.groups for h in g.hosts)


def _zones(fleet: Fleet, region: Region) -> int:
    return fleet.tiers[region.tier].availability_zones


def subnet_plan(vpc_cidr: IPv4Network, zones: int) -> tuple[SubnetPlan, ...]:
    if vpc_cidr.prefixlen + PREFIX_STEP > 28:
        raise ValueError(f"{vpc_cidr} is too small for the subnet plan (at most /24)")
    if not 1 <= zones < BLOCKS_PER_TIER:
        raise ValueError(f"{zones} availability zones: the plan holds 1 to {BLOCKS_PER_TIER - 1}")
    blocks = list(vpc_cidr.subnets(prefixlen_diff=PREFIX_STEP))
    plan = []
    for tier_index, tier in enumerate(SUBNET_TIERS):
        count = max(zones, ALB_MIN_ZONES) if tier == "public" else zones
        for zone in range(count):
            plan.append(SubnetPlan(tier, zone, str(blocks[tier_index * BLOCKS_PER_TIER + zone])))
    return tuple(plan)


def exchange_cidrs(fleet: Fleet, region: Region) -> tuple[str, ...]:
    """The subnets a region's exchange hosts live in (its data subnets)."""
    assert region.aws is not None, "only aws regions have an aws plan"
    subnets = subnet_plan(region.aws.vpc_cidr, _zones(fleet, region))
    tier = COMPONENT_SUBNET[FEDERATED_COMPONENT]
    return tuple(s.cidr for s in subnets if s.tier == tier)


def _groups(fleet: Fleet, region: Region, stack: str, zones: int) -> tuple[HostGroupPlan, ...]:
    groups = []
    for component in COMPONENTS:
        group = region.host_groups[component]
        hosts = tuple(
            AwsHostPlan(host_name(stack, component, n), component, n, (n - 1) % zones)
            for n in range(1, group.count + 1)
        )
        groups.append(
            HostGroupPlan(
                component,
                fleet.standard.sizes[group.size].aws_instance_type,
                group.max_count,
                COMPONENT_SUBNET[component],
                hosts,
            )
        )
    return tuple(groups)


def plan_aws_region(fleet: Fleet, region: Region) -> AwsRegionPlan:
    if region.aws is None:
        raise ValueError(f"region {region.stack} targets {region.target}, not aws")
    aws = region.aws
    zones = _zones(fleet, region)
    # A parent and its children share their target (the `parent-target` rule of
    # infra/config/rules.py), so every neighbour here is an aws region with a plan.
    parent_region = fleet.parent_of(region)
    parent = (
        Federation(parent_region.stack, parent_region.code, exchange_cidrs(fleet, parent_region))
        if parent_region is not None
        else None
    )
    children = tuple(
        Federation(child.stack, child.code, exchange_cidrs(fleet, child))
        for child in federated_children(fleet, region)
    )
    return AwsRegionPlan(
        stack=region.stack,
        code=region.code,
        tier=region.tier.value,
        standard_version=fleet.standard.version,
        partition=partition(aws.partition),
        region=aws.region,
        vpc_cidr=str(aws.vpc_cidr),
        zones=zones,
        public_zones=max(zones, ALB_MIN_ZONES),
        subnets=subnet_plan(aws.vpc_cidr, zones),
        groups=_groups(fleet, region, region.stack, zones),
        admin_cidrs=tuple(str(c) for c in aws.admin_cidrs),
        call_centre_cidrs=tuple(str(c) for c in aws.call_centre_cidrs),
        parent=parent,
        children=children,
    )


# The retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def cloudwatch_retention(days: int) -> int:
    """The shortest retention CloudWatch Logs accepts that keeps logs at least `days`."""
    for allowed in CLOUDWATCH_RETENTION_DAYS:
        if allowed >= days:
            return allowed
    raise ValueError(f"CloudWatch Logs keeps logs {CLOUDWATCH_RETENTION_DAYS[-1]} days at most")
