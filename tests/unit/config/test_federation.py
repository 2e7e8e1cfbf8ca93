"""Federation: the neighbours whose exchanges link up, and the local exchange addresses
the effective config and both targets' plans take from infra/config/federation.py."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from infra.config.federation import (
    FIRST_HOST_OFFSET,
    child_exchanges,
    component_blocks,
    federated_children,
    first_exchange,
    parent_exchange,
)
from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS
from infra.local.plan import plan_region


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan", "tonglu"])
def test_blocks_follow_the_gateway_in_component_order_each_max_count_long(
    sample_fleet: Fleet, stack: str
) -> None:
    region = sample_fleet.region(stack)
    assert region.local is not None
    blocks = component_blocks(region)
    assert tuple(blocks) == COMPONENTS
    start = int(region.local.cidr.network_address) + FIRST_HOST_OFFSET
    for component in COMPONENTS:
        assert blocks[component] == start, (stack, component)
        start += region.host_groups[component].max_count


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan", "tonglu"])
def test_first_exchange_is_the_local_plans_first_exchange_host(
    sample_fleet: Fleet, stack: str
) -> None:
    region = sample_fleet.region(stack)
    plan = plan_region(sample_fleet, region)
    assert first_exchange(region) == plan.hosts_of("data_exchange")[0].address
    assert first_exchange(region) == plan.own_exchange
    assert IPv4Address(plan.hosts[0].address) == IPv4Address(component_blocks(region)["portal"])


def test_an_aws_region_has_no_local_exchange_address(sample_fleet: Fleet) -> None:
    ningxia = sample_fleet.region("ningxia")
    assert first_exchange(ningxia) is None
    assert parent_exchange(sample_fleet, ningxia) is None
    assert child_exchanges(sample_fleet, ningxia) == ()


def test_children_are_ordered_by_code(sample_fleet: Fleet) -> None:
    children = federated_children(sample_fleet, sample_fleet.region("hangzhou"))
    assert [c.stack for c in children] == ["tonglu", "chunan"]  # 330122 before 330127
    assert [c.code for c in children] == sorted(c.code for c in children)


def test_parent_and_child_exchanges_link_the_chain(sample_fleet: Fleet) -> None:
    province, city, county = (sample_fleet.region(s) for s in ("zhejiang", "hangzhou", "chunan"))
    assert parent_exchange(sample_fleet, province) is None
    assert parent_exchange(sample_fleet, city) == first_exchange(province)
    assert parent_exchange(sample_fleet, county) == first_exchange(city)
    assert child_exchanges(sample_fleet, province) == (first_exchange(city),)
    assert child_exchanges(sample_fleet, city) == tuple(
        first_exchange(c) for c in federated_children(sample_fleet, city)
    )
    assert child_exchanges(sample_fleet, county) == ()
