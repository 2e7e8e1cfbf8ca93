"""The audit of a region built in the emulator, run as the operator would run it."""

from __future__ import annotations

import dataclasses

import pytest

from infra.aws.audit.clients import AwsClients
from infra.aws.audit.model import AuditReport
from infra.aws.audit.runner import run_audit
from tests.unit.aws.emulator import emulator_env
from tests.unit.aws.emulator.account import BuiltRegion


def audit(built: BuiltRegion, emulator: str, **target_changes: object) -> AuditReport:
    """The audit of `built`'s account, with its credentials in the environment."""
    target = dataclasses.replace(built.target, **target_changes)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as env:
        for key, value in emulator_env(emulator, built.account).items():
            env.setenv(key, value)
        return run_audit(target, AwsClients(target.region))
