from __future__ import annotations

from policies.aws.tags import AUTOSCALING_GROUP, check_required_tags
from policies.model import RegionFacts
from tests.unit.policies.conftest import TAGS, resource


def test_region_tags_pass(aws_facts: RegionFacts) -> None:
    assert (
        check_required_tags(resource("aws:ec2/vpc:Vpc", tags={**TAGS, "Name": "v"}), aws_facts)
        == []
    )
    group_tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in TAGS.items()]
    assert check_required_tags(resource(AUTOSCALING_GROUP, tags=group_tags), aws_facts) == []


def test_a_missing_or_wrong_tag_is_caught(aws_facts: RegionFacts) -> None:
    wrong = {**TAGS, "regionstack:tier": "county"}
    caught = check_required_tags(resource("aws:ec2/vpc:Vpc", tags=wrong), aws_facts)
    assert "regionstack:tier='county'" in caught[0] and "AwsRegionPlan.tags" in caught[0]
    assert check_required_tags(resource("aws:kms/key:Key"), aws_facts)  # must be tagged


def test_untaggable_resources_are_left_alone(aws_facts: RegionFacts) -> None:
    assert (
        check_required_tags(
            resource("aws:ec2/routeTableAssociation:RouteTableAssociation"), aws_facts
        )
        == []
    )
