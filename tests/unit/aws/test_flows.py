"""The flow matrix resolved into security group rules, without Pulumi."""

from __future__ import annotations

import pytest

from infra.aws.flows import ALB_GROUP, INTERNET, PLATFORM_FLOW, security_group_rules
from infra.aws.plan import plan_aws_region
from infra.config.loader import Fleet
from infra.config.schema import Flow, Standard
from tests.unit.aws.stacks import STACK_IDS, STACK_NAMES


def _with_flow(standard: Standard, flow: dict[str, object]) -> Standard:
    odd = Flow.model_validate({"name": "odd", "ports": [443], "reason": "x", **flow})
    return standard.model_copy(update={"flows": [*standard.flows, odd]})


@pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)
def test_every_rule_names_the_flows_that_need_it(aws_fleet: Fleet, stack: str) -> None:
    names = {f.name for f in aws_fleet.standard.flows} | {PLATFORM_FLOW}
    rules = security_group_rules(
        plan_aws_region(aws_fleet, aws_fleet.region(stack)), aws_fleet.standard
    )
    assert all(r.flows and set(r.flows) <= names for r in rules)
    assert len({r.key for r in rules}) == len(rules)


def test_every_flow_of_the_matrix_yields_rules(aws_fleet: Fleet) -> None:
    rules = security_group_rules(
        plan_aws_region(aws_fleet, aws_fleet.region("yinchuan")), aws_fleet.standard
    )
    used = {name for r in rules for name in r.flows}
    assert used == {f.name for f in aws_fleet.standard.flows} | {PLATFORM_FLOW}


def test_a_province_has_no_parent_to_reach(aws_fleet: Fleet) -> None:
    rules = security_group_rules(
        plan_aws_region(aws_fleet, aws_fleet.region("ningxia")), aws_fleet.standard
    )
    federation = [r for r in rules if "federation-to-parent" in r.flows]
    assert federation and all(r.direction == "ingress" for r in federation)


def test_a_county_has_no_child_to_accept(aws_fleet: Fleet) -> None:
    rules = security_group_rules(
        plan_aws_region(aws_fleet, aws_fleet.region("xingqing")), aws_fleet.standard
    )
    federation = [r for r in rules if "federation-to-parent" in r.flows]
    assert federation and all(r.direction == "egress" for r in federation)


def test_the_internet_reaches_the_portal_only_through_the_load_balancer(aws_fleet: Fleet) -> None:
    rules = security_group_rules(
        plan_aws_region(aws_fleet, aws_fleet.region("chunan")), aws_fleet.standard
    )
    citizens = {
        (r.group, r.direction, r.peer, r.port) for r in rules if "citizens-to-portal" in r.flows
    }
    assert citizens == {
        (ALB_GROUP, "ingress", INTERNET, 443),
        (ALB_GROUP, "ingress", INTERNET, 80),
        ("portal", "ingress", ALB_GROUP, 443),
        (ALB_GROUP, "egress", "portal", 443),
    }


@pytest.mark.parametrize(
    ("flow", "match"),
    [
        ({"from": "internet", "to": "hotline"}, "only the portal"),
        ({"from": "portal", "to": "admin"}, "destination 'admin'"),
        ({"from": "portal", "to": "parent.portal"}, "can cross regions"),
        ({"from": "somewhere", "to": "portal"}, "source 'somewhere'"),
    ],
)
def test_flows_without_an_aws_meaning_are_refused(
    aws_fleet: Fleet, flow: dict[str, object], match: str
) -> None:
    plan = plan_aws_region(aws_fleet, aws_fleet.region("chunan"))
    with pytest.raises(ValueError, match=match):
        security_group_rules(plan, _with_flow(aws_fleet.standard, flow))
