"""What the emulator tests share: the partitions they cover, the scenarios, and the
environment that keeps every AWS call on the loopback emulator."""

from __future__ import annotations

import os
import socket

from tests.unit.aws.emulator.account import Account

LOOPBACK = "127.0.0.1"
COMPLIANT, NONCOMPLIANT = "compliant", "noncompliant"

# (partition, stack) of the test fleet: a province in each partition.
PARTITIONS = [("aws-cn", "ningxia"), ("aws", "guangdong")]
PARTITION_IDS = [p for p, _ in PARTITIONS]

# Variables that could send boto3 elsewhere or pick up a developer's real identity.
AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def emulator_env(endpoint: str, account: Account | None = None) -> dict[str, str]:
    """The AWS environment of a process that must talk to the emulator only."""
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if account is not None:
        env.update(account.env)
    return env


def process_env(endpoint: str, account: Account | None = None) -> dict[str, str]:
    """This process's environment without AWS settings, plus the emulator's: for a
    subprocess (ansible-inventory) that must not reach anything else."""
    base = {k: v for k, v in os.environ.items() if k not in AWS_VARIABLES}
    return {**base, **emulator_env(endpoint, account)}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])
