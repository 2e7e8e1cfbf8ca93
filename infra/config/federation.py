"""Federation: whose exchange links to whose, and where a local region's exchange lives.

A region's exchange federates upstream to its parent's first exchange host and admits
its children's (docs/design.md §4). The effective config, the local plan and the aws plan
all take the neighbours and the local exchange addresses from here, so they agree, and a
region's config (and digest) can name its neighbours' addresses without any target code.

Local addresses: the gateway is the first address of the region CIDR; hosts follow in one
block per component, in the standard's component order, each block as large as the tier's
`max_count`. A region that scales a component within its tier's bounds therefore never
renumbers its other hosts, nor its exchange's address in its neighbours' firewalls.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS, Region
from infra.names import FEDERATED_COMPONENT

FIRST_HOST_OFFSET = 2  # .0 network, .1 gateway


def component_blocks(region: Region) -> dict[str, int]:
    """The first address (as an integer) of each component's block on a local region's
    network, in the standard's component order."""
    assert region.local is not None, "only local regions have local addresses"
    blocks = {}
    start = int(region.local.cidr.network_address) + FIRST_HOST_OFFSET
    for component in COMPONENTS:
        blocks[component] = start
        start += region.host_groups[component].max_count
    return blocks


def first_exchange(region: Region) -> str | None:
    """The address of a local region's first exchange host, the one federation links use;
    None for a region on another target (the aws plan places its exchanges by subnet)."""
    if region.local is None:
        return None
    return str(IPv4Address(component_blocks(region)[FEDERATED_COMPONENT]))


def federated_children(fleet: Fleet, region: Region) -> list[Region]:
    """The regions whose exchanges federate to this one, by code: a plan must not depend
    on the order regions are written in."""
    return sorted(fleet.children(region), key=_code)


def _code(region: Region) -> str:
    return region.code


def parent_exchange(fleet: Fleet, region: Region) -> str | None:
    """The address this region's exchange federates to (its parent's first exchange)."""
    parent = fleet.parent_of(region)
    return first_exchange(parent) if parent else None


def child_exchanges(fleet: Fleet, region: Region) -> tuple[str, ...]:
    """The addresses that federate to this region: its local children's first exchanges."""
    return tuple(
        address
        for child in federated_children(fleet, region)
        if (address := first_exchange(child)) is not None
    )
