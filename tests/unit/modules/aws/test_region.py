"""The aws program of a province, a city and a county in both partitions, under mocks.

Each property is one test, parametrized over the six test regions; every failure names
the resources' URNs.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
from collections.abc import Callable
from functools import cache

import pytest

from infra.aws.mocks import ARN, Evaluation, Recorded, strings_in
from infra.aws.tags import REGION_TAG_KEYS, TAG_NAME, TAG_ROLE
from infra.config.effective import effective_config
from infra.config.gbt2260 import Tier
from infra.config.loader import Fleet
from infra.config.schema import COMPONENTS
from tests.unit.aws.stacks import STACK_IDS, STACK_NAMES

INSTANCE = "aws:ec2/instance:Instance"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SCALING_GROUP = "aws:autoscaling/group:Group"
SUBNET = "aws:ec2/subnet:Subnet"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
RETENTION_DAYS = 180

Evaluated = Callable[[str], Evaluation]
stacks = pytest.mark.parametrize("stack", STACK_NAMES, ids=STACK_IDS)


@cache
def _taggable(typ: str) -> bool:
    """Whether a pulumi_aws resource type takes a `tags` map (read from its signature)."""
    package, module_and_class = typ.split(":", 1)
    if package != "aws":
        return False
    module, cls_name = module_and_class.split("/")[0], typ.rsplit(":", 1)[1]
    cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def _tags(resource: Recorded) -> dict[str, str]:
    if resource.typ == SCALING_GROUP:
        return {t["key"]: t["value"] for t in resource.inputs.get("tags", [])}
    return resource.tags


def _hosts(evaluation: Evaluation) -> list[Recorded]:
    return evaluation.of_type(INSTANCE) + evaluation.of_type(SCALING_GROUP)


@stacks
def test_every_taggable_resource_carries_the_region_tags(
    evaluated: Evaluated, aws_fleet: Fleet, stack: str
) -> None:
    evaluation = evaluated(stack)
    expected = {
        "regionstack:code": aws_fleet.region(stack).code,
        "regionstack:stack": stack,
        "regionstack:tier": evaluation.tier,
        "regionstack:standard-version": aws_fleet.standard.version,
    }
    assert set(expected) == set(REGION_TAG_KEYS)
    wrong = [
        r.urn
        for r in evaluation.resources
        if _taggable(r.typ) and {k: _tags(r).get(k) for k in expected} != expected
    ]
    assert not wrong, f"without the region tags: {wrong}"
    assert sum(_taggable(r.typ) for r in evaluation.resources) > len(evaluation.resources) // 2


@stacks
def test_hosts_carry_their_role_and_the_local_plan_names(
    evaluated: Evaluated, aws_fleet: Fleet, stack: str
) -> None:
    evaluation = evaluated(stack)
    groups = effective_config(aws_fleet, aws_fleet.region(stack))["host_groups"]
    planned = sorted(
        (component, f"{stack}-{component.replace('_', '-')}-{n}")
        for component in COMPONENTS
        for n in range(1, groups[component]["count"] + 1)
    )
    named = sorted((_tags(r)[TAG_ROLE], _tags(r)[TAG_NAME]) for r in _hosts(evaluation))
    assert named == planned, [r.urn for r in _hosts(evaluation)]
    exported = sorted((h["component"], h["name"]) for h in evaluation.outputs["hosts"])
    assert exported == planned


@stacks
def test_asg_tags_propagate_to_the_instances(evaluated: Evaluated, stack: str) -> None:
    for group in evaluated(stack).of_type(SCALING_GROUP):
        assert all(t["propagateAtLaunch"] for t in group.inputs["tags"]), group.urn


@stacks
def test_auto_scaling_exactly_where_the_tier_may_run_more_than_one_node(
    evaluated: Evaluated, aws_fleet: Fleet, stack: str
) -> None:
    evaluation = evaluated(stack)
    profile = aws_fleet.tiers[Tier(evaluation.tier)].host_groups
    scaling = {_tags(g)[TAG_ROLE] for g in evaluation.of_type(SCALING_GROUP)}
    single = {_tags(i)[TAG_ROLE] for i in evaluation.of_type(INSTANCE)}
    assert scaling == {c for c, g in profile.items() if g.max_count > 1}
    assert single == {c for c, g in profile.items() if g.max_count == 1}
    for group in evaluation.of_type(SCALING_GROUP):
        sizes = (group.inputs["minSize"], group.inputs["maxSize"], group.inputs["desiredCapacity"])
        assert sizes == (1, 1, 1), group.urn
        assert group.inputs["serviceLinkedRoleArn"], group.urn


@stacks
def test_no_host_gets_a_public_address(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    for instance in evaluation.of_type(INSTANCE):
        assert instance.inputs["associatePublicIpAddress"] is False, instance.urn
    for template in evaluation.of_type(TEMPLATE):
        interfaces = template.inputs["networkInterfaces"]
        assert [i["associatePublicIpAddress"] for i in interfaces] == ["false"], template.urn
    for subnet in evaluation.of_type(SUBNET):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False, subnet.urn


@stacks
def test_hosts_run_in_private_or_data_subnets(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    placements = [(i, [i.inputs["subnetId"]]) for i in evaluation.of_type(INSTANCE)] + [
        (g, g.inputs["vpcZoneIdentifiers"]) for g in evaluation.of_type(SCALING_GROUP)
    ]
    for host, subnet_ids in placements:
        tiers = {evaluation.by_id(s).tags[TAG_NAME].split("-")[-2] for s in subnet_ids}
        expected = "data" if _tags(host)[TAG_ROLE] == "data_exchange" else "private"
        assert tiers == {expected}, host.urn


@stacks
def test_hosts_require_imdsv2(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    for host in evaluation.of_type(INSTANCE) + evaluation.of_type(TEMPLATE):
        assert host.inputs["metadataOptions"]["httpTokens"] == "required", host.urn


@stacks
def test_volumes_are_encrypted_with_the_region_key(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    key_arn = evaluation.one(KEY).outputs["arn"]
    for instance in evaluation.of_type(INSTANCE):
        volume = instance.inputs["rootBlockDevice"]
        assert (volume["encrypted"], volume["kmsKeyId"]) == (True, key_arn), instance.urn
    for template in evaluation.of_type(TEMPLATE):
        for mapping in template.inputs["blockDeviceMappings"]:
            ebs = mapping["ebs"]
            assert (ebs["encrypted"], ebs["kmsKeyId"]) == ("true", key_arn), template.urn


@stacks
def test_keys_rotate(evaluated: Evaluated, stack: str) -> None:
    for key in evaluated(stack).of_type(KEY):
        assert key.inputs["enableKeyRotation"] is True, key.urn


@stacks
def test_log_groups_are_encrypted_and_kept_the_retention(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    key_arn = evaluation.one(KEY).outputs["arn"]
    groups = evaluation.of_type(LOG_GROUP)
    assert groups
    for group in groups:
        assert group.inputs["retentionInDays"] >= RETENTION_DAYS, group.urn
        assert group.inputs["kmsKeyId"] == key_arn, group.urn


@stacks
def test_log_archive_bucket_is_guarded(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    bucket = evaluation.one("aws:s3/bucket:Bucket")
    bucket_id = f"{bucket.name}-id"

    def of(typ: str) -> Recorded:
        found = [r for r in evaluation.of_type(typ) if r.inputs["bucket"] == bucket_id]
        assert len(found) == 1, f"{bucket.urn}: {typ} {[r.urn for r in found]}"
        return found[0]

    versioning = of("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    block = of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[f] is True for f in flags), block
    encryption = of(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert encryption == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": evaluation.one(KEY).outputs["arn"],
    }
    rules = of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert all(r["status"] == "Enabled" for r in rules)
    assert min(r["expiration"]["days"] for r in rules) >= RETENTION_DAYS
    assert min(r["noncurrentVersionExpiration"]["noncurrentDays"] for r in rules) >= RETENTION_DAYS
    ownership = of("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"


@stacks
def test_log_archive_refuses_requests_without_tls(evaluated: Evaluated, stack: str) -> None:
    policy = json.loads(evaluated(stack).one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    denies = [
        s
        for s in policy["Statement"]
        if s["Effect"] == "Deny"
        and s["Principal"] == "*"
        and s["Action"] == "s3:*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 1 and len(denies[0]["Resource"]) == 2, policy


@stacks
def test_cloudtrail_records_every_region_with_validation(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    trail = evaluation.one("aws:cloudtrail/trail:Trail").inputs
    assert trail["isMultiRegionTrail"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["kmsKeyId"] == evaluation.one(KEY).outputs["arn"]
    bucket = evaluation.one("aws:s3/bucket:Bucket")
    assert trail["s3BucketName"] == f"{bucket.name}-id"


@stacks
def test_flow_logs_record_all_traffic_of_the_vpc(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    flow_log = evaluation.one("aws:ec2/flowLog:FlowLog").inputs
    vpc = evaluation.one("aws:ec2/vpc:Vpc")
    assert flow_log["vpcId"] == f"{vpc.name}-id"
    assert flow_log["trafficType"] == "ALL"
    destination = evaluation.by_id(
        next(
            f"{g.name}-id"
            for g in evaluation.of_type(LOG_GROUP)
            if g.outputs["arn"] == flow_log["logDestination"]
        )
    )
    assert destination.inputs["name"].endswith("vpc-flow-logs")


@stacks
def test_guardduty_is_enabled(evaluated: Evaluated, stack: str) -> None:
    detector = evaluated(stack).one("aws:guardduty/detector:Detector")
    assert detector.inputs["enable"] is True, detector.urn


@stacks
def test_every_arn_is_in_the_regions_partition(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    wrong = [
        (r.urn, text)
        for r in evaluation.resources
        for text in strings_in(r.inputs)
        for partition in ARN.findall(text)
        if partition != evaluation.partition
    ]
    assert not wrong, wrong
    seen = [t for r in evaluation.resources for t in strings_in(r.inputs) if ARN.search(t)]
    assert seen, "no ARN at all: the test would prove nothing"


@stacks
def test_principals_and_endpoints_follow_the_partition(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    cn = evaluation.partition == "aws-cn"
    role = next(
        r for r in evaluation.of_type("aws:iam/role:Role") if "ec2." in r.inputs["assumeRolePolicy"]
    )
    ec2 = "ec2.amazonaws.com.cn" if cn else "ec2.amazonaws.com"
    assert f'"Service": "{ec2}"' in role.inputs["assumeRolePolicy"], role.urn
    attachment = evaluation.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == (
        f"arn:{evaluation.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
    )
    suffix = "amazonaws.com.cn" if cn else "amazonaws.com"
    scripts = [i.inputs["userData"] for i in evaluation.of_type(INSTANCE)] + [
        base64.b64decode(t.inputs["userData"]).decode() for t in evaluation.of_type(TEMPLATE)
    ]
    package = f"https://s3.{evaluation.region}.{suffix}/amazon-ssm-{evaluation.region}/"
    assert scripts and all(package in s for s in scripts)


@stacks
def test_the_load_balancer_redirects_http_and_terminates_tls_1_2_plus(
    evaluated: Evaluated, stack: str
) -> None:
    evaluation = evaluated(stack)
    alb = evaluation.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["internal"] is False and alb["dropInvalidHeaderFields"] is True
    assert len(alb["subnets"]) >= 2
    listeners = {
        int(r.inputs["port"]): r.inputs for r in evaluation.of_type("aws:lb/listener:Listener")
    }
    assert set(listeners) == {443, 80}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    assert listeners[443]["certificateArn"].startswith(f"arn:{evaluation.partition}:acm:")
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"]["protocol"] == "HTTPS"
    assert redirect["redirect"]["statusCode"] == "HTTP_301"
    target = evaluation.one("aws:lb/targetGroup:TargetGroup").inputs
    assert (target["protocol"], int(target["port"])) == ("HTTPS", 443)


@stacks
def test_portal_hosts_are_the_load_balancers_targets(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    target = evaluation.one("aws:lb/targetGroup:TargetGroup")
    arn = target.outputs["arn"]
    portal_groups = [g for g in evaluation.of_type(SCALING_GROUP) if _tags(g)[TAG_ROLE] == "portal"]
    attached = [
        a.inputs["targetId"]
        for a in evaluation.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    ]
    portal_instances = [i for i in evaluation.of_type(INSTANCE) if _tags(i)[TAG_ROLE] == "portal"]
    assert all(g.inputs["targetGroupArns"] == [arn] for g in portal_groups)
    assert sorted(attached) == sorted(f"{i.name}-id" for i in portal_instances)
    others = [g for g in evaluation.of_type(SCALING_GROUP) if _tags(g)[TAG_ROLE] != "portal"]
    assert all(not g.inputs.get("targetGroupArns") for g in others)


@stacks
def test_waf_guards_the_load_balancer(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    acl = evaluation.one("aws:wafv2/webAcl:WebAcl")
    association = evaluation.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    alb = evaluation.one("aws:lb/loadBalancer:LoadBalancer")
    assert (association["webAclArn"], association["resourceArn"]) == (
        acl.outputs["arn"],
        alb.outputs["arn"],
    )
    assert acl.inputs["scope"] == "REGIONAL"
    logging = evaluation.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    (destination,) = logging.inputs["logDestinationConfigs"]
    group = next(g for g in evaluation.of_type(LOG_GROUP) if g.outputs["arn"] == destination)
    assert group.inputs["name"].startswith("aws-waf-logs-")


@stacks
def test_skipped_services_are_recorded_and_warned(evaluated: Evaluated, stack: str) -> None:
    evaluation = evaluated(stack)
    skipped = [s["service"] for s in evaluation.outputs["skipped_services"]]
    runtime = evaluation.of_type("aws:guardduty/detectorFeature:DetectorFeature")
    if evaluation.partition == "aws-cn":
        assert skipped == ["guardduty_runtime_monitoring"]
        assert not runtime
        assert any("guardduty_runtime_monitoring" in w for w in evaluation.warnings)
    else:
        assert skipped == []
        assert [r.inputs["name"] for r in runtime] == ["RUNTIME_MONITORING"]
        assert not evaluation.warnings


@stacks
def test_outputs_for_the_inventory(evaluated: Evaluated, stack: str) -> None:
    outputs = evaluated(stack).outputs
    assert outputs["partition"] == evaluated(stack).partition
    assert outputs["admin_user"] == "admin"
    assert outputs["tags"]["regionstack:stack"] == stack
    assert '"stack": "' + stack + '"' in outputs["effective_config_json"]
