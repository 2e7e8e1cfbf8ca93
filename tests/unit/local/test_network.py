"""The network's mechanism (infra/local/network.py): its input checks and bridge address.

Its provider's diff (modules/local/network.py): tests/unit/modules/local/test_network.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.local import network
from infra.local.network import NetworkError


def props(**changes: Any) -> dict[str, Any]:
    base = {
        "stack": "chunan",
        "bridge": "rs330127",
        "cidr": "10.203.2.0/24",
        "gateway": "10.203.2.1",
        "prefix_length": 24,
        "hosts": {"chunan-portal-1": "10.203.2.2"},
        "dns_domain": "chunan.internal",
        "state_root": "/var/lib/regionstack/local",
        "apt_upstream": "http://deb.debian.org/debian",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prefix_length": 25}, "prefix_length 25 does not match"),
        ({"gateway": "10.203.3.1"}, "gateway 10.203.3.1 is not in"),
        ({"bridge": "rs-330127-toolong"}, "bridge name"),
        ({"hosts": {"stray": "10.9.9.9"}}, "not in 10.203.2.0/24"),
        ({"apt_upstream": "mirror/debian"}, "apt_upstream"),
        ({"dns_domain": "chunan internal"}, "dns_domain"),
        ({"hosts": {"Chunan_Portal": "10.203.2.2"}}, "host name"),
    ],
)
def test_inconsistent_inputs_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        network.validate(props(**change))


def test_state_root_must_be_traversable(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(NetworkError, match="not traversable"):
        network.validate(props(state_root=str(closed / "state")))


def test_bridge_mac_is_fixed_and_locally_administered() -> None:
    mac = network.bridge_mac("rs330127")
    assert mac == network.bridge_mac("rs330127") != network.bridge_mac("rs330100")
    assert mac.startswith("02:") and len(mac.split(":")) == 6
