"""What every target deploys for its region, the same on `local` and `aws`.

* the region PKI (modules/pki/region.py): its CA - issued by the parent region's stack and
  read through a StackReference (`child_ca_<code>`), or a root for a province -, a server
  and a client certificate per host, and the CAs of its configured children, exported for
  their stacks;
* the service credentials, generated once and kept as secrets.

Both are exported (`tls`, `service_secrets`, `child_ca_<code>`), and the inventory
(infra/inventory.py) turns them into the roles' TLS material and secrets on either target.
The region's identity (`region_output`) is one output of every target's stack too.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pulumi

from infra.config.stack import StackSelection
from modules.pki.region import PkiHost, RegionPki, RegionPkiArgs
from modules.region import Region
from modules.secrets import SERVICE_SECRET_NAMES, ServiceSecrets, ServiceSecretsInputs


def issued_ca(selection: StackSelection) -> pulumi.Output[dict[str, str]] | None:
    """The CA the parent region's stack issued for this region, or None for a root."""
    parent = selection.config["region"]["parent"]
    if parent is None:
        return None
    code = selection.region.code
    reference = pulumi.StackReference(
        f"{pulumi.get_organization()}/{pulumi.get_project()}/{parent['stack']}"
    )

    def require(value: dict[str, str] | None) -> dict[str, str]:
        if not value:
            raise pulumi.RunError(
                f"the parent stack {parent['stack']!r} has no child_ca_{code} output: "
                f"deploy the parent first (`pulumi up --stack {parent['stack']}`), with "
                f"{selection.region.stack!r} in the configuration"
            )
        return value

    return reference.get_output(f"child_ca_{code}").apply(require)


def deploy_pki(selection: StackSelection, region: Region, hosts: list[PkiHost]) -> RegionPki:
    config = selection.config
    pki = RegionPki(
        f"{selection.region.stack}-pki",
        RegionPkiArgs(
            code=selection.region.code,
            name=selection.region.name,
            stack=selection.region.stack,
            hosts=hosts,
            children={
                code: selection.fleet.region(code).name for code in config["region"]["children"]
            },
            issued_ca=issued_ca(selection),
        ),
        pulumi.ResourceOptions(parent=region),
    )
    pulumi.export("tls", pki.tls)
    for code in config["region"]["children"]:
        pulumi.export(f"child_ca_{code}", pki.children.apply(partial(_entry, code)))
    return pki


def _entry(key: str, mapping: dict[str, Any]) -> Any:
    return mapping[key]


def deploy_secrets(selection: StackSelection, region: Region) -> ServiceSecrets:
    secrets = ServiceSecrets(
        f"{selection.region.stack}-service-secrets",
        ServiceSecretsInputs(stack=selection.region.stack, names=list(SERVICE_SECRET_NAMES)),
        pulumi.ResourceOptions(parent=region),
    )
    pulumi.export("service_secrets", secrets.values)
    return secrets


def region_output(selection: StackSelection, region: Region) -> pulumi.Output[dict[str, Any]]:
    return pulumi.Output.all(
        code=region.code, name=region.region_name, tier=region.tier, stack=selection.region.stack
    )
