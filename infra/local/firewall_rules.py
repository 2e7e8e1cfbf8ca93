"""The nftables ruleset of a local region: the standard's flow matrix made concrete.

`render_ruleset(plan, standard)` is a pure function; its text is applied by the Firewall
dynamic provider in one `nft -f` transaction that replaces two tables, both named
`regionstack_<code>` and both carrying `comment "regionstack:<stack>"` as the ownership
marker:

* `table bridge` - traffic between two hosts of the region, which the bridge forwards
  without routing. The kernel has no bridge conntrack, so each flow is accepted in both
  directions statelessly: the request to the destination port, and the reply from it
  unless it opens a connection (a bare SYN), so a server cannot use its service port as
  a source to reach its clients. Before that, its `prerouting` chain binds every host's
  bridge port (named by infra/local/ports.py) to the host: a frame entering the bridge
  from a host's port must carry the host's pinned MAC, be IPv4 or ARP, and carry the
  host's IPv4 address as its source (in ARP: as the sender), or it is dropped - whether
  it would be forwarded to another host or delivered to the gateway. Without this the
  flow rules, which judge by address, would take a guest's word for who it is.
* `table inet` - traffic to, from and through the controller: `input` (hosts to the
  gateway services), `output` (the controller playing citizens, administrators and the
  call centre), `forward` (federation between a region's exchange and its parent's, and
  the drop of everything else that would leave or enter the region).

Endpoints on the local target: a component is its hosts' addresses; `all_hosts` is every
host; `internet`, `admin` and `call_centre` are the gateway address (the controller plays
them); `parent.data_exchange` is the parent region's first exchange host (a flow to it is
omitted in a region without a parent), and the same flow admits the first exchange host
of every child region into this region's first exchange.

Hooks see every interface of the controller, so each chain judges only its own bridge
(or, in the bridge family, its own addresses) and accepts the rest: an `accept` there
only means "not this region's business" - other regions' tables still judge the packet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address
from itertools import permutations
from typing import Literal

from infra.config.schema import COMPONENTS, OUTSIDE_ENDPOINTS, PARENT_PREFIX, Flow, Standard
from infra.local.gateway_services import GATEWAY_PORTS
from infra.local.plan import RegionPlan
from infra.local.ports import guest_mac, port_name
from infra.names import FEDERATED_COMPONENT

# The outside parties the controller plays on the local target.
GATEWAY_ENDPOINTS = tuple(e for e in OUTSIDE_ENDPOINTS if e != "all_hosts")
MARKER_PREFIX = "regionstack:"

RulePath = Literal["intra", "from_gateway", "to_gateway", "to_parent", "from_child"]


def marker(stack: str) -> str:
    """The ownership marker of a stack's tables (and of its bridge's alias)."""
    return f"{MARKER_PREFIX}{stack}"


@dataclass(frozen=True)
class Rule:
    """One flow of the matrix between concrete address sets."""

    flow: str
    path: RulePath
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    ports: tuple[int, ...]


def _sorted_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(addresses), key=IPv4Address))


def _endpoint(plan: RegionPlan, endpoint: str, flow: Flow) -> tuple[str, ...]:
    if endpoint in COMPONENTS:
        return _sorted_addresses(h.address for h in plan.hosts_of(endpoint))
    if endpoint == "all_hosts":
        return _sorted_addresses(h.address for h in plan.hosts)
    if endpoint in GATEWAY_ENDPOINTS:
        return (plan.gateway,)
    raise ValueError(
        f"flow {flow.name}: endpoint {endpoint!r} has no meaning on the local target "
        f"(components, all_hosts, {', '.join(GATEWAY_ENDPOINTS)} or "
        f"{PARENT_PREFIX}{FEDERATED_COMPONENT})"
    )


def _federation_rules(plan: RegionPlan, flow: Flow) -> list[Rule]:
    if (
        flow.source != FEDERATED_COMPONENT
        or flow.destination != PARENT_PREFIX + FEDERATED_COMPONENT
    ):
        raise ValueError(
            f"flow {flow.name}: the local plan knows only the parent's and the children's "
            f"first {FEDERATED_COMPONENT} hosts, so only "
            f"{FEDERATED_COMPONENT} -> {PARENT_PREFIX}{FEDERATED_COMPONENT} can cross regions"
        )
    own = plan.own_exchange
    ports = tuple(sorted(set(flow.ports)))
    rules = []
    if own and plan.parent_exchange:
        rules.append(Rule(flow.name, "to_parent", (own,), (plan.parent_exchange,), ports))
    if own and plan.child_exchanges:
        children = _sorted_addresses(plan.child_exchanges)
        rules.append(Rule(flow.name, "from_child", children, (own,), ports))
    return rules


def resolve(plan: RegionPlan, standard: Standard) -> list[Rule]:
    """Every flow of the standard as concrete rules, in the standard's order."""
    rules: list[Rule] = []
    for flow in standard.flows:
        if flow.destination.startswith(PARENT_PREFIX) or flow.source.startswith(PARENT_PREFIX):
            rules.extend(_federation_rules(plan, flow))
            continue
        sources = _endpoint(plan, flow.source, flow)
        destinations = _endpoint(plan, flow.destination, flow)
        if not sources or not destinations:
            continue  # a component without hosts in this region
        gateway = (plan.gateway,)
        path: RulePath
        if sources == gateway and destinations == gateway:
            raise ValueError(f"flow {flow.name}: both ends are outside parties")
        if sources == gateway:
            path = "from_gateway"
        elif destinations == gateway:
            path = "to_gateway"
        else:
            path = "intra"
        rules.append(Rule(flow.name, path, sources, destinations, tuple(sorted(set(flow.ports)))))
    return rules


