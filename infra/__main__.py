"""A region stack: one region of the unified configuration, deployed to its target.

It deploys:
- the region component, exposing the effective configuration (standard ⊕ tier profile ⊕
  region) as outputs;
- on the `local` target (infra/program/local.py), beneath it: the base image, the region's admin key pair, its
  bridge with the gateway's DNS, time and apt proxy, the nftables rendering of the flow
  matrix, and one systemd-nspawn machine per host of the tier's host groups;
- on the `aws` target instead (infra/program/aws.py): the VPC, security groups from the
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

from pathlib import Path

import pulumi

from infra.config.environment import passphrase
from infra.config.problems import ConfigInvalid
from infra.config.stack import StackMismatch, StackSelection, check_secrets_provider, select_region
from infra.program.shared import region_output
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
    from infra.program.local import deploy_local

    deploy_local(selection, region)
elif selection.region.target == "aws":
    from infra.program.aws import deploy_aws

    deploy_aws(selection, region)
