"""The rendered nftables ruleset of the sample regions: valid, deterministic, no leaks."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.config.loader import Fleet, load_fleet
from infra.config.schema import Flow, Standard
from infra.local.firewall_rules import (
    allowed_flows,
    denied_samples,
    gateway_service_flows,
    inbound_by_host,
    marker,
    render_ruleset,
    resolve,
)
from infra.local.gateway_services import GATEWAY_PORTS
from infra.local.plan import RegionPlan, plan_region
from infra.local.ports import guest_mac, port_name

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ("chunan", "hangzhou", "zhejiang")  # county, city, province
NFT_CHECKS = os.geteuid() == 0 and shutil.which("nft") is not None


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return load_fleet(ROOT / "stacks")


@pytest.fixture(scope="module")
def standard(fleet: Fleet) -> Standard:
    return fleet.standard


def plan_of(fleet: Fleet, stack: str) -> RegionPlan:
    return plan_region(fleet, fleet.region(stack))


def address(plan: RegionPlan, component: str) -> str:
    return plan.hosts_of(component)[0].address


_SET = r"(?:\{ ([^}]*) \}|(\S+))"
_ACCEPT = re.compile(
    rf"ip saddr {_SET} ip daddr {_SET} tcp dport {_SET}.* accept comment \"([^\"]*)\""
)


def _members(braced: str | None, bare: str | None) -> list[str]:
    return [v.strip() for v in (braced if braced is not None else str(bare)).split(",")]


def accepted_connections(ruleset: str) -> set[tuple[str, str, int, str]]:
    """Parse the script back: every (source, destination, port) a request rule accepts."""
    found = set()
    for line in ruleset.splitlines():
        m = _ACCEPT.search(line)
        if not m:
            continue
        sources, destinations = _members(m[1], m[2]), _members(m[3], m[4])
        ports = [int(p) for p in _members(m[5], m[6])]
        found |= {(s, d, p, m[7]) for s in sources for d in destinations for p in ports}
    return found


@pytest.mark.skipif(not NFT_CHECKS, reason="nft -c needs root and nftables")
@pytest.mark.parametrize("stack", SAMPLES)
def test_ruleset_passes_nft_check_mode(fleet: Fleet, standard: Standard, stack: str) -> None:
    text = render_ruleset(plan_of(fleet, stack), standard)
    result = subprocess.run(
        ["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{stack}: nft -c refused the ruleset:\n{result.stderr}"


@pytest.mark.parametrize("stack", SAMPLES)
def test_ruleset_is_deterministic(fleet: Fleet, standard: Standard, stack: str) -> None:
    plan = plan_of(fleet, stack)
    shuffled = dataclasses.replace(
        plan,
        hosts=tuple(reversed(plan.hosts)),
        child_exchanges=tuple(reversed(plan.child_exchanges)),
    )
    assert render_ruleset(plan, standard) == render_ruleset(shuffled, standard)
    assert allowed_flows(plan, standard) == allowed_flows(shuffled, standard)


@pytest.mark.parametrize("stack", SAMPLES)
def test_both_tables_carry_the_marker(fleet: Fleet, standard: Standard, stack: str) -> None:
    plan = plan_of(fleet, stack)
    text = render_ruleset(plan, standard)
    for family in ("bridge", "inet"):
        assert f'table {family} {plan.table} {{\n\tcomment "{marker(stack)}"' in text
        assert f"add table {family} {plan.table}\ndelete table {family} {plan.table}" in text


@pytest.mark.parametrize("stack", SAMPLES)
def test_every_flow_is_named_in_a_rule(fleet: Fleet, standard: Standard, stack: str) -> None:
    plan = plan_of(fleet, stack)
    text = render_ruleset(plan, standard)
    for flow in standard.flows:
        if flow.destination.startswith("parent.") and not (
            plan.parent_exchange or plan.child_exchanges
        ):
            continue
        assert f'comment "flow: {flow.name}' in text, f"{stack}: no rule for {flow.name}"


def test_county_bridge_rules(fleet: Fleet, standard: Standard) -> None:
    plan = plan_of(fleet, "chunan")
    text = render_ruleset(plan, standard)
    assert (
        "ip saddr { 10.203.2.2 } ip daddr { 10.203.2.4 } tcp dport { 5671, 8443 } accept "
        'comment "flow: portal-to-data-exchange"'
    ) in text
    assert (
        "ip saddr { 10.203.2.4 } ip daddr { 10.203.2.2 } tcp sport { 5671, 8443 } "
        'tcp flags & (syn | ack) != syn accept comment "flow: portal-to-data-exchange (reply)"'
    ) in text
    assert (
        "ip saddr 10.203.2.1 ip daddr { 10.203.2.2, 10.203.2.4, 10.203.2.5, 10.203.2.6 } "
        'tcp dport { 22 } accept comment "flow: admin-ssh"'
    ) in text
    assert text.count("policy drop") == 0, "each chain judges only its own region"


@pytest.mark.parametrize("stack", SAMPLES)
def test_no_flow_leaks(fleet: Fleet, standard: Standard, stack: str) -> None:
    """Every request the script accepts is an allowed flow, and none is a denied sample."""
    plan = plan_of(fleet, stack)
    allowed = {(s, d, p) for s, d, p, _ in allowed_flows(plan, standard)}
    services = {(s, d, p) for s, d, proto, p, _ in gateway_service_flows(plan) if proto == "tcp"}
    accepted = accepted_connections(render_ruleset(plan, standard))
    for src, dst, port, comment in accepted:
        if comment.startswith("gateway service: "):
            assert (src, dst, port) in services, f"{stack}: {comment} accepts {src}->{dst}:{port}"
            continue
        if src == dst:
            continue
        assert (src, dst, port) in allowed, f"{stack}: {comment} accepts {src}->{dst}:{port}"
    denied = {(s, d, p) for s, d, p, _ in denied_samples(plan, standard)}
    assert not denied & allowed
    assert not denied & {(s, d, p) for s, d, p, _ in accepted}


@pytest.mark.parametrize("stack", SAMPLES)
def test_allowed_flows_follow_the_matrix(fleet: Fleet, standard: Standard, stack: str) -> None:
    plan = plan_of(fleet, stack)
    by_address = {h.address: h.component for h in plan.hosts}
    flows = {f.name: f for f in standard.flows}
    for src, dst, port, name in allowed_flows(plan, standard):
        flow = flows[name]
        assert port in flow.ports
        if src == plan.gateway:
            assert flow.source in ("internet", "admin", "call_centre")
        elif flow.destination.startswith("parent."):
            assert (src, dst) in {(address(plan, "data_exchange"), plan.parent_exchange)} | {
                (child, address(plan, "data_exchange")) for child in plan.child_exchanges
            }
        else:
            assert flow.source in (by_address[src], "all_hosts"), f"{stack}: {src} in {name}"
            assert flow.destination in (by_address[dst], "all_hosts"), f"{stack}: {dst} in {name}"


def test_denied_samples_cover_the_near_misses(fleet: Fleet, standard: Standard) -> None:
    plan = plan_of(fleet, "chunan")
    denied = {(s, d, p) for s, d, p, _ in denied_samples(plan, standard)}
    portal, exchange = address(plan, "portal"), address(plan, "data_exchange")
    hotline = address(plan, "hotline")
    assert (hotline, exchange, 8443) in denied  # hotline -> exchange is 5671 only
    assert (exchange, portal, 443) in denied  # no flow back to the portal
    assert (portal, plan.gateway, 22) in denied  # hosts never reach the controller's sshd
    assert (plan.gateway, portal, 9100) in denied  # the controller is not the monitor
    assert (portal, plan.parent_exchange, 5671) in denied  # only the exchange federates
    assert (exchange, plan.parent_exchange, 8443) in denied


def test_federation_rules_name_only_first_exchanges(fleet: Fleet, standard: Standard) -> None:
    county, city, province = (plan_of(fleet, s) for s in SAMPLES)
    assert county.parent_exchange == address(city, "data_exchange")
    tonglu = plan_of(fleet, "tonglu")  # the city's second county
    assert set(city.child_exchanges) == {
        address(county, "data_exchange"),
        address(tonglu, "data_exchange"),
    }

    def federation(plan: RegionPlan) -> set[tuple[str, str]]:
        return {
            (s, d)
            for s, d, _, name in allowed_flows(plan, standard)
            if name == "federation-to-parent"
        }

    assert federation(county) == {(address(county, "data_exchange"), county.parent_exchange)}
    assert federation(city) == {
        (address(city, "data_exchange"), city.parent_exchange),
        (address(county, "data_exchange"), address(city, "data_exchange")),
        (address(tonglu, "data_exchange"), address(city, "data_exchange")),
    }
    assert federation(province) == {
        (address(city, "data_exchange"), address(province, "data_exchange"))
    }
    # The parent side admits its child's exchange and nothing else of the child's CIDR.
    text = render_ruleset(city, standard)
    child_lines = [line for line in text.splitlines() if "(from child regions)" in line]
    assert child_lines and all(address(county, "portal") not in line for line in child_lines)
    assert "ct state new,established accept" in child_lines[0]


def test_top_region_has_no_parent_rule(fleet: Fleet, standard: Standard) -> None:
    text = render_ruleset(plan_of(fleet, "zhejiang"), standard)
    assert 'accept comment "flow: federation-to-parent"' not in text
    assert "(from child regions)" in text


def test_gateway_services_open_on_input_only(fleet: Fleet, standard: Standard) -> None:
    plan = plan_of(fleet, "chunan")
    text = render_ruleset(plan, standard)
    input_chain = text.split("chain input {")[1].split("\t}\n")[0]
    for port in GATEWAY_PORTS:
        assert f"ip daddr {plan.gateway} {port.protocol} dport {port.port} accept" in input_chain
    assert "3142" not in text.split("chain output {")[1].split("\t}\n")[0]


def test_anti_spoofing_and_default_drops(fleet: Fleet, standard: Standard) -> None:
    plan = plan_of(fleet, "chunan")
    forward = render_ruleset(plan, standard).split("\ntable inet ")[1].split("chain forward {")[1]
    assert f'iifname "{plan.bridge}" ip saddr != {plan.cidr} counter drop' in forward
    assert (
        f'iifname "{plan.bridge}" counter drop comment "nothing else leaves the region"' in forward
    )
    assert (
        f'oifname "{plan.bridge}" counter drop comment "nothing else enters the region"' in forward
    )


def bridge_chain(text: str, chain: str) -> str:
    bridge_table = text.split("\ntable bridge ")[1].split("\ntable inet ")[0]
    return bridge_table.split(f"chain {chain} {{")[1].split("\t}\n")[0]


_BINDING = re.compile(r'^\t\tiifname "(\S+)" (.*) counter drop comment "binding: (\S+) (.*)"$')


@pytest.mark.parametrize("stack", SAMPLES)
def test_every_host_port_is_bound_to_its_host(fleet: Fleet, standard: Standard, stack: str) -> None:
    plan = plan_of(fleet, stack)
    prerouting = bridge_chain(render_ruleset(plan, standard), "prerouting")
    rules = [
        line
        for line in prerouting.splitlines()
        if line.startswith("\t\t") and not line.startswith("\t\ttype filter")
    ]
    matched = [_BINDING.match(line) for line in rules]
    assert all(matched), f"{stack}: not a binding rule: {rules[matched.index(None)]}"
    by_port: dict[str, list[tuple[str, str]]] = {}
    for m in matched:
        assert m is not None
        by_port.setdefault(m[1], []).append((m[2], m[3]))
    assert set(by_port) == {port_name(stack, h.name) for h in plan.hosts}, stack
    for host in plan.hosts:
        mac, port = guest_mac(stack, host.name), port_name(stack, host.name)
        assert by_port[port] == [
            (f"ether saddr != {mac}", host.name),
            ("ether type != { ip, arp }", host.name),
            (f"ip saddr != {host.address}", host.name),
            (f"arp saddr ip != {host.address}", host.name),
            (f"arp saddr ether != {mac}", host.name),
        ], f"{stack}: port {port} of {host.name}"


def test_county_binding_rules(fleet: Fleet, standard: Standard) -> None:
    plan = plan_of(fleet, "chunan")
    text = render_ruleset(plan, standard)
    prerouting = bridge_chain(text, "prerouting")
    port, mac = port_name("chunan", "chunan-portal-1"), guest_mac("chunan", "chunan-portal-1")
    assert "\t\ttype filter hook prerouting priority filter; policy accept;\n" in prerouting
    assert (
        f'iifname "{port}" ip saddr != 10.203.2.2 counter drop '
        'comment "binding: chunan-portal-1 sends from 10.203.2.2 only"'
    ) in prerouting
    assert (
        f'iifname "{port}" arp saddr ip != 10.203.2.2 counter drop '
        'comment "binding: chunan-portal-1 claims 10.203.2.2 only"'
    ) in prerouting
    assert (
        f'iifname "{port}" ether saddr != {mac} counter drop '
        'comment "binding: chunan-portal-1 sends from its own MAC only"'
    ) in prerouting
    # The gateway's own frames come from the bridge device, never through a host's port,
    # and the flow rules still judge whatever the binding lets through.
    assert plan.bridge not in prerouting
    assert "binding:" not in bridge_chain(text, "forward")
    assert 'comment "flow: portal-to-data-exchange"' in bridge_chain(text, "forward")


def test_a_region_without_hosts_binds_no_port(fleet: Fleet, standard: Standard) -> None:
    plan = dataclasses.replace(plan_of(fleet, "chunan"), hosts=())
    prerouting = bridge_chain(render_ruleset(plan, standard), "prerouting")
    assert "iifname" not in prerouting


def test_endpoint_without_local_meaning_is_refused(standard: Standard, fleet: Fleet) -> None:
    odd = Flow.model_validate(
        {"name": "odd", "from": "portal", "to": "parent.portal", "ports": [443], "reason": "x"}
    )
    broken = standard.model_copy(update={"flows": [*standard.flows, odd]})
    with pytest.raises(ValueError, match="odd"):
        resolve(plan_of(fleet, "chunan"), broken)


@pytest.mark.parametrize("stack", SAMPLES)
def test_host_inbound_lists_are_the_allowed_flows_seen_from_each_destination(
    fleet: Fleet, standard: Standard, stack: str
) -> None:
    plan = plan_of(fleet, stack)
    inbound = inbound_by_host(plan, standard)
    assert set(inbound) == {h.name for h in plan.hosts}
    by_address = {h.address: h.name for h in plan.hosts}
    from_lists = {
        (source, host.address, port, entry["flow"])
        for host in plan.hosts
        for entry in inbound[host.name]
        for source in entry["sources"]
        for port in entry["ports"]
    }
    # Flows that end outside the region (to the parent's exchange) are not any host's inbound.
    expected = {flow for flow in allowed_flows(plan, standard) if flow[1] in by_address}
    assert from_lists == expected


def test_county_exchange_admits_hotline_portal_and_monitor_only(
    fleet: Fleet, standard: Standard
) -> None:
    plan = plan_of(fleet, "chunan")
    entries = inbound_by_host(plan, standard)[plan.hosts_of("data_exchange")[0].name]
    assert {e["flow"]: (tuple(e["ports"]), tuple(e["sources"])) for e in entries} == {
        "portal-to-data-exchange": ((5671, 8443), (address(plan, "portal"),)),
        "hotline-to-data-exchange": ((5671,), (address(plan, "hotline"),)),
        "monitor-scrapes-hosts": ((9100,), (address(plan, "security_monitoring"),)),
        "monitor-probes-data-exchange": (
            (5671, 8443, 9187, 15692),
            (address(plan, "security_monitoring"),),
        ),
        "admin-ssh": ((22,), (plan.gateway,)),
    }
