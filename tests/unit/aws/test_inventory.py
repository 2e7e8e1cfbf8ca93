"""The aws inventory (infra/aws/inventory.py) as Ansible reads it.

The real `ansible-inventory --list` of the generated aws_ec2.yml runs the
`amazon.aws.aws_ec2` plugin against the emulator, in both partitions, over the
non-compliant account of tests/unit/aws/emulator/account.py: every host of the plan running
(portals through auto scaling groups), one host stripped of its code tag, one with a
public address, a stopped host of the stack and another stack's host beside them.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.aws.inventory import (
    AMAZON_TIME_SYNC,
    DEFAULT_DEBIAN_MIRROR,
    SSM_CONNECTION,
    Connection,
    apt_sources,
    build_aws_group_vars,
    plugin_config,
    write_aws_inventory,
)
from infra.config.effective import effective_config
from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS
from infra.inventory import ROLE_OUTPUTS, InventoryError
from infra.names import host_name
from infra.verify.inventory import parse_listing
from tests.unit.aws.emulator import NONCOMPLIANT, PARTITION_IDS, PARTITIONS, process_env
from tests.unit.aws.emulator.account import UNTAGGED_HOST, BuiltRegion

# Every test here runs against the loopback AWS emulator, never AWS.
pytestmark = pytest.mark.usefixtures("emulator_only")

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"
SSM_BUCKET = "regionstack-ssm-transfer"
UNSAFE = "__ansible_unsafe"  # how `ansible-inventory --list` marks values from a plugin


@dataclass(frozen=True)
class Listed:
    built: BuiltRegion
    config: dict[str, Any]
    inventory: Path
    listing: dict[str, Any]
    stderr: str

    def members(self, group: str) -> set[str]:
        entry = self.listing.get(group, {})
        hosts = set(entry.get("hosts", []))
        for child in entry.get("children", []):
            hosts |= self.members(child)
        return hosts

    def hostvars(self, name: str) -> dict[str, Any]:
        return {k: plain(v) for k, v in self.listing["_meta"]["hostvars"][name].items()}

    @property
    def planned(self) -> set[str]:
        return {h.name for h in self.built.plan.hosts}


def plain(value: Any) -> Any:
    """A value of the listing without Ansible's unsafe marking."""
    if isinstance(value, dict):
        if set(value) == {UNSAFE}:
            return value[UNSAFE]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@pytest.fixture(scope="module", params=PARTITIONS, ids=PARTITION_IDS)
def listed(
    request: pytest.FixtureRequest,
    deployed: Callable[[str, str], BuiltRegion],
    emulated_fleet: Fleet,
    emulator: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Listed:
    _, stack = request.param
    built = deployed(stack, NONCOMPLIANT)
    config = effective_config(emulated_fleet, emulated_fleet.region(stack))
    files = write_aws_inventory(
        config, tmp_path_factory.mktemp(f"inventory-{stack}"), Connection(ssm_bucket=SSM_BUCKET)
    )
    result = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(files.inventory), "--list"],
        cwd=ROOT,
        env=process_env(emulator, built.account),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Listed(built, config, files.inventory, json.loads(result.stdout), result.stderr)


def test_the_plugin_parses_the_generated_file(listed: Listed) -> None:
    # ansible-inventory exits 0 even when no plugin could read the source.
    assert "Unable to parse" not in listed.stderr, listed.stderr
    assert "reserved name" not in listed.stderr, listed.stderr


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_group_holds_its_running_hosts(listed: Listed, component: str) -> None:
    expected = {h.name for h in listed.built.plan.group(component).hosts}
    assert listed.members(component) == expected, listed.inventory


@pytest.mark.parametrize("prefix", ["tier_", ""], ids=["tier_<tier>", "<tier>"])
def test_tier_groups_hold_every_running_host(listed: Listed, prefix: str) -> None:
    group = f"{prefix}{listed.built.plan.tier}"
    assert listed.members(group) == listed.planned, group


