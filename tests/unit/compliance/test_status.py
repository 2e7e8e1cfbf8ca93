"""Each status, from fixture evidence: what makes an item failing, verified, enforced,
waived (over everything, keeping the underlying status), process or not applicable."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from infra.compliance.catalog import Control
from infra.compliance.results import (
    HostTestOutcome,
    PolicyOutcome,
    PolicyResults,
    StackResults,
    VerifyResults,
    parse_policies,
    parse_verify_junit,
)
from infra.compliance.status import (
    ENFORCED,
    ENFORCED_VERIFIED,
    FAILING,
    NOT_APPLICABLE_STATUS,
    PROCESS_STATUS,
    WAIVED,
    control_status,
)
from infra.compliance.waivers import Waiver
from infra.config.loader import Fleet
from tests.unit.compliance.conftest import AUDIT, BACKUP, COMMON, ENCRYPTION, SSH, WIRELESS

FIXTURES = Path(__file__).parent / "fixtures"
WHEN = datetime(2026, 12, 5, tzinfo=UTC)
NOTHING = StackResults()


def _verify(**outcomes: HostTestOutcome) -> StackResults:
    tests = {f"{COMMON}::{name}": outcome for name, outcome in outcomes.items()}
    return StackResults(verify=VerifyResults(WHEN, None, tests, ()))


def _fixtures() -> StackResults:
    tests, unreachable = parse_verify_junit((FIXTURES / "verify.xml").read_bytes())
    ran_at, policies = parse_policies((FIXTURES / "policies.json").read_bytes())
    return StackResults(
        VerifyResults(WHEN, None, tests, unreachable), PolicyResults(WHEN, ran_at, policies)
    )


def _waiver(control: str, region: str = "chunan") -> Waiver:
    return Waiver(
        "W-1",
        control,
        region,
        None,
        ("*",),
        "a",
        "b",
        "T-1",
        "why",
        date(2026, 12, 1),
        date(2027, 5, 1),
    )


def test_a_failed_host_test_makes_the_item_failing(sample_fleet: Fleet) -> None:
    status = control_status(SSH, sample_fleet.region("chunan"), _fixtures(), [])
    assert status.status == FAILING
    assert status.host_tests == {
        f"{COMMON}::test_sshd_effective_setting": "failed",
        f"{COMMON}::test_login_defs": "passed",
    }
    assert "test_sshd_effective_setting" in status.why


def test_a_policy_violation_makes_the_item_failing(sample_fleet: Fleet) -> None:
    status = control_status(AUDIT, sample_fleet.region("chunan"), _fixtures(), [])
    assert (status.status, status.policies) == (
        FAILING,
        {"local-hosts-have-common-baseline": "failed"},
    )
    assert status.host_tests == {f"{COMMON}::test_audit_rule": "passed"}


def test_passed_host_tests_verify_the_item(sample_fleet: Fleet) -> None:
    results = _verify(
        test_sshd_effective_setting=HostTestOutcome(passed=4),
        test_login_defs=HostTestOutcome(passed=2, skipped=1),
    )
    status = control_status(SSH, sample_fleet.region("chunan"), results, [])
    assert status.status == ENFORCED_VERIFIED


def test_a_linked_test_that_did_not_run_leaves_the_item_enforced(sample_fleet: Fleet) -> None:
    results = _verify(test_sshd_effective_setting=HostTestOutcome(passed=4))
    status = control_status(SSH, sample_fleet.region("chunan"), results, [])
    assert (status.status, status.host_tests[f"{COMMON}::test_login_defs"]) == (
        ENFORCED,
        "not-run",
    )


def test_only_skipped_runs_do_not_verify(sample_fleet: Fleet) -> None:
    results = _verify(
        test_sshd_effective_setting=HostTestOutcome(skipped=4),
        test_login_defs=HostTestOutcome(skipped=2),
    )
    assert control_status(SSH, sample_fleet.region("chunan"), results, []).status == ENFORCED


def test_without_evidence_a_technical_item_is_enforced(sample_fleet: Fleet) -> None:
    assert control_status(SSH, sample_fleet.region("chunan"), NOTHING, []).status == ENFORCED


def test_a_policy_only_item_is_verified_by_its_clean_run(sample_fleet: Fleet) -> None:
    clean = PolicyOutcome("aws-encryption-at-rest-region-kms", "mandatory", (), ())
    results = StackResults(policies=PolicyResults(WHEN, "", {clean.name: clean}))
    status = control_status(ENCRYPTION, sample_fleet.region("ningxia"), results, [])
    assert (status.status, status.policies) == (
        ENFORCED_VERIFIED,
        {"aws-encryption-at-rest-region-kms": "passed"},
    )


def test_a_policy_only_item_whose_policies_did_not_run_is_enforced(sample_fleet: Fleet) -> None:
    results = StackResults(policies=PolicyResults(WHEN, "", {}))
    status = control_status(ENCRYPTION, sample_fleet.region("ningxia"), results, [])
    assert status.status == ENFORCED


def test_an_item_enforced_on_another_target_is_not_applicable_with_the_reason(
    sample_fleet: Fleet,
) -> None:
    status = control_status(ENCRYPTION, sample_fleet.region("chunan"), _fixtures(), [])
    assert status.status == NOT_APPLICABLE_STATUS
    assert "not enforced on the local target" in status.why
    assert "encrypted by its operators" in status.why


@pytest.mark.parametrize(
    ("control", "expected", "why"),
    [
        (BACKUP, PROCESS_STATUS, "docs/procedures/backup.md"),
        (WIRELESS, NOT_APPLICABLE_STATUS, "the platform has no wireless"),
    ],
)
def test_process_and_not_applicable_items(
    sample_fleet: Fleet, control: Control, expected: str, why: str
) -> None:
    status = control_status(control, sample_fleet.region("chunan"), _fixtures(), [])
    assert (status.status, status.why) == (
        expected,
        f"procedure: {why}" if expected == PROCESS_STATUS else why,
    )


@pytest.mark.parametrize("region_key", ["chunan", "330127"])
def test_a_waiver_wins_over_failing_and_keeps_the_evidence(
    sample_fleet: Fleet, region_key: str
) -> None:
    status = control_status(
        SSH, sample_fleet.region("chunan"), _fixtures(), [_waiver(SSH.id, region_key)]
    )
    assert (status.status, status.underlying, status.waivers) == (WAIVED, FAILING, ("W-1",))
    assert status.host_tests[f"{COMMON}::test_sshd_effective_setting"] == "failed"


def test_a_waived_item_is_never_shown_as_passed(sample_fleet: Fleet) -> None:
    results = _verify(
        test_sshd_effective_setting=HostTestOutcome(passed=4),
        test_login_defs=HostTestOutcome(passed=2),
    )
    status = control_status(SSH, sample_fleet.region("chunan"), results, [_waiver(SSH.id)])
    assert (status.status, status.underlying) == (WAIVED, ENFORCED_VERIFIED)


def test_a_waiver_of_another_region_or_item_does_not_apply(sample_fleet: Fleet) -> None:
    waivers = [_waiver(SSH.id, "tonglu"), _waiver(AUDIT.id)]
    assert control_status(SSH, sample_fleet.region("chunan"), NOTHING, waivers).status == ENFORCED
