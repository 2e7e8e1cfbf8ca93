"""The local address plan: deterministic names and addresses from the unified config."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest

from infra.config.loader import Fleet
from infra.local.plan import plan_region


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan"])
def test_every_address_is_unique_inside_the_region_and_not_the_gateway(
    sample_fleet: Fleet, stack: str
) -> None:
    plan = plan_region(sample_fleet, sample_fleet.region(stack))
    network = IPv4Network(plan.cidr)
    addresses = [IPv4Address(h.address) for h in plan.hosts]
    assert len(set(addresses)) == len(addresses)
    assert all(
        a in network and a not in (network.network_address, network.broadcast_address)
        for a in addresses
    )
    assert IPv4Address(plan.gateway) == network.network_address + 1
    assert IPv4Address(plan.gateway) not in addresses


def test_county_has_one_host_per_component_named_stack_component_n(sample_fleet: Fleet) -> None:
    plan = plan_region(sample_fleet, sample_fleet.region("chunan"))
    assert [h.name for h in plan.hosts] == [
        "chunan-portal-1",
        "chunan-data-exchange-1",
        "chunan-hotline-1",
        "chunan-security-monitoring-1",
    ]
    assert plan.bridge == "rs330127" and plan.table == "regionstack_330127"


def test_province_runs_an_ha_portal(sample_fleet: Fleet) -> None:
    plan = plan_region(sample_fleet, sample_fleet.region("zhejiang"))
    assert [h.name for h in plan.hosts_of("portal")] == ["zhejiang-portal-1", "zhejiang-portal-2"]


def test_scaling_a_component_never_renumbers_the_others(sample_fleet: Fleet) -> None:
    region = sample_fleet.region("chunan")
    before = {h.name: h.address for h in plan_region(sample_fleet, region).hosts}
    data = region.model_dump(mode="json")
    data["overrides"] = {"host_groups": {"portal": {"count": 2}}}
    scaled = type(region).model_validate(data)
    # A fleet resolves its regions' host groups: the same fleet with chunan scaled.
    fleet = replace(
        sample_fleet, regions=[scaled if r is region else r for r in sample_fleet.regions]
    )
    after = {h.name: h.address for h in plan_region(fleet, scaled).hosts}
    assert "chunan-portal-2" in after
    assert {k: v for k, v in after.items() if k != "chunan-portal-2"} == before


def test_federation_addresses_link_child_and_parent(sample_fleet: Fleet) -> None:
    city = plan_region(sample_fleet, sample_fleet.region("hangzhou"))
    county = plan_region(sample_fleet, sample_fleet.region("chunan"))
    province = plan_region(sample_fleet, sample_fleet.region("zhejiang"))
    assert county.parent_exchange == city.hosts_of("data_exchange")[0].address
    assert county.hosts_of("data_exchange")[0].address in city.child_exchanges
    tonglu = plan_region(sample_fleet, sample_fleet.region("tonglu"))
    assert set(city.child_exchanges) == {
        tonglu.hosts_of("data_exchange")[0].address,
        county.hosts_of("data_exchange")[0].address,
    }
    assert city.parent_exchange == province.hosts_of("data_exchange")[0].address
    assert province.parent_exchange is None


def test_aws_region_has_no_local_plan(sample_fleet: Fleet) -> None:
    with pytest.raises(ValueError, match="targets aws, not local"):
        plan_region(sample_fleet, sample_fleet.region("ningxia"))
