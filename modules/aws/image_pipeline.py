"""The image layers of one AWS region as AMIs, built by EC2 Image Builder.

One Image Builder image per layer: `base` from the pinned Debian 12 source AMI, then each
component's layer from the base layer's AMI. Each runs one component (infra/aws/bake.py):
the site playbook's bake tasks on the build host itself, then the per-host state removed.
The objects (component, recipe, distribution) and the AMI are named
`regionstack-<layer>-<digest12>` and the AMI tagged with the full digest, which is how a
region stack finds it (infra/aws/images.py).

An Image (one build per recipe) and not an ImagePipeline (a builder that re-runs on a
schedule): a layer's content is fixed by its digest, so there is nothing to rebuild on a
schedule; a new digest is a new recipe and so a new image, built by the next `pulumi up`.
Give it the region's provider; everything it creates is in that partition and region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.bake import (
    ARCHIVE_PREFIX,
    ansible_pins,
    archive_key,
    bake_inventory,
    component_document,
    inventory_path,
    source_files,
)
from infra.aws.images import (
    ami_name,
    ami_tags,
    choose_source,
    image_name,
    source_filters,
)
from infra.aws.partition import Partition
from infra.layers import LAYERS
from modules.aws.hosts import ROOT_DEVICE, ROOT_VOLUME_GIB
from modules.aws.policy import assume_role, document

# What the build host's instance profile needs: Image Builder's own (its agent reports
# and fetches components) and SSM's (Image Builder drives the build through SSM).
BUILD_POLICIES = ("EC2InstanceProfileForImageBuilder", "AmazonSSMManagedInstanceCore")
VERSION = "1.0.0"  # Image Builder objects are versioned; ours are named by digest instead
BUILD_INSTANCE_TYPE = "t3.large"  # PostgreSQL, RabbitMQ and the services install in minutes
BUILD_TIMEOUT_MINUTES = 120


@dataclass
class ImagePipelineArgs:
    stack: str
    partition: Partition
    region: str
    project_dir: str  # the checkout whose roles are baked
    digests: dict[str, str]  # every layer's digest (infra/aws/images.aws_layer_digests)
    standard: Mapping[str, Any]  # the national standard, all a bake run may know
    admin_user: str
    source_ami: str  # the pinned Debian 12 AMI, `regionstack:ami_id`
    debian_owner: str  # the account that must own it (infra/aws/images.debian_owner)
    tags: dict[str, str]


class ImagePipeline(pulumi.ComponentResource):
    """Every image layer as an AMI of the region's account; `images` maps layer to Image."""

    def __init__(
        self, name: str, args: ImagePipelineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:ImagePipeline", name, None, opts)
        source = self._verified_source(args)
        bucket, archive = self._create_sources(name, args)
        infrastructure = self._create_infrastructure(name, args, bucket)
        self.images: dict[str, aws.imagebuilder.Image] = {}
        self.amis: dict[str, pulumi.Output[str]] = {}
        for layer in LAYERS:  # parents come first
            parent = source if layer.parent is None else self.amis[layer.parent]
            image = self._create_layer(name, args, layer.name, parent, archive, infrastructure)
            self.images[layer.name] = image
            self.amis[layer.name] = image.output_resources.apply(_ami_of)
        self.digests = args.digests
        self.register_outputs({"amis": self.amis, "digests": self.digests})

    def _verified_source(self, args: ImagePipelineArgs) -> pulumi.Output[str]:
        """The pinned source AMI, once EC2 confirms it is the owner's Debian 12 image."""
        found = aws.ec2.get_ami_ids_output(
            owners=[args.debian_owner],
            filters=source_filters(args.source_ami),  # type: ignore[arg-type]
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return found.ids.apply(
            lambda ids: choose_source(ids, args.source_ami, args.debian_owner, args.region)
        )

    def _create_sources(
        self, name: str, args: ImagePipelineArgs
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketObjectv2]:
        """A private bucket holding the bake runs' repository content (infra/aws/bake.py)."""
        child = pulumi.ResourceOptions(parent=self)
        # Holds only rebuildable copies of the repository: destroying the stack empties it.
        bucket = aws.s3.Bucket(f"{name}-sources", force_destroy=True, tags=args.tags, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-sources-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sources-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        root = Path(args.project_dir)
        assets: dict[str, pulumi.Asset | pulumi.Archive] = {
            path: pulumi.FileAsset(str(file)) for path, file in source_files(root).items()
        }
        for layer in LAYERS:
            assets[inventory_path(layer.name)] = pulumi.StringAsset(
                bake_inventory(layer.name, args.standard, args.admin_user)
            )
        archive = aws.s3.BucketObjectv2(
            f"{name}-sources-archive",
            bucket=bucket.id,
            key=archive_key(args.digests),
            source=pulumi.AssetArchive(assets),
            tags=args.tags,
            opts=child,
        )
        return bucket, archive

    def _create_infrastructure(
        self, name: str, args: ImagePipelineArgs, bucket: aws.s3.Bucket
    ) -> aws.imagebuilder.InfrastructureConfiguration:
        """Where the builds run: the account's default VPC of the region, as a build host
        with Image Builder's and SSM's policies and read access to the sources only."""
        child = pulumi.ResourceOptions(parent=self)
        part = args.partition
        role = aws.iam.Role(
            f"{name}-build-role",
            description=f"regionstack {args.stack}: EC2 Image Builder build hosts",
            assume_role_policy=assume_role(part.service_principal("ec2")),
            tags=args.tags,
            opts=child,
        )
        for policy in BUILD_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-build-{policy}",
                role=role.name,
                policy_arn=part.managed_policy(policy),
                opts=child,
            )
        aws.iam.RolePolicy(
            f"{name}-build-sources",
            role=role.id,
            policy=bucket.bucket.apply(
                lambda bucket_name: document(
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": part.arn("s3", f"{bucket_name}/{ARCHIVE_PREFIX}*"),
                    }
                )
            ),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-build-profile", role=role.name, tags=args.tags, opts=child
        )
        return aws.imagebuilder.InfrastructureConfiguration(
            f"{name}-infrastructure",
            name=f"regionstack-{args.stack}-build",
            description="regionstack image layers: build hosts",
            instance_profile_name=profile.name,
            instance_types=[BUILD_INSTANCE_TYPE],
            instance_metadata_options={"http_tokens": "required", "http_put_response_hop_limit": 1},
            terminate_instance_on_failure=True,
            resource_tags=args.tags,
            tags=args.tags,
            opts=child,
        )

    def _create_layer(
        self,
        name: str,
        args: ImagePipelineArgs,
        layer: str,
        parent_image: pulumi.Input[str],
        archive: aws.s3.BucketObjectv2,
        infrastructure: aws.imagebuilder.InfrastructureConfiguration,
    ) -> aws.imagebuilder.Image:
        digest = args.digests[layer]
        called = image_name(layer, digest)
        # Image Builder refuses a second object of the same name and version: replace in
        # place, which a change beside the digest (the build script) can require.
        child = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        pins = ansible_pins(Path(args.project_dir))
        uri = pulumi.Output.concat("s3://", archive.bucket, "/", archive.key)
        component = aws.imagebuilder.Component(
            f"{name}-{layer}-component",
            name=called,
            version=VERSION,
            platform="Linux",
            description=f"regionstack: bake the {layer} image layer",
            data=uri.apply(lambda archive_uri: component_document(layer, archive_uri, pins)),
            tags=args.tags,
            opts=child,
        )
        recipe = aws.imagebuilder.ImageRecipe(
            f"{name}-{layer}-recipe",
            name=called,
            version=VERSION,
            parent_image=parent_image,
            components=[{"component_arn": component.arn}],
            block_device_mappings=[
                {
                    "device_name": ROOT_DEVICE,
                    # Image Builder spells these booleans as strings.
                    "ebs": {
                        "volume_size": ROOT_VOLUME_GIB,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            tags=args.tags,
            opts=child,
        )
        distribution = aws.imagebuilder.DistributionConfiguration(
            f"{name}-{layer}-distribution",
            name=called,
            distributions=[
                {
                    "region": args.region,
                    "ami_distribution_configuration": {
                        "name": ami_name(layer, digest),
                        "description": f"regionstack image layer {layer}, digest {digest}",
                        "ami_tags": {**args.tags, **ami_tags(layer, digest)},
                    },
                }
            ],
            tags=args.tags,
            opts=child,
        )
        return aws.imagebuilder.Image(
            f"{name}-{layer}-image",
            image_recipe_arn=recipe.arn,
            infrastructure_configuration_arn=infrastructure.arn,
            distribution_configuration_arn=distribution.arn,
            image_tests_configuration={
                "image_tests_enabled": True,
                "timeout_minutes": BUILD_TIMEOUT_MINUTES,
            },
            tags={**args.tags, **ami_tags(layer, digest)},
            opts=pulumi.ResourceOptions(parent=self),
        )


def _ami_of(resources: Any) -> str:
    """The AMI an image produced (its only distribution is the region's own)."""
    first = resources[0]
    amis = first["amis"] if isinstance(first, dict) else first.amis
    ami = amis[0]
    return str(ami["image"] if isinstance(ami, dict) else ami.image)
