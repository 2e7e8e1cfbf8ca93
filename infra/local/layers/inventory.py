"""The Ansible inventory of a bake run: the build hosts, and the standard, nothing else.

Each build host sits in the group of the component whose layer it builds (the base layer's
in none, so only the plays for every host apply to it). The variables are the bake vars of
infra/layers (the national standard and the target) plus where apt gets packages; no
region exists at bake time, and the `common` role's preflight asserts that none leaked in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.inventory import InventoryFiles, connection_vars, dump_yaml, write_private
from infra.layers import BASE, bake_vars
from infra.local.gateway_services import apt_sources
from infra.local.image import ADMIN_USER, DEFAULT_RECIPE
from infra.local.plan import RegionPlan


def bake_inventory(
    plan: RegionPlan, layers: Mapping[str, str], files: InventoryFiles
) -> dict[str, Any]:
    """The inventory document; `layers` maps each build host's name to its layer."""
    groups: dict[str, Any] = {}
    for host in plan.hosts:
        if layers[host.name] != BASE:
            groups.setdefault(layers[host.name], {"hosts": {}})["hosts"][host.name] = None
    return {
        "all": {
            "hosts": {h.name: {"ansible_host": h.address} for h in plan.hosts},
            "vars": connection_vars(ADMIN_USER, files),
            "children": groups,
        }
    }


def bake_group_vars(
    plan: RegionPlan, standard: Mapping[str, Any], apt_security_upstream: str | None
) -> dict[str, Any]:
    return {
        **bake_vars(standard, "local", ADMIN_USER),
        "regionstack_gateway": plan.gateway,
        "regionstack_apt_sources": apt_sources(
            plan.gateway, DEFAULT_RECIPE.suite, apt_security_upstream
        ),
    }


def write_bake_inventory(
    directory: Path,
    plan: RegionPlan,
    layers: Mapping[str, str],
    standard: Mapping[str, Any],
    apt_security_upstream: str | None,
    private_key: str,
    known_hosts: list[str],
) -> InventoryFiles:
    files = InventoryFiles(
        directory / "inventory.yml", directory / "admin_ed25519", directory / "known_hosts"
    )
    write_private(files.private_key, private_key)
    write_private(files.known_hosts, "\n".join(known_hosts))
    write_private(
        files.group_vars, dump_yaml(bake_group_vars(plan, standard, apt_security_upstream))
    )
    write_private(
        files.inventory, yaml.safe_dump(bake_inventory(plan, layers, files), sort_keys=False)
    )
    return files
