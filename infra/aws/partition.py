"""What differs between AWS partitions: ARNs, service principals, endpoints, services.

Every ARN, principal and endpoint the `aws` target writes is built here from the region's
partition (`target.partition` of the effective config), so nothing in modules/aws spells
`arn:aws:` and the same code deploys to `aws` and to `aws-cn` (Beijing cn-north-1,
Ningxia cn-northwest-1), where accounts, credentials and endpoints are separate.

A service or feature a partition does not offer is listed in `SERVICES` with the source
that says so; the program skips it with a stack warning and records it in the
`skipped_services` output instead of failing the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PartitionName = Literal["aws", "aws-cn"]

# Services and features of the design whose availability is decided per partition.
ServiceName = Literal["wafv2", "guardduty", "guardduty_runtime_monitoring"]


@dataclass(frozen=True)
class ServiceAvailability:
    name: ServiceName
    purpose: str
    partitions: frozenset[str]
    source: str  # where the availability is documented


SERVICES: dict[ServiceName, ServiceAvailability] = {
    "wafv2": ServiceAvailability(
        "wafv2",
        "web application firewall (regional web ACL) in front of the portal's load balancer",
        frozenset({"aws", "aws-cn"}),
        # "Amazon WAF is available in ... Beijing Region, Ningxia Region"; regional only
        # there (no CloudFront scope), which is the only scope used here.
        "https://docs.amazonaws.cn/en_us/aws/latest/userguide/waf.html",
    ),
    "guardduty": ServiceAvailability(
        "guardduty",
        "threat detection from CloudTrail, VPC flow logs and DNS logs",
        frozenset({"aws", "aws-cn"}),
        "https://docs.amazonaws.cn/en_us/aws/latest/userguide/guardduty.html",
    ),
    "guardduty_runtime_monitoring": ServiceAvailability(
        "guardduty_runtime_monitoring",
        "GuardDuty Runtime Monitoring of the EC2 hosts (agent managed through SSM)",
        frozenset({"aws"}),
        # "Runtime Monitoring (including EKS Runtime Monitoring) is not supported in the
        # China Regions."
        "https://docs.amazonaws.cn/en_us/aws/latest/userguide/guardduty.html",
    ),
}

# Services whose principal in aws-cn carries the partition's DNS suffix instead of the
# global `amazonaws.com` (the same exceptions the AWS provider's getServicePrincipal
# applies; every other service keeps `<service>.amazonaws.com` in China too).
_CN_SUFFIXED_PRINCIPALS = frozenset({"codedeploy", "elasticmapreduce", "logs", "ec2", "s3"})


@dataclass(frozen=True)
class Partition:
    """One AWS partition, as the program builds names in it."""

    name: PartitionName
    dns_suffix: str

    def arn(self, service: str, resource: str, region: str = "", account: str = "") -> str:
        """`arn:<partition>:<service>:<region>:<account>:<resource>`."""
        return f"arn:{self.name}:{service}:{region}:{account}:{resource}"

    def account_root(self, account: str) -> str:
        return self.arn("iam", "root", account=account)

    def managed_policy(self, name: str) -> str:
        """An AWS managed IAM policy, e.g. AmazonSSMManagedInstanceCore."""
        return self.arn("iam", f"policy/{name}", account="aws")

    def service_linked_role(self, account: str, service: str, role: str) -> str:
        return self.arn("iam", f"role/aws-service-role/{service}/{role}", account=account)

    def service_principal(self, service: str, region: str | None = None) -> str:
        """The principal a service acts as in policies (`logs` is regional)."""
        suffix = (
            self.dns_suffix
            if self.name == "aws-cn" and service in _CN_SUFFIXED_PRINCIPALS
            else "amazonaws.com"
        )
        return f"{service}.{region}.{suffix}" if region else f"{service}.{suffix}"

    def endpoint(self, service: str, region: str) -> str:
        """A service's regional HTTPS endpoint, e.g. https://ssm.cn-north-1.amazonaws.com.cn."""
        return f"https://{service}.{region}.{self.dns_suffix}"

    def ssm_agent_package(self, region: str) -> str:
        """The SSM agent's Debian package, from the region's own bucket of it (reachable
        from the hosts through the NAT without leaving the partition)."""
        bucket = f"https://s3.{region}.{self.dns_suffix}/amazon-ssm-{region}"
        return f"{bucket}/latest/debian_amd64/amazon-ssm-agent.deb"

    def offers(self, service: ServiceName) -> bool:
        return self.name in SERVICES[service].partitions


PARTITIONS: dict[str, Partition] = {
    "aws": Partition("aws", "amazonaws.com"),
    "aws-cn": Partition("aws-cn", "amazonaws.com.cn"),
}


def partition(name: str) -> Partition:
    try:
        return PARTITIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown AWS partition {name!r}; known: {', '.join(sorted(PARTITIONS))}"
        ) from None


def missing_services(part: Partition) -> list[ServiceAvailability]:
    """What the design uses that `part` does not offer, in a stable order."""
    return [spec for name, spec in sorted(SERVICES.items()) if not part.offers(name)]


def check_certificate_arn(arn: str, part: Partition, region: str) -> str | None:
    """Why `arn` cannot be the portal's ACM certificate in `region`, or None if it can.

    An ALB takes only an ACM (or IAM) certificate of its own partition and region; a
    certificate ARN copied from another region or from the global partition fails late,
    at listener creation, so it is refused before anything is created.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return f"{arn!r} is not an ARN"
    _, arn_partition, service, arn_region, account, resource = parts
    if arn_partition != part.name:
        return f"{arn!r} is in partition {arn_partition!r}, the region is in {part.name!r}"
    if service != "acm" or not resource.startswith("certificate/"):
        return f"{arn!r} is not an ACM certificate (arn:{part.name}:acm:...:certificate/...)"
    if arn_region != region:
        return f"{arn!r} is in {arn_region or 'no region'}, the load balancer in {region}"
    if not account.isdigit() or len(account) != 12:
        return f"{arn!r} has no 12-digit account id"
    return None