# --- rendering -------------------------------------------------------------------------


def _set(values: Iterable[object]) -> str:
    return "{ " + ", ".join(str(v) for v in values) + " }"


def host_binding_rules(stack: str, host: str, address: str) -> list[str]:
    """What one host's bridge port admits: its MAC, IPv4 and ARP, its address."""
    port = f'iifname "{port_name(stack, host)}"'
    mac = guest_mac(stack, host)
    return [
        f"\t\t{port} ether saddr != {mac} counter drop "
        f'comment "binding: {host} sends from its own MAC only"',
        f"\t\t{port} ether type != {{ ip, arp }} counter drop "
        f'comment "binding: {host} sends IPv4 and ARP only"',
        f"\t\t{port} ip saddr != {address} counter drop "
        f'comment "binding: {host} sends from {address} only"',
        f"\t\t{port} arp saddr ip != {address} counter drop "
        f'comment "binding: {host} claims {address} only"',
        f"\t\t{port} arp saddr ether != {mac} counter drop "
        f'comment "binding: {host} claims its own MAC only"',
    ]


def _binding_rules(plan: RegionPlan) -> list[str]:
    """Per host, in address order, the binding of its bridge port."""
    lines = []
    for host in sorted(plan.hosts, key=lambda h: IPv4Address(h.address)):
        lines += host_binding_rules(plan.stack, host.name, host.address)
    return lines


def _bridge_table(plan: RegionPlan, rules: list[Rule], tag: str) -> list[str]:
    cidr = plan.cidr
    lines = [
        f"table bridge {plan.table} {{",
        f'\tcomment "{tag}"',
        "",
        "\t# Every frame a host's port brings into the bridge, forwarded or for the gateway;",
        "\t# the gateway's own frames leave by the output hook and are not judged here. A",
        "\t# port name is unique on the controller, so matching it needs no bridge name.",
        "\tchain prerouting {",
        "\t\ttype filter hook prerouting priority filter; policy accept;",
        *_binding_rules(plan),
        "\t}",
        "",
        "\t# Frames one host of the region sends another. Without CONFIG_NFT_BRIDGE_META the",
        "\t# chain cannot match its bridge by name (meta ibrname), and this hook sees every",
        "\t# bridge of the controller, so it judges the region's IPv4 addresses instead",
        "\t# (region CIDRs are disjoint) and lets everything else pass to other tables.",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        '\t\tether type arp accept comment "address resolution between hosts"',
        "\t\t# IPv6 (neighbour discovery included) and other protocols cannot be told apart",
        "\t\t# by bridge here; the inet forward chain drops them for this bridge. Hosts are",
        "\t\t# IPv4-only with static addresses: DHCP or IPv6 router advertisements from a",
        "\t\t# host would let it hijack its neighbours' traffic, so both stay dropped.",
        '\t\tether type != ip accept comment "not attributable to a bridge here"',
        f'\t\tip saddr != {cidr} ip daddr != {cidr} accept comment "not this region\'s addresses"',
    ]
    for rule in (r for r in rules if r.path == "intra"):
        src, dst, ports = _set(rule.sources), _set(rule.destinations), _set(rule.ports)
        lines.append(
            f"\t\tip saddr {src} ip daddr {dst} tcp dport {ports} accept "
            f'comment "flow: {rule.flow}"'
        )
        lines.append(
            f"\t\tip saddr {dst} ip daddr {src} tcp sport {ports} "
            f'tcp flags & (syn | ack) != syn accept comment "flow: {rule.flow} (reply)"'
        )
    lines += [
        '\t\tcounter drop comment "default deny between the region\'s hosts"',
        "\t}",
        "}",
    ]
    return lines


