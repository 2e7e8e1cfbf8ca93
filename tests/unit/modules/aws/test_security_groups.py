"""The security groups the aws program creates are the flow matrix, exactly.

The expected rules are derived here from `standard.flows` by the mapping docs/aws and
infra/aws/flows.py document (one group per component, `internet` -> the load balancer,
federation -> the neighbours' data subnets), written out plainly rather than imported, and
compared with every rule resource the program registered under mocks: nothing missing,
nothing extra, in both directions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.aws.mocks import Evaluation
from infra.aws.plan import exchange_cidrs
from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS
from tests.unit.aws.stacks import STACK_IDS, STACK_NAMES

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
WORLD = "0.0.0.0/0"
# What hosts may reach outside the matrix (SSM, AWS APIs, package mirrors); reviewed here.
PLATFORM_EGRESS_PORTS = (443, 80)

Key = tuple[str, str, str, int]  # (group, direction, peer group or CIDR, port)


def expected_rules(fleet: Fleet, stack: str) -> set[Key]:
    region = fleet.region(stack)
    assert region.aws is not None
    parent = fleet.parent_of(region)
    children = fleet.children(region)
    every = {"all_hosts": list(COMPONENTS)}
    outside = {
        "admin": [str(c) for c in region.aws.admin_cidrs],
        "call_centre": [str(c) for c in region.aws.call_centre_cidrs],
    }
    rules: set[Key] = set()
    for flow in fleet.standard.flows:
        for port in flow.ports:
            if flow.destination == "parent.data_exchange":
                for cidr in exchange_cidrs(fleet, parent) if parent else ():
                    rules.add(("data_exchange", "egress", cidr, port))
                for child in children:
                    for cidr in exchange_cidrs(fleet, child):
                        rules.add(("data_exchange", "ingress", cidr, port))
            elif flow.source == "internet":
                assert flow.destination == "portal"
                rules.add(("alb", "ingress", WORLD, port))
                if port == 443:  # the load balancer forwards HTTPS only; it redirects 80
                    rules |= {("portal", "ingress", "alb", 443), ("alb", "egress", "portal", 443)}
            elif flow.source in outside:
                for dst in every.get(flow.destination, [flow.destination]):
                    for cidr in outside[flow.source]:
                        rules.add((dst, "ingress", cidr, port))
            else:
                for src in every.get(flow.source, [flow.source]):
                    for dst in every.get(flow.destination, [flow.destination]):
                        rules |= {(dst, "ingress", src, port), (src, "egress", dst, port)}
    for component in COMPONENTS:
        for port in PLATFORM_EGRESS_PORTS:
            rules.add((component, "egress", WORLD, port))
    return rules


def actual_rules(evaluation: Evaluation) -> set[Key]:
    prefix = f"{evaluation.stack}-"
    group_of = {
        f"{sg.name}-id": sg.tags["Name"].removeprefix(prefix).replace("-", "_")
        for sg in evaluation.of_type(SECURITY_GROUP)
    }
    rules: set[Key] = set()
    for typ, direction in ((INGRESS, "ingress"), (EGRESS, "egress")):
        for rule in evaluation.of_type(typ):
            inputs = rule.inputs
            assert inputs["ipProtocol"] == "tcp", rule.urn
            assert inputs["fromPort"] == inputs["toPort"], rule.urn
            peer = (
                group_of[inputs["referencedSecurityGroupId"]]
                if "referencedSecurityGroupId" in inputs
                else inputs["cidrIpv4"]
            )
            port = int(inputs["fromPort"])  # the mocks hand numbers back as floats
            rules.add((group_of[inputs["securityGroupId"]], direction, peer, port))
    return rules


@pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)
def test_security_group_rules_equal_the_flow_matrix(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet, stack: str
) -> None:
    actual, expected = actual_rules(evaluated(stack)), expected_rules(aws_fleet, stack)
    missing, extra = sorted(expected - actual), sorted(actual - expected)
    assert not missing and not extra, f"{stack}: missing {missing}; not in the matrix {extra}"


@pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)
def test_one_rule_resource_per_rule(evaluated: Callable[[str], Evaluation], stack: str) -> None:
    evaluation = evaluated(stack)
    count = len(evaluation.of_type(INGRESS)) + len(evaluation.of_type(EGRESS))
    assert count == len(actual_rules(evaluation)), f"{stack}: duplicate rule resources"


@pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)
def test_only_the_load_balancer_faces_the_internet_on_443_and_80(
    evaluated: Callable[[str], Evaluation], stack: str
) -> None:
    open_to_world = {
        (group, port)
        for group, direction, peer, port in actual_rules(evaluated(stack))
        if direction == "ingress" and peer == WORLD
    }
    assert open_to_world == {("alb", 443), ("alb", 80)}, f"{stack}: {sorted(open_to_world)}"


@pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)
def test_one_group_per_component_and_one_for_the_load_balancer(
    evaluated: Callable[[str], Evaluation], stack: str
) -> None:
    groups = evaluated(stack).of_type(SECURITY_GROUP)
    names = sorted(sg.tags["Name"] for sg in groups)
    assert names == sorted(f"{stack}-{g.replace('_', '-')}" for g in (*COMPONENTS, "alb"))
    for sg in groups:
        assert "ingress" not in sg.inputs and "egress" not in sg.inputs, (
            f"{sg.urn}: inline rules bypass the generated ones"
        )


@pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)
def test_default_security_group_has_no_rules(
    evaluated: Callable[[str], Evaluation], stack: str
) -> None:
    default = evaluated(stack).one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress") and not default.inputs.get("egress"), default.urn


def test_federation_rules_follow_the_chain(
    evaluated: Callable[[str], Evaluation], aws_fleet: Fleet
) -> None:
    """A city accepts its counties' exchanges and reaches its province's, on 5671 only."""
    rules = actual_rules(evaluated("yinchuan"))
    admin = {str(c) for c in aws_fleet.region("yinchuan").aws.admin_cidrs}  # type: ignore[union-attr]
    federation = {
        r for r in rules if r[0] == "data_exchange" and "/" in r[2] and r[2] not in admin | {WORLD}
    }
    county = set(exchange_cidrs(aws_fleet, aws_fleet.region("xingqing")))
    province = set(exchange_cidrs(aws_fleet, aws_fleet.region("ningxia")))
    assert federation == {("data_exchange", "ingress", c, 5671) for c in county} | {
        ("data_exchange", "egress", c, 5671) for c in province
    }
