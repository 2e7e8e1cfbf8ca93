"""Inputs of one machine for the tests of the machine mechanism (infra/local/machine/) and
of its provider (modules/local/machine.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ADMIN_UID = 1000
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2kGq5n7sJ0 rsadmin@hz"


def make_props(rootfs: Path | str = "/images/base/rootfs", **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "hz-portal-1",
        "stack": "hz",
        "address": "10.30.1.2",
        "prefix_length": 24,
        "gateway": "10.30.1.1",
        "bridge": "rs330100",
        "rootfs": str(rootfs),
        "layers": [],
        "state_root": "/var/lib/regionstack/local",
        "admin_user": "rsadmin",
        "admin_public_key": KEY,
        "dns_domain": "hz.internal",
    }
    props.update(changes)
    return props
