"""The `cloudtrail` and `log-archive` checks: the trail and the bucket it writes to, as
modules/aws/log_archive.py declares them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra.aws.audit.clients import AwsClients, error_code
from infra.aws.audit.model import AuditTarget, Finding, Passed, Result, Scope
from infra.aws.audit.stack_resources import tag_map
from infra.aws.tags import TAG_STACK

PUBLIC_ACCESS_BLOCK = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


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
        if tag_map(entry.get("TagsList")).get(TAG_STACK) == target.stack
    }
    return [trail for trail in trails if trail["TrailARN"] in tagged]


def check_cloudtrail(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "cloudtrail"
    cloudtrail = aws("cloudtrail")
    ours = _stack_trails(target, aws)
    if not ours:
        problem = (
            f"no trail tagged {TAG_STACK}={target.stack} in {target.region}: the account's "
            "API activity is not recorded for the region"
        )
        declaration = "modules/aws/log_archive.py declares the trail"
        yield scope.missing(check, "cloudtrail", "trail/*", problem, declaration)
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
        problem = (
            "no trail of the stack names its log archive bucket, so the archive cannot be "
            "located (see the cloudtrail finding)"
        )
        declaration = "modules/aws/log_archive.py declares the bucket"
        yield scope.missing(check, "s3", "*", problem, declaration)
    s3 = aws("s3")
    for bucket in buckets:
        arn = scope.arn("s3", bucket)
        try:
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as err:
            if error_code(err) != "NoSuchPublicAccessBlockConfiguration":
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
