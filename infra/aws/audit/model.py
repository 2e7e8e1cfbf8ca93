"""What the audit expects of a region, what it reports, and what every check works with."""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.aws.audit.clients import AwsClients
from infra.aws.flows import ALB_GROUP, security_group_rules
from infra.aws.partition import Partition
from infra.aws.plan import AwsRegionPlan
from infra.config.schema import Standard

WORLD = ("0.0.0.0/0", "::/0")
REDEPLOY = "pulumi up --stack {stack}"


class AuditError(Exception):
    """The account cannot be audited as asked; the message says what to set or grant."""


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str
    problem: str
    fix: str


@dataclass(frozen=True)
class Passed:
    check: str
    resource: str
    detail: str


@dataclass(frozen=True)
class Skipped:
    check: str
    reason: str


Result = Finding | Passed | Skipped


@dataclass(frozen=True)
class AuditTarget:
    """What the audit expects of a region, all derived from the unified configuration."""

    stack: str
    partition: Partition
    region: str
    tags: dict[str, str]  # the region tags every resource carries
    world_ports: tuple[int, ...]  # the load balancer's ports open to the internet
    guardduty: bool  # whether the partition offers GuardDuty

    @classmethod
    def from_plan(cls, plan: AwsRegionPlan, standard: Standard) -> AuditTarget:
        world = sorted(
            {
                rule.port
                for rule in security_group_rules(plan, standard)
                if rule.group == ALB_GROUP
                and rule.direction == "ingress"
                and rule.peer_kind == "cidr"
                and rule.peer in WORLD
            }
        )
        return cls(
            stack=plan.stack,
            partition=plan.partition,
            region=plan.region,
            tags=plan.tags,
            world_ports=tuple(world),
            guardduty=plan.partition.offers("guardduty"),
        )

    def redeploy(self) -> str:
        return REDEPLOY.format(stack=self.stack)


@dataclass
class AuditReport:
    target: AuditTarget
    account: str
    results: list[Result] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [r for r in self.results if isinstance(r, Finding)]

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Scope:
    """What every check works with: the expectations, the clients, the account."""

    target: AuditTarget
    aws: AwsClients
    account: str

    def arn(self, service: str, resource: str) -> str:
        """An ARN in the region and account, for naming what is missing."""
        regional = "" if service == "s3" else self.target.region
        account = "" if service == "s3" else self.account
        return self.target.partition.arn(service, resource, regional, account)

    def missing(
        self, check: str, service: str, resource: str, problem: str, declaration: str
    ) -> Finding:
        """A finding for what the stack declares and the account lacks: the redeploy brings
        it back, and `declaration` says which module declares it."""
        return Finding(
            check,
            self.arn(service, resource),
            problem,
            f"`{self.target.redeploy()}` ({declaration})",
        )
