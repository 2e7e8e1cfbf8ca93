"""A region as `pulumi up` leaves it in an account, built with boto3 in the emulator.

`build_region` creates, from the same plan and flow matrix the Pulumi program uses
(infra/aws/plan.py, infra/aws/flows.py) and with the tag contract (infra/aws/tags.py),
what the inventory and the audit look at: the VPC and its subnets, the security groups
with every ingress rule of the flow matrix, the portal's load balancer, the log archive
bucket and the trail, the flow log, the GuardDuty detector, and the hosts - instances,
or one auto scaling group per host where the tier scales (tags then reach the instance
by propagation, as on AWS). Beside them, two things the inventory and the audit must
leave alone: another stack's VPC and host, both open to the internet, and a stopped host
of the stack.

`VIOLATIONS` turns a compliant region into a non-compliant one, one finding each.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.aws.audit.model import AuditTarget
from infra.aws.flows import ALB_GROUP, security_group_rules, security_groups
from infra.aws.plan import AwsRegionPlan, plan_aws_region
from infra.aws.tags import TAG_CODE, TAG_NAME, role_tags
from infra.config.loader import Fleet
from infra.config.schema import Region
from infra.names import host_name

NEIGHBOUR = "neighbour"  # another stack sharing the account and region
STOPPED_HOST_INDEX = 9  # a stopped portal host of the stack
ASSUMED_ROLE = "regionstack-tests"
FIRST_ACCOUNT = 100_000_000_000
# The operator's Debian image (`regionstack:ami_id`); the emulator takes any id.
IMAGE = "ami-0123456789abcdef0"


@dataclass(frozen=True)
class Account:
    """An emulated account of one partition, reached with its own credentials."""

    account_id: str
    partition: str
    endpoint: str
    credentials: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": self.credentials["SessionToken"],
        }

    def client(self, service: str, region: str) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )


def assume_account(endpoint: str, region: Region, number: int) -> Account:
    """A fresh account: the emulator keeps what each assumed account creates apart."""
    assert region.aws is not None
    partition, aws_region = region.aws.partition, region.aws.region
    account_id = str(FIRST_ACCOUNT + number)
    sts = boto3.client(
        "sts",
        region_name=aws_region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    credentials = sts.assume_role(
        RoleArn=f"arn:{partition}:iam::{account_id}:role/{ASSUMED_ROLE}",
        RoleSessionName=ASSUMED_ROLE,
    )["Credentials"]
    return Account(account_id, partition, endpoint, credentials)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _spec(kind: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": _tag_list(tags)}]


@dataclass
class BuiltRegion:
    account: Account
    plan: AwsRegionPlan
    target: AuditTarget
    vpc_id: str = ""
    groups: dict[str, str] = field(default_factory=dict)  # component or `alb` -> id
    bucket: str = ""
    trail_arn: str = ""
    detector_id: str = ""
    flow_log_id: str = ""
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)  # Name -> instance
    stopped_host: str = ""
    neighbour_group: str = ""
    neighbour_host: str = ""

    def client(self, service: str) -> Any:
        return self.account.client(service, self.plan.region)

    def host(self, component: str, index: int = 1) -> dict[str, Any]:
        return self.instances[host_name(self.plan.stack, component, index)]


def _network(built: BuiltRegion) -> dict[tuple[str, int], str]:
    plan, ec2 = built.plan, built.client("ec2")
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    built.vpc_id = ec2.create_vpc(
        CidrBlock=plan.vpc_cidr,
        TagSpecifications=_spec("vpc", {**plan.tags, TAG_NAME: f"{plan.stack}-vpc"}),
    )["Vpc"]["VpcId"]
    subnets = {}
    for subnet in plan.subnets:
        subnets[(subnet.tier, subnet.zone)] = ec2.create_subnet(
            VpcId=built.vpc_id,
            CidrBlock=subnet.cidr,
            AvailabilityZone=zones[subnet.zone],
            TagSpecifications=_spec("subnet", plan.tags),
        )["Subnet"]["SubnetId"]
    return subnets


def _security_groups(built: BuiltRegion, fleet: Fleet) -> None:
    """The groups with every ingress rule of the flow matrix (the audit reads ingress)."""
    plan, ec2 = built.plan, built.client("ec2")
    for group in security_groups():
        tags = plan.tags if group == ALB_GROUP else role_tags(plan.tags, group)
        built.groups[group] = ec2.create_security_group(
            GroupName=f"{plan.stack}-{group}",
            Description=f"regionstack {plan.stack} {group}",
            VpcId=built.vpc_id,
            TagSpecifications=_spec("security-group", {**tags, TAG_NAME: f"{plan.stack}-{group}"}),
        )["GroupId"]
    permissions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in security_group_rules(plan, fleet.standard):
        if rule.direction != "ingress":
            continue
        peer = (
            {"UserIdGroupPairs": [{"GroupId": built.groups[rule.peer]}]}
            if rule.peer_kind == "group"
            else {"IpRanges": [{"CidrIp": rule.peer}]}
        )
        permissions[rule.group].append(
            {"IpProtocol": "tcp", "FromPort": rule.port, "ToPort": rule.port, **peer}
        )
    for group, rules in permissions.items():
        ec2.authorize_security_group_ingress(GroupId=built.groups[group], IpPermissions=rules)


def _load_balancer(built: BuiltRegion, subnets: dict[tuple[str, int], str]) -> None:
    public = [subnets[("public", s.zone)] for s in built.plan.subnets_of("public")]
    built.client("elbv2").create_load_balancer(
        Name=f"{built.plan.stack}-portal",
        Subnets=public,
        SecurityGroups=[built.groups[ALB_GROUP]],
        Scheme="internet-facing",
        Type="application",
        Tags=_tag_list(role_tags(built.plan.tags, "portal")),
    )


def _log_archive(built: BuiltRegion) -> None:
    plan = built.plan
    s3, cloudtrail = built.client("s3"), built.client("cloudtrail")
    built.bucket = f"regionstack-{plan.stack}-logs-{built.account.account_id}"
    s3.create_bucket(
        Bucket=built.bucket, CreateBucketConfiguration={"LocationConstraint": plan.region}
    )
    s3.put_public_access_block(
        Bucket=built.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=built.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=built.bucket, Tagging={"TagSet": _tag_list(plan.tags)})
    built.trail_arn = cloudtrail.create_trail(
        Name=f"regionstack-{plan.stack}",
        S3BucketName=built.bucket,
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        TagsList=_tag_list(plan.tags),
    )["TrailARN"]
    cloudtrail.start_logging(Name=built.trail_arn)


def _detection(built: BuiltRegion) -> None:
    plan, ec2 = built.plan, built.client("ec2")
    group = f"/regionstack/{plan.stack}/vpc-flow-logs"
    built.client("logs").create_log_group(logGroupName=group, tags=plan.tags)
    service = "vpc-flow-logs.amazonaws.com"
    role = built.client("iam").create_role(
        RoleName=f"{plan.stack}-flow-logs",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    built.flow_log_id = ec2.create_flow_logs(
        ResourceIds=[built.vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=group,
        DeliverLogsPermissionArn=role,
        MaxAggregationInterval=60,
    )["FlowLogIds"][0]
    if built.target.guardduty:
        built.detector_id = built.client("guardduty").create_detector(Enable=True)["DetectorId"]


def _hosts(built: BuiltRegion, subnets: dict[tuple[str, int], str]) -> None:
    plan, ec2 = built.plan, built.client("ec2")
    image = IMAGE
    for group in plan.groups:
        tags = role_tags(plan.tags, group.component)
        security_group = built.groups[group.component]
        if group.auto_scaling:
            template = ec2.create_launch_template(
                LaunchTemplateName=f"{plan.stack}-{group.component}",
                LaunchTemplateData={
                    "ImageId": image,
                    "InstanceType": group.instance_type,
                    "SecurityGroupIds": [security_group],
                },
            )["LaunchTemplate"]["LaunchTemplateId"]
        for host in group.hosts:
            subnet = subnets[(group.subnet_tier, host.zone)]
            host_tags = {**tags, TAG_NAME: host.name}
            if group.auto_scaling:
                built.client("autoscaling").create_auto_scaling_group(
                    AutoScalingGroupName=host.name,
                    LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
                    MinSize=1,
                    MaxSize=1,
                    DesiredCapacity=1,
                    VPCZoneIdentifier=subnet,
                    Tags=[
                        {"Key": k, "Value": v, "PropagateAtLaunch": True}
                        for k, v in host_tags.items()
                    ],
                )
            else:
                ec2.run_instances(
                    ImageId=image,
                    InstanceType=group.instance_type,
                    MinCount=1,
                    MaxCount=1,
                    SubnetId=subnet,
                    SecurityGroupIds=[security_group],
                    TagSpecifications=_spec("instance", host_tags),
                )
    portal = plan.group("portal")
    built.stopped_host = host_name(plan.stack, "portal", STOPPED_HOST_INDEX)
    stopped = ec2.run_instances(
        ImageId=image,
        InstanceType=portal.instance_type,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnets[(portal.subnet_tier, 0)],
        SecurityGroupIds=[built.groups["portal"]],
        TagSpecifications=_spec(
            "instance", {**role_tags(plan.tags, "portal"), TAG_NAME: built.stopped_host}
        ),
    )["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[stopped])
    running = ec2.describe_instances(
        Filters=[
            {"Name": "tag:regionstack:stack", "Values": [plan.stack]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    for reservation in running:
        for instance in reservation["Instances"]:
            name = {t["Key"]: t["Value"] for t in instance["Tags"]}[TAG_NAME]
            built.instances[name] = instance


def _neighbour(built: BuiltRegion) -> None:
    """Another stack's VPC, open security group and public host in the same account."""
    plan, ec2 = built.plan, built.client("ec2")
    tags = {**plan.tags, "regionstack:stack": NEIGHBOUR, TAG_CODE: "000000"}
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16", TagSpecifications=_spec("vpc", tags))["Vpc"]
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.99.0.0/24")["Subnet"]["SubnetId"]
    built.neighbour_group = ec2.create_security_group(
        GroupName=f"{NEIGHBOUR}-open", Description="open", VpcId=vpc["VpcId"]
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=built.neighbour_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    built.neighbour_host = f"{NEIGHBOUR}-portal-1"
    ec2.run_instances(
        ImageId=IMAGE,
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {
                "DeviceIndex": 0,
                "SubnetId": subnet,
                "AssociatePublicIpAddress": True,
                "Groups": [built.neighbour_group],
            }
        ],
        TagSpecifications=_spec(
            "instance", {**role_tags(tags, "portal"), TAG_NAME: built.neighbour_host}
        ),
    )


