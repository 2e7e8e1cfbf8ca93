from __future__ import annotations

import pytest

from policies.aws.logging import (
    FLOW_LOG,
    LIFECYCLE,
    LOG_GROUP,
    TRAIL,
    VPC,
    check_cloudtrail,
    check_flow_logs,
    check_log_retention,
)
from policies.model import RegionFacts
from tests.unit.policies.conftest import resource

GOOD_TRAIL = {"enableLogging": True, "isMultiRegionTrail": True, "enableLogFileValidation": True}


@pytest.mark.parametrize("days", [180, 365, 0])
def test_log_groups_kept_long_enough_pass(aws_facts: RegionFacts, days: int) -> None:
    assert check_log_retention(resource(LOG_GROUP, retentionInDays=days), aws_facts) == []


def test_a_short_retention_is_caught(aws_facts: RegionFacts) -> None:
    caught = check_log_retention(resource(LOG_GROUP, retentionInDays=90), aws_facts)
    assert "at least 180" in caught[0]
    lifecycle = resource(LIFECYCLE, rules=[{"id": "r", "expiration": {"days": 30}}])
    assert "after 30 days" in check_log_retention(lifecycle, aws_facts)[0]


def test_a_logging_multi_region_trail_passes(aws_facts: RegionFacts) -> None:
    assert check_cloudtrail([resource(TRAIL, **GOOD_TRAIL)], aws_facts) == []


@pytest.mark.parametrize("key", sorted(GOOD_TRAIL))
def test_a_weakened_trail_is_caught(aws_facts: RegionFacts, key: str) -> None:
    findings = check_cloudtrail([resource(TRAIL, **{**GOOD_TRAIL, key: False})], aws_facts)
    assert len(findings) == 1 and key in findings[0].message


def test_no_trail_is_caught(aws_facts: RegionFacts) -> None:
    findings = check_cloudtrail([resource(VPC, id="vpc-1")], aws_facts)
    assert "no CloudTrail trail" in findings[0].message


def test_flow_logs_of_every_vpc_pass_and_a_missing_one_is_caught(aws_facts: RegionFacts) -> None:
    vpc = resource(VPC, "vpc", id="vpc-1")
    logged = resource(FLOW_LOG, vpcId="vpc-1", trafficType="ALL")
    assert check_flow_logs([vpc, logged], aws_facts) == []
    rejected_only = resource(FLOW_LOG, vpcId="vpc-1", trafficType="REJECT")
    findings = check_flow_logs([vpc, rejected_only], aws_facts)
    assert [f.urn for f in findings] == [vpc.urn] and "traffic_type='ALL'" in findings[0].message
