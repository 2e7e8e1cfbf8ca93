"""The inventory, resolved: a region's hosts, groups and variables as Ansible reads them
(`ansible-inventory --list`, static files and inventory plugins alike)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.verify.errors import VerifyError
from infra.verify.suites import REPO_ROOT


@dataclass(frozen=True)
class HostEntry:
    name: str
    address: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class RegionInventory:
    """A region's hosts, groups and variables, as Ansible resolves its inventory."""

    stack: str
    source: str  # the inventory file it was resolved from
    groups: dict[str, tuple[str, ...]]
    hostvars: dict[str, dict[str, Any]]

    @property
    def hosts(self) -> tuple[HostEntry, ...]:
        return tuple(
            HostEntry(
                name,
                str(self.hostvars[name].get("ansible_host", name)),
                tuple(g for g, members in sorted(self.groups.items()) if name in members),
            )
            for name in sorted(self.hostvars)
        )

    def hosts_of(self, group: str) -> tuple[HostEntry, ...]:
        members = set(self.groups.get(group, ()))
        return tuple(h for h in self.hosts if h.name in members)

    def host(self, name: str) -> HostEntry:
        return next(h for h in self.hosts if h.name == name)

    @property
    def any_vars(self) -> dict[str, Any]:
        return self.hostvars[min(self.hostvars)]

    @property
    def config(self) -> dict[str, Any]:
        """The region's effective configuration, as deployed (`regionstack_config`)."""
        config: dict[str, Any] = self.any_vars["regionstack_config"]
        return config

    @property
    def target(self) -> str:
        return str(self.any_vars.get("regionstack_target", "local"))

    def variables(self, name: str) -> dict[str, Any]:
        """A host's variables the way playbooks see them (hostvars, groups, names)."""
        values = dict(self.hostvars[name])
        values.setdefault("inventory_hostname", name)
        values.setdefault("group_names", [g for g in self.host(name).groups if g != "all"])
        values.setdefault("groups", {g: list(m) for g, m in self.groups.items()})
        return values

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "source": self.source,
            "groups": {g: list(m) for g, m in self.groups.items()},
            "hostvars": self.hostvars,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RegionInventory:
        return cls(
            data["stack"],
            data["source"],
            {g: tuple(m) for g, m in data["groups"].items()},
            dict(data["hostvars"]),
        )


def inventory_file(path: Path, stack: str) -> Path:
    """The inventory file in `path` (a file, or a directory `regionstack inventory` or the
    AWS tag inventory wrote)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise VerifyError(
            f"no inventory for {stack} at {path}: run `regionstack inventory {stack}` "
            "after `pulumi up`, or give the inventory's path"
        )
    if (path / "inventory.yml").is_file():
        return path / "inventory.yml"
    candidates = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml", ".json")
    )
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(p.name for p in candidates) or "none"
    raise VerifyError(
        f"{path} holds no single inventory file (found: {found}): run "
        f"`regionstack inventory {stack}` or pass --inventory FILE"
    )


def _members(listing: Mapping[str, Any], group: str, seen: frozenset[str]) -> set[str]:
    entry = listing.get(group) or {}
    hosts = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        if child not in seen:
            hosts |= _members(listing, child, seen | {child})
    return hosts


def parse_listing(listing: Mapping[str, Any], source: str) -> RegionInventory:
    """A RegionInventory from the JSON of `ansible-inventory --list` (pure)."""
    hostvars: dict[str, dict[str, Any]] = dict(listing.get("_meta", {}).get("hostvars", {}))
    groups = {
        group: tuple(sorted(_members(listing, group, frozenset({group}))))
        for group in listing
        if group != "_meta"
    }
    for name in groups.get("all", ()):
        hostvars.setdefault(name, {})
    if not hostvars:
        raise VerifyError(f"the inventory {source} lists no hosts")
    stacks = {str(v.get("regionstack_stack")) for v in hostvars.values()}
    if len(stacks) != 1 or "None" in stacks:
        raise VerifyError(
            f"the inventory {source} is not one region's: regionstack_stack is "
            f"{sorted(stacks)} across its hosts"
        )
    missing = sorted(n for n, v in hostvars.items() if "regionstack_config" not in v)
    if missing:
        raise VerifyError(
            f"the inventory {source} gives no regionstack_config to {', '.join(missing)}: "
            "rewrite it with `regionstack inventory STACK`"
        )
    return RegionInventory(stacks.pop(), source, groups, hostvars)


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def ansible_inventory_command() -> str:
    """ansible-inventory of this interpreter's environment (the venv), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.is_file() else "ansible-inventory"


def resolve_inventory(path: Path, stack: str, run: Runner = subprocess.run) -> RegionInventory:
    """The inventory at `path`, resolved by Ansible, checked to be `stack`'s."""
    source = inventory_file(path, stack)
    try:
        result = run(
            [ansible_inventory_command(), "-i", str(source), "--list"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise VerifyError("ansible-inventory is not on PATH: run `source scripts/env.sh`") from None
    if result.returncode != 0:
        raise VerifyError(f"ansible-inventory cannot read {source}: {result.stderr.strip()}")
    region = parse_listing(json.loads(result.stdout), str(source))
    if region.stack != stack:
        raise VerifyError(f"the inventory {source} is {region.stack}'s, not {stack}'s")
    return region
