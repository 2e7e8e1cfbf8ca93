"""The `aws` target of the program: one region's standard design on AWS.

`deploy_aws(selection, region)` plans the region (infra/aws/plan.py), resolves the flow
matrix into security group rules (infra/aws/flows.py) and each host's own inbound list
(infra/aws/inbound.py), decides which services its partition offers
(infra/aws/partition.py), builds the AwsRegion component under an explicit provider
pinned to the region's AWS region, and issues the same PKI and service credentials as
the local target (infra/program/shared.py; certificates by host name only, as the hosts'
addresses are the auto scaling groups' to choose). Two inputs come from the stack's
configuration, because no file in this repository can know them:

* `regionstack:alb_certificate_arn` - the portal's public certificate in ACM of the
  region's own partition and region. Citizens' browsers must trust it, which the
  region's PKI (a private CA chain) is not, so it is issued by a public CA (in China,
  for the region's filed domain) and imported or requested in ACM by the operator;
* `regionstack:ami_id` - the Debian 12 image of the region (image ids differ per region
  and partition): the source of the image layers, and what the hosts boot on `image: bare`.

On `image: baked` (the default) each host group boots its component's image layer, the AMI
found by the layer's digest (infra/aws/images.py). `regionstack:image_pipeline true` makes
this stack build those AMIs for its AWS region too (modules/aws/image_pipeline.py): one
stack per account and AWS region does, the others only look them up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.flows import security_group_rules
from infra.aws.images import aws_layer_digests, debian_owner
from infra.aws.inbound import inbound_by_host
from infra.aws.partition import check_certificate_arn, missing_services
from infra.aws.plan import AwsRegionPlan, cloudwatch_retention, plan_aws_region
from infra.config.stack import StackSelection
from infra.program.shared import deploy_pki, deploy_secrets
from modules.aws.image_pipeline import ImagePipeline, ImagePipelineArgs
from modules.aws.region import AwsRegion, AwsRegionArgs
from modules.pki.region import PkiHost
from modules.region import Region

# The default user of the Debian cloud images; Ansible reaches hosts as this user through
# SSM or a bastion.
ADMIN_USER = "admin"
AMI_PATTERN = re.compile(r"^ami-[0-9a-f]{8,17}$")
CONFIG_NAMESPACE = "regionstack"


@dataclass(frozen=True)
class AwsInputs:
    certificate_arn: str
    ami_id: str
    image_pipeline: bool = False  # build the image layers' AMIs in this stack
    debian_owner: str | None = None  # the source AMI's owner; required in aws-cn


def inputs_from_config(config: pulumi.Config | None = None) -> AwsInputs:
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    missing = [
        f"`pulumi config set {CONFIG_NAMESPACE}:{key} <{what}>`"
        for key, what in (
            ("alb_certificate_arn", "the portal's ACM certificate ARN"),
            ("ami_id", "a Debian 12 AMI id of the region"),
        )
        if not config.get(key)
    ]
    if missing:
        raise pulumi.RunError(
            "the aws target needs inputs no file can know; set them with "
            + " and ".join(missing)
            + " (the aws runbook in docs/ explains both)"
        )
    return AwsInputs(
        certificate_arn=str(config.get("alb_certificate_arn")),
        ami_id=str(config.get("ami_id")),
        image_pipeline=config.get_bool("image_pipeline") or False,
        debian_owner=config.get("debian_owner"),
    )


def check_inputs(plan: AwsRegionPlan, inputs: AwsInputs) -> None:
    problems = []
    why = check_certificate_arn(inputs.certificate_arn, plan.partition, plan.region)
    if why:
        problems.append(f"regionstack:alb_certificate_arn: {why}")
    if not AMI_PATTERN.match(inputs.ami_id):
        problems.append(f"regionstack:ami_id: {inputs.ami_id!r} is not an AMI id (ami-...)")
    if problems:
        raise pulumi.RunError("; ".join(problems))


def skipped_services(plan: AwsRegionPlan) -> list[dict[str, str]]:
    return [
        {"service": spec.name, "purpose": spec.purpose, "source": spec.source}
        for spec in missing_services(plan.partition)
    ]


@dataclass(frozen=True)
class AwsDeployment:
    component: AwsRegion
    outputs: dict[str, Any]  # exactly what the stack exports


def deploy_aws(
    selection: StackSelection, region: Region, inputs: AwsInputs | None = None
) -> AwsDeployment:
    plan = plan_aws_region(selection.fleet, selection.region)
    inputs = inputs or inputs_from_config()
    check_inputs(plan, inputs)
    standard = selection.fleet.standard
    skipped = skipped_services(plan)
    for entry in skipped:
        pulumi.log.warn(
            f"{entry['service']} ({entry['purpose']}) is not offered in partition "
            f"{plan.partition.name} ({entry['source']}): skipped, listed in the "
            "skipped_services output",
            resource=region,
        )
    provider = aws.Provider(
        f"{plan.stack}-aws", region=plan.region, opts=pulumi.ResourceOptions(parent=region)
    )
    rules = security_group_rules(plan, standard)
    baked = selection.config["target"]["image"] == "baked"
    digests = aws_layer_digests(
        selection.project_dir, inputs.ami_id, selection.fleet.standard_data, ADMIN_USER
    )
    pipeline = (
        build_images(plan, inputs, digests, selection, region, provider)
        if inputs.image_pipeline
        else None
    )
    component = AwsRegion(
        f"{plan.stack}-aws-region",
        AwsRegionArgs(
            plan=plan,
            rules=rules,
            ami_id=inputs.ami_id,
            certificate_arn=inputs.certificate_arn,
            tls_min_version=standard.tls.min_version,
            log_retention_days=cloudwatch_retention(standard.log_retention_days),
            archive_retention_days=standard.log_retention_days,
            waf=plan.partition.offers("wafv2"),
            guardduty=plan.partition.offers("guardduty"),
            runtime_monitoring=plan.partition.offers("guardduty_runtime_monitoring"),
            layer_digests=digests if baked else None,
            layer_images=pipeline.images if pipeline else {},
        ),
        pulumi.ResourceOptions(parent=region, providers=[provider]),
    )
    # The same PKI and credentials as on the local target; the hosts' addresses are the
    # auto scaling groups' to choose, so their certificates name them by DNS only and the
    # roles reach peers by name (`regionstack_address`, roles/README.md).
    pki = deploy_pki(selection, region, [PkiHost(host.name) for host in plan.hosts])
    secrets = deploy_secrets(selection, region)
    outputs: dict[str, Any] = {
        "effective_config_json": json.dumps(selection.config, sort_keys=True, ensure_ascii=False),
        "admin_user": ADMIN_USER,
        "hosts": component.hosts,
        "tags": plan.tags,
        "partition": plan.partition.name,
        "aws_region": plan.region,
        "skipped_services": skipped,
        "vpc_id": component.vpc_id,
        "portal_endpoint": component.portal_endpoint,
        "security_groups": component.security_group_ids,
        "log_archive_bucket": component.log_archive_bucket,
        "inbound": inbound_by_host(plan, rules),
        # The layers the hosts boot from, by digest (none on the bare image).
        "image_layers": ({g.component: digests[g.component] for g in plan.groups} if baked else {}),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    # Exported by deploy_pki and deploy_secrets; listed so callers see every output.
    outputs["tls"] = pki.tls
    outputs["service_secrets"] = secrets.values
    return AwsDeployment(component, outputs)


def build_images(
    plan: AwsRegionPlan,
    inputs: AwsInputs,
    digests: dict[str, str],
    selection: StackSelection,
    region: Region,
    provider: aws.Provider,
) -> ImagePipeline:
    """The image layers' AMIs of the region's account and AWS region, built here."""
    return ImagePipeline(
        f"{plan.stack}-images",
        ImagePipelineArgs(
            stack=plan.stack,
            partition=plan.partition,
            region=plan.region,
            project_dir=str(selection.project_dir),
            digests=digests,
            standard=selection.fleet.standard_data,
            admin_user=ADMIN_USER,
            source_ami=inputs.ami_id,
            debian_owner=debian_owner(plan.partition, inputs.debian_owner),
            tags=plan.tags,
        ),
        pulumi.ResourceOptions(parent=region, providers=[provider]),
    )
