"""The image layers (infra/layers/) as AMIs: their digests, names, tags and how they are found.

On aws a layer is an AMI in the region's own account, partition and AWS region, built by
EC2 Image Builder (modules/aws/image_pipeline.py) and tagged with its layer digest. A
region stack whose target says `image: baked` boots each host from the AMI carrying the
digest of its component's layer, found by that tag, so the stack names its images by
content and never by id. Both sides take the tag and the filters from here.

The digests are `layer_digests` of the checkout on top of the source image: the Debian 12
AMI pinned in `regionstack:ami_id`. Pinning (instead of "the newest Debian 12") keeps the
digests stable until the operator moves the pin, so a region stack and the stack that
builds the images agree on what to look for; moving it rebuilds every layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

from infra.aws.partition import Partition
from infra.layers import layer_digests

TARGET = "aws"
LAYER_TAG = "regionstack:layer"
LAYER_DIGEST_TAG = "regionstack:layer-digest"
SHORT_DIGEST = 12  # of the digest's hex digits in names, as docker shows image ids
NAME_PREFIX = "regionstack"

# The Debian cloud team's account, owner of the official Debian 12 AMIs of the global
# partition (https://wiki.debian.org/Cloud/AmazonEC2Image/Bookworm). It publishes none in
# aws-cn, where the operator names the account whose Debian 12 images they trust.
DEBIAN_OWNERS: dict[str, str] = {"aws": "136693071363"}
DEBIAN_12_NAME = "debian-12-*"
ACCOUNT_ID = re.compile(r"^\d{12}$")
PIPELINE_SWITCH = "regionstack:image_pipeline"


class ImageMissing(pulumi.RunError):
    """No AMI carries the digest a host needs; the message says how to build it."""


def aws_layer_digests(
    root: Path, source_ami: str, standard: Mapping[str, Any], admin_user: str
) -> dict[str, str]:
    """Every layer's digest on top of the pinned Debian source AMI."""
    return layer_digests(root, source_ami, standard, TARGET, admin_user)


def image_name(layer: str, digest: str) -> str:
    """What the layer's Image Builder objects are called: `regionstack-<layer>-<digest12>`."""
    return f"{NAME_PREFIX}-{layer}-{digest[:SHORT_DIGEST]}"


def ami_name(layer: str, digest: str) -> str:
    # AMI names are unique per account and region; the build date keeps a rebuild of the
    # same digest (after a failed or deleted image) from colliding with what is left.
    return f"{image_name(layer, digest)}-{{{{ imagebuilder:buildDate }}}}"


def ami_tags(layer: str, digest: str) -> dict[str, str]:
    return {LAYER_TAG: layer, LAYER_DIGEST_TAG: digest}


def image_filters(digest: str) -> list[dict[str, Any]]:
    """The EC2 image filters that find a layer's AMI, in the provider's spelling; the
    digest covers the layer's name, so it alone identifies the layer."""
    return [
        {"name": f"tag:{LAYER_DIGEST_TAG}", "values": [digest]},
        {"name": "state", "values": ["available"]},
    ]


def ec2_filters(filters: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The same filters in the EC2 API's spelling (DescribeImages), as the provider sends."""
    return [{"Name": f["name"], "Values": list(f["values"])} for f in filters]


def choose_image(ids: Sequence[str], layer: str, digest: str, region: str) -> str:
    """The AMI of the layer (the newest first, as DescribeImages is sorted), or a refusal
    that names the next step."""
    if ids:
        return ids[0]
    raise ImageMissing(
        f"no AMI of image layer {layer!r} with {LAYER_DIGEST_TAG}={digest} in {region} of "
        f"this account: build the layers first - `pulumi config set {PIPELINE_SWITCH} true` "
        "on the stack that builds this AWS region's images, then `pulumi up` it "
        "(docs/aws.md, Baked images); or boot from the Debian image with `image: bare` "
        "under the region's `aws:`"
    )


def debian_owner(partition: Partition, configured: str | None) -> str:
    """The account that owns the Debian 12 source AMI in `partition`."""
    owner = configured or DEBIAN_OWNERS.get(partition.name)
    if owner is None:
        raise pulumi.RunError(
            f"partition {partition.name} has no Debian cloud team account to take the "
            "Debian 12 source image from: `pulumi config set regionstack:debian_owner "
            "<12-digit account id>` naming the account whose Debian 12 AMIs you trust there"
        )
    if not ACCOUNT_ID.match(owner):
        raise pulumi.RunError(f"regionstack:debian_owner: {owner!r} is not a 12-digit account id")
    return owner


def source_filters(ami_id: str) -> list[dict[str, Any]]:
    """Filters that find the pinned source AMI only if it is a Debian 12 image."""
    return [
        {"name": "image-id", "values": [ami_id]},
        {"name": "name", "values": [DEBIAN_12_NAME]},
        {"name": "state", "values": ["available"]},
    ]


def choose_source(ids: Sequence[str], ami_id: str, owner: str, region: str) -> str:
    if ids:
        return ids[0]
    raise pulumi.RunError(
        f"regionstack:ami_id {ami_id} is not an available Debian 12 image ({DEBIAN_12_NAME}) "
        f"of account {owner} in {region}: the image layers are built only on Debian's own "
        "image; pin one of that account's Debian 12 AMIs, or set regionstack:debian_owner"
    )
