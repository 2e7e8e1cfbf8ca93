"""`regionstack audit STACK`: what a deployed `aws` region looks like from the account.

The Pulumi program declares the region's guards, and its mocks tests prove the
declaration; this audit reads the account with boto3 after the deployment and checks
what the code cannot see from inside - what was changed by hand, stopped, or added
beside the stack:

* `cloudtrail` - the stack's trail (tagged `regionstack:stack`) exists, is logging,
  records every region and validates its log files (MLPS 8.1.4.3, 8.1.5.2);
* `log-archive` - the bucket the trail writes to blocks public access (all four
  settings) and keeps versions;
* `guardduty` - a detector is enabled in the region; recorded as skipped where the
  partition does not offer GuardDuty (infra/aws/partition.py);
* `flow-logs` - the region's VPC has an active flow log of all traffic that delivers;
* `security-groups` - no group of the VPC admits 0.0.0.0/0 or ::/0 except the load
  balancer's group on the ports the flow matrix opens to the internet (443, 80), read
  from infra/aws/flows.py, the same source the security groups are built from;
* `instances` - the stack's hosts have no public address and carry the tag contract
  (infra/aws/tags.py) the inventory groups them by.

Every finding names the resource and how to fix it; findings make the command exit 1.
Resources are found by the tag contract, so the audit needs the configuration and
credentials of the region's partition, not the stack's state.

Each check lives beside its family, named like the module of modules/aws that declares
what it reads: `log_archive` (cloudtrail, log-archive), `detection` (guardduty,
flow-logs), `security_groups`, `instances`. `model` holds the target and the results,
`clients` and `stack_resources` what every check shares, `runner` the checks in report
order, `report` the text the command prints.
"""

from infra.aws.audit.clients import AwsClients
from infra.aws.audit.model import AuditError, AuditReport, AuditTarget, Finding, Passed, Skipped
from infra.aws.audit.report import format_report
from infra.aws.audit.runner import CHECKS, run_audit

__all__ = [
    "CHECKS",
    "AuditError",
    "AuditReport",
    "AuditTarget",
    "AwsClients",
    "Finding",
    "Passed",
    "Skipped",
    "format_report",
    "run_audit",
]