def build_region(account: Account, fleet: Fleet, region: Region) -> BuiltRegion:
    plan = plan_aws_region(fleet, region)
    built = BuiltRegion(account, plan, AuditTarget.from_plan(plan, fleet.standard))
    subnets = _network(built)
    _security_groups(built, fleet)
    _load_balancer(built, subnets)
    _log_archive(built)
    _detection(built)
    _hosts(built, subnets)
    _neighbour(built)
    return built


# --- the non-compliant account: one finding per violation ----------------------------


@dataclass(frozen=True)
class Violation:
    name: str
    check: str
    problem: str  # what the finding's problem says
    resource: Callable[[BuiltRegion], str]  # what the finding's resource names
    apply: Callable[[BuiltRegion], None]


def _open(
    group: str, protocol: str, port: int | None, source: str
) -> Callable[[BuiltRegion], None]:
    def apply(built: BuiltRegion) -> None:
        ranges = (
            {"Ipv6Ranges": [{"CidrIpv6": source}]}
            if ":" in source
            else {"IpRanges": [{"CidrIp": source}]}
        )
        ports = {} if port is None else {"FromPort": port, "ToPort": port}
        built.client("ec2").authorize_security_group_ingress(
            GroupId=built.groups[group],
            IpPermissions=[{"IpProtocol": protocol, **ports, **ranges}],
        )

    return apply


