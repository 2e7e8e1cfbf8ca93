"""aws-required-tags: every taggable resource carries the region's tags.

The tags (infra/aws/tags.py REGION_TAG_KEYS) are how the inventory, `regionstack audit`
and the bill find a region's resources; their values are the region plan's. A resource
is taggable when it has a `tags` input; the types listed in MUST_TAG must have one.
"""

from __future__ import annotations

from typing import Any

from policies.model import AWS_INSTANCE, AWS_LAUNCH_TEMPLATE, RegionFacts, Resource, known

AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
MUST_TAG = frozenset(
    {
        AWS_INSTANCE,
        AWS_LAUNCH_TEMPLATE,
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudtrail/trail:Trail",
        "aws:lb/loadBalancer:LoadBalancer",
    }
)


def _tags_of(resource: Resource) -> dict[str, Any] | None:
    if resource.type == AUTOSCALING_GROUP:
        tags = resource.get("tags")
        if not isinstance(tags, list):
            return None
        return {str(t.get("key")): t.get("value") for t in tags if isinstance(t, dict)}
    if "tags" not in resource.props or not known(resource.props["tags"]):
        return None
    return resource.tags


def check_required_tags(resource: Resource, facts: RegionFacts) -> list[str]:
    if facts.aws is None or not resource.type.startswith("aws:"):
        return []
    tags = _tags_of(resource)
    if tags is None:
        if resource.type not in MUST_TAG:
            return []
        tags = {}
    wrong = [
        f"{key}={tags.get(key)!r} (want {value!r})"
        for key, value in sorted(facts.aws.tags.items())
        if known(tags.get(key)) and tags.get(key) != value
    ]
    if not wrong:
        return []
    return [
        f"lacks the region's tags: {'; '.join(wrong)}: pass the plan's tags "
        "(AwsRegionPlan.tags, infra/aws/tags.py region_tags) as `tags`"
    ]
