"""The architecture: zones and hosts from the plan, arrows from the firewall's rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from infra.compliance.architecture import ALL_HOSTS, CHILDREN, PARENT, architecture, render_svg
from infra.config.loader import Fleet


def _ends(fleet: Fleet, stack: str) -> set[tuple[str, str, str]]:
    arch = architecture(fleet, fleet.region(stack))
    return {(e.flow, e.source, e.destination) for e in arch.edges}


def test_a_local_region_is_its_bridge_with_every_host(sample_fleet: Fleet) -> None:
    arch = architecture(sample_fleet, sample_fleet.region("chunan"))
    (zone,) = arch.zones
    assert zone.name == "bridge rs330127 10.203.2.0/24"
    assert dict(zone.members)["portal"] == ("chunan-portal-1",)


def test_the_flows_are_the_firewalls(sample_fleet: Fleet) -> None:
    ends = _ends(sample_fleet, "chunan")
    assert ("citizens-to-portal", "internet", "portal") in ends
    assert ("logs-to-monitor", ALL_HOSTS, "security_monitoring") in ends
    assert ("federation-to-parent", "data_exchange", PARENT) in ends


def test_the_parent_link_only_where_there_is_a_parent(sample_fleet: Fleet) -> None:
    province = _ends(sample_fleet, "zhejiang")
    assert ("federation-to-parent", CHILDREN, "data_exchange") in province
    assert not any(dst == PARENT for _, _, dst in province)
    assert architecture(sample_fleet, sample_fleet.region("hangzhou")).parent == "zhejiang"


def test_an_aws_region_is_drawn_by_subnet_tier_behind_its_load_balancer(
    sample_fleet: Fleet,
) -> None:
    arch = architecture(sample_fleet, sample_fleet.region("ningxia"))
    zones = {z.name: dict(z.members) for z in arch.zones}
    assert list(zones) == ["public subnets", "private subnets", "data subnets"]
    assert zones["private subnets"]["portal"] == (
        "ningxia-portal-1",
        "ningxia-portal-2",
        "ningxia-portal-3",
    )
    ends = _ends(sample_fleet, "ningxia")
    assert {
        ("citizens-to-portal", "internet", "alb"),
        ("citizens-to-portal", "alb", "portal"),
    } <= ends
    assert ("admin-ssh", "admin", ALL_HOSTS) in ends
    assert not any("platform" in flow for flow, _, _ in ends)


def test_the_svg_is_self_contained_and_numbers_every_flow(sample_fleet: Fleet) -> None:
    arch = architecture(sample_fleet, sample_fleet.region("hangzhou"))
    svg = render_svg(arch)
    root = ET.fromstring(svg)  # well-formed
    namespace = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{namespace}path[@class='flow']")) == len(arch.edges)
    assert "href" not in svg and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "hangzhou-data-exchange-1" in svg and "parent zhejiang" in svg
    assert svg == render_svg(architecture(sample_fleet, sample_fleet.region("hangzhou")))
