"""Small hand-made facts and resources for the validators' tests."""

from __future__ import annotations

from typing import Any

import pytest

from policies.model import AwsFacts, LocalFacts, LocalHost, RegionFacts, Resource

TAGS = {
    "regionstack:code": "640000",
    "regionstack:stack": "ningxia",
    "regionstack:tier": "province",
    "regionstack:standard-version": "1",
}
KEY_ARN = "arn:aws-cn:kms:cn-northwest-1:123456789012:key/region"


def resource(typ: str, logical: str = "r", **props: Any) -> Resource:
    return Resource(f"urn:pulumi:ningxia::regionstack::{typ}::{logical}", typ, logical, props)


@pytest.fixture
def aws_facts() -> RegionFacts:
    return RegionFacts(
        stack="ningxia",
        tier="province",
        target="aws",
        log_retention_days=180,
        aws=AwsFacts(
            partition="aws-cn",
            region="cn-northwest-1",
            tags=TAGS,
            rule_keys=frozenset({("portal", "ingress", "group", "alb", 443)}),
            group_names={"ningxia-portal": "portal", "ningxia-alb": "alb"},
        ),
    )


@pytest.fixture
def local_facts() -> RegionFacts:
    return RegionFacts(
        stack="chunan",
        tier="county",
        target="local",
        log_retention_days=180,
        local=LocalFacts(
            table="regionstack_330127",
            bridge="rs-330127",
            ruleset="table bridge x {\n\tbind portal\n\tflow a\n}\n",
            hosts=(LocalHost("chunan-portal-1", "10.0.0.2"),),
            bindings={"chunan-portal-1": ("\tbind portal",)},
        ),
    )
