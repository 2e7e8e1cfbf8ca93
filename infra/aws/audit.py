"""`regionstack audit STACK`: what a deployed `aws` region looks like from the account.

The Pulumi program declares the region's guards, and its mocks tests prove the
declaration; this audit reads the account with boto3 after the deployment and checks
what the code cannot see from inside - what was changed by hand, stopped, or added
beside the stack:

* `cloudtrail` - the stack's trail (tagged `regionstack:stack`) exists, is logging,
  records every region and validates its log files (MLPS 8.1.4.3, 8.1.5.2);
* `log-archive` - the bucket the trail writes to blocks public access (all four
  settings) and keeps versions;
* `guardduty` - a detector is enabled in the region; recorded as skipped where the
  partition does not offer GuardDuty (infra/aws/partition.py);
* `flow-logs` - the region's VPC has an active flow log of all traffic that delivers;
* `security-groups` - no group of the VPC admits 0.0.0.0/0 or ::/0 except the load
  balancer's group on the ports the flow matrix opens to the internet (443, 80), read
  from infra/aws/flows.py, the same source the security groups are built from;
* `instances` - the stack's hosts have no public address and carry the tag contract
  (infra/aws/tags.py) the inventory groups them by.

Every finding names the resource and how to fix it; findings make the command exit 1.
Resources are found by the tag contract, so the audit needs the configuration and
credentials of the region's partition, not the stack's state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
)

from infra.aws.flows import ALB_GROUP, security_group_rules
from infra.aws.partition import SERVICES, Partition
from infra.aws.plan import AwsRegionPlan
from infra.aws.tags import REGION_TAG_KEYS, TAG_NAME, TAG_ROLE, TAG_STACK, host_name
from infra.config.schema import COMPONENTS, Standard

WORLD = ("0.0.0.0/0", "::/0")
PUBLIC_ACCESS_BLOCK = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)
REDEPLOY = "pulumi up --stack {stack}"
# A short retry budget: an audit that cannot reach the API should say so, not hang.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10)


class AuditError(Exception):
    """The account cannot be audited as asked; the message says what to set or grant."""


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str
    problem: str
    fix: str


@dataclass(frozen=True)
class Passed:
    check: str
    resource: str
    detail: str


@dataclass(frozen=True)
class Skipped:
    check: str
    reason: str


Result = Finding | Passed | Skipped


@dataclass(frozen=True)
class AuditTarget:
    """What the audit expects of a region, all derived from the unified configuration."""

    stack: str
    partition: Partition
    region: str
    tags: dict[str, str]  # the region tags every resource carries
    world_ports: tuple[int, ...]  # the load balancer's ports open to the internet
    guardduty: bool  # whether the partition offers GuardDuty

    @classmethod
    def from_plan(cls, plan: AwsRegionPlan, standard: Standard) -> AuditTarget:
        world = sorted(
            {
                rule.port
                for rule in security_group_rules(plan, standard)
                if rule.group == ALB_GROUP
                and rule.direction == "ingress"
                and rule.peer_kind == "cidr"
                and rule.peer in WORLD
            }
        )
        return cls(
            stack=plan.stack,
            partition=plan.partition,
            region=plan.region,
            tags=plan.tags,
            world_ports=tuple(world),
            guardduty=plan.partition.offers("guardduty"),
        )

    def redeploy(self) -> str:
        return REDEPLOY.format(stack=self.stack)


@dataclass
class AuditReport:
    target: AuditTarget
    account: str
    results: list[Result] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [r for r in self.results if isinstance(r, Finding)]

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Scope:
    """What every check works with: the expectations, the clients, the account."""

    target: AuditTarget
    aws: AwsClients
    account: str

    def arn(self, service: str, resource: str) -> str:
        """An ARN in the region and account, for naming what is missing."""
        regional = "" if service == "s3" else self.target.region
        account = "" if service == "s3" else self.account
        return self.target.partition.arn(service, resource, regional, account)


class AwsClients:
    """boto3 clients of one region, with an optional endpoint (an emulator)."""

    def __init__(self, region: str, endpoint_url: str | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}

    def has_credentials(self) -> bool:
        return self._session.get_credentials() is not None

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint_url, config=BOTO_CONFIG
            )
        return self._clients[service]


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _tag_map(tags: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


def _stack_filter(target: AuditTarget) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{TAG_STACK}", "Values": [target.stack]}]


def _label(resource_id: str, tags: dict[str, str]) -> str:
    name = tags.get(TAG_NAME)
    return f"{resource_id} ({name})" if name else resource_id


# --- the checks: each yields a result per resource it looked at ---------------------


def _stack_trails(target: AuditTarget, aws: AwsClients) -> list[dict[str, Any]]:
    """The trails homed in the region (elsewhere a multi-region trail is only a shadow)
    that carry the stack's tag."""
    cloudtrail = aws("cloudtrail")
    trails = cloudtrail.describe_trails(includeShadowTrails=False).get("trailList", [])
    if not trails:
        return []
    listing = cloudtrail.list_tags(ResourceIdList=[t["TrailARN"] for t in trails])
    tagged = {
        entry["ResourceId"]
        for entry in listing.get("ResourceTagList", [])
        if _tag_map(entry.get("TagsList")).get(TAG_STACK) == target.stack
    }
    return [trail for trail in trails if trail["TrailARN"] in tagged]


