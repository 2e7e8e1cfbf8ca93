"""The pack's validators over the sample aws stack, run under Pulumi mocks."""

from __future__ import annotations

import dataclasses

import pytest

from infra.config.loader import Fleet
from policies.evaluate import evaluate, mandatory_violations
from policies.facts import region_facts
from policies.harness import evaluate_aws_stack
from policies.model import Resource
from policies.registry import for_target

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")


@pytest.fixture(scope="module")
def ningxia(sample_fleet: Fleet) -> tuple[list[Resource], dict[str, object]]:
    return evaluate_aws_stack(sample_fleet, "ningxia")  # type: ignore[return-value]


def test_the_sample_aws_stack_has_no_mandatory_violation(ningxia: tuple) -> None:  # type: ignore[type-arg]
    resources, outcomes = ningxia
    assert set(outcomes) == {p.name for p in for_target("aws")}
    assert mandatory_violations(outcomes) == []
    assert len(resources) > 100  # the whole region, not an empty evaluation


def test_a_broken_resource_of_the_sample_is_caught(ningxia: tuple, sample_fleet: Fleet) -> None:  # type: ignore[type-arg]
    resources, _ = ningxia
    broken = [
        dataclasses.replace(r, props={**r.props, "retentionInDays": 30})
        if r.type == "aws:cloudwatch/logGroup:LogGroup"
        else r
        for r in resources
    ]
    outcomes = evaluate(broken, region_facts(sample_fleet, "ningxia"))
    caught = mandatory_violations(outcomes)
    assert caught and {name for name, _ in caught} == {"aws-log-retention-180-days"}
