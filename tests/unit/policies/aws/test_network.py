from __future__ import annotations

import pytest

from policies.aws.network import (
    INGRESS_RULE,
    LEGACY_RULE,
    SECURITY_GROUP,
    SUBNET,
    check_imdsv2,
    check_no_public_address,
    check_security_groups,
)
from policies.model import UNKNOWN, RegionFacts
from tests.unit.policies.conftest import resource

INSTANCE = "aws:ec2/instance:Instance"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUPS = [
    resource(SECURITY_GROUP, "sg-portal", id="sg-p", tags={"Name": "ningxia-portal"}),
    resource(SECURITY_GROUP, "sg-alb", id="sg-a", tags={"Name": "ningxia-alb"}),
]


def _rule(port: int = 443, **props: object) -> object:
    base = {
        "securityGroupId": "sg-p",
        "referencedSecurityGroupId": "sg-a",
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
    }
    return resource(INGRESS_RULE, f"rule-{port}", **{**base, **props})


def test_private_hosts_pass(aws_facts: RegionFacts) -> None:
    private = [
        resource(INSTANCE, associatePublicIpAddress=False),
        resource(TEMPLATE, networkInterfaces=[{"associatePublicIpAddress": "false"}]),
        resource(SUBNET, mapPublicIpOnLaunch=False),
    ]
    assert [m for r in private for m in check_no_public_address(r, aws_facts)] == []


@pytest.mark.parametrize(
    "public",
    [
        resource(INSTANCE, associatePublicIpAddress=True),
        resource(INSTANCE),  # left to the subnet's default
        resource(TEMPLATE, networkInterfaces=[{"associatePublicIpAddress": "true"}]),
        resource(TEMPLATE),
        resource(SUBNET, mapPublicIpOnLaunch=True),
    ],
)
def test_a_public_address_is_caught(aws_facts: RegionFacts, public: object) -> None:
    messages = check_no_public_address(public, aws_facts)  # type: ignore[arg-type]
    assert len(messages) == 1 and "False" in messages[0]


def test_imdsv2_required_passes_and_optional_is_caught(aws_facts: RegionFacts) -> None:
    assert (
        check_imdsv2(resource(INSTANCE, metadataOptions={"httpTokens": "required"}), aws_facts)
        == []
    )
    caught = check_imdsv2(resource(INSTANCE, metadataOptions={"httpTokens": "optional"}), aws_facts)
    assert "http_tokens='required'" in caught[0]


def test_exactly_the_flow_matrix_passes(aws_facts: RegionFacts) -> None:
    assert check_security_groups([*GROUPS, _rule()], aws_facts) == []


def test_a_rule_outside_the_flow_matrix_is_caught(aws_facts: RegionFacts) -> None:
    findings = check_security_groups([*GROUPS, _rule(), _rule(22)], aws_facts)
    assert [f.urn for f in findings] == [_rule(22).urn]  # type: ignore[attr-defined]
    assert "port 22 on the portal group is in no flow" in findings[0].message
    assert "stacks/standard.yaml" in findings[0].message


def test_a_missing_rule_is_caught(aws_facts: RegionFacts) -> None:
    findings = check_security_groups(GROUPS, aws_facts)
    assert "1 rule(s) of the flow matrix are missing" in findings[0].message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (_rule(toPort=1000), "single TCP ports"),
        (_rule(securityGroupId="sg-elsewhere"), "not one of the region's"),
        (resource(LEGACY_RULE, "legacy"), "bypasses the flow matrix"),
        (resource(SECURITY_GROUP, "inline", ingress=[{"fromPort": 22}]), "inline rules"),
    ],
)
def test_rules_the_matrix_cannot_produce_are_caught(
    aws_facts: RegionFacts, extra: object, expected: str
) -> None:
    findings = check_security_groups([*GROUPS, _rule(), extra], aws_facts)  # type: ignore[list-item]
    assert any(expected in f.message for f in findings), findings


def test_unknown_ids_in_a_preview_are_not_judged(aws_facts: RegionFacts) -> None:
    assert check_security_groups([*GROUPS, _rule(securityGroupId=UNKNOWN)], aws_facts) == []