def _inet_table(plan: RegionPlan, rules: list[Rule], tag: str) -> list[str]:
    bridge, cidr, gateway = f'"{plan.bridge}"', plan.cidr, plan.gateway
    hosts = _set(_sorted_addresses(h.address for h in plan.hosts))
    lines = [
        f"table inet {plan.table} {{",
        f'\tcomment "{tag}"',
        "",
        "\t# Hosts reach the controller only for the gateway services (DNS, time, apt proxy).",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
        f'\t\tiifname != {bridge} accept comment "other interfaces are not this region\'s"',
        '\t\tct state established,related accept comment "replies to the controller"',
    ]
    if plan.hosts:
        for port in GATEWAY_PORTS:
            lines.append(
                f"\t\tip saddr {hosts} ip daddr {gateway} {port.protocol} dport {port.port} "
                f'accept comment "gateway service: {port.service}"'
            )
    for rule in (r for r in rules if r.path == "to_gateway"):
        lines.append(
            f"\t\tip saddr {_set(rule.sources)} ip daddr {gateway} tcp dport {_set(rule.ports)} "
            f'accept comment "flow: {rule.flow}"'
        )
    lines += [
        '\t\tcounter drop comment "default deny: hosts reach nothing else on the controller"',
        "\t}",
        "",
        "\t# The controller reaches hosts only as the outside parties of the flow matrix.",
        "\tchain output {",
        "\t\ttype filter hook output priority filter; policy accept;",
        f'\t\toifname != {bridge} accept comment "other interfaces are not this region\'s"',
        '\t\tct state established,related accept comment "replies of the gateway services"',
    ]
    for rule in (r for r in rules if r.path == "from_gateway"):
        lines.append(
            f"\t\tip saddr {gateway} ip daddr {_set(rule.destinations)} "
            f'tcp dport {_set(rule.ports)} accept comment "flow: {rule.flow}"'
        )
    lines += [
        '\t\tcounter drop comment "default deny: nothing else from the controller"',
        "\t}",
        "",
        "\t# Routed traffic. br_netfilter also passes bridged frames through this hook, with",
        "\t# the bridge as both interfaces; the controller's default route leads outside and",
        "\t# there is no NAT, so all that leaves the region is federation with its parent.",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        f"\t\tiifname != {bridge} oifname != {bridge} accept "
        'comment "other interfaces are not this region\'s"',
        f"\t\tiifname {bridge} ip saddr != {cidr} counter drop "
        'comment "anti-spoofing: the region sends only from its own addresses"',
        f"\t\tiifname {bridge} oifname {bridge} ip saddr {cidr} ip daddr {cidr} accept "
        'comment "between hosts: judged by the bridge table"',
        f"\t\tiifname {bridge} oifname {bridge} counter drop "
        'comment "between hosts: IPv6 (ND), broadcasts (DHCP) and all else"',
    ]
    for rule in rules:
        src, dst, ports = _set(rule.sources), _set(rule.destinations), _set(rule.ports)
        if rule.path == "to_parent":
            inbound, outbound, label = bridge, None, f"flow: {rule.flow}"
        elif rule.path == "from_child":
            inbound, outbound, label = None, bridge, f"flow: {rule.flow} (from child regions)"
        else:
            continue
        request_if = f"iifname {inbound}" if inbound else f"oifname {outbound}"
        reply_if = f"oifname {inbound}" if inbound else f"iifname {outbound}"
        lines.append(
            f"\t\t{request_if} ip saddr {src} ip daddr {dst} tcp dport {ports} "
            f'ct state new,established accept comment "{label}"'
        )
        lines.append(
            f"\t\t{reply_if} ip saddr {dst} ip daddr {src} ct state established,related "
            f'accept comment "{label} (reply)"'
        )
    lines += [
        f'\t\tiifname {bridge} counter drop comment "nothing else leaves the region"',
        f'\t\toifname {bridge} counter drop comment "nothing else enters the region"',
        "\t}",
        "}",
    ]
    return lines


