"""Finding a layer's AMI by its digest (infra/aws/images.py), against EC2 in the emulator.

The region stack asks EC2 (`aws.ec2.get_ami_ids`, i.e. DescribeImages) for the account's
own images with the filters of `image_filters`; here the same filters go to the emulated
DescribeImages in an account of each partition holding the AMIs an image build leaves:
the layer's, its other layers, an older digest of it, a failed build and another
account's copy. Only the layer's own AMI may come back; with none, the lookup refuses and
names the next step. The pinned Debian source is checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from infra.aws.images import (
    ImageMissing,
    ami_tags,
    choose_image,
    choose_source,
    ec2_filters,
    image_filters,
    image_name,
    source_filters,
)
from infra.config.loader import Fleet
from tests.unit.aws.emulator import PARTITION_IDS, PARTITIONS
from tests.unit.aws.emulator.account import Account, assume_account

# Every test here runs against the loopback AWS emulator, never AWS.
pytestmark = pytest.mark.usefixtures("emulator_only")

# Accounts of their own, apart from the audit's (tests/unit/aws/emulator/fixtures.py).
FIRST_NUMBER = 500
DIGEST = "a1" * 32
OLD_DIGEST = "b2" * 32
OTHER_LAYER_DIGEST = "c3" * 32
FAILED_DIGEST = "d4" * 32
NEW_DIGEST = "e5" * 32


def _register(account: Account, region: str, name: str, tags: dict[str, str]) -> str:
    ec2 = account.client("ec2", region)
    image_id = str(
        ec2.register_image(
            Name=name,
            RootDeviceName="/dev/xvda",
            Architecture="x86_64",
            VirtualizationType="hvm",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30}}],
        )["ImageId"]
    )
    ec2.create_tags(Resources=[image_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return image_id


def _layer_ami(account: Account, region: str, layer: str, digest: str) -> str:
    return _register(account, region, f"{image_name(layer, digest)}-1", ami_tags(layer, digest))


def _lookup(account: Account, region: str, digest: str) -> list[str]:
    """What the provider sends for the region stack's lookup: the account's own images."""
    ec2 = account.client("ec2", region)
    images = ec2.describe_images(Owners=["self"], Filters=ec2_filters(image_filters(digest)))
    return [image["ImageId"] for image in images["Images"]]


@pytest.fixture(scope="module")
def accounts(
    emulator: str, emulated_fleet: Fleet
) -> Callable[[str], tuple[Account, str, dict[str, Any]]]:
    """`accounts(stack)`: an account holding a built account's AMIs, its region and ids."""
    made: dict[str, tuple[Account, str, dict[str, Any]]] = {}

    def get(stack: str) -> tuple[Account, str, dict[str, Any]]:
        if stack not in made:
            region = emulated_fleet.region(stack)
            assert region.aws is not None
            number = FIRST_NUMBER + 2 * len(made)
            account = assume_account(emulator, region, number)
            other = assume_account(emulator, region, number + 1)
            where = region.aws.region
            ids = {
                "portal": _layer_ami(account, where, "portal", DIGEST),
                "old": _layer_ami(account, where, "portal", OLD_DIGEST),
                "hotline": _layer_ami(account, where, "hotline", OTHER_LAYER_DIGEST),
                "elsewhere": _layer_ami(other, where, "portal", NEW_DIGEST),
            }
            failed = _layer_ami(account, where, "portal", FAILED_DIGEST)
            account.client("ec2", where).deregister_image(ImageId=failed)
            made[stack] = (account, where, ids)
        return made[stack]

    return get


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_the_digest_finds_exactly_the_layers_ami(
    accounts: Callable[[str], tuple[Account, str, dict[str, Any]]], partition: str, stack: str
) -> None:
    account, region, ids = accounts(stack)
    found = _lookup(account, region, DIGEST)
    assert found == [ids["portal"]], f"{partition} {account.account_id}: {found} ({ids})"
    assert choose_image(found, "portal", DIGEST, region) == ids["portal"]


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_each_digest_finds_its_own_layer(
    accounts: Callable[[str], tuple[Account, str, dict[str, Any]]], partition: str, stack: str
) -> None:
    account, region, ids = accounts(stack)
    assert _lookup(account, region, OLD_DIGEST) == [ids["old"]], partition
    assert _lookup(account, region, OTHER_LAYER_DIGEST) == [ids["hotline"]], partition


@pytest.mark.parametrize(
    "digest", [FAILED_DIGEST, NEW_DIGEST], ids=["deregistered", "other-account-only"]
)
@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_no_ami_of_the_digest_is_refused_with_the_next_step(
    accounts: Callable[[str], tuple[Account, str, dict[str, Any]]],
    partition: str,
    stack: str,
    digest: str,
) -> None:
    account, region, _ = accounts(stack)
    found = _lookup(account, region, digest)
    assert found == [], f"{partition}: {found}"
    with pytest.raises(ImageMissing) as refused:
        choose_image(found, "portal", digest, region)
    message = str(refused.value)
    assert digest in message and region in message
    assert "pulumi config set regionstack:image_pipeline true" in message
    assert "image: bare" in message


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_the_source_must_be_the_owners_debian_12_image(
    emulator: str, emulated_fleet: Fleet, partition: str, stack: str
) -> None:
    region = emulated_fleet.region(stack)
    assert region.aws is not None
    where = region.aws.region
    publisher = assume_account(emulator, region, FIRST_NUMBER + 90 + len(partition))
    debian = _register(publisher, where, "debian-12-amd64-20250101-1980", {})
    ubuntu = _register(publisher, where, "ubuntu-24.04-amd64-20250101", {})
    ec2 = publisher.client("ec2", where)

    def lookup(ami: str) -> list[str]:
        filters = ec2_filters(source_filters(ami))
        images = ec2.describe_images(Owners=[publisher.account_id], Filters=filters)
        return [image["ImageId"] for image in images["Images"]]

    owner = publisher.account_id
    assert choose_source(lookup(debian), debian, owner, where) == debian
    with pytest.raises(pulumi.RunError, match="is not an available Debian 12 image"):
        choose_source(lookup(ubuntu), ubuntu, owner, where)
