"""aws-encryption-at-rest-region-kms (MLPS 8.1.4.8, confidentiality at rest).

Every place the region stores data at rest - the hosts' volumes, the log archive bucket,
the log groups, the trail - is encrypted with the region's own customer managed key
(modules/aws/kms.py), not an AWS managed key or none. The region's keys are the
`aws:kms/key:Key` resources of the stack.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from policies.model import AWS_INSTANCE, AWS_LAUNCH_TEMPLATE, Finding, RegionFacts, Resource, known

KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
FIX = "pass the region key's ARN (RegionKey.arn, modules/aws/kms.py)"


def _truthy(value: Any) -> bool:
    # The launch template API spells its booleans as strings.
    return value is True or value == "true"


def _encrypted_places(resource: Resource) -> Iterator[tuple[str, Any, Any]]:
    """(where, encrypted, key) for every place of `resource` that stores data at rest."""
    props = resource.props
    if resource.type == AWS_INSTANCE:
        root = props.get("rootBlockDevice") or {}
        yield "root volume", root.get("encrypted"), root.get("kmsKeyId")
        for index, device in enumerate(props.get("ebsBlockDevices") or []):
            yield f"volume {index}", device.get("encrypted"), device.get("kmsKeyId")
    elif resource.type == AWS_LAUNCH_TEMPLATE:
        for mapping in props.get("blockDeviceMappings") or []:
            ebs = mapping.get("ebs") or {}
            yield f"volume {mapping.get('deviceName')}", ebs.get("encrypted"), ebs.get("kmsKeyId")
    elif resource.type in (LOG_GROUP, TRAIL):
        yield "log data", True, props.get("kmsKeyId")
    elif resource.type == BUCKET_ENCRYPTION:
        for rule in props.get("rules") or [{}]:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            kms = default.get("sseAlgorithm") == "aws:kms"
            yield "default encryption", kms, default.get("kmsMasterKeyId") if kms else None


def _place_problem(where: str, encrypted: Any, key: Any, region_keys: set[str]) -> str | None:
    if not known(encrypted) or not known(key):
        return None  # a preview cannot tell yet
    if not _truthy(encrypted):
        return f"{where} is not encrypted with KMS: encrypt it and {FIX}"
    if not key:
        return f"{where} uses the AWS managed key: {FIX} as its KMS key"
    if region_keys and key not in region_keys:
        return f"{where} is encrypted with {key}, not the region's key: {FIX}"
    return None


def check_encryption_at_rest(resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
    keys = [r for r in resources if r.type == KMS_KEY]
    region_keys = {str(r.get("arn")) for r in keys if r.get("arn") and known(r.get("arn"))}
    findings = []
    for resource in resources:
        for where, encrypted, key in _encrypted_places(resource):
            problem = _place_problem(where, encrypted, key, region_keys)
            if problem:
                findings.append(Finding(resource.urn, problem))
    findings += _unencrypted_buckets(resources)
    if not keys and any(r.type.startswith("aws:") for r in resources):
        findings.append(
            Finding(
                resources[0].urn,
                f"the stack {facts.stack} has no KMS key of its own: the region needs its "
                "RegionKey (modules/aws/kms.py) to encrypt data at rest",
            )
        )
    return findings


def _unencrypted_buckets(resources: Sequence[Resource]) -> list[Finding]:
    """Buckets no default-encryption configuration names (by id or bucket name)."""
    configured = {r.get("bucket") for r in resources if r.type == BUCKET_ENCRYPTION}
    findings = []
    for bucket in (r for r in resources if r.type == BUCKET):
        names = {bucket.get("id"), bucket.get("bucket")} - {None}
        if not names or not all(known(n) for n in names) or not all(known(c) for c in configured):
            continue
        if not names & configured:
            findings.append(
                Finding(
                    bucket.urn,
                    "the bucket has no default encryption: add a "
                    "BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms and "
                    "kms_master_key_id = the region key's ARN (as modules/aws/log_archive.py does)",
                )
            )
    return findings