def _public_address(built: BuiltRegion) -> None:
    ec2 = built.client("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=allocation, InstanceId=built.host("hotline")["InstanceId"])


def _drop_code_tag(built: BuiltRegion) -> None:
    built.client("ec2").delete_tags(
        Resources=[built.host("security_monitoring")["InstanceId"]], Tags=[{"Key": TAG_CODE}]
    )


UNTAGGED_HOST = ("security_monitoring", 1)  # the host _drop_code_tag strips

VIOLATIONS: tuple[Violation, ...] = (
    Violation(
        "trail-stopped",
        "cloudtrail",
        "logging is stopped",
        lambda b: b.trail_arn,
        lambda b: b.client("cloudtrail").stop_logging(Name=b.trail_arn),
    ),
    Violation(
        "trail-single-region",
        "cloudtrail",
        "records this region only",
        lambda b: b.trail_arn,
        lambda b: b.client("cloudtrail").update_trail(Name=b.trail_arn, IsMultiRegionTrail=False),
    ),
    Violation(
        "trail-without-validation",
        "cloudtrail",
        "log file validation is off",
        lambda b: b.trail_arn,
        lambda b: b.client("cloudtrail").update_trail(
            Name=b.trail_arn, EnableLogFileValidation=False
        ),
    ),
    Violation(
        "archive-public-access",
        "log-archive",
        "public access block off: BlockPublicPolicy, RestrictPublicBuckets",
        lambda b: f":s3:::{b.bucket}",
        lambda b: b.client("s3").put_public_access_block(
            Bucket=b.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        ),
    ),
    Violation(
        "archive-versioning-suspended",
        "log-archive",
        "versioning is Suspended",
        lambda b: f":s3:::{b.bucket}",
        lambda b: b.client("s3").put_bucket_versioning(
            Bucket=b.bucket, VersioningConfiguration={"Status": "Suspended"}
        ),
    ),
    Violation(
        "guardduty-disabled",
        "guardduty",
        "the detector is DISABLED",
        lambda b: f"detector/{b.detector_id}",
        lambda b: b.client("guardduty").update_detector(DetectorId=b.detector_id, Enable=False),
    ),
    Violation(
        "flow-log-deleted",
        "flow-logs",
        "no active flow log",
        lambda b: b.vpc_id,
        lambda b: b.client("ec2").delete_flow_logs(FlowLogIds=[b.flow_log_id]),
    ),
    Violation(
        "ssh-from-world-on-portal",
        "security-groups",
        "admits tcp 22 from 0.0.0.0/0",
        lambda b: b.groups["portal"],
        _open("portal", "tcp", 22, "0.0.0.0/0"),
    ),
    Violation(
        "extra-port-from-world-on-load-balancer",
        "security-groups",
        "admits tcp 8080 from ::/0",
        lambda b: b.groups[ALB_GROUP],
        _open(ALB_GROUP, "tcp", 8080, "::/0"),
    ),
    Violation(
        "all-traffic-from-world-on-exchange",
        "security-groups",
        "admits all traffic from 0.0.0.0/0",
        lambda b: b.groups["data_exchange"],
        _open("data_exchange", "-1", None, "0.0.0.0/0"),
    ),
    Violation(
        "host-with-public-address",
        "instances",
        "has the public address",
        lambda b: b.host("hotline")["InstanceId"],
        _public_address,
    ),
    Violation(
        "host-without-code-tag",
        "instances",
        f"{TAG_CODE}=(missing)",
        lambda b: b.host(*UNTAGGED_HOST)["InstanceId"],
        _drop_code_tag,
    ),
)


def make_noncompliant(built: BuiltRegion) -> BuiltRegion:
    for violation in VIOLATIONS:
        violation.apply(built)
    return built
