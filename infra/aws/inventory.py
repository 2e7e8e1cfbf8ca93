"""The Ansible inventory of an `aws` region: its hosts found by their tags.

`regionstack inventory STACK` writes, for an aws stack, into the state directory:

* `aws_ec2.yml` - a configuration of the `amazon.aws.aws_ec2` inventory plugin (boto3):
  the running instances of the region's AWS region that carry `regionstack:stack=<stack>`
  (infra/aws/tags.py), named by their `Name` tag (the local plan's host names), with
  `ansible_host` their private address, grouped as on the local target - one group per
  component (`portal`, `data_exchange`, `hotline`, `security_monitoring`), `region_<code>`,
  and the tier twice: `tier_<tier>` (the tag contract) and `<tier>` (the local inventory's
  name, so playbooks written for either run unchanged). Every group comes from the hosts'
  own tags, so a host tagged wrongly shows up wrongly instead of silently fitting in.
  The plugin is not strict: strict mode turns one host lacking a tag into an empty
  inventory with only a warning, so a host without a contract tag is listed outside the
  group it lacks, and `regionstack audit` names it. The instances' own attributes are
  exposed prefixed `aws_` (`aws_instance_id`, `aws_tags`, ...) so none of them can
  shadow a role variable.
* `group_vars/all.yml` - what the local inventory gives every host, as far as it can be
  known without the stack's secrets: the region's identity, `regionstack_config`,
  `regionstack_gateway` and `regionstack_apt_sources` (the AWS equivalents, below), and the
  connection. When the stack's outputs carry the generated secrets, TLS material and
  inbound lists (roles/README.md), they are written exactly as on the local target,
  with the per-host `host_vars/`.

How Ansible reaches the hosts (they have no public address and no SSH key pair):

* `ssm` (the default, and the design's choice): the `amazon.aws.aws_ssm` connection, over
  the SSM agent the hosts run with their instance profile - no inbound port, no key to
  distribute, every session logged by Session Manager. It moves module files through an
  S3 bucket, which must be unversioned (they can hold secrets) and in the region;
  `--ssm-bucket` names it.
* `bastion`: SSH through a jump host inside the admin CIDRs (`--bastion USER@HOST`), for
  accounts where Session Manager is not allowed; the operator provides the key (the
  program installs none) through ssh-agent or ~/.ssh/config.

On AWS the region's "gateway" services are the VPC's: hosts resolve names through the VPC
resolver (DHCP gives it to them) and take time from the Amazon Time Sync Service at its
link-local address, which is what `regionstack_gateway` (used for NTP) becomes; packages
come from a Debian mirror through the NAT (the security groups' platform egress).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infra.aws.tags import (
    REGION_GROUP_PREFIX,
    TAG_CODE,
    TAG_NAME,
    TAG_ROLE,
    TAG_STACK,
    TAG_TIER,
    TIER_GROUP_PREFIX,
)
from infra.config.schema import COMPONENTS, DEBIAN_SUITE
from infra.inventory import (
    ROLE_OUTPUTS,
    InventoryError,
    build_group_vars,
    build_host_vars,
    dump_yaml,
    integral_numbers,
    write_private,
)

# The plugin reads only files named `*aws_ec2.yml` or `*aws_ec2.yaml`.
PLUGIN_FILE = "aws_ec2.yml"
PLUGIN = "amazon.aws.aws_ec2"
HOSTVARS_PREFIX = "aws_"
SSM_CONNECTION = "amazon.aws.aws_ssm"
# Amazon Time Sync Service: link-local, in every region of both partitions.
AMAZON_TIME_SYNC = "169.254.169.123"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org"
PYTHON = "/usr/bin/python3"

ConnectionKind = Literal["ssm", "bastion"]


@dataclass(frozen=True)
class Connection:
    """How Ansible reaches the hosts (see the module docstring for the choice)."""

    kind: ConnectionKind = "ssm"
    ssm_bucket: str | None = None  # the S3 bucket aws_ssm moves module files through
    bastion: str | None = None  # USER@HOST[:PORT] of the jump host

    def __post_init__(self) -> None:
        if self.kind == "bastion" and not self.bastion:
            raise InventoryError("a bastion connection needs the jump host: --bastion USER@HOST")
        if self.kind == "ssm" and self.bastion:
            raise InventoryError("--bastion and an SSM connection exclude each other")


@dataclass(frozen=True)
class AwsInventoryFiles:
    inventory: Path  # the plugin configuration, what `ansible-inventory -i` takes
    group_vars: Path
    host_vars_dir: Path
    missing: tuple[str, ...]  # what the inventory lacks and what that stops, one sentence each


def _tag(key: str) -> str:
    return f"{HOSTVARS_PREFIX}tags['{key}']"


def plugin_config(config: dict[str, Any]) -> dict[str, Any]:
    """The `amazon.aws.aws_ec2` configuration for a region's effective config (pure)."""
    target = config["target"]
    if target["kind"] != "aws":
        raise InventoryError(
            f"{config['region']['stack']} targets {target['kind']}: its inventory comes from "
            "its stack outputs, not from AWS tags"
        )
    return {
        "plugin": PLUGIN,
        "regions": [target["region"]],
        "filters": {
            f"tag:{TAG_STACK}": config["region"]["stack"],
            "instance-state-name": "running",
        },
        "hostnames": [f"tag:{TAG_NAME}"],
        "hostvars_prefix": HOSTVARS_PREFIX,
        "compose": {
            "ansible_host": f"{HOSTVARS_PREFIX}private_ip_address",
            # aws_ssm connects by instance id; ansible_host stays the address the flow
            # tests and the monitor use.
            "ansible_aws_ssm_instance_id": f"{HOSTVARS_PREFIX}instance_id",
        },
        "keyed_groups": [
            {"key": _tag(TAG_CODE), "prefix": REGION_GROUP_PREFIX.rstrip("_"), "separator": "_"},
            {"key": _tag(TAG_TIER), "prefix": TIER_GROUP_PREFIX.rstrip("_"), "separator": "_"},
            # The local inventory's tier group, named as the tier itself.
            {"key": _tag(TAG_TIER), "prefix": "", "separator": ""},
        ],
        # Only the standard's components become groups: a host with another role tag
        # is in none, and its absence from its component's group is what a test sees.
        "groups": {
            component: f"{_tag(TAG_ROLE)} | default('') == '{component}'"
            for component in COMPONENTS
        },
    }


