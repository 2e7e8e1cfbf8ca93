"""An `aws` region: the standard design on one VPC, built from the region's plan.

Beneath it: the region's KMS key, the VPC, the security groups generated from the flow
matrix, the hosts' identity and one host group per component, the portal's load
balancer (and WAF), the log archive with CloudTrail, flow logs and GuardDuty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.aws.flows import ALB_GROUP, SgRule
from infra.aws.plan import AwsRegionPlan
from infra.layers import layer_of
from infra.names import hostname_part
from modules.aws.alb import PortalLoadBalancer, PortalLoadBalancerArgs
from modules.aws.detection import Detection, DetectionArgs
from modules.aws.hosts import HostGroup, HostGroupArgs, InstanceIdentity, InstanceIdentityArgs
from modules.aws.kms import RegionKey, RegionKeyArgs
from modules.aws.log_archive import LogArchive, LogArchiveArgs
from modules.aws.network import Network, NetworkArgs
from modules.aws.security_groups import SecurityGroups, SecurityGroupsArgs

PORTAL = "portal"


@dataclass
class AwsRegionArgs:
    plan: AwsRegionPlan
    rules: list[SgRule]
    ami_id: str
    certificate_arn: str
    tls_min_version: str
    log_retention_days: int  # CloudWatch's allowed value at or above the standard's
    archive_retention_days: int  # the standard's, for the S3 archive
    waf: bool
    guardduty: bool
    runtime_monitoring: bool
    # `image: baked`: every layer's digest, each host group booting its component's
    # layer; None boots `ami_id` itself. The Images, when this stack builds them too.
    layer_digests: Mapping[str, str] | None = None
    layer_images: Mapping[str, pulumi.Resource] = field(default_factory=dict)


class AwsRegion(pulumi.ComponentResource):
    """Everything one region runs on AWS; give it the region's provider."""

    def __init__(
        self, name: str, args: AwsRegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:AwsRegion", name, None, opts)
        plan, tags = args.plan, args.plan.tags
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        zones = aws.get_availability_zones_output(state="available", opts=invoke).names.apply(
            lambda names: _enough_zones(plan, names)
        )
        scaling_role = self._create_scaling_role(name, plan)
        key = RegionKey(
            f"{name}-kms",
            RegionKeyArgs(
                stack=plan.stack,
                partition=plan.partition,
                region=plan.region,
                account_id=account_id,
                tags=tags,
                volume_launchers=[scaling_role.arn] if scaling_role else [],
            ),
            child,
        )
        network = Network(f"{name}-network", NetworkArgs(plan=plan, zone_names=zones), child)
        groups = SecurityGroups(
            f"{name}-sg",
            SecurityGroupsArgs(
                stack=plan.stack, vpc_id=network.vpc_id, rules=args.rules, tags=tags
            ),
            child,
        )
        edge = PortalLoadBalancer(
            f"{name}-edge",
            PortalLoadBalancerArgs(
                stack=plan.stack,
                vpc_id=network.vpc_id,
                subnet_ids=network.subnet_ids["public"],
                security_group_id=groups.ids[ALB_GROUP],
                certificate_arn=args.certificate_arn,
                tls_min_version=args.tls_min_version,
                waf=args.waf,
                kms_key_arn=key.arn,
                log_retention_days=args.log_retention_days,
                tags=tags,
            ),
            child,
        )
        identity = InstanceIdentity(
            f"{name}-hosts",
            InstanceIdentityArgs(stack=plan.stack, partition=plan.partition, tags=tags),
            child,
        )
        self.hosts: list[dict[str, str]] = []
        for group in plan.groups:
            layer = layer_of(group.component).name
            host_group = HostGroup(
                f"{name}-{hostname_part(group.component)}",
                HostGroupArgs(
                    stack=plan.stack,
                    group=group,
                    partition=plan.partition,
                    region=plan.region,
                    ami_id=args.ami_id,
                    subnet_ids=network.subnet_ids[group.subnet_tier],
                    security_group_id=groups.ids[group.component],
                    instance_profile=identity.profile.name,
                    kms_key_arn=key.arn,
                    tags=tags,
                    target_group_arns=(
                        [edge.target_group.arn] if group.component == PORTAL else None
                    ),
                    service_linked_role_arn=(
                        scaling_role.arn if scaling_role and group.auto_scaling else None
                    ),
                    layer_digest=args.layer_digests[layer] if args.layer_digests else None,
                    layer_image=args.layer_images.get(layer),
                ),
                child,
            )
            self.hosts.extend(host_group.hosts)
        archive = LogArchive(
            f"{name}-logs",
            LogArchiveArgs(
                stack=plan.stack,
                partition=plan.partition,
                region=plan.region,
                account_id=account_id,
                kms_key_arn=key.arn,
                retention_days=args.archive_retention_days,
                tags=tags,
            ),
            child,
        )
        Detection(
            f"{name}-detection",
            DetectionArgs(
                stack=plan.stack,
                partition=plan.partition,
                vpc_id=network.vpc_id,
                kms_key_arn=key.arn,
                log_retention_days=args.log_retention_days,
                guardduty=args.guardduty,
                runtime_monitoring=args.runtime_monitoring,
                tags=tags,
            ),
            child,
        )
        self.vpc_id = network.vpc_id
        self.portal_endpoint = edge.dns_name
        self.security_group_ids = groups.ids
        self.log_archive_bucket = archive.bucket_name
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "portal_endpoint": self.portal_endpoint,
                "security_group_ids": self.security_group_ids,
                "log_archive_bucket": self.log_archive_bucket,
                "kms_key_arn": self.kms_key_arn,
                "hosts": self.hosts,
            }
        )

    def _create_scaling_role(
        self, name: str, plan: AwsRegionPlan
    ) -> aws.iam.ServiceLinkedRole | None:
        """The region's own auto scaling service-linked role (a custom suffix, so it
        neither clashes with nor depends on the account's default one); the KMS key
        policy lets it launch volumes encrypted with the region's key."""
        if not any(g.auto_scaling for g in plan.groups):
            return None
        return aws.iam.ServiceLinkedRole(
            f"{name}-autoscaling-role",
            aws_service_name=plan.partition.service_principal("autoscaling"),
            custom_suffix=plan.stack,
            description=f"regionstack {plan.stack}: auto scaling groups of the hosts",
            tags=plan.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _enough_zones(plan: AwsRegionPlan, names: list[str]) -> list[str]:
    ordered = sorted(names)
    if len(ordered) < plan.public_zones:
        raise pulumi.RunError(
            f"{plan.region} offers {len(ordered)} availability zone(s) to this account; the "
            f"{plan.tier} profile needs {plan.public_zones} (hosts in {plan.zones}, the load "
            "balancer in at least two)"
        )
    return ordered
