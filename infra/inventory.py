"""An Ansible inventory for a deployed region, built from its Pulumi stack outputs.

Groups: one per component (`portal`, `data_exchange`, ...), one per tier (`county`) and
one per region (`region_<code>`), so a playbook or a testinfra run can target any of them.
The admin private key and the pinned SSH host keys are written beside the inventory, in
the state directory (mode 0600), never in the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config.environment import state_dir
from infra.names import internal_name


class InventoryError(Exception):
    """The inventory cannot be built; the message says what to do."""


@dataclass(frozen=True)
class InventoryFiles:
    inventory: Path
    private_key: Path
    known_hosts: Path

    @property
    def group_vars(self) -> Path:
        # Ansible reads group_vars/ beside the inventory file.
        return self.inventory.parent / "group_vars" / "all.yml"

    @property
    def host_vars_dir(self) -> Path:
        return self.inventory.parent / "host_vars"


def inventory_dir(stack: str) -> Path:
    return state_dir() / "inventory" / stack


def stack_outputs(stack: str, cwd: Path) -> dict[str, Any]:
    """The stack's outputs, secrets included, from the Pulumi CLI."""
    try:
        result = subprocess.run(
            ["pulumi", "stack", "output", "--stack", stack, "--json", "--show-secrets"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise InventoryError(
            "pulumi is not on PATH: run `bash scripts/setup.sh` then `source scripts/env.sh`"
        ) from None
    if result.returncode != 0:
        raise InventoryError(
            f"cannot read the outputs of stack {stack!r}: {result.stderr.strip()}\n"
            f"deploy it first (`pulumi up --stack {stack}`)"
        )
    outputs: dict[str, Any] = json.loads(result.stdout or "{}")
    return outputs


def connection_vars(admin_user: str, files: InventoryFiles) -> dict[str, Any]:
    """How Ansible reaches every host: as the admin, with sudo, by the pinned host keys."""
    return {
        "ansible_user": admin_user,
        "ansible_become": True,
        # Debian's python3 on every host; saying so avoids interpreter discovery.
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": str(files.private_key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={files.known_hosts} -o StrictHostKeyChecking=yes"
        ),
    }


def build_inventory(outputs: dict[str, Any], files: InventoryFiles) -> dict[str, Any]:
    """The inventory document for `outputs` (pure: no I/O)."""
    missing = [k for k in ("region", "hosts", "admin_user") if k not in outputs]
    if missing:
        raise InventoryError(
            f"the stack has no {', '.join(missing)} output(s): it has not deployed hosts yet"
        )
    region = outputs["region"]
    role_groups: dict[str, Any] = {}
    all_hosts: dict[str, Any] = {}
    for component, hosts in sorted(outputs["hosts"].items()):
        members = {h["name"]: {"ansible_host": h["address"]} for h in hosts}
        role_groups[component] = {"hosts": members}
        all_hosts.update(members)
    member_refs = {name: None for name in sorted(all_hosts)}
    return {
        "all": {
            "vars": {
                **connection_vars(outputs["admin_user"], files),
                "regionstack_stack": region["stack"],
                "regionstack_code": region["code"],
                "regionstack_tier": region["tier"],
                "regionstack_target": outputs.get("target", "local"),
            },
            "children": {
                **role_groups,
                region["tier"]: {"hosts": dict(member_refs)},
                f"region_{region['code']}": {"hosts": dict(member_refs)},
            },
        }
    }


# Stack outputs the roles need beyond the hosts themselves (roles/README.md, the contract).
ROLE_OUTPUTS = ("effective_config", "service_secrets", "gateway", "apt_sources", "tls", "inbound")


def _require_role_outputs(outputs: dict[str, Any]) -> None:
    missing = [k for k in ROLE_OUTPUTS if k not in outputs]
    if missing:
        raise InventoryError(
            f"the stack has no {', '.join(missing)} output(s): redeploy it with this version "
            "(`pulumi up`)"
        )


def build_group_vars(outputs: dict[str, Any]) -> dict[str, Any]:
    """Variables every host gets: the region's effective configuration, as deployed, and
    what was generated for it at deploy time.

    Roles read their values from `regionstack_config` (rendered from the unified
    configuration by the stack) instead of restating them, so a change to the standard
    reaches the hosts through one path.
    """
    _require_role_outputs(outputs)
    # Pulumi drops null-valued keys and turns integers into floats on the way through its
    # outputs; the JSON text of the effective config (when the stack exports it) is exact.
    config = outputs["effective_config"]
    if isinstance(outputs.get("effective_config_json"), str):
        config = json.loads(outputs["effective_config_json"])
    return {
        "regionstack_config": config,
        "regionstack_gateway": outputs["gateway"],
        "regionstack_apt_sources": outputs["apt_sources"],
        "regionstack_secrets": outputs["service_secrets"],
    }


def peer_address(host: dict[str, Any], name_in_region: str) -> str:
    """How the other hosts reach `host`, a name its server certificate carries: its address
    where the stack fixed it (local), else its region-internal DNS name `name_in_region`
    (aws, whose auto scaling hosts are certified before they have an address)."""
    if host.get("address"):
        return str(host["address"])
    return name_in_region


def build_host_vars(outputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per host: its TLS material, its inbound allow list from the flow matrix, the address
    its peers reach it by and its region-internal name (what its certificates carry, so
    roles that name peers, like nginx's server_name or rsyslog's permitted peers, read it
    instead of restating the naming rule)."""
    _require_role_outputs(outputs)
    stack = outputs["effective_config"]["region"]["stack"]
    host_vars: dict[str, dict[str, Any]] = {}
    for hosts in outputs["hosts"].values():
        for host in hosts:
            name = host["name"]
            if name not in outputs["tls"] or name not in outputs["inbound"]:
                raise InventoryError(f"the stack has no TLS material or inbound list for {name}")
            tls = outputs["tls"][name]
            name_in_region = internal_name(name, stack)
            host_vars[name] = {
                **{f"regionstack_tls_{key}": value for key, value in sorted(tls.items())},
                "regionstack_inbound": outputs["inbound"][name],
                "regionstack_address": peer_address(host, name_in_region),
                "regionstack_internal_name": name_in_region,
            }
    return host_vars


def dump_yaml(values: dict[str, Any]) -> str:
    return yaml.safe_dump(values, sort_keys=False, allow_unicode=True)


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    os.chmod(path, 0o600)


def integral_numbers(value: Any) -> Any:
    """`value` with every integral float made an int.

    Pulumi carries numbers as protobuf doubles, so a dynamic provider receives the port 22
    as 22.0; in a role's template that is "Port 22.0", which sshd refuses.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [integral_numbers(item) for item in value]
    return value


def write_inventory(
    stack: str, outputs: dict[str, Any], directory: Path | None = None
) -> InventoryFiles:
    directory = directory or inventory_dir(stack)
    outputs = integral_numbers(outputs)
    files = InventoryFiles(
        directory / "inventory.yml", directory / "admin_ed25519", directory / "known_hosts"
    )
    # Everything is built before anything is written: a refusal leaves no partial files.
    document = build_inventory(outputs, files)
    group_vars = dump_yaml(build_group_vars(outputs))
    host_vars = {name: dump_yaml(values) for name, values in build_host_vars(outputs).items()}
    if "admin_private_key" not in outputs:
        raise InventoryError("the stack has no admin_private_key output")
    write_private(files.private_key, outputs["admin_private_key"])
    write_private(files.known_hosts, "\n".join(outputs.get("known_hosts", [])))
    write_private(files.group_vars, group_vars)
    for stale in files.host_vars_dir.glob("*.yml") if files.host_vars_dir.is_dir() else ():
        if stale.stem not in host_vars:
            stale.unlink()
    for name, text in host_vars.items():
        write_private(files.host_vars_dir / f"{name}.yml", text)
    write_private(files.inventory, yaml.safe_dump(document, sort_keys=False))
    return files
