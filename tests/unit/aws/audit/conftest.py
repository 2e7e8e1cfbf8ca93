"""The audit of the compliant and of the non-compliant account, once per partition."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.aws.audit.model import AuditReport
from tests.unit.aws.audit.emulated_audit import audit
from tests.unit.aws.emulator import COMPLIANT, NONCOMPLIANT, PARTITION_IDS, PARTITIONS
from tests.unit.aws.emulator.account import BuiltRegion


@pytest.fixture(autouse=True)
def _emulator_only(emulator_only: None) -> None:
    """Every test of the audit runs against the loopback AWS emulator, never AWS."""


@pytest.fixture(scope="module", params=PARTITIONS, ids=PARTITION_IDS)
def compliant(
    request: pytest.FixtureRequest, deployed: Callable[[str, str], BuiltRegion], emulator: str
) -> AuditReport:
    return audit(deployed(request.param[1], COMPLIANT), emulator)


@pytest.fixture(scope="module", params=PARTITIONS, ids=PARTITION_IDS)
def noncompliant(
    request: pytest.FixtureRequest, deployed: Callable[[str, str], BuiltRegion], emulator: str
) -> tuple[BuiltRegion, AuditReport]:
    built = deployed(request.param[1], NONCOMPLIANT)
    return built, audit(built, emulator)
