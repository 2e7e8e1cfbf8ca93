"""The hosts' exposure: aws-no-public-hosts, aws-imdsv2-required and
aws-security-groups-within-flow-matrix (MLPS 8.1.3.1 boundary protection, 8.1.3.2 access
control: default deny, least rules).

The expected security group rules are `infra.aws.flows.security_group_rules` of the
region - the flow matrix of stacks/standard.yaml and the documented platform egress - so
a rule added by hand, a port widened or a rule missing all show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policies.model import AWS_INSTANCE, AWS_LAUNCH_TEMPLATE, Finding, RegionFacts, Resource, known

SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
FLOWS = "stacks/standard.yaml `flows`"


def _public(value: Any) -> bool:
    return value is True or value == "true"


def check_no_public_address(resource: Resource, _facts: RegionFacts) -> list[str]:
    fix = "set associate_public_ip_address=False; hosts are reached through SSM"
    if resource.type == AWS_INSTANCE:
        value = resource.get("associatePublicIpAddress")
        if not known(value):
            return []
        if value is not False:
            return [f"the instance may get a public address ({value!r}): {fix}"]
    if resource.type == AWS_LAUNCH_TEMPLATE:
        interfaces = resource.get("networkInterfaces") or []
        if not interfaces:
            return [f"the launch template leaves the public address to the subnet: {fix}"]
        for interface in interfaces:
            value = interface.get("associatePublicIpAddress")
            if known(value) and value not in (False, "false"):
                return [f"a network interface may get a public address ({value!r}): {fix}"]
    if resource.type == SUBNET and _public(resource.get("mapPublicIpOnLaunch")):
        return [
            "the subnet gives every instance launched in it a public address: set "
            "map_public_ip_on_launch=False (only the load balancer and NAT face the internet)"
        ]
    return []


def check_imdsv2(resource: Resource, _facts: RegionFacts) -> list[str]:
    if resource.type not in (AWS_INSTANCE, AWS_LAUNCH_TEMPLATE):
        return []
    tokens = (resource.get("metadataOptions") or {}).get("httpTokens")
    if known(tokens) and tokens != "required":
        return [
            f"instance metadata answers without a session token (http_tokens={tokens!r}): set "
            "metadata_options http_tokens='required' (modules/aws/hosts.py METADATA_OPTIONS)"
        ]
    return []


RuleKey = tuple[str, str, str, str, int]


def _groups_by_id(resources: Sequence[Resource], facts: RegionFacts) -> dict[Any, str]:
    assert facts.aws is not None
    found = {}
    for group in (r for r in resources if r.type == SECURITY_GROUP):
        name = group.tags.get("Name")
        if name in facts.aws.group_names:
            found[group.get("id")] = facts.aws.group_names[name]
    return found


def _rule_key(rule: Resource, groups: dict[Any, str]) -> RuleKey | str | None:
    """The rule as (group, direction, peer kind, peer, port); a message when it cannot be
    one of the flow matrix's; None when a preview cannot tell yet."""
    props = rule.props
    values = [props.get(k) for k in ("securityGroupId", "referencedSecurityGroupId", "fromPort")]
    if not all(known(v) for v in values) or not known(props.get("cidrIpv4")):
        return None
    group = groups.get(props.get("securityGroupId"))
    if group is None:
        return "the rule belongs to a security group that is not one of the region's"
    if props.get("ipProtocol") != "tcp" or props.get("fromPort") != props.get("toPort"):
        return (
            f"the rule opens {props.get('ipProtocol')} {props.get('fromPort')}-"
            f"{props.get('toPort')}: the flow matrix opens single TCP ports only"
        )
    direction = "ingress" if rule.type == INGRESS_RULE else "egress"
    referenced = props.get("referencedSecurityGroupId")
    if referenced:
        peer = groups.get(referenced)
        if peer is None:
            return "the rule references a security group that is not one of the region's"
        return (group, direction, "group", peer, int(props["fromPort"]))
    return (group, direction, "cidr", str(props.get("cidrIpv4")), int(props["fromPort"]))


def check_security_groups(resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
    if facts.aws is None:
        return []
    groups = _groups_by_id(resources, facts)
    findings: list[Finding] = []
    seen: set[RuleKey] = set()
    undecided = False
    for resource in resources:
        if resource.type == LEGACY_RULE:
            findings.append(
                Finding(
                    resource.urn,
                    "an aws.ec2.SecurityGroupRule bypasses the flow matrix: remove it and add "
                    f"the flow to {FLOWS}",
                )
            )
        elif resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
            if resource.get("ingress") or resource.get("egress"):
                findings.append(
                    Finding(
                        resource.urn,
                        "the security group carries inline rules: remove them; rules are "
                        f"generated from {FLOWS} as separate resources",
                    )
                )
        elif resource.type in (INGRESS_RULE, EGRESS_RULE):
            key = _rule_key(resource, groups)
            if key is None:
                undecided = True
            elif isinstance(key, str):
                findings.append(Finding(resource.urn, f"{key}: remove it or add a flow to {FLOWS}"))
            elif key not in facts.aws.rule_keys:
                group, direction, _, peer, port = key
                findings.append(
                    Finding(
                        resource.urn,
                        f"{direction} {peer} port {port} on the {group} group is in no flow of "
                        f"the matrix: remove the rule, or add the flow to {FLOWS}",
                    )
                )
            else:
                seen.add(key)
    if not undecided and groups:
        findings += _missing_rules(resources, facts, seen)
    return findings


def _missing_rules(
    resources: Sequence[Resource], facts: RegionFacts, seen: set[RuleKey]
) -> list[Finding]:
    assert facts.aws is not None
    missing = sorted(facts.aws.rule_keys - seen)
    if not missing:
        return []
    group, direction, _, peer, port = missing[0]
    return [
        Finding(
            resources[0].urn,
            f"{len(missing)} rule(s) of the flow matrix are missing (first: {direction} {peer} "
            f"port {port} on the {group} group): create the security groups with "
            "modules/aws/security_groups.py from infra.aws.flows.security_group_rules",
        )
    ]
