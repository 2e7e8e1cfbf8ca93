from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from infra.compliance.catalog import Catalog
from infra.fleet import drift_scan
from infra.fleet.drift_report import CLEAN, DRIFTED, FAILED, RegionScan
from infra.fleet.drift_scan import ScanError, run_preview, scan_region, scan_regions

FAILING_JUNIT = b"""<testsuites><testsuite name="common">
<testcase classname="tests.hosts.test_common" name="test_sshd_effective_setting[chunan-portal-1-x]">
<failure message="bad"/></testcase></testsuite></testsuites>"""


def fake_pulumi(tmp_path: Path, script: str) -> dict[str, str]:
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    return {"PATH": f"{fake.parent}:/usr/bin:/bin"}


def test_a_failed_preview_is_a_scan_error_with_pulumi_s_words(tmp_path: Path) -> None:
    env = fake_pulumi(tmp_path, "echo 'error: the stack is currently locked' >&2; exit 255")
    with pytest.raises(
        ScanError, match="failed \\(exit 255\\): error: the stack is currently locked"
    ):
        run_preview("chunan", tmp_path / "events.jsonl", tmp_path, env)


def test_the_preview_asks_for_the_event_log(tmp_path: Path) -> None:
    # The fake writes its arguments and the debug switch into the log it was given.
    env = fake_pulumi(
        tmp_path, 'for a; do last="$a"; done; echo "$PULUMI_DEBUG_COMMANDS $*" > "$last"'
    )
    log = tmp_path / "events.jsonl"
    run_preview("chunan", log, tmp_path, env)
    assert log.read_text().strip() == (
        f"true --non-interactive preview --stack chunan --refresh --event-log {log}"
    )


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """scan_region's two reads replaced: what each writes, or the error it raises."""
    plan: dict[str, Any] = {
        "events": "",
        "junit": b"<testsuites/>",
        "preview": None,
        "verify": None,
    }

    def preview(_stack: str, log: Path, _dir: Path, _env: Any) -> None:
        if plan["preview"]:
            raise ScanError(plan["preview"])
        log.write_text(plan["events"])

    def verify(_fleet: Any, _stack: str, junit: Path) -> None:
        if plan["verify"]:
            raise ScanError(plan["verify"])
        junit.write_bytes(plan["junit"])

    monkeypatch.setattr(drift_scan, "run_preview", preview)
    monkeypatch.setattr(drift_scan, "run_verify", verify)
    return plan


def test_a_clean_region_with_the_time_of_each_read(reads: dict[str, Any], catalog: Catalog) -> None:
    scan = scan_region(None, "chunan", catalog, env={})  # type: ignore[arg-type]
    assert scan.status == CLEAN
    assert [name for name, _ in scan.seconds] == ["preview", "verify"]


def test_a_failing_host_test_is_drift(reads: dict[str, Any], catalog: Catalog) -> None:
    reads["junit"] = FAILING_JUNIT
    scan = scan_region(None, "chunan", catalog, env={})  # type: ignore[arg-type]
    assert scan.status == DRIFTED
    assert scan.findings[0].host == "chunan-portal-1"


def test_both_reads_failing_are_both_reported(reads: dict[str, Any], catalog: Catalog) -> None:
    reads["preview"], reads["verify"] = "preview broke", "verify broke"
    scan = scan_region(None, "chunan", catalog, env={})  # type: ignore[arg-type]
    assert (scan.status, scan.error) == (FAILED, "preview broke; verify broke")


@pytest.mark.parametrize(("key", "value"), [("events", "{oops\n"), ("junit", b"not xml")])
def test_unreadable_results_fail_the_region(
    reads: dict[str, Any], catalog: Catalog, key: str, value: Any
) -> None:
    reads[key] = value
    scan = scan_region(None, "chunan", catalog, env={})  # type: ignore[arg-type]
    assert scan.status == FAILED
    assert scan.error.startswith("the scan's results are unreadable: ")


def test_regions_are_scanned_at_most_parallel_at_a_time() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def scan(stack: str) -> RegionScan:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return RegionScan(stack)

    stacks = [f"r{n}" for n in range(8)]
    lines: list[str] = []
    result = scan_regions(stacks, 3, scan, lines.append)
    assert "r0: clean, 0 finding(s) in 0s" in lines
    assert [s.region for s in result] == stacks
    assert peak == 3
    assert sum(line.endswith("s") and ": clean, 0 finding(s)" in line for line in lines) == 8


def test_a_region_whose_scan_crashes_is_failed_and_the_others_go_on() -> None:
    def scan(stack: str) -> RegionScan:
        if stack == "bad":
            raise RuntimeError("boom")
        return RegionScan(stack)

    result = scan_regions(["bad", "good"], 2, scan, lambda _line: None)
    assert [(s.region, s.status, s.error) for s in result] == [
        ("bad", FAILED, "RuntimeError: boom"),
        ("good", CLEAN, ""),
    ]
