from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.fleet import drift
from infra.fleet.drift_causes import HOST_TASK, Cause, Finding
from infra.fleet.drift_report import RegionScan

STACKS = Path(__file__).resolve().parents[3] / "stacks"
SSHD = Cause(HOST_TASK, "portal", "common : Configure sshd | mlps-8.1.4.1")


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Scans nothing for real: chunan has drifted, every other region is clean."""
    seen: list[str] = []
    project = STACKS.resolve().parent  # the configuration's project, not this checkout

    def fake_scan(_fleet: Any, stack: str, catalog: Any, project_dir: Path) -> RegionScan:
        assert project_dir == project
        seen.append(stack)
        if stack == "chunan":
            return RegionScan(stack, (Finding(stack, SSHD, "urn", "chunan-portal-1"),))
        return RegionScan(stack)

    monkeypatch.setattr(drift, "scan_region", fake_scan)

    def deployed(project_dir: Path) -> list[str]:
        assert project_dir == project
        return ["chunan", "hangzhou", "not-a-region"]

    monkeypatch.setattr(drift, "deployed_stacks", deployed)
    return seen


def test_drift_found_exits_1_with_the_json_report(
    scanned: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out" / "drift.json"
    assert drift.drift_command([], "json", STACKS, output, 2) == drift.EXIT_DRIFT
    # Every deployed stack the configuration knows, none it does not.
    assert sorted(scanned) == ["chunan", "hangzhou"]
    document = json.loads(output.read_text())
    assert document["causes"][0]["regions"] == ["chunan"]
    assert "chunan: drifted, 1 finding(s)" in capsys.readouterr().err


def test_no_drift_exits_0_and_prints_markdown(
    scanned: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert drift.drift_command(["330100"], "md", STACKS, None, 1) == drift.EXIT_CLEAN
    assert scanned == ["hangzhou"]  # the region named by its GB/T 2260 code
    assert "1 region(s) scanned: 1 clean" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("regions", "fmt", "parallel", "message"),
    [
        (["atlantis"], "md", 1, "no region with code or stack name 'atlantis'"),
        (["chunan"], "html", 1, "--format 'html': choose one of md, json"),
        (["chunan"], "md", 0, "--parallel 0: give 1 or more"),
    ],
)
def test_usage_errors_exit_2_and_say_why(
    scanned: list[str],
    capsys: pytest.CaptureFixture[str],
    regions: list[str],
    fmt: str,
    parallel: int,
    message: str,
) -> None:
    assert drift.drift_command(regions, fmt, STACKS, None, parallel) == drift.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert scanned == []


def test_an_invalid_configuration_is_a_usage_error(
    scanned: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drift.drift_command(["chunan"], "md", tmp_path, None, 1) == drift.EXIT_USAGE
    assert capsys.readouterr().err.startswith("regionstack fleet drift: ")


def test_nothing_deployed_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(drift, "deployed_stacks", lambda project_dir: [])
    assert drift.drift_command([], "md", STACKS, None, 1) == drift.EXIT_USAGE
    assert "no deployed region to scan" in capsys.readouterr().err


def test_deployed_stacks_are_those_with_resources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    listing = [{"name": "b", "resourceCount": 3}, {"name": "a", "resourceCount": 1}, {"name": "c"}]
    fake = tmp_path / "pulumi"
    fake.write_text(f"#!/bin/sh\necho '{json.dumps(listing)}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert drift.deployed_stacks(tmp_path) == ["a", "b"]


def test_a_failing_stack_listing_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\necho 'no backend' >&2\nexit 255\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(drift.UsageError, match="`pulumi stack ls` failed: no backend"):
        drift.deployed_stacks(tmp_path)
