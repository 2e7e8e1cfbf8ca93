"""The region's security groups: one per component and one for the load balancer.

The groups are created empty (the provider removes AWS's default allow-all egress) and
every rule is its own resource, generated from infra/aws/flows.py - the flow matrix and
the documented platform egress, nothing else. Separate rule resources also let two groups
reference each other without a dependency cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.flows import ALB_GROUP, SgRule, group_name, security_groups, slug
from infra.aws.tags import role_tags

TCP = "tcp"


@dataclass
class SecurityGroupsArgs:
    stack: str
    vpc_id: pulumi.Input[str]
    rules: list[SgRule]
    tags: dict[str, str]


class SecurityGroups(pulumi.ComponentResource):
    """`ids[group]` is the id of a component's group, or of `alb`."""

    def __init__(
        self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:SecurityGroups", name, None, opts)
        groups: dict[str, aws.ec2.SecurityGroup] = {}
        for group in security_groups():
            tags = args.tags if group == ALB_GROUP else role_tags(args.tags, group)
            groups[group] = aws.ec2.SecurityGroup(
                f"{name}-{slug(group)}",
                vpc_id=args.vpc_id,
                description=f"regionstack {args.stack} {group}: the flow matrix only",
                tags={**tags, "Name": group_name(args.stack, group)},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.ids = {group: sg.id for group, sg in groups.items()}
        for rule in args.rules:
            self._create_rule(name, args, rule, groups)
        self.register_outputs({"ids": self.ids})

    def _create_rule(
        self,
        name: str,
        args: SecurityGroupsArgs,
        rule: SgRule,
        groups: dict[str, aws.ec2.SecurityGroup],
    ) -> None:
        label = f"{name}-{slug(rule.group)}-{rule.direction}-{slug(rule.peer)}-{rule.port}"
        by_group = rule.peer_kind == "group"
        kind = (
            aws.vpc.SecurityGroupIngressRule
            if rule.direction == "ingress"
            else aws.vpc.SecurityGroupEgressRule
        )
        kind(
            label,
            security_group_id=groups[rule.group].id,
            ip_protocol=TCP,
            from_port=rule.port,
            to_port=rule.port,
            referenced_security_group_id=groups[rule.peer].id if by_group else None,
            cidr_ipv4=None if by_group else rule.peer,
            description=", ".join(rule.flows),
            tags=args.tags if rule.group == ALB_GROUP else role_tags(args.tags, rule.group),
            opts=pulumi.ResourceOptions(parent=self),
        )
