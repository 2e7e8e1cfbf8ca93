"""The region's hosts: the instance identity, and one host group per component.

Every host runs in a private or data subnet without a public address, is reached through
SSM (its instance profile carries the partition's AmazonSSMManagedInstanceCore policy),
requires IMDSv2 and boots from a volume encrypted with the region's key. A component
whose tier may run more than one node is one auto scaling group per host, each of
capacity one in its zone: a failed host is replaced under the same `Name`, and scaling
within the tier's bounds adds groups without touching the others (infra/aws/plan.py).
A host boots from its component's image layer, the AMI tagged with the layer's digest
(infra/aws/images.py), or from the Debian image itself on `image: bare`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.images import choose_image, image_filters
from infra.aws.partition import Partition
from infra.aws.plan import AwsHostPlan, HostGroupPlan
from infra.aws.tags import TAG_NAME, role_tags
from modules.aws.policy import assume_role

SSM_POLICY = "AmazonSSMManagedInstanceCore"
ROOT_VOLUME_GIB = 30
ROOT_DEVICE = "/dev/xvda"

# Boot script: name the host after its `Name` tag (read from the instance metadata over
# IMDSv2, so the same launch template serves every host of a group), and install the SSM
# agent from the region's own package bucket when the image lacks it.
USER_DATA = """#!/bin/sh
set -eu
imds=http://169.254.169.254/latest
token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/api/token")
name=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/tags/instance/Name")
hostnamectl set-hostname "$name"
if ! systemctl list-unit-files amazon-ssm-agent.service >/dev/null 2>&1; then
  curl -sfo /tmp/amazon-ssm-agent.deb {ssm_agent_package}
  dpkg -i /tmp/amazon-ssm-agent.deb
  systemctl enable --now amazon-ssm-agent
fi
"""


def user_data(partition: Partition, region: str) -> str:
    return USER_DATA.replace("{ssm_agent_package}", partition.ssm_agent_package(region))


METADATA_OPTIONS = {
    "http_endpoint": "enabled",
    "http_tokens": "required",  # IMDSv2 only
    "http_put_response_hop_limit": 1,
    "instance_metadata_tags": "enabled",  # the boot script reads the Name tag
}


@dataclass
class InstanceIdentityArgs:
    stack: str
    partition: Partition
    tags: dict[str, str]


class InstanceIdentity(pulumi.ComponentResource):
    """The hosts' IAM role and instance profile: SSM access, nothing else."""

    def __init__(
        self, name: str, args: InstanceIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:InstanceIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"regionstack {args.stack} hosts: SSM-managed instances",
            assume_role_policy=assume_role(args.partition.service_principal("ec2")),
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm",
            role=self.role.name,
            policy_arn=args.partition.managed_policy(SSM_POLICY),
            opts=child,
        )
        self.profile = aws.iam.InstanceProfile(
            f"{name}-profile", role=self.role.name, tags=args.tags, opts=child
        )
        self.register_outputs({"role_arn": self.role.arn, "profile": self.profile.name})


@dataclass
class HostGroupArgs:
    stack: str
    group: HostGroupPlan
    partition: Partition
    region: str
    ami_id: pulumi.Input[str]  # the Debian image, booted as is when no layer digest is given
    subnet_ids: Sequence[pulumi.Input[str]]  # of the group's subnet tier, one per zone
    security_group_id: pulumi.Input[str]
    instance_profile: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    tags: dict[str, str]
    target_group_arns: list[pulumi.Input[str]] | None = None  # the portal's, behind the ALB
    # The auto scaling service-linked role whose use of the key the key policy allows.
    service_linked_role_arn: pulumi.Input[str] | None = None
    # `image: baked`: the digest of the component's layer, whose AMI the hosts boot.
    layer_digest: str | None = None
    # The Image that builds that AMI when this stack builds the layers too: the lookup
    # waits for it (and is unknown in a preview that would create it).
    layer_image: pulumi.Resource | None = None


