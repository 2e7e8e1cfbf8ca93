"""The build hosts of a bake and their network, made with the local target's own machine,
network and firewall mechanisms (the same code that makes a region's), without Pulumi."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.local import firewall as firewall_mechanism
from infra.local import network as network_mechanism
from infra.local.image import ADMIN_USER
from infra.local.layers.build_network import BuildNetwork
from infra.local.layers.errors import LayerError
from infra.local.machine import lifecycle, overlay, power, state
from infra.local.machine import teardown as machine_teardown
from infra.local.plan import HostPlan
from infra.names import region_domain


def network_up(network: BuildNetwork) -> None:
    network_mechanism.validate(network.props)
    network_mechanism.preflight(network.props)
    network_mechanism.ensure_bridge(network.props)
    network_mechanism.ensure_services(network.props, restart=True)
    firewall_mechanism.apply(network.plan.stack, network.plan.table, network.ruleset)


def network_down(network: BuildNetwork) -> None:
    firewall_mechanism.remove(network.plan.stack, network.plan.table)
    network_mechanism.teardown(network.props)


def admin_key(directory: Path) -> tuple[str, str]:
    """A throwaway admin key pair for one bake: (private key, public key line)."""
    path = directory / "admin_ed25519"
    result = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "regionstack-bake", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise LayerError(f"ssh-keygen failed: {result.stderr.strip()}")
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


def machine_props(
    network: BuildNetwork, host: HostPlan, rootfs: Path, below: Sequence[Path], public_key: str
) -> dict[str, Any]:
    plan = network.plan
    return {
        "name": host.name,
        "stack": plan.stack,
        "address": host.address,
        "prefix_length": plan.prefix_length,
        "gateway": plan.gateway,
        "bridge": plan.bridge,
        "rootfs": str(rootfs),
        "layers": [str(path) for path in below],
        "state_root": network.props["state_root"],
        "admin_user": ADMIN_USER,
        "admin_public_key": public_key,
        "dns_domain": region_domain(plan.stack),
    }


def create(props: dict[str, Any]) -> str:
    """Boot the build host; its known_hosts line."""
    outs = lifecycle.create(props)
    return f"{props['address']} {outs['ssh_host_ed25519_public_key']}"


def stop_and_take_upper(props: dict[str, Any], destination: Path) -> Path:
    """Power the build host off and move its upper dir (what the bake wrote) to `destination`."""
    directory = state.state_dir(props)
    power.power_off(directory, props["name"])
    overlay.unmount_all(directory)
    (directory / state.UPPER).rename(destination)
    return destination


def teardown(props: dict[str, Any]) -> None:
    machine_teardown.teardown(props)


def dpkg_versions(root: Path) -> dict[str, str]:
    """Package -> version of what a layer's dpkg status lists as installed."""
    status = root / "var/lib/dpkg/status"
    if not status.is_file():
        return {}
    versions = {}
    for stanza in status.read_text(errors="replace").split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in stanza.splitlines()
            if ": " in line and not line.startswith(" ")
        )
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            versions[fields["Package"]] = fields.get("Version", "")
    return dict(sorted(versions.items()))
