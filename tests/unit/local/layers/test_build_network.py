"""The bake region: one build host per layer, every address in the bake CIDR."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from infra.config.loader import Fleet
from infra.layers import LAYERS
from infra.local.layers.build_network import (
    BASE_COMPONENT,
    STACK,
    bake_plan,
    build_host_name,
    build_network,
)

PAIRS = [(layer.name, layer.name if layer.parent else BASE_COMPONENT) for layer in LAYERS]


@pytest.mark.parametrize("cidr", ["10.254.254.0/24", "192.168.77.0/28"])
def test_every_build_host_is_in_the_bake_cidr(cidr: str) -> None:
    plan = bake_plan(PAIRS, cidr)
    network = IPv4Network(cidr)
    addresses = [IPv4Address(host.address) for host in plan.hosts]
    assert all(address in network for address in addresses)
    assert len(set(addresses)) == len(addresses)
    reserved = {network.network_address, IPv4Address(plan.gateway), network.broadcast_address}
    assert not reserved & set(addresses)
    assert IPv4Address(plan.gateway) in network


def test_one_build_host_per_layer_in_its_component() -> None:
    plan = bake_plan(PAIRS, "10.254.254.0/24")
    assert [(h.name, h.component) for h in plan.hosts] == [
        (build_host_name(layer), component) for layer, component in PAIRS
    ]
    assert plan.stack == STACK and plan.parent_exchange is None and plan.child_exchanges == ()


def test_the_bake_cidr_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONSTACK_BAKE_CIDR", "172.31.250.0/24")
    plan = bake_plan(PAIRS[:1])
    assert plan.cidr == "172.31.250.0/24"
    assert IPv4Address(plan.hosts[0].address) in IPv4Network("172.31.250.0/24")


def test_a_cidr_with_host_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="host bits"):
        bake_plan(PAIRS, "10.254.254.7/24")


def test_the_network_names_every_build_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_fleet: Fleet
) -> None:
    monkeypatch.setenv("REGIONSTACK_APT_CACHE", str(tmp_path / "apt"))
    plan = bake_plan(PAIRS, "10.254.254.0/24")
    network = build_network(
        plan, sample_fleet.standard, "http://deb.example/debian", None, tmp_path
    )
    assert network.props["hosts"] == {h.name: h.address for h in plan.hosts}
    assert network.props["apt_cache_dir"] == str(tmp_path / "apt" / STACK)
    assert network.ruleset