class HostGroup(pulumi.ComponentResource):
    """The hosts of one component: instances, or one auto scaling group per host."""

    def __init__(
        self, name: str, args: HostGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:HostGroup", name, None, opts)
        self._tags = role_tags(args.tags, args.group.component)
        self._ami = self._image(args)
        # What the inventory and the outputs need of each host; the instances themselves
        # are found by their tags (infra/aws/tags.py).
        self.hosts = [
            {"name": h.name, "component": h.component, "zone": str(h.zone)}
            for h in args.group.hosts
        ]
        if args.group.auto_scaling:
            template = self._create_launch_template(name, args)
            for host in args.group.hosts:
                self._create_scaling_group(name, args, host, template)
        else:
            for host in args.group.hosts:
                self._create_instance(name, args, host)
        self.register_outputs({"hosts": self.hosts})

    def _image(self, args: HostGroupArgs) -> pulumi.Input[str]:
        """The AMI the group boots: its layer's, found by the digest tag in this account."""
        digest = args.layer_digest
        if digest is None:
            return args.ami_id
        found = aws.ec2.get_ami_ids_output(
            owners=["self"],
            filters=image_filters(digest),  # type: ignore[arg-type]
            opts=pulumi.InvokeOutputOptions(
                parent=self, depends_on=[args.layer_image] if args.layer_image else None
            ),
        )
        component, region = args.group.component, args.region
        return found.ids.apply(lambda ids: choose_image(ids, component, digest, region))

    @staticmethod
    def _volume(args: HostGroupArgs) -> dict[str, pulumi.Input[str] | int | bool]:
        return {
            "volume_size": ROOT_VOLUME_GIB,
            "volume_type": "gp3",
            "encrypted": True,
            "kms_key_id": args.kms_key_arn,
            "delete_on_termination": True,
        }

    def _create_instance(self, name: str, args: HostGroupArgs, host: AwsHostPlan) -> None:
        tags = {**self._tags, TAG_NAME: host.name}
        instance = aws.ec2.Instance(  # type: ignore[call-overload]
            f"{name}-{host.index}",
            ami=self._ami,
            instance_type=args.group.instance_type,
            subnet_id=args.subnet_ids[host.zone],
            vpc_security_group_ids=[args.security_group_id],
            associate_public_ip_address=False,
            iam_instance_profile=args.instance_profile,
            metadata_options=METADATA_OPTIONS,
            root_block_device=self._volume(args),
            user_data=user_data(args.partition, args.region),
            monitoring=True,
            tags=tags,
            volume_tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        for arn in args.target_group_arns or []:
            aws.lb.TargetGroupAttachment(
                f"{name}-{host.index}-target",
                target_group_arn=arn,
                target_id=instance.id,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _create_launch_template(self, name: str, args: HostGroupArgs) -> aws.ec2.LaunchTemplate:
        encoded = base64.b64encode(user_data(args.partition, args.region).encode()).decode()
        template: aws.ec2.LaunchTemplate = aws.ec2.LaunchTemplate(  # type: ignore[call-overload]
            f"{name}-template",
            image_id=self._ami,
            instance_type=args.group.instance_type,
            iam_instance_profile={"name": args.instance_profile},
            network_interfaces=[
                {
                    "associate_public_ip_address": "false",
                    "security_groups": [args.security_group_id],
                    "delete_on_termination": "true",
                }
            ],
            metadata_options=METADATA_OPTIONS,
            block_device_mappings=[
                {
                    "device_name": ROOT_DEVICE,
                    # The launch template API spells its booleans as strings.
                    "ebs": {
                        k: str(v).lower() if isinstance(v, bool) else v
                        for k, v in self._volume(args).items()
                    },
                }
            ],
            monitoring={"enabled": True},
            user_data=encoded,
            tag_specifications=[
                {"resource_type": "instance", "tags": self._tags},
                {"resource_type": "volume", "tags": self._tags},
            ],
            update_default_version=True,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return template

    def _create_scaling_group(
        self,
        name: str,
        args: HostGroupArgs,
        host: AwsHostPlan,
        template: aws.ec2.LaunchTemplate,
    ) -> None:
        tags = {**self._tags, TAG_NAME: host.name}
        aws.autoscaling.Group(
            f"{name}-{host.index}",
            min_size=1,
            max_size=1,
            desired_capacity=1,
            vpc_zone_identifiers=[args.subnet_ids[host.zone]],
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            target_group_arns=args.target_group_arns or [],
            health_check_type="ELB" if args.target_group_arns else "EC2",
            health_check_grace_period=300,
            service_linked_role_arn=args.service_linked_role_arn,
            tags=[{"key": k, "value": v, "propagate_at_launch": True} for k, v in tags.items()],
            opts=pulumi.ResourceOptions(parent=self),
        )
