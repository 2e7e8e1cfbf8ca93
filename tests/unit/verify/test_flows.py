"""Flow expectations, against the flow matrix code's own answer."""

from __future__ import annotations

import pytest

from infra.config.loader import Fleet
from infra.local.firewall_rules import allowed_flows, standard_ports
from infra.local.plan import plan_region
from infra.verify.flows import CONTROLLER, GATEWAY, flow_plan, plan_from_inventory, standard_of
from tests.unit.verify.listings import region_of


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan"])
def test_plan_from_the_inventory_is_the_deployed_plan(sample_fleet: Fleet, stack: str) -> None:
    assert plan_from_inventory(region_of(sample_fleet, stack)) == plan_region(
        sample_fleet, sample_fleet.region(stack)
    )


def test_flow_plan_admits_exactly_what_the_flow_matrix_admits(sample_fleet: Fleet) -> None:
    region = region_of(sample_fleet, "hangzhou")
    plan = plan_region(sample_fleet, sample_fleet.region("hangzhou"))
    names = {h.address: h.name for h in plan.hosts} | {plan.gateway: "gateway"}
    expected = {
        (names[s], names[d], port, flow)
        for s, d, port, flow in allowed_flows(plan, standard_of(region))
        if s in names and d in names  # federation with regions not given: not tried
    }
    tried = flow_plan(region, None)
    got = {
        (a.source.replace(CONTROLLER, "gateway"), a.destination, a.port, a.flow)
        for a in tried.allowed()
    }
    assert got == expected
    assert ("hangzhou-portal-1", "hangzhou-hotline-1", 8443, "portal-to-hotline") in got


def test_flow_plan_tries_every_standard_port_between_every_pair(sample_fleet: Fleet) -> None:
    region = region_of(sample_fleet, "chunan")
    tried = flow_plan(region, None)
    hosts = [h.name for h in region.hosts]
    expected_pairs = {(s, d) for s in hosts for d in [*hosts, GATEWAY] if s != d}
    expected_pairs |= {(CONTROLLER, d) for d in hosts}
    assert set(tried.pairs()) == expected_pairs
    ports = standard_ports(standard_of(region))
    for pair in expected_pairs:
        assert {a.port for a in tried.attempts if (a.source, a.destination) == pair} == set(ports)
    assert tried.admitted_ports("chunan-hotline-1", "chunan-portal-1") == set()
    assert tried.admitted_ports(CONTROLLER, "chunan-portal-1") == {22, 80, 443}


def test_flow_plan_across_the_link_to_the_parent(sample_fleet: Fleet) -> None:
    child, parent = region_of(sample_fleet, "chunan"), region_of(sample_fleet, "hangzhou")
    tried = flow_plan(child, parent)
    own, theirs = {h.name for h in child.hosts}, {h.name for h in parent.hosts}
    across = [
        a
        for a in tried.attempts
        if (a.source in own and a.destination in theirs)
        or (a.source in theirs and a.destination in own)
    ]
    assert across, "no attempt crosses the link"
    assert [(a.source, a.destination, a.port) for a in across if a.allowed] == [
        ("chunan-data-exchange-1", "hangzhou-data-exchange-1", 5671)
    ]
    directions = {(a.source in own, a.destination in own) for a in across}
    assert directions == {(True, False), (False, True)}
    # Inside the parent region, and the controller as the parent's outside parties, are
    # the parent's own verify.
    assert not [a for a in tried.attempts if a.source in theirs and a.destination in theirs]
    assert not [a for a in tried.attempts if a.source == CONTROLLER and a.destination in theirs]


def test_flow_plan_has_no_controller_on_aws(sample_fleet: Fleet) -> None:
    tried = flow_plan(region_of(sample_fleet, "chunan", target="aws"), None)
    assert CONTROLLER not in tried.sources
    assert GATEWAY not in tried.destinations
