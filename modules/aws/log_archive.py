"""The region's log archive and its audit trail: an S3 bucket and CloudTrail.

The bucket is versioned, encrypted with the region's key, closed to the public (all four
public access block settings, objects owned by the bucket owner), refuses any request
not made over TLS, and keeps every object and every overwritten version for the
standard's log retention (Cybersecurity Law Art. 21: at least six months). CloudTrail
records every region of the account with log file validation (MLPS 8.1.4.3, 8.1.5.2)
and writes only into its own prefix, for this trail only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.partition import Partition
from modules.aws.policy import document

INCOMPLETE_UPLOAD_DAYS = 7


def trail_name(stack: str) -> str:
    return f"regionstack-{stack}"


@dataclass
class LogArchiveArgs:
    stack: str
    partition: Partition
    region: str
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    retention_days: int
    tags: dict[str, str]


class LogArchive(pulumi.ComponentResource):
    """The archive bucket, its guards and lifecycle, and the multi-region trail."""

    def __init__(
        self, name: str, args: LogArchiveArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:LogArchive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", tags=args.tags, opts=child)
        bucket_id = self.bucket.id
        guards: list[pulumi.Resource] = [
            aws.s3.BucketOwnershipControls(
                f"{name}-ownership",
                bucket=bucket_id,
                rule={"object_ownership": "BucketOwnerEnforced"},
                opts=child,
            ),
            aws.s3.BucketPublicAccessBlock(
                f"{name}-public-access-block",
                bucket=bucket_id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
                opts=child,
            ),
            aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=bucket_id,
                versioning_configuration={"status": "Enabled"},
                opts=child,
            ),
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{name}-encryption",
                bucket=bucket_id,
                rules=[
                    {
                        "apply_server_side_encryption_by_default": {
                            "sse_algorithm": "aws:kms",
                            "kms_master_key_id": args.kms_key_arn,
                        },
                        "bucket_key_enabled": True,
                    }
                ],
                opts=child,
            ),
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle",
                bucket=bucket_id,
                rules=[
                    {
                        "id": "retention",
                        "status": "Enabled",
                        "filter": {"prefix": ""},
                        "expiration": {"days": args.retention_days},
                        "noncurrent_version_expiration": {"noncurrent_days": args.retention_days},
                        "abort_incomplete_multipart_upload": {
                            "days_after_initiation": INCOMPLETE_UPLOAD_DAYS
                        },
                    }
                ],
                opts=child,
            ),
        ]
        trail = trail_name(args.stack)
        policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=pulumi.Output.all(self.bucket.bucket, args.account_id).apply(
                lambda values: self._policy(args, str(values[0]), str(values[1]), trail)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=guards),
        )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail,
            s3_bucket_name=bucket_id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=args.kms_key_arn,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket_name, "trail_arn": self.trail.arn})

    @staticmethod
    def _policy(args: LogArchiveArgs, bucket: str, account: str, trail: str) -> str:
        part = args.partition
        bucket_arn = part.arn("s3", bucket)
        trail_arn = part.arn("cloudtrail", f"trail/{trail}", args.region, account)
        cloudtrail = {"Service": part.service_principal("cloudtrail")}
        return document(
            {
                "Sid": "DenyRequestsWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "CloudTrailChecksTheBucket",
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWritesItsOwnPrefix",
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceArn": trail_arn,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            },
        )
