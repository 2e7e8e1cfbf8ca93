"""How the checks find the stack's resources and name them: by the tag contract
(infra/aws/tags.py), since the audit does not read the stack's state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.aws.audit.clients import AwsClients, pages
from infra.aws.audit.model import AuditTarget
from infra.aws.tags import TAG_NAME, TAG_STACK


def tag_map(tags: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


def stack_filter(target: AuditTarget) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{TAG_STACK}", "Values": [target.stack]}]


def resource_label(resource_id: str, tags: dict[str, str]) -> str:
    name = tags.get(TAG_NAME)
    return f"{resource_id} ({name})" if name else resource_id


def stack_vpcs(target: AuditTarget, aws: AwsClients) -> list[dict[str, Any]]:
    return list(pages(aws("ec2"), "describe_vpcs", "Vpcs", Filters=stack_filter(target)))
