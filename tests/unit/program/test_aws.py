"""deploy_aws's inputs and its handling of services a partition lacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pulumi
import pytest

from infra.aws import partition as partitions
from infra.aws.mocks import ACCOUNT, evaluate, inputs_for
from infra.config.loader import Fleet
from infra.program.aws import AwsInputs, inputs_from_config


@pytest.fixture
def stack_config() -> Iterator[dict[str, str]]:
    values: dict[str, str] = {}
    pulumi.runtime.set_all_config(values)
    yield values
    pulumi.runtime.set_all_config({})


def test_inputs_come_from_the_stack_configuration(stack_config: dict[str, str]) -> None:
    stack_config["regionstack:alb_certificate_arn"] = "arn:aws-cn:acm:cn-north-1:1:certificate/x"
    stack_config["regionstack:ami_id"] = "ami-0123456789abcdef0"
    pulumi.runtime.set_all_config(stack_config)
    assert inputs_from_config() == AwsInputs(
        "arn:aws-cn:acm:cn-north-1:1:certificate/x", "ami-0123456789abcdef0"
    )


def test_missing_inputs_say_how_to_set_them(stack_config: dict[str, str]) -> None:
    with pytest.raises(pulumi.RunError) as raised:
        inputs_from_config()
    message = str(raised.value)
    assert "pulumi config set regionstack:alb_certificate_arn" in message
    assert "pulumi config set regionstack:ami_id" in message


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        (
            AwsInputs(
                f"arn:aws:acm:cn-northwest-1:{ACCOUNT}:certificate/x", "ami-0123456789abcdef0"
            ),
            "partition 'aws'",
        ),
        (
            AwsInputs(f"arn:aws-cn:acm:cn-northwest-1:{ACCOUNT}:certificate/x", "debian-12"),
            "not an AMI id",
        ),
    ],
)
def test_wrong_inputs_are_refused_before_anything_is_created(
    aws_fleet: Fleet, inputs: AwsInputs, match: str
) -> None:
    with pytest.raises(pulumi.RunError, match=match):
        evaluate(aws_fleet, "ningxia", inputs)


def test_a_service_the_partition_lacks_is_skipped_with_a_warning(
    aws_fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a partition lacked WAF, the region still deploys, without a web ACL, and says so."""
    waf = partitions.SERVICES["wafv2"]
    monkeypatch.setitem(
        partitions.SERVICES, "wafv2", dataclasses.replace(waf, partitions=frozenset({"aws"}))
    )
    evaluation = evaluate(aws_fleet, "xingqing", inputs_for("aws-cn", "cn-north-1"))
    assert not evaluation.of_type("aws:wafv2/webAcl:WebAcl")
    assert not evaluation.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert evaluation.of_type("aws:lb/loadBalancer:LoadBalancer")
    skipped = [s["service"] for s in evaluation.outputs["skipped_services"]]
    assert "wafv2" in skipped
    assert any(w.startswith("wafv2 ") for w in evaluation.warnings), evaluation.warnings
