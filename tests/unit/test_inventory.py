"""The Ansible inventory built from a region stack's outputs."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.inventory import InventoryError, InventoryFiles, build_inventory, write_inventory

OUTPUTS: dict[str, Any] = {
    "region": {"code": "330127", "name": "淳安县", "tier": "county", "stack": "chunan"},
    "target": "local",
    "admin_user": "rsadmin",
    "admin_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----",
    "known_hosts": ["10.203.2.2 ssh-ed25519 AAAA"],
    "effective_config": {
        "region": {"code": "330127", "name": "淳安县", "stack": "chunan"},
        "standard": {"log_retention_days": 180},
    },
    "hosts": {
        "portal": [{"name": "chunan-portal-1", "address": "10.203.2.2"}],
        "data_exchange": [{"name": "chunan-data-exchange-1", "address": "10.203.2.4"}],
    },
    "gateway": "10.203.2.1",
    "apt_sources": [{"uri": "http://10.203.2.1:3142/debian", "suites": ["bookworm"]}],
    "service_secrets": {"hotline_api_token": "t0ken"},
    "tls": {
        host: {
            "ca_pem": "CA",
            "server_cert_pem": f"{host}-server",
            "server_key_pem": f"{host}-server-key",
            "client_cert_pem": f"{host}-client",
            "client_key_pem": f"{host}-client-key",
        }
        for host in ("chunan-portal-1", "chunan-data-exchange-1")
    },
    "inbound": {
        "chunan-portal-1": [{"flow": "admin-ssh", "ports": [22], "sources": ["10.203.2.1"]}],
        "chunan-data-exchange-1": [],
    },
}
FILES = InventoryFiles(Path("/s/inventory.yml"), Path("/s/admin_ed25519"), Path("/s/known_hosts"))


def test_groups_per_component_tier_and_region() -> None:
    children = build_inventory(OUTPUTS, FILES)["all"]["children"]
    assert children["portal"]["hosts"] == {"chunan-portal-1": {"ansible_host": "10.203.2.2"}}
    assert set(children["county"]["hosts"]) == {"chunan-portal-1", "chunan-data-exchange-1"}
    assert set(children["region_330127"]["hosts"]) == {"chunan-portal-1", "chunan-data-exchange-1"}


def test_ssh_pins_host_keys_and_uses_the_admin_key() -> None:
    variables = build_inventory(OUTPUTS, FILES)["all"]["vars"]
    assert variables["ansible_user"] == "rsadmin"
    assert variables["ansible_ssh_private_key_file"] == "/s/admin_ed25519"
    assert "StrictHostKeyChecking=yes" in variables["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/s/known_hosts" in variables["ansible_ssh_common_args"]


@pytest.mark.parametrize("missing", ["region", "hosts", "admin_user"])
def test_a_stack_without_hosts_is_refused(missing: str) -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != missing}
    with pytest.raises(InventoryError, match=missing):
        build_inventory(outputs, FILES)


def test_written_files_are_private(tmp_path: Path) -> None:
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    for path in (files.inventory, files.private_key, files.known_hosts):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert files.private_key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert (
        yaml.safe_load(files.inventory.read_text())["all"]["vars"]["regionstack_code"] == "330127"
    )
    assert files.known_hosts.read_text() == "10.203.2.2 ssh-ed25519 AAAA\n"


def test_group_vars_carry_the_effective_config(tmp_path: Path) -> None:
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    assert stat.S_IMODE(files.group_vars.stat().st_mode) == 0o600
    assert (
        yaml.safe_load(files.group_vars.read_text())["regionstack_config"]
        == OUTPUTS["effective_config"]
    )


def test_ansible_sees_the_groups_and_the_config(tmp_path: Path) -> None:
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    ansible_inventory = Path(sys.executable).parent / "ansible-inventory"
    listed = subprocess.run(
        [str(ansible_inventory), "-i", str(files.inventory), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    inventory = json.loads(listed.stdout)
    assert inventory["portal"]["hosts"] == ["chunan-portal-1"]
    assert set(inventory["region_330127"]["hosts"]) == {"chunan-portal-1", "chunan-data-exchange-1"}
    host_vars = inventory["_meta"]["hostvars"]["chunan-portal-1"]
    assert host_vars["regionstack_config"]["region"]["name"] == "淳安县"
    assert host_vars["ansible_host"] == "10.203.2.2"


def test_host_vars_carry_each_hosts_tls_material_and_inbound_list(tmp_path: Path) -> None:
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    portal = files.host_vars_dir / "chunan-portal-1.yml"
    assert stat.S_IMODE(portal.stat().st_mode) == 0o600
    values = yaml.safe_load(portal.read_text())
    assert values["regionstack_tls_server_key_pem"] == "chunan-portal-1-server-key"
    assert values["regionstack_tls_ca_pem"] == "CA"
    assert values["regionstack_inbound"] == OUTPUTS["inbound"]["chunan-portal-1"]
    group_vars = yaml.safe_load(files.group_vars.read_text())
    assert group_vars["regionstack_secrets"] == {"hotline_api_token": "t0ken"}
    assert group_vars["regionstack_gateway"] == "10.203.2.1"
    assert group_vars["regionstack_apt_sources"] == OUTPUTS["apt_sources"]


def test_peers_reach_each_local_host_at_its_address(tmp_path: Path) -> None:
    """regionstack_address, which the roles connect to, is the address the host's
    certificate carries: on the local target exactly its ansible_host."""
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    for hosts in OUTPUTS["hosts"].values():
        for host in hosts:
            values = yaml.safe_load((files.host_vars_dir / f"{host['name']}.yml").read_text())
            assert values["regionstack_address"] == host["address"], host["name"]


def test_every_host_is_named_by_the_rule_its_certificates_follow(tmp_path: Path) -> None:
    """Roles name hosts by regionstack_internal_name (server_name, rsyslog's permitted
    peers), so it must be the name infra/pki.py puts in the host's certificates."""
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    for hosts in OUTPUTS["hosts"].values():
        for host in hosts:
            values = yaml.safe_load((files.host_vars_dir / f"{host['name']}.yml").read_text())
            expected = f"{host['name']}.chunan.internal"
            assert values["regionstack_internal_name"] == expected, host["name"]


