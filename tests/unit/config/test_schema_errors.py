"""Schema errors as problems: the message from the schema, a hint that says how to fix it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from infra.config.problems import Problem
from infra.config.schema import REGION_KEYS, AwsTarget, Region, Standard, TierProfile
from infra.config.schema_errors import schema_problems
from infra.config.yamlsource import parse_yaml

CONTACT = {"name": "运维值班", "phone": "0571-12345001", "email": "ops@example.gov.cn"}
REGION: dict[str, Any] = {
    "code": "330127",
    "name": "淳安县",
    "stack": "chunan",
    "parent": "330100",
    "target": "local",
    "local": {"cidr": "10.203.2.0/24"},
    "contacts": {"operations": CONTACT, "security": CONTACT},
}
AWS: dict[str, Any] = {
    "partition": "aws-cn",
    "region": "cn-northwest-1",
    "vpc_cidr": "10.64.0.0/16",
    "admin_cidrs": ["10.250.0.0/24"],
    "call_centre_cidrs": ["10.251.12.0/24"],
}


def problems_for(model: type[BaseModel], data: dict[str, Any]) -> list[Problem]:
    doc = parse_yaml(yaml.safe_dump(data, allow_unicode=True), "f.yaml")
    with pytest.raises(ValidationError) as raised:
        model.model_validate(doc.data)
    return schema_problems(doc, ("regions", 0), model, raised.value)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [p.to_text() for p in problems]
    return problems[0]


@pytest.mark.parametrize(
    ("model", "data", "path", "near"),
    [
        (Region, {**REGION, "parnet": "330100"}, "regions[0].parnet", "parent"),
        (
            Region,
            {**REGION, "local": {"cidr": "10.203.2.0/24", "cdir": "x"}},
            "regions[0].local.cdir",
            "cidr",
        ),
        (AwsTarget, {**AWS, "admin_cidr": ["10.0.0.0/24"]}, "regions[0].admin_cidr", "admin_cidrs"),
    ],
)
def test_unknown_key_suggests_the_nearest_allowed_key(
    model: type[BaseModel], data: dict[str, Any], path: str, near: str
) -> None:
    problem = only(problems_for(model, data))
    assert (problem.rule, problem.path) == ("unknown-key", path)
    assert problem.hint.startswith(f"did you mean {near!r}? allowed keys here: ")


def test_unknown_key_with_no_near_match_lists_the_allowed_keys() -> None:
    problem = only(problems_for(Region, {**REGION, "zzzzzz": 1}))
    assert problem.hint == "allowed keys here: " + ", ".join(sorted(REGION_KEYS))


@pytest.mark.parametrize(
    ("model", "drop", "hint"),
    [
        (Region, "code", "add `code:` - the GB/T 2260 code"),
        (AwsTarget, "vpc_cidr", "add `vpc_cidr:` - the region's VPC"),
    ],
)
def test_missing_key_hint_comes_from_the_schema(
    model: type[BaseModel], drop: str, hint: str
) -> None:
    data = {k: v for k, v in (REGION if model is Region else AWS).items() if k != drop}
    problem = only(problems_for(model, data))
    assert problem.rule == "missing-key"
    assert problem.hint.startswith(hint)


def test_misspelt_component_suggests_the_component() -> None:
    data = {**REGION, "overrides": {"host_groups": {"hotlin": {"count": 1}}}}
    problem = only(problems_for(Region, data))
    assert (problem.rule, problem.path) == (
        "schema-literal-error",
        "regions[0].overrides.host_groups.hotlin",
    )
    assert problem.hint.startswith("did you mean 'hotline'?")


def test_value_error_message_has_no_pydantic_prefix() -> None:
    problem = only(problems_for(Region, {**REGION, "local": {"cidr": "10.203.2.1/24"}}))
    assert problem.message == "host bits are set; the network is 10.203.2.0/24"
    assert problem.value == "10.203.2.1/24"


def test_constraint_message_and_hint_come_from_the_field() -> None:
    problem = only(
        problems_for(
            TierProfile,
            {
                "tier": "city",
                "description": "x",
                "availability_zones": 5,
                "host_groups": {},
            },
        )
    )
    assert problem.rule == "schema-less-than-equal"
    assert "less than or equal to 3" in problem.message
    assert problem.hint == TierProfile.model_fields["availability_zones"].description


def test_value_of_a_structure_is_not_shown() -> None:
    problem = only(problems_for(Region, {**REGION, "contacts": ["ops"]}))
    assert problem.value is None


@pytest.mark.parametrize(
    ("model", "data", "key"),
    [
        (Region, {**REGION, "target": "loacl"}, "target"),
        (AwsTarget, {**AWS, "partition": "aws-china"}, "partition"),
    ],
)
def test_bad_value_does_not_suggest_its_own_key(
    model: type[BaseModel], data: dict[str, Any], key: str
) -> None:
    problem = only(problems_for(model, data))
    assert problem.rule == "schema-literal-error"
    assert f"did you mean {key!r}" not in problem.hint


def test_empty_standard_reports_every_missing_key() -> None:
    problems = problems_for(Standard, {})
    assert {p.path for p in problems} == {f"regions[0].{f}" for f in Standard.model_fields}
    assert {p.rule for p in problems} == {"missing-key"}
