"""The sample fleet's regions as `ansible-inventory --list` prints the inventory
`regionstack inventory` writes for them: what the verify tests resolve."""

from __future__ import annotations

import json
from typing import Any

from infra.config.effective import effective_config
from infra.config.loader import Fleet
from infra.local.plan import plan_region
from infra.verify.inventory import RegionInventory, parse_listing

KEY = "/state/inventory/chunan/admin_ed25519"
SSH_ARGS = "-o UserKnownHostsFile=/state/inventory/chunan/known_hosts -o StrictHostKeyChecking=yes"


def listing_for(fleet: Fleet, stack: str, target: str = "local") -> dict[str, Any]:
    """What `ansible-inventory --list` prints for a region `regionstack inventory` wrote."""
    region = fleet.region(stack)
    plan = plan_region(fleet, region)
    config = json.loads(json.dumps(effective_config(fleet, region)))
    common = {
        "ansible_user": "rsadmin",
        "ansible_become": True,
        "ansible_ssh_private_key_file": KEY,
        "ansible_ssh_common_args": SSH_ARGS,
        "regionstack_stack": stack,
        "regionstack_target": target,
        "regionstack_gateway": plan.gateway,
        "regionstack_config": config,
    }
    listing: dict[str, Any] = {
        "_meta": {"hostvars": {h.name: {**common, "ansible_host": h.address} for h in plan.hosts}},
        "all": {"children": ["ungrouped", *sorted({h.component for h in plan.hosts}), "tier"]},
        "tier": {"hosts": [h.name for h in plan.hosts]},
    }
    for host in plan.hosts:
        listing.setdefault(host.component, {"hosts": []})["hosts"].append(host.name)
    return listing


def region_of(fleet: Fleet, stack: str, target: str = "local") -> RegionInventory:
    return parse_listing(listing_for(fleet, stack, target), f"/inv/{stack}/inventory.yml")