def test_region_group_leaves_out_the_host_without_its_code_tag(listed: Listed) -> None:
    untagged = host_name(listed.built.plan.stack, *UNTAGGED_HOST)
    group = f"region_{listed.built.plan.code}"
    assert listed.members(group) == listed.planned - {untagged}, group


def test_other_stacks_and_stopped_hosts_are_not_listed(listed: Listed) -> None:
    listed_hosts = set(listed.listing["_meta"]["hostvars"])
    assert listed.built.neighbour_host not in listed_hosts
    assert listed.built.stopped_host not in listed_hosts
    assert listed_hosts == listed.planned


def test_ansible_host_is_the_private_address(listed: Listed) -> None:
    addresses = {name: listed.hostvars(name)["ansible_host"] for name in listed.planned}
    expected = {
        name: instance["PrivateIpAddress"] for name, instance in listed.built.instances.items()
    }
    assert addresses == expected


def test_ssm_reaches_each_host_by_its_instance_id(listed: Listed) -> None:
    keys = (
        "ansible_connection",
        "ansible_aws_ssm_instance_id",
        "ansible_aws_ssm_region",
        "ansible_aws_ssm_bucket_name",
    )
    reached = {name: [listed.hostvars(name).get(k) for k in keys] for name in listed.planned}
    region = listed.built.plan.region
    expected = {
        name: [SSM_CONNECTION, instance["InstanceId"], region, SSM_BUCKET]
        for name, instance in listed.built.instances.items()
    }
    assert reached == expected


def _expected_value(listed: Listed, variable: str) -> Any:
    region = listed.config["region"]
    return {
        "regionstack_config": listed.config,
        "regionstack_stack": region["stack"],
        "regionstack_code": region["code"],
        "regionstack_tier": region["tier"],
        "regionstack_target": "aws",
        "regionstack_gateway": AMAZON_TIME_SYNC,
        "regionstack_apt_sources": apt_sources(DEFAULT_DEBIAN_MIRROR),
    }[variable]


@pytest.mark.parametrize(
    "variable",
    [
        "regionstack_config",
        "regionstack_stack",
        "regionstack_code",
        "regionstack_tier",
        "regionstack_target",
        "regionstack_gateway",
        "regionstack_apt_sources",
    ],
)
def test_every_host_gets_the_contract_variable(listed: Listed, variable: str) -> None:
    values = {name: listed.hostvars(name).get(variable) for name in listed.planned}
    expected = _expected_value(listed, variable)
    assert values == dict.fromkeys(listed.planned, expected), variable


def test_verify_reads_the_inventory(listed: Listed) -> None:
    """`regionstack verify` resolves the same listing into the region it checks."""
    region = parse_listing(listed.listing, str(listed.inventory))
    assert region.stack == listed.built.plan.stack
    assert set(region.groups["all"]) == listed.planned


# --- the files, without the emulator ---------------------------------------------------


@pytest.fixture
def ningxia_config(emulated_fleet: Fleet) -> dict[str, Any]:
    return effective_config(emulated_fleet, emulated_fleet.region("ningxia"))


def test_a_local_region_has_no_tag_inventory(emulated_fleet: Fleet) -> None:
    with pytest.raises(InventoryError, match="targets local"):
        plugin_config(effective_config(emulated_fleet, emulated_fleet.region("zhejiang")))


def test_without_stack_outputs_the_missing_variables_are_named(
    ningxia_config: dict[str, Any],
) -> None:
    group_vars, host_vars, missing = build_aws_group_vars(ningxia_config, Connection())
    assert "regionstack_secrets" not in group_vars
    assert host_vars == {}
    assert any("regionstack_secrets" in m for m in missing)
    assert any("--ssm-bucket" in m for m in missing)


