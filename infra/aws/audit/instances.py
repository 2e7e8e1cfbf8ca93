"""The `instances` check: the stack's hosts are private and carry the tag contract
(infra/aws/tags.py) the inventory groups them by."""

from __future__ import annotations

from collections.abc import Iterator

from infra.aws.audit.clients import pages
from infra.aws.audit.model import AuditTarget, Finding, Passed, Result, Scope
from infra.aws.audit.stack_resources import resource_label, stack_filter, tag_map
from infra.aws.tags import REGION_TAG_KEYS, TAG_NAME, TAG_ROLE
from infra.config.schema import COMPONENTS
from infra.names import host_name


def _wrong_region_tags(target: AuditTarget, tags: dict[str, str]) -> list[str]:
    return [key for key in REGION_TAG_KEYS if tags.get(key) != target.tags[key]]


def _host_tag_problems(target: AuditTarget, tags: dict[str, str]) -> list[str]:
    """What is wrong with a host's role and Name; a name must be `<stack>-<role>-<n>`."""
    role = tags.get(TAG_ROLE)
    if role not in COMPONENTS:
        return [f"{TAG_ROLE}={role or '(missing)'}, expected one of {', '.join(COMPONENTS)}"]
    name = tags.get(TAG_NAME, "")
    prefix = host_name(target.stack, role, 1).removesuffix("1")
    index = name.removeprefix(prefix)
    if not name.startswith(prefix) or not index.isdigit() or index.startswith("0"):
        return [f"{TAG_NAME}={name or '(missing)'}, expected {prefix}<n>"]
    return []


def check_instances(scope: Scope) -> Iterator[Result]:
    target, aws = scope.target, scope.aws
    check = "instances"
    states = {
        "Name": "instance-state-name",
        "Values": ["pending", "running", "stopping", "stopped"],
    }
    reservations = pages(
        aws("ec2"), "describe_instances", "Reservations", Filters=[*stack_filter(target), states]
    )
    for reservation in reservations:
        for instance in reservation.get("Instances", []):
            instance_id = instance["InstanceId"]
            tags = tag_map(instance.get("Tags"))
            label = resource_label(instance_id, tags)
            public = instance.get("PublicIpAddress")
            if public:
                yield Finding(
                    check,
                    label,
                    f"has the public address {public}: hosts are reached through SSM and the "
                    "load balancer only",
                    f"`{target.redeploy()}` replaces it from a launch setting without one; "
                    "an Elastic IP: `aws ec2 disassociate-address` it",
                )
            wrong = _wrong_region_tags(target, tags)
            problems = [
                f"{key}={tags.get(key, '(missing)')}, expected {target.tags[key]}" for key in wrong
            ] + _host_tag_problems(target, tags)
            if problems:
                fixes = [f"`{target.redeploy()}` (the role and Name come from the plan)"]
                if wrong:
                    tag_args = " ".join(f"Key={key},Value={target.tags[key]}" for key in wrong)
                    fixes.insert(
                        0,
                        f"aws ec2 create-tags --resources {instance_id} --tags {tag_args} "
                        f"--region {target.region}",
                    )
                yield Finding(
                    check,
                    label,
                    "breaks the tag contract the inventory groups by: " + "; ".join(problems),
                    fixes[0] if len(problems) == len(wrong) else "; ".join(fixes),
                )
            if not public and not problems:
                yield Passed(check, label, "no public address, tags complete")
