"""Hosts booted from one image layer share none of the state that makes a host this host.

Issue #13 point 2: the layers hold what is the same on every host; the machine's create
step and the roles' `boot` tasks make the rest at first boot (infra/layers/per_host_state.py).
Here every pair of baked hosts that booted from the same layer is compared: the province's
two portals, and the exchanges, hotlines, portals and monitors of the three baked regions.
The Erlang cookie is one per region by design (a region's RabbitMQ nodes share it), so it is
compared across regions only.
"""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.local.hierarchy import BAKED_STACKS, PLANS, Deployment

# What identifies a host, read as its admin: a command whose first word is the value.
IDENTITY = {
    "machine-id": "cat /etc/machine-id",
    "ssh host key": "sha256sum /etc/ssh/ssh_host_ed25519_key.pub",
    "snakeoil certificate": "sha256sum /etc/ssl/certs/ssl-cert-snakeoil.pem",
    "AIDE database": "sudo -n sha256sum /var/lib/aide/aide.db",
}
# Per component: what only hosts of that component have.
COMPONENT_IDENTITY = {
    "data_exchange": {
        "PostgreSQL system identifier": (
            "sudo -n -u postgres psql -Atc 'select system_identifier from pg_control_system()'"
        ),
    },
    "hotline": {
        "PostgreSQL system identifier": (
            "sudo -n -u postgres psql -Atc 'select system_identifier from pg_control_system()'"
        ),
    },
}
PER_REGION = {"Erlang cookie": "sudo -n sha256sum /var/lib/rabbitmq/.erlang.cookie"}


def _baked_hosts(component: str) -> list[tuple[str, str]]:
    return [(s, h.address) for s in BAKED_STACKS for h in PLANS[s].hosts_of(component)]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for component in ("portal", "data_exchange", "hotline", "security_monitoring"):
        checks = {**IDENTITY, **COMPONENT_IDENTITY.get(component, {})}
        if component == "data_exchange":
            checks.update(PER_REGION)
        cases += [(component, what, command) for what, command in checks.items()]
    return cases


@pytest.mark.parametrize(("component", "what", "command"), _cases())
def test_hosts_of_one_layer_do_not_share(
    hierarchy: Deployment, component: str, what: str, command: str
) -> None:
    hosts = _baked_hosts(component)
    assert len(hosts) >= 2, f"fewer than two baked {component} hosts to compare"
    values = {}
    for stack, address in hosts:
        result = hierarchy.ssh(address, command)
        value = result.stdout.split()[0] if result.stdout.split() else ""
        assert result.returncode == 0 and value, f"{stack} {address}: {command}: {result.stderr}"
        values[f"{stack} {address}"] = value
    shared = [(a, b) for a, b in itertools.combinations(values, 2) if values[a] == values[b]]
    assert not shared, f"{what} shared by hosts booted from the {component} layer: {shared}"


@pytest.mark.parametrize("stack", BAKED_STACKS)
def test_baked_hosts_boot_from_the_current_layers(hierarchy: Deployment, stack: str) -> None:
    outputs = hierarchy.project.outputs(stack)
    booted, current = outputs["image_layers"], outputs["current_layers"]
    for host in PLANS[stack].hosts:
        assert booted[host.name], f"{host.name} booted from no layer"
        assert booted[host.name] == current[host.name], host.name
        assert f"/{host.component}-" in booted[host.name][0], booted[host.name]
        assert "/base-" in booted[host.name][-1], booted[host.name]
