"""The address and name plan of a local region: a pure function of the unified config.

Everything the local providers create is named and addressed from here, so the same
configuration always gives the same bridge, gateway, host names and addresses, and a
parent region can compute its children's exchange addresses (for its firewall) without
their stacks having been deployed.

Addresses: the gateway is the first address of the region CIDR; hosts follow in one block
per component, in the standard's component order, each block as large as the tier's
`max_count`. A region that scales a component within its tier's bounds therefore never
renumbers its other hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS, Region
from infra.names import host_name

BRIDGE_PREFIX = "rs"  # rs<code>: 8 characters, well inside IFNAMSIZ (15)
TABLE_PREFIX = "regionstack_"
FIRST_HOST_OFFSET = 2  # .0 network, .1 gateway


@dataclass(frozen=True)
class HostPlan:
    name: str  # `<stack>-<component>-<n>`, also the hostname and the machine name
    component: str
    index: int  # 1-based within the component
    address: str


@dataclass(frozen=True)
class RegionPlan:
    stack: str
    code: str
    cidr: str
    prefix_length: int
    bridge: str
    gateway: str
    table: str
    hosts: tuple[HostPlan, ...]
    parent_exchange: str | None  # address of the parent region's first data_exchange host
    child_exchanges: tuple[str, ...]  # first data_exchange host of every local child region

    def hosts_of(self, component: str) -> tuple[HostPlan, ...]:
        return tuple(h for h in self.hosts if h.component == component)


def _hosts(fleet: Fleet, region: Region) -> tuple[HostPlan, ...]:
    assert region.local is not None, "only local regions have a local plan"
    network = region.local.cidr
    hosts = []
    block_start = int(network.network_address) + FIRST_HOST_OFFSET
    for component in COMPONENTS:
        group = region.host_groups[component]
        for index in range(1, group.count + 1):
            address = IPv4Address(block_start + index - 1)
            hosts.append(
                HostPlan(
                    host_name(region.stack, component, index),
                    component,
                    index,
                    str(address),
                )
            )
        block_start += group.max_count
    return tuple(hosts)


def _first_exchange(fleet: Fleet, region: Region) -> str | None:
    """The first data_exchange host's address, from the block arithmetic of `_hosts`.

    Computed directly rather than by planning every host: each region's digest needs its
    parent's and children's exchange addresses, thousands of times in a national fleet.
    """
    if region.local is None:
        return None
    offset = FIRST_HOST_OFFSET
    for component in COMPONENTS:
        if component == "data_exchange":
            return str(region.local.cidr.network_address + offset)
        offset += region.host_groups[component].max_count
    raise AssertionError("data_exchange is a standard component")


def parent_exchange(fleet: Fleet, region: Region) -> str | None:
    """The address this region's exchange federates to (its parent's first exchange)."""
    parent = fleet.parent_of(region)
    return _first_exchange(fleet, parent) if parent else None


def child_exchanges(fleet: Fleet, region: Region) -> tuple[str, ...]:
    """The addresses that federate to this region: its local children's first exchanges."""
    return tuple(
        address
        # By code: the plan must not depend on the order regions are written in.
        for child in sorted(fleet.children(region), key=lambda r: r.code)
        if (address := _first_exchange(fleet, child)) is not None
    )


def plan_region(fleet: Fleet, region: Region) -> RegionPlan:
    if region.local is None:
        raise ValueError(f"region {region.stack} targets {region.target}, not local")
    network: IPv4Network = region.local.cidr
    return RegionPlan(
        stack=region.stack,
        code=region.code,
        cidr=str(network),
        prefix_length=network.prefixlen,
        bridge=f"{BRIDGE_PREFIX}{region.code}",
        gateway=str(network.network_address + 1),
        table=f"{TABLE_PREFIX}{region.code}",
        hosts=_hosts(fleet, region),
        parent_exchange=parent_exchange(fleet, region),
        child_exchanges=child_exchanges(fleet, region),
    )
