"""aws-partition-correct-arns: every ARN a resource names is in the region's partition.

An ARN of the global partition in an aws-cn region (or the reverse) is refused by the
service at apply time, or worse, grants nothing where a policy meant to grant; the
program builds every ARN from infra/aws/partition.py, and this policy checks it did.
JSON documents (IAM and key policies) are opened up.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

from policies.model import RegionFacts, Resource

ARN = re.compile(r"\barn:([a-z0-9-]+):")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        if value.lstrip().startswith(("{", "[")):
            with contextlib.suppress(json.JSONDecodeError):
                yield from _strings(json.loads(value))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def check_arn_partitions(resource: Resource, facts: RegionFacts) -> list[str]:
    if facts.aws is None or not resource.type.startswith("aws:"):
        return []
    wanted = facts.aws.partition
    wrong = sorted(
        {
            match.group(0) + "..."
            for text in _strings(resource.props)
            for match in ARN.finditer(text)
            if match.group(1) != wanted
        }
    )
    if not wrong:
        return []
    return [
        f"names ARNs of another partition ({', '.join(wrong)}) in a region of partition "
        f"{wanted}: build ARNs with infra/aws/partition.py (Partition.arn, managed_policy, "
        "account_root), never spell `arn:aws:`"
    ]