def check_cloudtrail(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "cloudtrail"
    cloudtrail = aws("cloudtrail")
    ours = _stack_trails(target, aws)
    if not ours:
        yield Finding(
            check,
            scope.arn("cloudtrail", "trail/*"),
            f"no trail tagged {TAG_STACK}={target.stack} in {target.region}: the account's "
            "API activity is not recorded for the region",
            f"`{target.redeploy()}` (modules/aws/log_archive.py declares the trail)",
        )
    region_flag = f"--region {target.region}"
    for trail in ours:
        arn, problems, fixes = trail["TrailARN"], [], []
        if not cloudtrail.get_trail_status(Name=arn).get("IsLogging"):
            problems.append("logging is stopped")
            fixes.append(f"aws cloudtrail start-logging --name {arn} {region_flag}")
        if not trail.get("IsMultiRegionTrail"):
            problems.append("it records this region only")
            fixes.append(
                f"aws cloudtrail update-trail --name {arn} --is-multi-region-trail {region_flag}"
            )
        if not trail.get("LogFileValidationEnabled"):
            problems.append("log file validation is off")
            fixes.append(
                f"aws cloudtrail update-trail --name {arn} --enable-log-file-validation "
                f"{region_flag}"
            )
        for problem, fix in zip(problems, fixes, strict=True):
            yield Finding(check, arn, problem, fix)
        if not problems:
            yield Passed(check, arn, "logging, multi-region, log file validation on")


def check_log_archive(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "log-archive"
    buckets = sorted({trail["S3BucketName"] for trail in _stack_trails(target, aws)})
    if not buckets:
        yield Finding(
            check,
            scope.arn("s3", "*"),
            "no trail of the stack names its log archive bucket, so the archive cannot be "
            "located (see the cloudtrail finding)",
            f"`{target.redeploy()}` (modules/aws/log_archive.py declares the bucket)",
        )
    s3 = aws("s3")
    for bucket in buckets:
        arn = scope.arn("s3", bucket)
        try:
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as err:
            if _code(err) != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = {}
        off = [setting for setting in PUBLIC_ACCESS_BLOCK if not block.get(setting)]
        if off:
            yield Finding(
                check,
                arn,
                f"public access block off: {', '.join(off)}",
                f"aws s3api put-public-access-block --bucket {bucket} "
                "--public-access-block-configuration "
                + ",".join(f"{setting}=true" for setting in PUBLIC_ACCESS_BLOCK),
            )
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
        if status != "Enabled":
            yield Finding(
                check,
                arn,
                f"versioning is {status}: an overwritten or deleted log is lost",
                f"aws s3api put-bucket-versioning --bucket {bucket} "
                "--versioning-configuration Status=Enabled",
            )
        if not off and status == "Enabled":
            yield Passed(check, arn, "public access blocked, versioning enabled")


def check_guardduty(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "guardduty"
    if not target.guardduty:
        spec = SERVICES["guardduty"]
        yield Skipped(
            check, f"partition {target.partition.name} does not offer GuardDuty ({spec.source})"
        )
        return
    guardduty = aws("guardduty")
    detectors = list(_pages(guardduty, "list_detectors", "DetectorIds"))
    if not detectors:
        yield Finding(
            check,
            scope.arn("guardduty", "detector/*"),
            f"no GuardDuty detector in {target.region}: threats go undetected",
            f"`{target.redeploy()}` (modules/aws/detection.py declares the detector)",
        )
    for detector in detectors:
        resource = scope.arn("guardduty", f"detector/{detector}")
        status = guardduty.get_detector(DetectorId=detector).get("Status")
        if status == "ENABLED":
            yield Passed(check, resource, "enabled")
        else:
            yield Finding(
                check,
                resource,
                f"the detector is {status}",
                f"aws guardduty update-detector --detector-id {detector} --enable "
                f"--region {target.region}",
            )


def _vpcs(target: AuditTarget, aws: AwsClients) -> list[dict[str, Any]]:
    return list(_pages(aws("ec2"), "describe_vpcs", "Vpcs", Filters=_stack_filter(target)))


def check_flow_logs(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "flow-logs"
    vpcs = _vpcs(target, aws)
    if not vpcs:
        yield Finding(
            check,
            scope.arn("ec2", "vpc/*"),
            f"no VPC tagged {TAG_STACK}={target.stack} in {target.region}",
            f"`{target.redeploy()}` (modules/aws/network.py declares the VPC)",
        )
    ec2 = aws("ec2")
    for vpc in vpcs:
        vpc_id = vpc["VpcId"]
        label = _label(vpc_id, _tag_map(vpc.get("Tags")))
        logs = list(
            _pages(
                ec2,
                "describe_flow_logs",
                "FlowLogs",
                Filters=[{"Name": "resource-id", "Values": [vpc_id]}],
            )
        )
        delivering = [
            log
            for log in logs
            if log.get("FlowLogStatus") == "ACTIVE"
            and log.get("TrafficType") == "ALL"
            and log.get("DeliverLogsStatus") != "FAILED"
        ]
        if delivering:
            yield Passed(check, label, f"{delivering[0]['FlowLogId']} records all traffic")
            continue
        seen = "; ".join(
            f"{log['FlowLogId']}: {log.get('FlowLogStatus')}, {log.get('TrafficType')} traffic, "
            f"delivery {log.get('DeliverLogsStatus')} {log.get('DeliverLogsErrorMessage', '')}".strip()
            for log in logs
        )
        yield Finding(
            check,
            label,
            f"no active flow log of all traffic delivering ({seen or 'no flow log at all'})",
            "fix the delivery role and log group named in the error, or "
            f"`{target.redeploy()}` (modules/aws/detection.py declares the flow log)",
        )


def _load_balancer_groups(aws: AwsClients, vpc_ids: set[str]) -> set[str]:
    """The security groups of the region's application load balancers."""
    groups: set[str] = set()
    balancers = _pages(aws("elbv2"), "describe_load_balancers", "LoadBalancers")
    for balancer in balancers:
        if balancer.get("Type") == "application" and balancer.get("VpcId") in vpc_ids:
            groups.update(balancer.get("SecurityGroups", []))
    return groups


def _world_sources(permission: dict[str, Any]) -> list[str]:
    v4 = [r["CidrIp"] for r in permission.get("IpRanges", []) if r.get("CidrIp") in WORLD]
    v6 = [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", []) if r.get("CidrIpv6") in WORLD]
    return v4 + v6


def _describe_ports(permission: dict[str, Any]) -> str:
    protocol = permission.get("IpProtocol")
    if protocol == "-1":
        return "all traffic"
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def _revoke(group_id: str, permission: dict[str, Any], source: str, region: str) -> str:
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": source}]}
        if ":" in source
        else {"IpRanges": [{"CidrIp": source}]}
    )
    spec = {k: permission[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in permission}
    return (
        f"aws ec2 revoke-security-group-ingress --group-id {group_id} --region {region} "
        f"--ip-permissions '{json.dumps([{**spec, **ranges}], separators=(',', ':'))}'"
    )


def check_security_groups(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "security-groups"
    vpc_ids = {vpc["VpcId"] for vpc in _vpcs(target, aws)}
    if not vpc_ids:
        yield Skipped(check, "no VPC of the stack (see the flow-logs finding)")
        return
    allowed_groups = _load_balancer_groups(aws, vpc_ids)
    groups = _pages(
        aws("ec2"),
        "describe_security_groups",
        "SecurityGroups",
        Filters=[{"Name": "vpc-id", "Values": sorted(vpc_ids)}],
    )
    for group in groups:
        group_id = group["GroupId"]
        label = _label(group_id, _tag_map(group.get("Tags")))
        open_rules = 0
        for permission in group.get("IpPermissions", []):
            for source in _world_sources(permission):
                designed = (
                    group_id in allowed_groups
                    and permission.get("IpProtocol") == "tcp"
                    and permission.get("FromPort") == permission.get("ToPort")
                    and permission.get("FromPort") in target.world_ports
                )
                if designed:
                    continue
                open_rules += 1
                ports = ", ".join(str(p) for p in target.world_ports)
                yield Finding(
                    check,
                    label,
                    f"admits {_describe_ports(permission)} from {source}; the flow matrix "
                    f"opens only the load balancer's group to the internet, on tcp {ports}",
                    _revoke(group_id, permission, source, target.region),
                )
        if not open_rules:
            yield Passed(check, label, "no ingress from the internet beyond the design")


def _wrong_region_tags(target: AuditTarget, tags: dict[str, str]) -> list[str]:
    return [key for key in REGION_TAG_KEYS if tags.get(key) != target.tags[key]]


def _host_tag_problems(target: AuditTarget, tags: dict[str, str]) -> list[str]:
    """What is wrong with a host's role and Name; a name must be `<stack>-<role>-<n>`."""
    role = tags.get(TAG_ROLE)
    if role not in COMPONENTS:
        return [f"{TAG_ROLE}={role or '(missing)'}, expected one of {', '.join(COMPONENTS)}"]
    name = tags.get(TAG_NAME, "")
    prefix = host_name(target.stack, role, 1).removesuffix("1")
    index = name.removeprefix(prefix)
    if not name.startswith(prefix) or not index.isdigit() or index.startswith("0"):
        return [f"{TAG_NAME}={name or '(missing)'}, expected {prefix}<n>"]
    return []


def check_instances(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "instances"
    states = {
        "Name": "instance-state-name",
        "Values": ["pending", "running", "stopping", "stopped"],
    }
    reservations = _pages(
        aws("ec2"), "describe_instances", "Reservations", Filters=[*_stack_filter(target), states]
    )
    for reservation in reservations:
        for instance in reservation.get("Instances", []):
            instance_id = instance["InstanceId"]
            tags = _tag_map(instance.get("Tags"))
            label = _label(instance_id, tags)
            public = instance.get("PublicIpAddress")
            if public:
                yield Finding(
                    check,
                    label,
                    f"has the public address {public}: hosts are reached through SSM and the "
                    "load balancer only",
                    f"`{target.redeploy()}` replaces it from a launch setting without one; "
                    "an Elastic IP: `aws ec2 disassociate-address` it",
                )
            wrong = _wrong_region_tags(target, tags)
            problems = [
                f"{key}={tags.get(key, '(missing)')}, expected {target.tags[key]}" for key in wrong
            ] + _host_tag_problems(target, tags)
            if problems:
                fixes = [f"`{target.redeploy()}` (the role and Name come from the plan)"]
                if wrong:
                    tag_args = " ".join(f"Key={key},Value={target.tags[key]}" for key in wrong)
                    fixes.insert(
                        0,
                        f"aws ec2 create-tags --resources {instance_id} --tags {tag_args} "
                        f"--region {target.region}",
                    )
                yield Finding(
                    check,
                    label,
                    "breaks the tag contract the inventory groups by: " + "; ".join(problems),
                    fixes[0] if len(problems) == len(wrong) else "; ".join(fixes),
                )
            if not public and not problems:
                yield Passed(check, label, "no public address, tags complete")


Check = Callable[[Scope], Iterator[Result]]
CHECKS: dict[str, Check] = {
    "cloudtrail": check_cloudtrail,
    "log-archive": check_log_archive,
    "guardduty": check_guardduty,
    "flow-logs": check_flow_logs,
    "security-groups": check_security_groups,
    "instances": check_instances,
}


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _account(target: AuditTarget, aws: AwsClients) -> str:
    """The account of the credentials, refused if it lives in another partition."""
    identity = aws("sts").get_caller_identity()
    partition = str(identity["Arn"]).split(":")[1]
    if partition != target.partition.name:
        raise AuditError(
            f"the credentials are {identity['Arn']}, of partition {partition}; {target.stack} "
            f"runs in {target.partition.name} ({target.region}): use credentials of an "
            f"{target.partition.name} account (AWS_PROFILE)"
        )
    return str(identity["Account"])


def run_audit(target: AuditTarget, aws: AwsClients) -> AuditReport:
    """Every check against the account; raises AuditError when it cannot be read."""
    if not aws.has_credentials():
        raise AuditError(
            f"no AWS credentials for {target.partition.name}: set AWS_PROFILE to a profile of "
            f"the account {target.stack} runs in, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (docs/aws.md, Credentials)"
        )
    try:
        report = AuditReport(target, _account(target, aws))
        scope = Scope(target, aws, report.account)
        for run in CHECKS.values():
            report.results.extend(run(scope))
    except NoCredentialsError as err:
        raise AuditError(f"no usable AWS credentials: {err}") from None
    except ClientError as err:
        operation = getattr(err, "operation_name", "an API call")
        raise AuditError(
            f"{operation} was refused ({_code(err)}): the audit needs read access to "
            "CloudTrail, S3, GuardDuty, EC2 and Elastic Load Balancing (docs/aws.md lists "
            f"the actions): {err}"
        ) from None
    except BotoCoreError as err:
        where = aws.endpoint_url or f"the {target.partition.name} endpoints of {target.region}"
        raise AuditError(f"cannot reach {where}: {err}") from None
    return report


def format_report(report: AuditReport) -> str:
    target = report.target
    lines = [
        f"audit of {target.stack} in {target.partition.name} {target.region}, "
        f"account {report.account}"
    ]
    for result in report.results:
        if isinstance(result, Finding):
            lines.append(f"FAIL {result.check}: {result.resource}: {result.problem}")
            lines.append(f"     fix: {result.fix}")
        elif isinstance(result, Passed):
            lines.append(f"ok   {result.check}: {result.resource}: {result.detail}")
        else:
            lines.append(f"skip {result.check}: {result.reason}")
    skipped = sum(isinstance(r, Skipped) for r in report.results)
    passed = sum(isinstance(r, Passed) for r in report.results)
    lines.append(f"{len(report.findings)} finding(s), {passed} passed, {skipped} skipped")
    if report.findings:
        lines.append(
            f"after fixing by hand, `pulumi refresh --stack {target.stack}` brings the "
            "stack's state back in line with the account"
        )
    return "\n".join(lines)
