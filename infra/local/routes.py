"""The controller's IPv4 routes, and which of them a region's CIDR would collide with.

A region's bridge adds a connected route for its CIDR. If the controller already routes
any part of that CIDR elsewhere (its uplink, a VPN, another region, a container runtime's
bridge), hosts of the region would be unreachable from there or shadow it, so the network
provider refuses such a CIDR before it creates anything, naming the route in the way.

Parsing is pure (it takes the text of `ip -j route`) so the overlap rules are unit-tested
on fixtures; `controller_routes()` is the one place that runs `ip`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Network

# Every table, so that an address of the controller (table `local`) or a policy-routing
# table counts as well as the main table.
IP_ROUTE_COMMAND = ("ip", "-j", "-4", "route", "show", "table", "all")


@dataclass(frozen=True)
class Route:
    destination: IPv4Network
    kind: str  # unicast, local, broadcast, blackhole, unreachable, ...
    device: str | None
    table: str
    protocol: str | None
    gateway: str | None

    def describe(self) -> str:
        """The route as `ip route` would print it, enough for an operator to find it."""
        parts = [] if self.kind == "unicast" else [self.kind]
        parts.append(str(self.destination))
        if self.gateway:
            parts += ["via", self.gateway]
        if self.device:
            parts += ["dev", self.device]
        if self.protocol:
            parts += ["proto", self.protocol]
        if self.table != "main":
            parts += ["table", self.table]
        return " ".join(parts)


def parse_routes(text: str) -> list[Route]:
    """Routes from the JSON of `ip -j -4 route show [table all]`; the default route is left out.

    The default route overlaps every network by definition; it is not a conflict (it is
    where the controller's outside traffic goes, and the region's firewall keeps hosts
    from following it).
    """
    routes = []
    for entry in json.loads(text or "[]"):
        destination = entry.get("dst")
        if not destination or destination == "default":
            continue
        try:
            network = IPv4Network(destination, strict=False)
        except ValueError:  # an IPv6 entry or something `ip` grows later: not ours to judge
            continue
        if network.prefixlen == 0:
            continue
        routes.append(
            Route(
                destination=network,
                kind=str(entry.get("type", "unicast")),
                device=entry.get("dev"),
                table=str(entry.get("table", "main")),
                protocol=entry.get("protocol"),
                gateway=entry.get("gateway"),
            )
        )
    return routes


def overlapping(routes: list[Route], cidr: str, own_device: str | None) -> list[Route]:
    """Routes that overlap `cidr`, except those on `own_device` (the region's own bridge).

    Pass `own_device` only when the device is known to be ours (its alias carries our
    marker): a foreign device that happens to have the bridge's name is a conflict.
    """
    network = IPv4Network(cidr, strict=True)
    return sorted(
        (
            route
            for route in routes
            if route.destination.overlaps(network)
            and (own_device is None or route.device != own_device)
        ),
        key=lambda r: (r.destination, r.table, r.describe()),
    )


def controller_routes() -> list[Route]:
    result = subprocess.run(IP_ROUTE_COMMAND, capture_output=True, text=True, check=True)
    return parse_routes(result.stdout)
