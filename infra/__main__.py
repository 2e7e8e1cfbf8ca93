"""A region stack: one region of the unified configuration, deployed to its target.

It deploys:
- the region component, exposing the effective configuration (standard ⊕ tier profile ⊕
  region) as outputs;
- on the `local` target, beneath it: the base image, the region's admin key pair, its
  bridge with the gateway's DNS, time and apt proxy, the nftables rendering of the flow
  matrix, and one systemd-nspawn machine per host of the tier's host groups.
The stack name selects the region; the stack file (`stacks/Pulumi.<stack>.yaml`, written
by `regionstack render`) must match it.
"""

from pathlib import Path

import pulumi

from infra.config.environment import local_state_root, passphrase
from infra.config.problems import ConfigInvalid
from infra.config.stack import StackMismatch, StackSelection, check_secrets_provider, select_region
from infra.local.firewall_rules import render_ruleset
from infra.local.image import ADMIN_USER, ImageError, controller_mirror, recipe_digest
from infra.local.plan import plan_region
from infra.local.preflight import PreflightError, check_controller
from modules.local.region import LocalRegion, LocalRegionArgs
from modules.region import Region, RegionArgs

CONFIG_DIR = Path(__file__).resolve().parent.parent / "stacks"


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


def deploy_local(selection: StackSelection, region: Region) -> None:
    try:
        check_controller()
        apt_upstream = controller_mirror().uri
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
            admin_user=ADMIN_USER,
            state_root=str(local_state_root()),
        ),
        pulumi.ResourceOptions(parent=region),
    )
    pulumi.export("hosts", local.hosts)
    pulumi.export("known_hosts", local.known_hosts)
    pulumi.export("admin_user", ADMIN_USER)
    pulumi.export("admin_private_key", local.admin_key.private_key)


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
pulumi.export(
    "region",
    {
        "code": region.code,
        "name": region.region_name,
        "tier": region.tier,
        "stack": selection.region.stack,
    },
)
pulumi.export("target", region.target)
pulumi.export("config_digest", region.config_digest)
pulumi.export("effective_config", region.effective_config)

if selection.region.target == "local":
    deploy_local(selection, region)
