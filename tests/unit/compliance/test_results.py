"""Recorded evidence read back: host test ids from JUnit, policy outcomes, figures."""

from __future__ import annotations

from pathlib import Path

from infra.compliance import evidence
from infra.compliance.results import (
    FAILED,
    PASSED,
    SKIPPED,
    host_test_id,
    load_results,
    parse_policies,
    parse_verify_junit,
)

FIXTURES = Path(__file__).parent / "fixtures"
COMMON = "tests/hosts/test_common.py"


def test_a_testcase_is_one_run_of_its_test_id() -> None:
    assert host_test_id("tests.hosts.test_common", "test_x[host-a-1]") == f"{COMMON}::test_x"


def test_a_test_ids_outcome_is_the_worst_of_its_runs() -> None:
    tests, unreachable = parse_verify_junit((FIXTURES / "verify.xml").read_bytes())
    outcomes = {test: outcome.outcome for test, outcome in tests.items()}
    assert outcomes == {
        f"{COMMON}::test_sshd_effective_setting": FAILED,
        f"{COMMON}::test_login_defs": PASSED,
        f"{COMMON}::test_audit_rule": PASSED,
        "tests/hosts/test_portal.py::test_tls_only": FAILED,
    }
    assert tests[f"{COMMON}::test_sshd_effective_setting"].failures == [
        "test_sshd_effective_setting[chunan-hotline-1-PermitRootLogin-no]: PermitRootLogin is yes"
    ]
    assert tests[f"{COMMON}::test_audit_rule"].skipped == 1
    assert unreachable == ()


def test_a_run_that_reached_no_host_has_no_outcome_but_says_why(tmp_path: Path) -> None:
    junit = (
        '<testsuites><testsuite name="preflight"><testcase classname="verify.preflight.chunan" '
        'name="chunan-portal-1"><error message="cannot reach chunan-portal-1: refused"/>'
        "</testcase></testsuite></testsuites>"
    )
    tests, unreachable = parse_verify_junit(junit.encode())
    assert (tests, unreachable) == ({}, ("cannot reach chunan-portal-1: refused",))


def test_only_skipped_runs_are_skipped() -> None:
    junit = (
        '<testsuite><testcase classname="tests.hosts.test_common" name="test_x[a]">'
        "<skipped/></testcase></testsuite>"
    )
    tests, _ = parse_verify_junit(junit.encode())
    assert tests[f"{COMMON}::test_x"].outcome == SKIPPED


def test_policy_outcomes() -> None:
    ran_at, policies = parse_policies((FIXTURES / "policies.json").read_bytes())
    assert ran_at == "2026-12-05T10:00:00+00:00"
    assert not policies["local-hosts-have-common-baseline"].clean
    assert policies["local-firewall-from-flow-matrix"].clean


def test_a_stack_without_evidence_has_none_of_any_kind(tmp_path: Path) -> None:
    results = load_results("chunan", tmp_path)
    assert (results.verify, results.policies, results.hardening) == (None, None, None)


def test_recorded_evidence_is_loaded_with_its_date(tmp_path: Path) -> None:
    for kind, name in (
        (evidence.VERIFY_JUNIT, "verify.xml"),
        (evidence.POLICY_RESULTS, "policies.json"),
    ):
        evidence.record("chunan", kind, (FIXTURES / name).read_bytes(), tmp_path)
    results = load_results("chunan", tmp_path)
    assert results.verify is not None and results.policies is not None
    assert results.verify.counts() == {PASSED: 3, FAILED: 2, SKIPPED: 1}
    assert results.verify.recorded_at.year >= 2026
    assert results.hardening is None
