"""The address and name plan of a local region: a pure function of the unified config.

Everything the local providers create is named and addressed from here, so the same
configuration always gives the same bridge, gateway, host names and addresses, and a
parent region can compute its children's exchange addresses (for its firewall) without
their stacks having been deployed.

Addresses: the gateway is the first address of the region CIDR; hosts follow in one block
per component (infra/config/federation.py, which the effective config reads too), so a
region that scales a component within its tier's bounds never renumbers its other hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from infra.config.federation import child_exchanges, component_blocks, parent_exchange
from infra.config.loader import Fleet
from infra.config.schema import Region
from infra.names import FEDERATED_COMPONENT, host_name

BRIDGE_PREFIX = "rs"  # rs<code>: 8 characters, well inside IFNAMSIZ (15)
TABLE_PREFIX = "regionstack_"


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

    @property
    def own_exchange(self) -> str | None:
        """The address of this region's first exchange host, where federation links end
        (None in a plan without one, such as the bake network's)."""
        exchanges = self.hosts_of(FEDERATED_COMPONENT)
        return exchanges[0].address if exchanges else None


def _hosts(region: Region) -> tuple[HostPlan, ...]:
    return tuple(
        HostPlan(
            host_name(region.stack, component, index),
            component,
            index,
            str(IPv4Address(block_start + index - 1)),
        )
        for component, block_start in component_blocks(region).items()
        for index in range(1, region.host_groups[component].count + 1)
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
        hosts=_hosts(region),
        parent_exchange=parent_exchange(fleet, region),
        child_exchanges=child_exchanges(fleet, region),
    )
