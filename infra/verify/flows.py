"""The flow matrix, from the inventory: every connection the flow tests try, and which of
them the flow matrix code (`infra.local.firewall_rules`) admits."""

from __future__ import annotations

from dataclasses import dataclass

from infra.config.schema import Standard
from infra.local.firewall_rules import allowed_flows, standard_ports
from infra.local.plan import BRIDGE_PREFIX, TABLE_PREFIX, HostPlan, RegionPlan
from infra.verify.inventory import RegionInventory

CONTROLLER = "controller"  # the flow tests' name for the machine running verify
GATEWAY = "gateway"  # ... and for the region's gateway address as a destination


def plan_from_inventory(region: RegionInventory) -> RegionPlan:
    """The region's address plan rebuilt from what was deployed, so the flow matrix code
    (`infra.local.firewall_rules`) resolves the flows exactly as it did for the firewalls,
    on any target."""
    config = region.config
    federation = config.get("federation") or {}
    cidr = str((config.get("target") or {}).get("cidr", "0.0.0.0/0"))
    code = str(config["region"]["code"])
    hosts = []
    for component in config["standard"]["components"]:
        for index, entry in enumerate(region.hosts_of(component), start=1):
            hosts.append(HostPlan(entry.name, component, index, entry.address))
    return RegionPlan(
        stack=region.stack,
        code=code,
        cidr=cidr,
        prefix_length=int(cidr.rpartition("/")[2] or 0),
        bridge=f"{BRIDGE_PREFIX}{code}",
        gateway=str(region.any_vars.get("regionstack_gateway", "")),
        table=f"{TABLE_PREFIX}{code}",
        hosts=tuple(hosts),
        parent_exchange=federation.get("parent_exchange") or None,
        child_exchanges=tuple(federation.get("child_exchanges") or ()),
    )


def standard_of(region: RegionInventory) -> Standard:
    return Standard.model_validate(region.config["standard"])


@dataclass(frozen=True)
class Attempt:
    """One connection the flow tests make, and whether the flow matrix admits it."""

    source: str  # host name, or CONTROLLER
    destination: str  # host name, or GATEWAY
    address: str
    port: int
    flow: str  # the admitting flow's name; "" when the matrix denies the attempt

    @property
    def allowed(self) -> bool:
        return bool(self.flow)


@dataclass(frozen=True)
class FlowPlan:
    """Every (source, destination) pair the flow tests try on every port the standard
    knows, and which of those connections the flow matrix admits. The tests add, per
    destination, whatever else it is found listening on (all denied)."""

    attempts: tuple[Attempt, ...]
    sources: tuple[str, ...]
    destinations: dict[str, str]  # name -> address

    def pairs(self) -> list[tuple[str, str]]:
        return sorted({(a.source, a.destination) for a in self.attempts})

    def allowed(self) -> list[Attempt]:
        return [a for a in self.attempts if a.allowed]

    def admitted_ports(self, source: str, destination: str) -> set[int]:
        return {
            a.port
            for a in self.attempts
            if a.allowed and a.source == source and a.destination == destination
        }


def flow_plan(region: RegionInventory, parent: RegionInventory | None) -> FlowPlan:
    """What the flow tests try: from every host (and from the controller where it plays
    the outside parties, on the local target) to every other host, the gateway and, with
    the parent's inventory, across the link to the parent in both directions."""
    standard = standard_of(region)
    plan = plan_from_inventory(region)
    names = {h.address: h.name for h in region.hosts}
    if parent is not None:
        names |= {h.address: h.name for h in parent.hosts}
    local = region.target == "local"
    admitted: dict[tuple[str, str, int], str] = {}
    for src, dst, port, flow in allowed_flows(plan, standard):
        source = CONTROLLER if src == plan.gateway else names.get(src)
        destination = GATEWAY if dst == plan.gateway else names.get(dst)
        if source is None or destination is None:
            continue  # a child region's exchange: its own verify checks that link
        admitted.setdefault((source, destination, port), flow)
    ports = standard_ports(standard)
    own = [h.name for h in region.hosts]
    others = [h.name for h in parent.hosts] if parent is not None else []
    sources = own + others + ([CONTROLLER] if local else [])
    destinations = {names[a]: a for a in names} | ({GATEWAY: plan.gateway} if local else {})
    attempts: list[Attempt] = []
    for source in sources:
        for destination, address in destinations.items():
            if source == destination or (source == CONTROLLER and destination == GATEWAY):
                continue
            if source in others and destination in others:
                continue  # inside the parent region: the parent's own verify
            if source == CONTROLLER and destination in others:
                continue  # the controller is the parent's outside parties there
            if destination == GATEWAY and source not in own:
                continue
            for port in ports:
                flow = admitted.get((source, destination, port), "")
                attempts.append(Attempt(source, destination, address, port, flow))
    return FlowPlan(tuple(attempts), tuple(sources), destinations)
