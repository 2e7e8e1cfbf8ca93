"""Bridge port names and guest MACs (infra/local/ports.py): stable, unique, valid."""

from __future__ import annotations

import re

import pytest

from infra.local.ports import PORT_PREFIX, guest_mac, port_name

IFNAMSIZ = 15  # visible characters of a Linux interface name
HOSTS = [
    (stack, f"{stack}-{component}-{n}")
    for stack in ("chunan", "hangzhou", "zhejiang", "a-very-long-stack-name")
    for component in ("portal", "data-exchange", "hotline", "security-monitoring")
    for n in range(1, 21)
]


@pytest.mark.parametrize(("stack", "host"), HOSTS[:4])
def test_port_name_is_a_prefixed_hash_within_ifnamsiz(stack: str, host: str) -> None:
    name = port_name(stack, host)
    assert re.fullmatch(rf"{PORT_PREFIX}[0-9a-f]{{{IFNAMSIZ - len(PORT_PREFIX)}}}", name), name


def test_names_are_pinned() -> None:
    # A changed rule would leave every running machine on a port its firewall no longer
    # binds (and with a MAC it no longer admits) until the machine is created again.
    assert port_name("chunan", "chunan-portal-1") == "rsvb71953d5e50b"
    assert guest_mac("chunan", "chunan-portal-1") == "02:bd:15:45:4e:36"


def test_port_names_and_macs_are_unique_across_stacks_and_hosts() -> None:
    ports = {port_name(s, h) for s, h in HOSTS}
    macs = {guest_mac(s, h) for s, h in HOSTS}
    assert len(ports) == len(macs) == len(HOSTS)
    # The same host name in another stack (a second deployment) gets another port.
    assert port_name("a", "x-portal-1") != port_name("b", "x-portal-1")


@pytest.mark.parametrize(("stack", "host"), HOSTS[:4])
def test_guest_mac_is_locally_administered_unicast(stack: str, host: str) -> None:
    mac = guest_mac(stack, host)
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac), mac
    first = int(mac[:2], 16)
    assert first & 0b10 and not first & 0b01, mac
