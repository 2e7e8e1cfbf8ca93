"""The detection checks beyond the violations of test_runner.py: GuardDuty where a partition
lacks it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.aws.audit.model import Skipped
from infra.aws.audit.report import format_report
from tests.unit.aws.audit.emulated_audit import audit
from tests.unit.aws.emulator import COMPLIANT, PARTITION_IDS, PARTITIONS
from tests.unit.aws.emulator.account import BuiltRegion


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_guardduty_is_recorded_skipped_where_the_partition_lacks_it(
    deployed: Callable[[str, str], BuiltRegion], emulator: str, partition: str, stack: str
) -> None:
    report = audit(deployed(stack, COMPLIANT), emulator, guardduty=False)
    guardduty = [r for r in report.results if r.check == "guardduty"]
    assert len(guardduty) == 1 and isinstance(guardduty[0], Skipped), format_report(report)
    assert partition in guardduty[0].reason
    assert report.ok