def connection_vars(config: dict[str, Any], connection: Connection) -> dict[str, Any]:
    """The variables that make Ansible (and testinfra through it) reach the hosts."""
    common = {"ansible_become": True, "ansible_python_interpreter": PYTHON}
    if connection.kind == "bastion":
        return {
            **common,
            "ansible_connection": "ssh",
            # The Debian cloud images' default user (infra/program/aws.py ADMIN_USER).
            "ansible_user": "admin",
            "ansible_ssh_common_args": f"-o ProxyJump={connection.bastion}",
        }
    ssm: dict[str, Any] = {
        **common,
        "ansible_connection": SSM_CONNECTION,
        "ansible_aws_ssm_region": config["target"]["region"],
    }
    if connection.ssm_bucket:
        ssm["ansible_aws_ssm_bucket_name"] = connection.ssm_bucket
    return ssm


def apt_sources(mirror: str) -> list[dict[str, Any]]:
    """The hosts' apt sources on AWS: a Debian mirror, reached through the NAT."""
    base = mirror.rstrip("/")
    return [
        {"uri": f"{base}/debian", "suites": [DEBIAN_SUITE, f"{DEBIAN_SUITE}-updates"]},
        {"uri": f"{base}/debian-security", "suites": [f"{DEBIAN_SUITE}-security"]},
    ]


