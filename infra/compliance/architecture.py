"""A region's architecture for the auditor's report: its hosts by zone and its flows,
drawn as inline SVG from the configuration - never by hand.

The hosts come from the region's plan (infra/local/plan.py, infra/aws/plan.py), the
arrows from the rules the region's firewall is made of: the local target's nftables
rules (`infra.local.firewall_rules.resolve`) and the aws target's security group rules
(`infra.aws.flows.security_group_rules`), both computed from the standard's flow matrix.
So the picture shows what is enforced, including the federation link to the parent
region only where the region has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from infra.aws.flows import ALB_GROUP, INTERNET, PLATFORM_FLOW, security_group_rules
from infra.aws.plan import plan_aws_region
from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS, Region
from infra.local.firewall_rules import resolve
from infra.local.plan import plan_region
from infra.names import FEDERATED_COMPONENT

ALL_HOSTS, PARENT, CHILDREN = "all_hosts", "parent", "children"
OUTSIDE = ("internet", "admin", "call_centre", CHILDREN)


@dataclass(frozen=True)
class Zone:
    name: str  # "bridge rs330127 10.203.2.0/24", "private subnets"
    members: tuple[tuple[str, tuple[str, ...]], ...]  # (component or alb, its host names)


@dataclass(frozen=True)
class Edge:
    number: int
    source: str  # a component, alb, all_hosts, an outside party, parent or children
    destination: str
    ports: tuple[int, ...]
    flow: str


@dataclass(frozen=True)
class Architecture:
    stack: str
    target: str
    parent: str | None  # the parent region's stack
    zones: tuple[Zone, ...]
    edges: tuple[Edge, ...]


def _numbered(raw: dict[tuple[str, str, str], set[int]]) -> tuple[Edge, ...]:
    ordered = sorted(raw.items(), key=lambda item: (item[0][2], item[0][0], item[0][1]))
    return tuple(
        Edge(n, src, dst, tuple(sorted(ports)), flow)
        for n, ((flow, src, dst), ports) in enumerate(ordered, 1)
    )


def _local(fleet: Fleet, region: Region) -> tuple[tuple[Zone, ...], tuple[Edge, ...]]:
    plan = plan_region(fleet, region)
    flows = {flow.name: flow for flow in fleet.standard.flows}
    raw: dict[tuple[str, str, str], set[int]] = {}
    for rule in resolve(plan, fleet.standard):
        flow = flows[rule.flow]
        if rule.path == "to_parent":
            ends = (FEDERATED_COMPONENT, PARENT)
        elif rule.path == "from_child":
            ends = (CHILDREN, FEDERATED_COMPONENT)
        else:
            ends = (flow.source, flow.destination)
        raw.setdefault((rule.flow, *ends), set()).update(rule.ports)
    members = tuple(
        (c, tuple(h.name for h in plan.hosts_of(c))) for c in COMPONENTS if plan.hosts_of(c)
    )
    zone = Zone(f"bridge {plan.bridge} {plan.cidr}", members)
    return (zone,), _numbered(raw)


def _aws_peer(cidr: str, region: Region) -> str:
    assert region.aws is not None
    if cidr == INTERNET:
        return "internet"
    if cidr in {str(c) for c in region.aws.admin_cidrs}:
        return "admin"
    if cidr in {str(c) for c in region.aws.call_centre_cidrs}:
        return "call_centre"
    return CHILDREN  # the federation's other end: a child region's data subnets


def _collapse_all_hosts(raw: dict[tuple[str, str, str], set[int]]) -> None:
    """A flow from or to every component is drawn as one arrow from or to all hosts."""
    for flow, end in {(f, e) for f, _, e in raw} | {(f, s) for f, s, _ in raw}:
        for side in (1, 2):
            keys = [k for k in raw if k[0] == flow and k[3 - side] == end]
            if {k[side] for k in keys} >= set(COMPONENTS):
                ports = set().union(*(raw.pop(k) for k in keys if k[side] in COMPONENTS))
                pair = (ALL_HOSTS, end) if side == 1 else (end, ALL_HOSTS)
                raw[(flow, *pair)] = ports


def _aws(fleet: Fleet, region: Region) -> tuple[tuple[Zone, ...], tuple[Edge, ...]]:
    plan = plan_aws_region(fleet, region)
    raw: dict[tuple[str, str, str], set[int]] = {}
    for rule in security_group_rules(plan, fleet.standard):
        if PLATFORM_FLOW in rule.flows:
            continue  # what every host needs beyond the matrix (apt, SSM), not a flow
        for flow in rule.flows:
            if rule.direction == "ingress":
                source = rule.peer if rule.peer_kind == "group" else _aws_peer(rule.peer, region)
                raw.setdefault((flow, source, rule.group), set()).add(rule.port)
            elif rule.peer_kind == "cidr":  # the federation up to the parent's data subnets
                raw.setdefault((flow, rule.group, PARENT), set()).add(rule.port)
    _collapse_all_hosts(raw)
    zones = [Zone("public subnets", ((ALB_GROUP, ("load balancer",)),))]
    for tier in ("private", "data"):
        members = tuple(
            (g.component, tuple(h.name for h in g.hosts))
            for g in plan.groups
            if g.subnet_tier == tier
        )
        zones.append(Zone(f"{tier} subnets", members))
    return tuple(zones), _numbered(raw)


def architecture(fleet: Fleet, region: Region) -> Architecture:
    zones, edges = (_local if region.local is not None else _aws)(fleet, region)
    parent = fleet.parent_of(region)
    return Architecture(region.stack, region.target, parent.stack if parent else None, zones, edges)


# --- drawing ---------------------------------------------------------------------------

_WIDTH, _LEFT_W, _ZONE_X, _ZONE_W, _RIGHT_X, _NODE_W = 900, 150, 230, 420, 730, 150
_LINE, _PAD = 16, 10


@dataclass(frozen=True)
class _Box:
    x: int
    y: int
    w: int
    h: int

    def anchor(self, towards_x: int) -> tuple[int, int]:
        """The middle of the side facing `towards_x`."""
        x = self.x if towards_x < self.x else self.x + self.w
        return x, self.y + self.h // 2


def _label(name: str) -> str:
    return name.replace("_", " ")


def _side_nodes(names: list[str], x: int) -> dict[str, _Box]:
    return {name: _Box(x, 40 + i * 60, _NODE_W, 36) for i, name in enumerate(names)}


def render_svg(arch: Architecture) -> str:
    """The architecture as one self-contained <svg> element (no external references)."""
    used = {e.source for e in arch.edges} | {e.destination for e in arch.edges}
    parts: list[str] = []
    boxes: dict[str, _Box] = _side_nodes([n for n in OUTSIDE if n in used], 10)
    right = [n for n in (PARENT, ALL_HOSTS) if n in used]
    boxes |= _side_nodes(right, _RIGHT_X)
    y = 30
    for zone in arch.zones:
        top = y
        y += 26
        for component, hosts in zone.members:
            height = 24 + _LINE * len(hosts)
            boxes[component] = _Box(_ZONE_X + _PAD, y, _ZONE_W - 2 * _PAD, height)
            y += height + _PAD
        parts.append(
            f'<rect class="zone" x="{_ZONE_X}" y="{top}" width="{_ZONE_W}" height="{y - top}"/>'
            f'<text class="zone-label" x="{_ZONE_X + 8}" y="{top + 18}">{escape(zone.name)}</text>'
        )
        for component, hosts in zone.members:
            box = boxes[component]
            parts.append(
                f'<rect class="node" x="{box.x}" y="{box.y}" width="{box.w}" height="{box.h}"/>'
                f'<text class="node-label" x="{box.x + 8}" y="{box.y + 17}">'
                f"{escape(_label(component))}</text>"
            )
            parts += [
                f'<text class="host" x="{box.x + 20}" y="{box.y + 17 + _LINE * (i + 1)}">'
                f"{escape(host)}</text>"
                for i, host in enumerate(hosts)
            ]
        y += 20
    for name in [n for n in OUTSIDE if n in used] + right:
        box = boxes[name]
        text = f"parent {arch.parent}" if name == PARENT and arch.parent else _label(name)
        parts.append(
            f'<rect class="outside" x="{box.x}" y="{box.y}" width="{box.w}" height="{box.h}"/>'
            f'<text class="node-label" x="{box.x + 8}" y="{box.y + 23}">{escape(text)}</text>'
        )
    for edge in arch.edges:
        source, destination = boxes[edge.source], boxes[edge.destination]
        x1, y1 = source.anchor(destination.x + destination.w // 2)
        x2, y2 = destination.anchor(source.x + source.w // 2)
        if x1 == x2:  # both in the zones' column: bow out to the right
            bend = x1 + 40 + 8 * edge.number
            path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2},{y2}"
            lx, ly = bend - 10, (y1 + y2) // 2
        else:
            path = f"M{x1},{y1} L{x2},{y2}"
            lx, ly = (x1 + x2) // 2, (y1 + y2) // 2 - 4
        title = f"{edge.flow}: {_label(edge.source)} → {_label(edge.destination)} {edge.ports}"
        parts.append(
            f'<path class="flow" d="{path}" marker-end="url(#arrow-{arch.stack})">'
            f"<title>{escape(title)}</title></path>"
            f'<text class="flow-label" x="{lx}" y="{ly}">{edge.number}</text>'
        )
    height = max([y] + [b.y + b.h + 20 for b in boxes.values()])
    marker = (
        f'<defs><marker id="arrow-{arch.stack}" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>'
    )
    caption = escape(f"{arch.stack} ({arch.target}): hosts by zone, flows of the flow matrix")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="architecture" role="img" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">'
        f"<title>{caption}</title>{marker}{''.join(parts)}</svg>"
    )
