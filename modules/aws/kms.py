"""The region's KMS key: EBS volumes, the log archive, CloudTrail and the log groups.

One customer managed key per region (MLPS 8.1.4.8, confidentiality at rest), rotated
yearly. Its policy names every AWS service that encrypts with it, each restricted to this
account's resources through the encryption context the service sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.partition import Partition
from modules.aws.policy import document

DELETION_WINDOW_DAYS = 30  # the longest: a key scheduled for deletion by mistake can be saved


@dataclass
class RegionKeyArgs:
    stack: str
    partition: Partition
    region: str
    account_id: pulumi.Input[str]
    tags: dict[str, str]
    # Roles that launch encrypted volumes on the region's behalf (the auto scaling
    # groups' service-linked role); the key policy names them.
    volume_launchers: list[pulumi.Input[str]]


class RegionKey(pulumi.ComponentResource):
    """A customer managed key with rotation, and its alias `alias/regionstack/<stack>`."""

    def __init__(
        self, name: str, args: RegionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:RegionKey", name, None, opts)
        policy = pulumi.Output.all(
            pulumi.Output.from_input(args.account_id), *args.volume_launchers
        ).apply(lambda values: self._policy(args, str(values[0]), [str(v) for v in values[1:]]))
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"regionstack {args.stack}: volumes, log archive, CloudTrail, log groups",
            enable_key_rotation=True,
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            policy=policy,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/regionstack/{args.stack}",
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn, "alias": self.alias.name})

    @staticmethod
    def _policy(args: RegionKeyArgs, account: str, launchers: list[str]) -> str:
        part, region = args.partition, args.region
        use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
        statements = [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": part.account_root(account)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": part.service_principal("logs", region)},
                "Action": [*use, "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": part.arn(
                            "logs", "log-group:*", region, account
                        )
                    }
                },
            },
            {
                "Sid": "CloudTrailEncryptsThisAccountsTrails",
                "Effect": "Allow",
                "Principal": {"Service": part.service_principal("cloudtrail")},
                "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": part.arn(
                            "cloudtrail", "trail/*", "*", account
                        )
                    }
                },
            },
        ]
        if launchers:
            statements += [
                {
                    "Sid": "AutoScalingLaunchesEncryptedVolumes",
                    "Effect": "Allow",
                    "Principal": {"AWS": launchers},
                    "Action": [*use, "kms:DescribeKey"],
                    "Resource": "*",
                },
                {
                    "Sid": "AutoScalingGrantsVolumesTheKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": launchers},
                    "Action": "kms:CreateGrant",
                    "Resource": "*",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                },
            ]
        return document(*statements)
