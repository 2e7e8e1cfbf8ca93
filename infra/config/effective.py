"""A region's effective configuration: standard ⊕ tier profile ⊕ region, as plain data.

This is a pure function of the fleet: the same files always give the same result, byte
for byte, so it can be printed, diffed between regions, hashed into the stack file, and
handed to the Pulumi program and (later) to Ansible as the one source of every value.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infra.config.federation import child_exchanges, federated_children, parent_exchange
from infra.config.loader import Fleet
from infra.config.schema import Region
from infra.names import exchange_host

# Bumped when the shape of the effective config changes, so consumers can tell.
EFFECTIVE_SCHEMA = 1


def _host_groups(fleet: Fleet, region: Region) -> dict[str, Any]:
    return {
        component: {
            "count": group.count,
            "size": group.size,
            **fleet.standard.sizes[group.size].model_dump(),
        }
        for component, group in sorted(region.host_groups.items())
    }


def _target(fleet: Fleet, region: Region) -> dict[str, Any]:
    if region.local is not None:
        return {"kind": "local", "cidr": str(region.local.cidr), "image": region.local.image}
    assert region.aws is not None, "validated regions carry their target's settings"
    aws = region.aws.model_dump(mode="json")
    zones = fleet.tiers[region.tier].availability_zones
    return {"kind": "aws", **aws, "availability_zones": zones}


def _federation(fleet: Fleet, region: Region) -> dict[str, Any]:
    """Where this region's exchange federates to, and who federates to it.

    Part of the effective config because the region's firewall depends on its parent's and
    children's addresses: renumbering a neighbour must change this region's digest too.
    """
    if region.local is None:  # the aws target resolves its neighbours itself
        return {
            "parent_exchange": None,
            "parent_exchange_host": None,
            "child_exchanges": [],
            "child_exchange_hosts": [],
        }
    parent = fleet.parent_of(region)
    address = parent_exchange(fleet, region)
    children = [c for c in federated_children(fleet, region) if c.local is not None]
    # Host names (`<stack>-data-exchange-1`) are what the peers' certificates carry: the
    # parent's server name to verify, the children's client names to authorise.
    return {
        "parent_exchange": address,
        "parent_exchange_host": exchange_host(parent.stack) if parent and address else None,
        "child_exchanges": list(child_exchanges(fleet, region)),
        "child_exchange_hosts": [exchange_host(child.stack) for child in children],
    }


def effective_config(fleet: Fleet, region: Region) -> dict[str, Any]:
    """The effective configuration of `region`, with every value resolved."""
    parent = fleet.parent_of(region)
    return {
        "schema": EFFECTIVE_SCHEMA,
        "region": {
            "code": region.code,
            "name": region.name,
            "stack": region.stack,
            "tier": region.tier.value,
            "parent": (
                {"code": parent.code, "name": parent.name, "stack": parent.stack}
                if parent
                else None
            ),
            "ancestors": [a.code for a in fleet.ancestors(region)],
            "children": sorted(c.code for c in fleet.children(region)),
        },
        "target": _target(fleet, region),
        "federation": _federation(fleet, region),
        "host_groups": _host_groups(fleet, region),
        "contacts": region.contacts.model_dump(mode="json"),
        # Shared, not copied: the standard is identical for every region, and copying it
        # 3,000 times dominated rendering a national fleet. Callers treat configs as read-only.
        "standard": fleet.standard_data,
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# Every region of a fleet shares one standard object (see effective_config); serializing it
# once instead of 3,000 times halves the digest cost of a national render. Keyed by id and
# holding the object itself, so an id is never reused while its entry lives.
_STANDARD_TEXT: dict[int, tuple[Any, str]] = {}


def _standard_text(standard: Any) -> str:
    cached = _STANDARD_TEXT.get(id(standard))
    if cached is None or cached[0] is not standard:
        cached = (standard, _canonical(standard))
        _STANDARD_TEXT.clear()  # one fleet at a time: keep memory flat
        _STANDARD_TEXT[id(standard)] = cached
    return cached[1]


def digest(config: dict[str, Any]) -> str:
    """A stable fingerprint of an effective config (key order and spacing do not matter)."""
    rest = {k: v for k, v in config.items() if k != "standard"}
    text = _canonical(rest) + "\n" + _standard_text(config.get("standard"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists keep their index (`flows[2].ports`)."""
    flat: dict[str, Any] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(config, list) and config:
        for index, value in enumerate(config):
            flat.update(flatten(value, f"{prefix}[{index}]"))
    else:
        flat[prefix] = config
    return flat


class _Absent:
    """A key one side of a diff does not have (distinct from a key whose value is None)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()


def diff(left: dict[str, Any], right: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Key paths whose values differ between two effective configs, sorted; a key one
    side lacks is shown as `ABSENT`."""
    a, b = flatten(left), flatten(right)
    changes = []
    for key in sorted(a.keys() | b.keys()):
        va, vb = a.get(key, ABSENT), b.get(key, ABSENT)
        if va != vb:
            changes.append((key, va, vb))
    return changes
