"""Every check against the account, in the order the report lists them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
)

from infra.aws.audit.clients import AwsClients, error_code
from infra.aws.audit.detection import check_flow_logs, check_guardduty
from infra.aws.audit.instances import check_instances
from infra.aws.audit.log_archive import check_cloudtrail, check_log_archive
from infra.aws.audit.model import AuditError, AuditReport, AuditTarget, Result, Scope
from infra.aws.audit.security_groups import check_security_groups

# A check yields a result per resource it looked at.
Check = Callable[[Scope], Iterator[Result]]
# The report lists the results in this order, the order of the package docstring.
CHECKS: dict[str, Check] = {
    "cloudtrail": check_cloudtrail,
    "log-archive": check_log_archive,
    "guardduty": check_guardduty,
    "flow-logs": check_flow_logs,
    "security-groups": check_security_groups,
    "instances": check_instances,
}


def _account(target: AuditTarget, aws: AwsClients) -> str:
    """The account of the credentials, refused if it lives in another partition."""
    identity = aws("sts").get_caller_identity()
    partition = str(identity["Arn"]).split(":")[1]
    if partition != target.partition.name:
        raise AuditError(
            f"the credentials are {identity['Arn']}, of partition {partition}; {target.stack} "
            f"runs in {target.partition.name} ({target.region}): use credentials of an "
            f"{target.partition.name} account (AWS_PROFILE)"
        )
    return str(identity["Account"])


def run_audit(target: AuditTarget, aws: AwsClients) -> AuditReport:
    """Every check against the account; raises AuditError when it cannot be read."""
    if not aws.has_credentials():
        raise AuditError(
            f"no AWS credentials for {target.partition.name}: set AWS_PROFILE to a profile of "
            f"the account {target.stack} runs in, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (docs/aws.md, Credentials)"
        )
    try:
        report = AuditReport(target, _account(target, aws))
        scope = Scope(target, aws, report.account)
        for run in CHECKS.values():
            report.results.extend(run(scope))
    except NoCredentialsError as err:
        raise AuditError(f"no usable AWS credentials: {err}") from None
    except ClientError as err:
        operation = getattr(err, "operation_name", "an API call")
        raise AuditError(
            f"{operation} was refused ({error_code(err)}): the audit needs read access to "
            "CloudTrail, S3, GuardDuty, EC2 and Elastic Load Balancing (docs/aws.md lists "
            f"the actions): {err}"
        ) from None
    except BotoCoreError as err:
        where = aws.endpoint_url or f"the {target.partition.name} endpoints of {target.region}"
        raise AuditError(f"cannot reach {where}: {err}") from None
    return report
