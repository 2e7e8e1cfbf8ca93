"""The portal's public face: an application load balancer, and a WAF where offered.

The load balancer is the only resource of a region reachable from the internet (its
security group admits 443 and 80 from anywhere, infra/aws/flows.py). Port 80 answers
with a permanent redirect to HTTPS; 443 terminates TLS with the region's public
certificate (an ACM certificate the operator provides: citizens' browsers must trust it,
which the region's own CA is not) under a TLS >= 1.2 policy of forward-secret AEAD
suites only, and forwards HTTPS to the portal hosts, which re-encrypt with their own
certificates. A regional web ACL with AWS managed rules and a per-address rate limit sits
in front where the partition offers WAF (MLPS 8.1.3.3); its logs go to a KMS-encrypted
log group kept for the standard's retention (MLPS 8.1.3.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.tags import role_tags

PORTAL = "portal"
HTTPS = 443
HTTP = 80
# The ELB policies matching the standard's TLS policy: TLS 1.3, and TLS 1.2 with
# ECDHE + AES-GCM suites only ("Res": restricted), as the standard's cipher list is.
SSL_POLICIES = {
    "1.2": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "1.3": "ELBSecurityPolicy-TLS13-1-3-2021-06",
}
WAF_LOG_PREFIX = "aws-waf-logs-"  # WAF delivers only to log groups named so
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
RATE_LIMIT_PER_5_MIN = 2000  # requests per client address; above it, blocked


@dataclass
class PortalLoadBalancerArgs:
    stack: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]  # public, in two zones at least
    security_group_id: pulumi.Input[str]
    certificate_arn: str
    tls_min_version: str
    waf: bool
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    tags: dict[str, str]


def _visibility(metric: str) -> dict[str, Any]:
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric,
        "sampled_requests_enabled": True,
    }


class PortalLoadBalancer(pulumi.ComponentResource):
    """ALB, HTTPS target group of the portal hosts, listeners, and the web ACL."""

    def __init__(
        self, name: str, args: PortalLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:aws:PortalLoadBalancer", name, None, opts)
        tags = role_tags(args.tags, PORTAL)
        child = pulumi.ResourceOptions(parent=self)
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            tags=tags,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-portal",
            vpc_id=args.vpc_id,
            port=HTTPS,
            protocol="HTTPS",
            target_type="instance",
            health_check={
                "protocol": "HTTPS",
                "port": str(HTTPS),
                "path": "/",
                "matcher": "200",
            },
            tags=tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=HTTPS,
            protocol="HTTPS",
            ssl_policy=SSL_POLICIES[args.tls_min_version],
            certificate_arn=args.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            tags=tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=HTTP,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {
                        "protocol": "HTTPS",
                        "port": str(HTTPS),
                        "status_code": "HTTP_301",
                    },
                }
            ],
            tags=tags,
            opts=child,
        )
        self.web_acl_arn: pulumi.Output[str] | None = None
        if args.waf:
            self.web_acl_arn = self._create_waf(name, args, tags)
        self.dns_name = self.load_balancer.dns_name
        self.register_outputs(
            {
                "dns_name": self.dns_name,
                "target_group_arn": self.target_group.arn,
                "web_acl_arn": self.web_acl_arn,
            }
        )

    def _create_waf(
        self, name: str, args: PortalLoadBalancerArgs, tags: dict[str, str]
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        rules: list[dict[str, Any]] = [
            {
                "name": group,
                "priority": priority,
                "override_action": {"none": {}},
                "statement": {
                    "managed_rule_group_statement": {"vendor_name": "AWS", "name": group}
                },
                "visibility_config": _visibility(group),
            }
            for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1)
        ]
        rules.append(
            {
                "name": "rate-limit-per-address",
                "priority": len(rules) + 1,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "limit": RATE_LIMIT_PER_5_MIN,
                        "aggregate_key_type": "IP",
                    }
                },
                "visibility_config": _visibility("rate-limit-per-address"),
            }
        )
        acl = aws.wafv2.WebAcl(  # type: ignore[call-overload]
            f"{name}-waf",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(f"{args.stack}-portal"),
            tags=tags,
            opts=child,
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-waf-alb",
            resource_arn=self.load_balancer.arn,
            web_acl_arn=acl.arn,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=f"{WAF_LOG_PREFIX}{args.stack}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=acl.arn,
            log_destination_configs=[log_group.arn],
            opts=child,
        )
        arn: pulumi.Output[str] = acl.arn
        return arn