def test_host_vars_of_removed_hosts_are_deleted(tmp_path: Path) -> None:
    files = write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    stale = files.host_vars_dir / "chunan-portal-2.yml"
    stale.write_text("regionstack_tls_server_key_pem: old\n")
    write_inventory("chunan", OUTPUTS, tmp_path / "inv")
    assert not stale.exists()
    assert (files.host_vars_dir / "chunan-portal-1.yml").exists()


def test_a_host_without_tls_material_is_refused(tmp_path: Path) -> None:
    outputs = {**OUTPUTS, "tls": {"chunan-portal-1": OUTPUTS["tls"]["chunan-portal-1"]}}
    with pytest.raises(InventoryError, match="chunan-data-exchange-1"):
        write_inventory("chunan", outputs, tmp_path / "inv")
    assert not (tmp_path / "inv").exists(), "a refused inventory must leave no files"


@pytest.mark.parametrize(
    "missing", ["effective_config", "service_secrets", "gateway", "apt_sources", "tls", "inbound"]
)
def test_a_stack_without_role_outputs_is_refused(tmp_path: Path, missing: str) -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != missing}
    with pytest.raises(InventoryError, match=missing):
        write_inventory("chunan", outputs, tmp_path / "inv")
    assert not (tmp_path / "inv").exists(), "a refused inventory must leave no files"


def test_numbers_from_a_dynamic_provider_are_written_as_integers(tmp_path: Path) -> None:
    """Pulumi hands a dynamic provider 22.0 for 22; a role must still write `Port 22`."""
    config = {
        "region": {"stack": "chunan"},
        "standard": {"common": {"listens": [22.0, 9100.0]}, "ratio": 0.5},
    }
    files = write_inventory("chunan", {**OUTPUTS, "effective_config": config}, tmp_path / "inv")
    written = yaml.safe_load(files.group_vars.read_text())["regionstack_config"]["standard"]
    assert written["common"]["listens"] == [22, 9100]
    assert all(type(port) is int for port in written["common"]["listens"])
    assert written["ratio"] == 0.5


def test_the_exact_json_of_the_effective_config_wins_over_the_pulumi_value(
    tmp_path: Path,
) -> None:
    """Pulumi drops `parent: null` from outputs; the JSON text keeps it."""
    exact = {"region": {"code": "330000", "stack": "zhejiang", "parent": None}}
    outputs = {
        **OUTPUTS,
        "effective_config": {"region": {"code": "330000", "stack": "zhejiang"}},
        "effective_config_json": json.dumps(exact),
    }
    files = write_inventory("zhejiang", outputs, tmp_path / "inv")
    assert yaml.safe_load(files.group_vars.read_text())["regionstack_config"] == exact
