"""Partition-aware names: ARNs, service principals, endpoints, and what a partition lacks."""

from __future__ import annotations

import pytest

from infra.aws.partition import (
    SERVICES,
    check_certificate_arn,
    missing_services,
    partition,
)

CN, GLOBAL = partition("aws-cn"), partition("aws")
ACCOUNT = "123456789012"


@pytest.mark.parametrize("name", ["aws", "aws-cn"])
def test_managed_policy_arn_is_in_the_partition(name: str) -> None:
    assert partition(name).managed_policy("AmazonSSMManagedInstanceCore") == (
        f"arn:{name}:iam::aws:policy/AmazonSSMManagedInstanceCore"
    )


def test_arns_carry_the_partition() -> None:
    assert CN.account_root(ACCOUNT) == f"arn:aws-cn:iam::{ACCOUNT}:root"
    assert CN.arn("s3", "bucket") == "arn:aws-cn:s3:::bucket"
    assert GLOBAL.arn("cloudtrail", "trail/t", "ap-east-1", ACCOUNT) == (
        f"arn:aws:cloudtrail:ap-east-1:{ACCOUNT}:trail/t"
    )


@pytest.mark.parametrize(
    ("name", "service", "region", "expected"),
    [
        ("aws-cn", "ec2", None, "ec2.amazonaws.com.cn"),
        ("aws-cn", "logs", "cn-north-1", "logs.cn-north-1.amazonaws.com.cn"),
        ("aws-cn", "cloudtrail", None, "cloudtrail.amazonaws.com"),
        ("aws-cn", "vpc-flow-logs", None, "vpc-flow-logs.amazonaws.com"),
        ("aws-cn", "autoscaling", None, "autoscaling.amazonaws.com"),
        ("aws", "ec2", None, "ec2.amazonaws.com"),
        ("aws", "logs", "ap-east-1", "logs.ap-east-1.amazonaws.com"),
    ],
)
def test_service_principals(name: str, service: str, region: str | None, expected: str) -> None:
    assert partition(name).service_principal(service, region) == expected


def test_endpoints_use_the_partitions_domain() -> None:
    assert CN.endpoint("ssm", "cn-northwest-1") == "https://ssm.cn-northwest-1.amazonaws.com.cn"
    assert GLOBAL.endpoint("ssm", "ap-east-1") == "https://ssm.ap-east-1.amazonaws.com"
    assert CN.ssm_agent_package("cn-north-1").startswith(
        "https://s3.cn-north-1.amazonaws.com.cn/amazon-ssm-cn-north-1/"
    )


def test_unknown_partition_is_refused() -> None:
    with pytest.raises(ValueError, match="aws-us-gov"):
        partition("aws-us-gov")


def test_china_lacks_guardduty_runtime_monitoring_only() -> None:
    assert [s.name for s in missing_services(CN)] == ["guardduty_runtime_monitoring"]
    assert missing_services(GLOBAL) == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_availability_entry_cites_its_source(service: str) -> None:
    spec = SERVICES[service]  # type: ignore[index]
    assert spec.source.startswith("https://") and spec.purpose, spec


@pytest.mark.parametrize(
    ("arn", "why"),
    [
        (f"arn:aws-cn:acm:cn-northwest-1:{ACCOUNT}:certificate/abc", None),
        (f"arn:aws:acm:cn-northwest-1:{ACCOUNT}:certificate/abc", "partition 'aws'"),
        (f"arn:aws-cn:acm:cn-north-1:{ACCOUNT}:certificate/abc", "cn-north-1"),
        (f"arn:aws-cn:iam::{ACCOUNT}:server-certificate/abc", "not an ACM certificate"),
        ("arn:aws-cn:acm:cn-northwest-1:12:certificate/abc", "12-digit"),
        ("certificate/abc", "not an ARN"),
    ],
)
def test_certificate_arn_must_be_acm_of_the_region(arn: str, why: str | None) -> None:
    problem = check_certificate_arn(arn, CN, "cn-northwest-1")
    if why is None:
        assert problem is None
    else:
        assert problem is not None and why in problem
