"""What watches the region from outside its hosts: VPC flow logs and GuardDuty.

Flow logs record every accepted and rejected connection of the VPC into a KMS-encrypted
log group kept for the standard's retention (MLPS 8.1.3.5, boundary audit). GuardDuty
analyses CloudTrail, flow and DNS logs (MLPS 8.1.3.3); its runtime monitoring of the
hosts is enabled where the partition offers it (infra/aws/partition.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.partition import Partition
from modules.aws.policy import assume_role, document

FLOW_LOG_ACTIONS = [
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
]


@dataclass
class DetectionArgs:
    stack: str
    partition: Partition
    vpc_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    guardduty: bool
    runtime_monitoring: bool
    tags: dict[str, str]


class Detection(pulumi.ComponentResource):
    """Flow logs of the VPC, and the account's GuardDuty detector in this region."""

    def __init__(
        self, name: str, args: DetectionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:Detection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/regionstack/{args.stack}/vpc-flow-logs",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=args.tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description=f"regionstack {args.stack}: VPC flow logs delivery",
            assume_role_policy=assume_role(args.partition.service_principal("vpc-flow-logs")),
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-delivery",
            role=role.id,
            policy=self.flow_log_group.arn.apply(
                lambda arn: document(
                    {"Effect": "Allow", "Action": FLOW_LOG_ACTIONS, "Resource": [arn, f"{arn}:*"]}
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=args.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=args.tags,
            opts=child,
        )
        self.detector_id: pulumi.Output[str] | None = None
        if args.guardduty:
            detector = aws.guardduty.Detector(
                f"{name}-guardduty",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                tags=args.tags,
                opts=child,
            )
            self.detector_id = detector.id
            if args.runtime_monitoring:
                aws.guardduty.DetectorFeature(
                    f"{name}-guardduty-runtime",
                    detector_id=detector.id,
                    name="RUNTIME_MONITORING",
                    status="ENABLED",
                    additional_configurations=[
                        {"name": "EC2_AGENT_MANAGEMENT", "status": "ENABLED"}
                    ],
                    opts=child,
                )
        self.register_outputs(
            {"flow_log_group": self.flow_log_group.name, "detector_id": self.detector_id}
        )
