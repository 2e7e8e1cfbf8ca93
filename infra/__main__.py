"""A region stack: one region of the unified configuration, deployed to its target.

It deploys the region component with the region's effective configuration (standard ⊕
tier profile ⊕ region) as outputs. The stack name selects the region; the stack file
(`stacks/Pulumi.<stack>.yaml`, written by `regionstack render`) must match it.
"""

import os
from pathlib import Path

import pulumi

from infra.config.problems import ConfigInvalid
from infra.config.stack import StackMismatch, check_secrets_provider, select_region
from modules.region import Region, RegionArgs

CONFIG_DIR = Path(__file__).resolve().parent.parent / "stacks"

stack_config = pulumi.Config("regionstack")
try:
    selection = select_region(
        pulumi.get_stack(), CONFIG_DIR, stack_config.get("code"), stack_config.get("digest")
    )
    check_secrets_provider(selection.region, os.environ.get("PULUMI_CONFIG_PASSPHRASE"))
except (StackMismatch, ConfigInvalid) as err:
    raise pulumi.RunError(str(err)) from None

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

pulumi.export("region", {"code": region.code, "name": region.region_name, "tier": region.tier})
pulumi.export("target", region.target)
pulumi.export("config_digest", region.config_digest)
pulumi.export("effective_config", region.effective_config)
