"""A local host's bridge port: the one home of its name and of the guest's MAC address.

The supervisor creates each host's veth pair itself (infra/local/supervisor.py): the host
side is the bridge port, named here, the guest side is `host0` in the guest's network
namespace, with the MAC address given here. The region's firewall
(infra/local/firewall_rules.py) binds each port to its host's IPv4 address and MAC, so
both sides must compute the same names from the same inputs: the stack and the host name.

Why not nspawn's own `vb-<machine>` names: they are the machine name cut to 15
characters (with a hash only for long names, depending on the naming scheme), so they are
neither predictable from the plan nor unique across stacks. A hash of the stack and host
name is both, and fits IFNAMSIZ with a prefix that says whose interface it is.
"""

from __future__ import annotations

import hashlib

PORT_PREFIX = "rsv"  # regionstack veth; `rs<code>` are the bridges
PORT_HASH_CHARS = 12  # rsv + 12 hex = 15 characters, the most IFNAMSIZ allows
# First octet of every guest MAC: locally administered (bit 1), unicast (bit 0 clear),
# so it can never clash with a vendor-assigned address on the controller.
MAC_FIRST_OCTET = 0x02


def _digest(stack: str, host: str) -> bytes:
    return hashlib.sha256(f"{stack}/{host}".encode()).digest()


def port_name(stack: str, host: str) -> str:
    """The host-side veth of `host`: unique on the controller, at most 15 characters."""
    return PORT_PREFIX + _digest(stack, host).hex()[:PORT_HASH_CHARS]


def guest_mac(stack: str, host: str) -> str:
    """The MAC address of the guest's `host0`; the port admits no frame from another.

    From other bytes of the digest than the port name, so one does not give the other.
    """
    tail = _digest(stack, host)[PORT_HASH_CHARS // 2 : PORT_HASH_CHARS // 2 + 5]
    return ":".join(f"{b:02x}" for b in (MAC_FIRST_OCTET, *tail))
