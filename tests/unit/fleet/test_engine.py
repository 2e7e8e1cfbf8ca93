"""The real engine: one process per region running the Automation API, against a fake
`pulumi` on PATH (the lead runs the real fleet)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.fleet.engine import ApplyFailed, PulumiEngine
from infra.fleet.plan import PlannedRegion
from tests.unit.conftest import ROOT
from tests.unit.fleet.conftest import calls

TONGLU = PlannedRegion("tonglu", "330122", "county", "hangzhou", None)


def engine(tmp_path: Path) -> PulumiEngine:
    return PulumiEngine(ROOT, tmp_path / "logs")


def test_command_runs_one_stack_in_its_own_process(tmp_path: Path) -> None:
    assert engine(tmp_path).command(TONGLU) == [
        sys.executable,
        "-m",
        "infra.fleet.pulumi_up",
        "--work-dir",
        str(ROOT),
        "--stack",
        "tonglu",
    ]


def test_environment_keeps_the_callers_and_never_prompts(tmp_path: Path) -> None:
    env = PulumiEngine(ROOT, tmp_path, env={"PULUMI_BACKEND_URL": "file:///x"}).environment()
    assert env == {
        "PULUMI_BACKEND_URL": "file:///x",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_NON_INTERACTIVE": "true",
        "PYTHONPATH": str(ROOT),
    }
    env = PulumiEngine(ROOT, tmp_path, env={"PYTHONPATH": "/x"}).environment()
    assert env["PYTHONPATH"] == f"{ROOT}:/x"


def test_up_goes_through_the_automation_api_with_the_stack_on_every_command(
    tmp_path: Path, fake_pulumi: Path
) -> None:
    engine(tmp_path).apply(TONGLU)
    made = calls(fake_pulumi)
    commands = [
        [a for a in c["argv"] if a != "--non-interactive"]
        for c in made
        if c["argv"][:1] != ["version"]
    ]
    assert [c[:2] for c in commands] == [
        ["stack", "--stack"],
        ["up", "--yes"],
        ["stack", "output"],
        ["stack", "output"],
        ["stack", "history"],
    ], commands
    assert all("tonglu" in c for c in commands), commands
    # Selecting a stack rewrites the workspace file parallel updates share (#8186).
    assert not any("select" in c for c in commands), commands
    assert {c["cwd"] for c in made} == {str(ROOT)}
    assert all(c["env"]["PULUMI_NON_INTERACTIVE"] == "true" for c in made)
    assert "3 unchanged" in (tmp_path / "logs" / "tonglu.log").read_text(encoding="utf-8")


def test_a_missing_stack_is_created_without_selecting_it(
    tmp_path: Path, fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_NEW", "tonglu")
    engine(tmp_path).apply(TONGLU)
    commands = [[a for a in c["argv"] if a != "--non-interactive"] for c in calls(fake_pulumi)]
    assert [c[:4] for c in commands[1:3]] == [
        ["stack", "--stack", "tonglu"],
        ["stack", "init", "tonglu", "--no-select"],
    ]
    assert not any("select" in c for c in commands)
    assert any(c[:1] == ["up"] for c in commands)


def test_failed_up_raises_with_the_log_and_its_tail(
    tmp_path: Path, fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "tonglu")
    with pytest.raises(ApplyFailed) as failure:
        engine(tmp_path).apply(TONGLU)
    message = str(failure.value)
    assert "pulumi up of tonglu exited 1" in message
    assert str(tmp_path / "logs" / "tonglu.log") in message
    assert "injected by the test" in message


def test_missing_pulumi_fails_the_region_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ApplyFailed, match="pulumi up of tonglu exited"):
        engine(tmp_path).apply(TONGLU)
