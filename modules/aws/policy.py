"""IAM and resource policy documents as plain data, serialized in one place."""

from __future__ import annotations

import json
from typing import Any

Statement = dict[str, Any]


def document(*statements: Statement) -> str:
    """A policy document, with stable key order so a re-run shows no diff."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def assume_role(principal: str) -> str:
    """A trust policy letting one service principal assume the role."""
    return document(
        {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
    )
