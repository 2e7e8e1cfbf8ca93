"""The network image layers are baked on: a region of its own, `bake`, with one build host
per layer being built, its own bridge, gateway services (DNS, time, the apt proxy to the
controller's mirror) and the firewall of the flow matrix, made by the same code that
makes a region's. Only one build runs at a time (the layers' lock), so its names are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from infra.config.environment import apt_cache_root, bake_cidr
from infra.config.federation import FIRST_HOST_OFFSET
from infra.config.schema import Standard
from infra.local.firewall_rules import render_ruleset
from infra.local.plan import (
    BRIDGE_PREFIX,
    TABLE_PREFIX,
    HostPlan,
    RegionPlan,
)
from infra.names import host_name, region_domain

STACK = "bake"
# A build host of the base layer belongs to no component: the flows to "all hosts" apply.
BASE_COMPONENT = "common"


@dataclass(frozen=True)
class BuildNetwork:
    plan: RegionPlan
    props: dict[str, Any]  # the Network mechanism's inputs
    ruleset: str


def build_host_name(layer: str) -> str:
    return host_name(STACK, layer, 1)


def bake_plan(layers: list[tuple[str, str]], cidr: str | None = None) -> RegionPlan:
    """The build region for (layer, component) pairs, one host each, in that order."""
    network = IPv4Network(cidr or bake_cidr(), strict=True)
    first = int(network.network_address) + FIRST_HOST_OFFSET
    hosts = tuple(
        HostPlan(build_host_name(layer), component, 1, str(IPv4Address(first + index)))
        for index, (layer, component) in enumerate(layers)
    )
    return RegionPlan(
        stack=STACK,
        code=STACK,
        cidr=str(network),
        prefix_length=network.prefixlen,
        bridge=f"{BRIDGE_PREFIX}{STACK}",
        gateway=str(network.network_address + 1),
        table=f"{TABLE_PREFIX}{STACK}",
        hosts=hosts,
        parent_exchange=None,
        child_exchanges=(),
    )


def build_network(
    plan: RegionPlan,
    standard: Standard,
    apt_upstream: str,
    apt_security_upstream: str | None,
    state_root: Path,
) -> BuildNetwork:
    props = {
        "stack": plan.stack,
        "bridge": plan.bridge,
        "cidr": plan.cidr,
        "gateway": plan.gateway,
        "prefix_length": plan.prefix_length,
        "hosts": {h.name: h.address for h in plan.hosts},
        "dns_domain": region_domain(plan.stack),
        "state_root": str(state_root),
        "apt_upstream": apt_upstream,
        "apt_security_upstream": apt_security_upstream,
        # The same package cache for every build: a rebuild downloads nothing it had.
        "apt_cache_dir": str(apt_cache_root() / plan.stack),
    }
    return BuildNetwork(plan, props, render_ruleset(plan, standard))