def render_ruleset(plan: RegionPlan, standard: Standard) -> str:
    """The region's complete nft script: one transaction that replaces both tables."""
    rules = resolve(plan, standard)
    tag = marker(plan.stack)
    header = [
        "#!/usr/sbin/nft -f",
        f"# regionstack firewall of {plan.stack} ({plan.code}): bridge {plan.bridge}, "
        f"{plan.cidr}, gateway {plan.gateway}; standard {standard.version}.",
        "# Generated by infra/local/firewall_rules.py. Applied as one transaction: `add`",
        "# makes each `delete` safe on a first apply, so a re-apply replaces atomically.",
        f"add table bridge {plan.table}",
        f"delete table bridge {plan.table}",
        f"add table inet {plan.table}",
        f"delete table inet {plan.table}",
        "",
    ]
    body = [*_bridge_table(plan, rules, tag), "", *_inet_table(plan, rules, tag)]
    return "\n".join(header + body) + "\n"


# --- what the flow tests check ---------------------------------------------------------

Concrete = tuple[str, str, int, str]  # (source address, destination address, port, name)


def allowed_flows(plan: RegionPlan, standard: Standard) -> list[Concrete]:
    """Every (source, destination, TCP port, flow name) the ruleset admits.

    A host's traffic to itself never crosses the firewall and is left out. Federation
    appears from this region's point of view: to its parent, and from its children.
    """
    flows = {
        (src, dst, port, rule.flow)
        for rule in resolve(plan, standard)
        for src in rule.sources
        for dst in rule.destinations
        for port in rule.ports
        if src != dst
    }
    return sorted(flows, key=_concrete_key)


def inbound_by_host(plan: RegionPlan, standard: Standard) -> dict[str, list[dict[str, object]]]:
    """Each host's inbound allow list: the flows that end at it, with their sources.

    The hosts' own firewall (the `common` role) renders this, so a host refuses what the
    matrix does not allow even when the controller's tables are gone. A host's traffic to
    itself stays on loopback and is left out.
    """
    rules = resolve(plan, standard)
    inbound: dict[str, list[dict[str, object]]] = {}
    for host in plan.hosts:
        entries: list[dict[str, object]] = []
        for rule in rules:
            sources = [s for s in rule.sources if s != host.address]
            if host.address in rule.destinations and sources:
                entries.append({"flow": rule.flow, "ports": list(rule.ports), "sources": sources})
        inbound[host.name] = entries
    return inbound


def gateway_service_flows(plan: RegionPlan) -> list[tuple[str, str, str, int, str]]:
    """Every (source, gateway, protocol, port, service) hosts may use on their gateway."""
    return [
        (host, plan.gateway, port.protocol, port.port, port.service)
        for host in _sorted_addresses(h.address for h in plan.hosts)
        for port in GATEWAY_PORTS
    ]


def _concrete_key(item: Concrete) -> tuple[IPv4Address, IPv4Address, int, str]:
    return (IPv4Address(item[0]), IPv4Address(item[1]), item[2], item[3])


def standard_ports(standard: Standard) -> tuple[int, ...]:
    ports = set(standard.common.listens)
    for spec in standard.components.values():
        ports.update(spec.listens)
    for flow in standard.flows:
        ports.update(flow.ports)
    return tuple(sorted(ports))


def denied_samples(plan: RegionPlan, standard: Standard) -> list[Concrete]:
    """Concrete (source, destination, TCP port, reason) that the ruleset must refuse.

    Every ordered pair of the region's hosts and of host and gateway on every port the
    standard knows, minus what is allowed; and the federation's near misses: other hosts
    to the parent's exchange, other ports, children's exchanges to other hosts.
    """
    allowed = {(s, d, p) for s, d, p, _ in allowed_flows(plan, standard)}
    ports = standard_ports(standard)
    gateway_ports = {p.port for p in GATEWAY_PORTS if p.protocol == "tcp"}
    hosts = [h.address for h in plan.hosts]
    samples: set[Concrete] = set()

    for src, dst in permutations([*hosts, plan.gateway], 2):
        for port in ports:
            if (src, dst, port) in allowed:
                continue
            if dst == plan.gateway and port in gateway_ports:
                continue
            samples.add((src, dst, port, "not in the flow matrix"))

    own = plan.own_exchange
    if plan.parent_exchange:
        for src in hosts:
            for port in ports:
                if (src, plan.parent_exchange, port) in allowed:
                    continue
                why = "wrong port" if src == own else "only the first exchange federates"
                samples.add((src, plan.parent_exchange, port, f"federation: {why}"))
    for child in plan.child_exchanges:
        for dst in hosts:
            for port in ports:
                if (child, dst, port) not in allowed:
                    samples.add((child, dst, port, "federation: children reach only our exchange"))
    return sorted(samples, key=_concrete_key)
