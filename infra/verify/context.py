"""The context the suites read (`tests/hosts/conftest.py`): the region's resolved inventory,
its parent's when it exists, and the ssh_config, written to a private work directory."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.verify.inventory import RegionInventory
from infra.verify.ssh import ssh_config, uses_ssh


@dataclass(frozen=True)
class VerifyContext:
    region: RegionInventory
    parent: RegionInventory | None
    parent_note: str  # why the link to the parent is not checked ("" when it is)
    ssh_config: str  # path of the generated ssh_config

    @property
    def regions(self) -> tuple[RegionInventory, ...]:
        return (self.region,) if self.parent is None else (self.region, self.parent)

    def owner(self, name: str) -> RegionInventory:
        return next(r for r in self.regions if name in r.hostvars)

    def host_spec(self, name: str) -> tuple[str, dict[str, Any]]:
        """testinfra's host spec and options for a host of either region."""
        region = self.owner(name)
        values = region.hostvars[name]
        options: dict[str, Any] = {}
        if values.get("ansible_become"):
            options["sudo"] = True
            if values.get("ansible_become_user"):
                options["sudo_user"] = values["ansible_become_user"]
        if uses_ssh(values):
            return f"ssh://{name}", {**options, "ssh_config": self.ssh_config}
        # Other connections (SSM...) go through Ansible itself: slower, but exact.
        return f"ansible://{name}", {
            "ansible_inventory": region.source,
            "force_ansible": True,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region.to_json(),
            "parent": self.parent.to_json() if self.parent else None,
            "parent_note": self.parent_note,
            "ssh_config": self.ssh_config,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerifyContext:
        parent = data.get("parent")
        return cls(
            RegionInventory.from_json(data["region"]),
            RegionInventory.from_json(parent) if parent else None,
            data["parent_note"],
            data["ssh_config"],
        )

    @classmethod
    def load(cls, path: Path) -> VerifyContext:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def build_context(
    region: RegionInventory,
    parent: RegionInventory | None,
    parent_note: str,
    workdir: Path,
) -> Path:
    """Write the ssh_config and the context file into the private `workdir`."""
    control = workdir / "cm"
    control.mkdir(mode=0o700, exist_ok=True)
    config = workdir / "ssh_config"
    regions = [region] if parent is None else [region, parent]
    write_private(config, ssh_config(regions, control))
    context = VerifyContext(region, parent, parent_note, str(config))
    path = workdir / "context.json"
    # The inventory carries the region's generated secrets: private, removed afterwards.
    write_private(path, json.dumps(context.to_json(), ensure_ascii=False))
    return path
