"""Each policy name bound to its validator, and the two shapes a validator has.

A resource check judges one resource: `(resource, facts) -> [message]`. A stack check
judges what only the whole stack shows (a trail exists, a rule has no flow behind it):
`(resources, facts) -> [Finding]`. Both are plain functions of plain data
(policies/model.py), so tests call them with fixtures and the mocks harness and the pack
run the very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policies.aws import encryption, logging, network, partition, tags
from policies.local import firewall, hosts
from policies.model import Finding, RegionFacts, Resource

ResourceCheck = Callable[[Resource, RegionFacts], list[str]]
StackCheck = Callable[[Sequence[Resource], RegionFacts], list[Finding]]


@dataclass(frozen=True)
class Check:
    resource: ResourceCheck | None = None
    stack: StackCheck | None = None

    def run(self, resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
        if self.stack is not None:
            return self.stack(resources, facts)
        assert self.resource is not None
        return [Finding(r.urn, message) for r in resources for message in self.resource(r, facts)]


CHECKS: dict[str, Check] = {
    "aws-encryption-at-rest-region-kms": Check(stack=encryption.check_encryption_at_rest),
    "aws-no-public-hosts": Check(resource=network.check_no_public_address),
    "aws-security-groups-within-flow-matrix": Check(stack=network.check_security_groups),
    "aws-log-retention-180-days": Check(resource=logging.check_log_retention),
    "aws-cloudtrail-enabled": Check(stack=logging.check_cloudtrail),
    "aws-vpc-flow-logs-enabled": Check(stack=logging.check_flow_logs),
    "aws-partition-correct-arns": Check(resource=partition.check_arn_partitions),
    "aws-required-tags": Check(resource=tags.check_required_tags),
    "aws-imdsv2-required": Check(resource=network.check_imdsv2),
    "local-firewall-from-flow-matrix": Check(stack=firewall.check_firewall),
    "local-hosts-have-common-baseline": Check(stack=hosts.check_common_baseline),
    "local-ports-bound-to-hosts": Check(stack=firewall.check_port_bindings),
}
