"""A region stack: one region of the unified configuration, deployed to its target.

It deploys:
- the region component, exposing the effective configuration (standard ⊕ tier profile ⊕
  region) as outputs;
- on the `local` target, beneath it: the base image, the region's admin key pair, its
  bridge with the gateway's DNS, time and apt proxy, the nftables rendering of the flow
  matrix, and one systemd-nspawn machine per host of the tier's host groups;
- on the `aws` target instead (infra/aws/program.py): the VPC, security groups from the
  flow matrix, the host groups, the portal's load balancer and WAF, KMS, the log archive,
  CloudTrail, flow logs and GuardDuty, in the region's partition;
- the region PKI: its CA (issued by the parent region's stack, read through a
  StackReference, or a root for a province), a server and a client certificate per host,
  and the CAs of its configured children, exported for their stacks;
- the service credentials, generated once and kept as secrets;
- the site playbook (playbooks/site.yml) run against the region's hosts, re-run whenever
  the hosts, the effective config or the roles and services change.
The stack name selects the region; the stack file (`stacks/Pulumi.<stack>.yaml`, written
by `regionstack render`) must match it.
"""

import json
from pathlib import Path
from typing import Any

import pulumi

from infra.config.environment import apt_cache_root, local_state_root, passphrase
from infra.config.problems import ConfigInvalid
from infra.config.stack import StackMismatch, StackSelection, check_secrets_provider, select_region
from infra.credentials import deploy_pki, deploy_secrets
from infra.layers import BASE
from infra.local.firewall_rules import inbound_by_host, render_ruleset
from infra.local.gateway_services import apt_sources
from infra.local.image import (
    ADMIN_USER,
    DEFAULT_RECIPE,
    ImageError,
    controller_mirror,
    controller_security_mirror,
    recipe_digest,
)
from infra.local.layers.build import current_digests
from infra.local.plan import RegionPlan, plan_region
from infra.local.preflight import PreflightError, check_controller
from infra.playbook import content_hash
from modules.local.layers import ImageLayersInputs
from modules.local.region import LocalRegion, LocalRegionArgs
from modules.playbook import Playbook, PlaybookInputs
from modules.region import Region, RegionArgs
from modules.region_pki import PkiHost

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_DIR / "stacks"


def select() -> StackSelection:
    stack_config = pulumi.Config("regionstack")
    try:
        selection = select_region(
            pulumi.get_stack(), CONFIG_DIR, stack_config.get("code"), stack_config.get("digest")
        )
        check_secrets_provider(selection.region, passphrase())
    except (StackMismatch, ConfigInvalid) as err:
        raise pulumi.RunError(str(err)) from None
    return selection


def host_layers(selection: StackSelection, plan: RegionPlan) -> ImageLayersInputs | None:
    """The layers the region's hosts boot from, by digest; None on the bare image."""
    if selection.config["target"]["image"] != "baked":
        return None
    digests = current_digests(PROJECT_DIR, selection.fleet.standard_data)
    wanted = {BASE, *(host.component for host in plan.hosts)}
    return ImageLayersInputs(
        project_dir=str(PROJECT_DIR),
        digests={name: digest for name, digest in digests.items() if name in wanted},
    )


def deploy_local(selection: StackSelection, region: Region) -> None:
    try:
        check_controller()
        apt_upstream = controller_mirror().uri
        apt_security_upstream = controller_security_mirror()
    except (PreflightError, ImageError) as err:
        raise pulumi.RunError(str(err)) from None
    plan = plan_region(selection.fleet, selection.region)
    local = LocalRegion(
        f"{plan.stack}-local",
        LocalRegionArgs(
            plan=plan,
            image_digest=recipe_digest(),
            ruleset=render_ruleset(plan, selection.fleet.standard),
            apt_upstream=apt_upstream,
            apt_security_upstream=apt_security_upstream,
            admin_user=ADMIN_USER,
            state_root=str(local_state_root()),
            apt_cache_dir=str(apt_cache_root() / plan.stack),
            layers=host_layers(selection, plan),
        ),
        pulumi.ResourceOptions(parent=region),
    )
    pki = deploy_pki(selection, region, [PkiHost(h.name, h.address) for h in plan.hosts])
    secrets = deploy_secrets(selection, region)
    # The inventory is built from exactly these, by the Playbook resource at deploy time
    # and by `regionstack inventory` from the stack's outputs afterwards.
    outputs: dict[str, Any] = {
        "region": region_output(selection, region),
        "target": region.target,
        "effective_config": region.effective_config,
        "effective_config_json": json.dumps(selection.config, sort_keys=True, ensure_ascii=False),
        "hosts": local.hosts,
        "known_hosts": local.known_hosts,
        "admin_user": ADMIN_USER,
        "admin_private_key": local.admin_key.private_key,
        "gateway": plan.gateway,
        "apt_sources": apt_sources(plan.gateway, DEFAULT_RECIPE.suite, apt_security_upstream),
        "inbound": inbound_by_host(plan, selection.fleet.standard),
        "image_layers": local.image_layers,
        "current_layers": local.current_layers,
        "tls": pki.tls,
        "service_secrets": secrets.values,
    }
    for key in ("hosts", "known_hosts", "admin_user", "admin_private_key", "gateway"):
        pulumi.export(key, outputs[key])
    pulumi.export("apt_sources", outputs["apt_sources"])
    pulumi.export("effective_config_json", outputs["effective_config_json"])
    pulumi.export("inbound", outputs["inbound"])
    pulumi.export("image_layers", outputs["image_layers"])
    pulumi.export("current_layers", outputs["current_layers"])
    # `pulumi config set regionstack:configure false` provisions the hosts without running
    # the roles on them (for work on the target itself); the default configures.
    if pulumi.Config("regionstack").get_bool("configure") is not False:
        configure(plan.stack, outputs, region, local)


def configure(stack: str, outputs: dict[str, Any], region: Region, local: LocalRegion) -> Playbook:
    return Playbook(
        f"{stack}-site",
        PlaybookInputs(
            stack=stack,
            project_dir=str(PROJECT_DIR),
            content_hash=content_hash(PROJECT_DIR),
            outputs=pulumi.Output.all(**outputs),
        ),
        pulumi.ResourceOptions(parent=region, depends_on=[local]),
    )


def region_output(selection: StackSelection, region: Region) -> pulumi.Output[dict[str, Any]]:
    return pulumi.Output.all(
        code=region.code, name=region.region_name, tier=region.tier, stack=selection.region.stack
    )


selection = select()
config = selection.config
region = Region(
    selection.region.stack,
    RegionArgs(
        code=selection.region.code,
        name=selection.region.name,
        tier=config["region"]["tier"],
        target=selection.region.target,
        effective_config=config,
        config_digest=selection.digest,
    ),
)
pulumi.export("region", region_output(selection, region))
pulumi.export("target", region.target)
pulumi.export("config_digest", region.config_digest)
pulumi.export("effective_config", region.effective_config)

if selection.region.target == "local":
    deploy_local(selection, region)
elif selection.region.target == "aws":
    from infra.aws.program import deploy_aws

    deploy_aws(selection, region)