def _role_outputs(config: dict[str, Any]) -> dict[str, Any]:
    """Outputs of a stack that exports everything roles/README.md promises."""
    names = [f"ningxia-{c.replace('_', '-')}-1" for c in COMPONENTS]
    outputs: dict[str, Any] = {
        "effective_config": config,
        "effective_config_json": json.dumps(config),
        "service_secrets": {"portal_secret_key": "s3cret"},
        "gateway": "10.64.0.2",
        "apt_sources": [{"uri": "http://mirror/debian", "suites": ["bookworm"]}],
        "tls": {n: {"ca_pem": "CA", "server_cert_pem": "CERT"} for n in names},
        "inbound": {
            n: [{"flow": "admin-ssh", "ports": [22.0], "sources": ["10.250.0.0/24"]}] for n in names
        },
        # The aws program's shape: one flat list (infra/program/aws.py).
        "hosts": [
            {"name": n, "component": c, "zone": "0"} for c, n in zip(COMPONENTS, names, strict=True)
        ],
    }
    assert set(ROLE_OUTPUTS) <= set(outputs)
    return outputs


def test_stack_outputs_complete_the_local_contract(ningxia_config: dict[str, Any]) -> None:
    group_vars, host_vars, missing = build_aws_group_vars(
        ningxia_config, Connection(ssm_bucket=SSM_BUCKET), _role_outputs(ningxia_config)
    )
    assert missing == ()
    assert group_vars["regionstack_secrets"] == {"portal_secret_key": "s3cret"}
    assert group_vars["regionstack_gateway"] == "10.64.0.2"
    assert host_vars["ningxia-portal-1"]["regionstack_tls_ca_pem"] == "CA"
    assert host_vars["ningxia-portal-1"]["regionstack_inbound"][0]["ports"] == [22]


def test_peers_reach_each_aws_host_by_its_region_internal_name(
    ningxia_config: dict[str, Any],
) -> None:
    """No address is known when the certificates are issued: the roles connect by the name
    the certificate carries, which the common role writes into /etc/hosts on aws."""
    group_vars, host_vars, _ = build_aws_group_vars(
        ningxia_config, Connection(ssm_bucket=SSM_BUCKET), _role_outputs(ningxia_config)
    )
    assert {name: values["regionstack_address"] for name, values in host_vars.items()} == {
        name: f"{name}.ningxia.internal" for name in host_vars
    }
    assert group_vars["regionstack_target"] == "aws"  # turns common's hosts_file concern on


def test_secrets_without_tls_material_leave_only_the_host_vars_missing(
    ningxia_config: dict[str, Any],
) -> None:
    outputs = _role_outputs(ningxia_config)
    del outputs["tls"]
    group_vars, host_vars, missing = build_aws_group_vars(
        ningxia_config, Connection(ssm_bucket=SSM_BUCKET), outputs
    )
    assert group_vars["regionstack_secrets"] == {"portal_secret_key": "s3cret"}
    assert host_vars == {}
    assert len(missing) == 1 and "regionstack_tls_*" in missing[0]


def test_bastion_reaches_the_hosts_over_ssh_through_the_jump_host(
    ningxia_config: dict[str, Any],
) -> None:
    group_vars, _, missing = build_aws_group_vars(
        ningxia_config, Connection("bastion", bastion="ops@bastion.example")
    )
    assert group_vars["ansible_connection"] == "ssh"
    assert group_vars["ansible_ssh_common_args"] == "-o ProxyJump=ops@bastion.example"
    assert not any("--ssm-bucket" in m for m in missing)


def test_a_bastion_connection_needs_the_jump_host() -> None:
    with pytest.raises(InventoryError, match="--bastion"):
        Connection("bastion")


def test_written_files_are_private_and_read_back(
    ningxia_config: dict[str, Any], tmp_path: Path
) -> None:
    files = write_aws_inventory(
        ningxia_config, tmp_path, Connection(), _role_outputs(ningxia_config)
    )
    written = [files.inventory, files.group_vars, files.host_vars_dir / "ningxia-portal-1.yml"]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert yaml.safe_load(files.inventory.read_text()) == plugin_config(ningxia_config)
    assert files.inventory.name.endswith("aws_ec2.yml")  # the plugin reads no other name
