"""The region's audit trail: aws-log-retention-180-days, aws-cloudtrail-enabled and
aws-vpc-flow-logs-enabled (MLPS 8.1.3.5 boundary audit, 8.1.4.3 host audit, 8.1.5.2
audit administration; Cybersecurity Law Art. 21: logs kept six months).

The retention is the standard's `log_retention_days` (which the schema keeps >= 180).
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.model import Finding, RegionFacts, Resource, known

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
TRAIL = "aws:cloudtrail/trail:Trail"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
RETENTION = "stacks/standard.yaml `log_retention_days`"


def check_log_retention(resource: Resource, facts: RegionFacts) -> list[str]:
    days = facts.log_retention_days
    if resource.type == LOG_GROUP:
        kept = resource.get("retentionInDays")
        # 0 or unset: CloudWatch keeps the logs for ever.
        if known(kept) and kept and int(kept) < days:
            return [
                f"the log group keeps logs {kept} days: set retention_in_days to at least "
                f"{days} ({RETENTION}; infra/aws/plan.py cloudwatch_retention picks the value)"
            ]
    if resource.type == LIFECYCLE:
        for rule in resource.get("rules") or []:
            expiration = (rule.get("expiration") or {}).get("days")
            noncurrent = (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
            for what, kept in (("objects", expiration), ("overwritten versions", noncurrent)):
                if known(kept) and kept and int(kept) < days:
                    return [
                        f"rule {rule.get('id')!r} expires {what} after {kept} days: keep them "
                        f"at least {days} days ({RETENTION})"
                    ]
    return []


def check_cloudtrail(resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
    trails = [r for r in resources if r.type == TRAIL]
    if not trails:
        if not any(r.type.startswith("aws:") for r in resources):
            return []
        return [
            Finding(
                resources[0].urn,
                f"the stack {facts.stack} has no CloudTrail trail: deploy the LogArchive "
                "(modules/aws/log_archive.py), which records every region with log file validation",
            )
        ]
    findings = []
    for trail in trails:
        wanted = {
            "enableLogging": (True, "enable_logging=True"),
            "isMultiRegionTrail": (True, "is_multi_region_trail=True"),
            "enableLogFileValidation": (True, "enable_log_file_validation=True"),
        }
        for key, (value, fix) in wanted.items():
            actual = trail.get(key, True if key == "enableLogging" else None)
            if known(actual) and actual is not value:
                findings.append(Finding(trail.urn, f"the trail has {key}={actual!r}: set {fix}"))
    return findings


def check_flow_logs(resources: Sequence[Resource], _facts: RegionFacts) -> list[Finding]:
    logged = {
        r.get("vpcId") for r in resources if r.type == FLOW_LOG and r.get("trafficType") == "ALL"
    }
    if not all(known(v) for v in logged):
        return []
    findings = []
    for vpc in (r for r in resources if r.type == VPC):
        vpc_id = vpc.get("id")  # None where the engine has not given the VPC its id yet
        if vpc_id is not None and known(vpc_id) and vpc_id not in logged:
            findings.append(
                Finding(
                    vpc.urn,
                    "the VPC has no flow log of all traffic: add an aws.ec2.FlowLog with "
                    "traffic_type='ALL' for it (modules/aws/detection.py)",
                )
            )
    return findings