def identity_vars(config: dict[str, Any]) -> dict[str, Any]:
    region = config["region"]
    return {
        "regionstack_stack": region["stack"],
        "regionstack_code": region["code"],
        "regionstack_tier": region["tier"],
        "regionstack_target": config["target"]["kind"],
    }


def _by_component(hosts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The aws program's flat `hosts` output in the local target's shape."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for host in hosts:
        grouped.setdefault(str(host["component"]), []).append(host)
    return grouped


def build_aws_group_vars(
    config: dict[str, Any],
    connection: Connection,
    outputs: dict[str, Any] | None = None,
    mirror: str = DEFAULT_DEBIAN_MIRROR,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], tuple[str, ...]]:
    """`group_vars/all.yml`, the host_vars and the contract variables left out (pure).

    What the stack exports (roles/README.md) is used as on the local target; what it does
    not is derived where the configuration allows - the effective config, the time
    source, the apt sources - and reported missing otherwise: the service secrets, the
    TLS material and the inbound lists exist only in the stack (the roles' preflight
    checks stop without them).
    """
    derived = {
        "effective_config": config,
        "gateway": AMAZON_TIME_SYNC,
        "apt_sources": apt_sources(mirror),
    }
    known = {**derived, **integral_numbers(outputs or {})}
    if isinstance(known.get("hosts"), list):
        known["hosts"] = _by_component(known["hosts"])
    base = {**connection_vars(config, connection), **identity_vars(config)}
    missing = []
    if connection.kind == "ssm" and not connection.ssm_bucket:
        missing.append(
            "no ansible_aws_ssm_bucket_name: the SSM connection cannot move files to the "
            "hosts without it (--ssm-bucket)"
        )
    if all(key in known for key in (*ROLE_OUTPUTS, "hosts")):
        return {**base, **build_group_vars(known)}, build_host_vars(known), tuple(missing)
    deployed = known.get("effective_config_json")
    group_vars = {
        **base,
        # As deployed when the stack says so, else as in the configuration now.
        "regionstack_config": (
            json.loads(deployed) if isinstance(deployed, str) else known["effective_config"]
        ),
        "regionstack_gateway": known["gateway"],
        "regionstack_apt_sources": known["apt_sources"],
    }
    if "service_secrets" in known:
        group_vars["regionstack_secrets"] = known["service_secrets"]
    else:
        missing.append(
            "no regionstack_secrets (the stack exports no service_secrets): the roles that "
            "need them stop in their preflight"
        )
    missing.append(
        "no host_vars with regionstack_tls_* and regionstack_inbound (the stack exports no "
        "tls and inbound): the roles that need them stop in their preflight"
    )
    return group_vars, {}, tuple(missing)


def write_aws_inventory(
    config: dict[str, Any],
    directory: Path,
    connection: Connection | None = None,
    outputs: dict[str, Any] | None = None,
    mirror: str = DEFAULT_DEBIAN_MIRROR,
) -> AwsInventoryFiles:
    """Write the plugin configuration, group_vars and host_vars into `directory`."""
    connection = connection or Connection()
    document = plugin_config(config)
    group_vars, host_vars, missing = build_aws_group_vars(config, connection, outputs, mirror)
    files = AwsInventoryFiles(
        inventory=directory / PLUGIN_FILE,
        group_vars=directory / "group_vars" / "all.yml",
        host_vars_dir=directory / "host_vars",
        missing=missing,
    )
    # group_vars may carry the stack's secrets: private, like the local inventory's.
    write_private(files.group_vars, dump_yaml(group_vars))
    for stale in files.host_vars_dir.glob("*.yml") if files.host_vars_dir.is_dir() else ():
        if stale.stem not in host_vars:
            stale.unlink()
    for name, values in host_vars.items():
        write_private(files.host_vars_dir / f"{name}.yml", dump_yaml(values))
    write_private(files.inventory, dump_yaml(document))
    return files
