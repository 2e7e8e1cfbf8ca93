"""The aws region plan: subnets, zones, host placement, federation neighbours."""

from __future__ import annotations

from ipaddress import IPv4Network
from itertools import combinations

import pytest

from infra.aws.plan import (
    CLOUDWATCH_RETENTION_DAYS,
    cloudwatch_retention,
    exchange_cidrs,
    plan_aws_region,
    subnet_plan,
)
from infra.config.gbt2260 import Tier
from infra.config.loader import Fleet
from tests.unit.aws.stacks import STACK_IDS, STACK_NAMES

stacks = pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)


@stacks
def test_subnets_are_disjoint_and_inside_the_vpc(aws_fleet: Fleet, stack: str) -> None:
    plan = plan_aws_region(aws_fleet, aws_fleet.region(stack))
    vpc = IPv4Network(plan.vpc_cidr)
    networks = [IPv4Network(s.cidr) for s in plan.subnets]
    assert all(n.subnet_of(vpc) for n in networks)
    assert not [(a, b) for a, b in combinations(networks, 2) if a.overlaps(b)]


@stacks
def test_zones_follow_the_tier_and_the_alb_gets_two(aws_fleet: Fleet, stack: str) -> None:
    plan = plan_aws_region(aws_fleet, aws_fleet.region(stack))
    zones = aws_fleet.tiers[Tier(plan.tier)].availability_zones
    assert plan.zones == zones
    assert len(plan.subnets_of("public")) == max(2, zones)
    assert len(plan.subnets_of("private")) == len(plan.subnets_of("data")) == zones
    assert {h.zone for h in plan.hosts} <= set(range(zones))


def test_a_province_spreads_its_portal_over_both_zones(aws_fleet: Fleet) -> None:
    plan = plan_aws_region(aws_fleet, aws_fleet.region("ningxia"))
    assert [h.zone for h in plan.group("portal").hosts] == [0, 1, 0]
    assert [h.name for h in plan.group("portal").hosts] == [
        "ningxia-portal-1",
        "ningxia-portal-2",
        "ningxia-portal-3",
    ]


def test_the_smallest_vpc_still_fits(aws_fleet: Fleet) -> None:
    subnets = subnet_plan(IPv4Network("10.0.0.0/22"), 3)
    assert {IPv4Network(s.cidr).prefixlen for s in subnets} == {26}


def test_exchange_cidrs_are_the_neighbours_data_subnets(aws_fleet: Fleet) -> None:
    city = plan_aws_region(aws_fleet, aws_fleet.region("yinchuan"))
    assert city.parent is not None and city.parent.stack == "ningxia"
    province = plan_aws_region(aws_fleet, aws_fleet.region("ningxia"))
    assert city.parent.cidrs == tuple(s.cidr for s in province.subnets_of("data"))
    assert [c.stack for c in city.children] == ["xingqing"]
    county = aws_fleet.region("xingqing")
    assert county.aws is not None
    assert all(
        IPv4Network(c).subnet_of(county.aws.vpc_cidr) for c in exchange_cidrs(aws_fleet, county)
    )


def test_local_region_has_no_aws_plan(sample_fleet: Fleet) -> None:
    with pytest.raises(ValueError, match="targets local, not aws"):
        plan_aws_region(sample_fleet, sample_fleet.region("chunan"))


@pytest.mark.parametrize(("days", "kept"), [(180, 180), (181, 365), (1, 1), (3653, 3653)])
def test_cloudwatch_retention_never_shortens(days: int, kept: int) -> None:
    assert cloudwatch_retention(days) == kept
    assert kept in CLOUDWATCH_RETENTION_DAYS


def test_cloudwatch_retention_beyond_the_longest_is_refused() -> None:
    with pytest.raises(ValueError, match="3653"):
        cloudwatch_retention(4000)
