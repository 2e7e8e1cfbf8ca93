"""The policies of the `regionstack-mlps` pack: names, targets and enforcement levels.

Importable without pulumi_policy, so the catalogue (compliance/controls.yaml links each
technical control to policy names), its tests, the report and `infra.compliance.policy_run`
can read the list without the policy SDK. The validators live in policies/aws/ and
policies/local/; policies/checks.py binds each name here to its validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PACK_NAME = "regionstack-mlps"

Target = Literal["aws", "local"]
Enforcement = Literal["mandatory", "advisory"]
MANDATORY: Enforcement = "mandatory"
ADVISORY: Enforcement = "advisory"


@dataclass(frozen=True)
class PolicySpec:
    name: str
    target: Target
    enforcement: Enforcement
    description: str  # one sentence: what the policy requires


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        "aws-encryption-at-rest-region-kms",
        "aws",
        MANDATORY,
        "Volumes, buckets, log groups and trails are encrypted with the region's own KMS key.",
    ),
    PolicySpec(
        "aws-no-public-hosts",
        "aws",
        MANDATORY,
        "No host and no host subnet gives an instance a public address.",
    ),
    PolicySpec(
        "aws-security-groups-within-flow-matrix",
        "aws",
        MANDATORY,
        "Security groups open exactly the rules the flow matrix and platform egress need.",
    ),
    PolicySpec(
        "aws-log-retention-180-days",
        "aws",
        MANDATORY,
        "Log groups and the log archive keep logs at least the standard's retention (>= 180 days).",
    ),
    PolicySpec(
        "aws-cloudtrail-enabled",
        "aws",
        MANDATORY,
        "A logging, multi-region CloudTrail with log file validation records the account.",
    ),
    PolicySpec(
        "aws-vpc-flow-logs-enabled",
        "aws",
        MANDATORY,
        "Every VPC has a flow log of all traffic.",
    ),
    PolicySpec(
        "aws-partition-correct-arns",
        "aws",
        MANDATORY,
        "Every ARN a resource names is in the region's own AWS partition.",
    ),
    PolicySpec(
        "aws-required-tags",
        "aws",
        MANDATORY,
        "Every taggable resource carries the region's tags (code, stack, tier, standard version).",
    ),
    PolicySpec(
        "aws-imdsv2-required",
        "aws",
        ADVISORY,
        "Hosts answer instance metadata requests over IMDSv2 only.",
    ),
    PolicySpec(
        "local-firewall-from-flow-matrix",
        "local",
        MANDATORY,
        "The region's nftables ruleset is exactly the one rendered from the flow matrix.",
    ),
    PolicySpec(
        "local-hosts-have-common-baseline",
        "local",
        MANDATORY,
        "Every machine is a planned host of the region and is configured by the site playbook.",
    ),
    PolicySpec(
        "local-ports-bound-to-hosts",
        "local",
        ADVISORY,
        "Every machine's bridge port is bound to its own MAC and address in the firewall.",
    ),
)

POLICY_NAMES: tuple[str, ...] = tuple(p.name for p in POLICIES)

# Not a control's enforcement: the advisory policy that lists every resource a waiver
# exempted from a policy, so an exemption is always visible in the preview.
WAIVED_POLICY = "waived-resources"


def spec(name: str) -> PolicySpec:
    for policy in POLICIES:
        if policy.name == name:
            return policy
    raise KeyError(f"no policy {name!r} in policies/registry.py; known: {', '.join(POLICY_NAMES)}")


def for_target(target: str) -> tuple[PolicySpec, ...]:
    return tuple(p for p in POLICIES if p.target == target)
