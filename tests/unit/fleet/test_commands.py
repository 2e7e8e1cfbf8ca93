"""`regionstack fleet …` end to end: the CLI, the real engine and a fake `pulumi`."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.fleet.commands import add_fleet_commands
from tests.unit.conftest import ROOT
from tests.unit.fleet.conftest import calls


@pytest.fixture
def project(config_dir: Path) -> Path:
    """A project root holding Pulumi.yaml and a copy of the sample `stacks/`."""
    shutil.copy(ROOT / "Pulumi.yaml", config_dir.parent / "Pulumi.yaml")
    return config_dir


@pytest.fixture
def failing_pulumi(fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> Path:
    """The fake `pulumi`, failing the `up` of the stack the test parametrizes as `failing`."""
    monkeypatch.setenv("FAKE_PULUMI_FAIL", failing)
    return fake_pulumi


def up(config: Path, journal: Path, *extra: str) -> int:
    return main(
        ["fleet", "up", "--config", str(config), "--journal", str(journal), "--json", *extra]
    )


def ups(log: Path) -> list[str]:
    found = []
    for call in calls(log):
        argv = [a for a in call["argv"] if a != "--non-interactive"]
        if argv[:1] == ["up"]:
            found.append(argv[argv.index("--stack") + 1])
    return found


def test_plan_text_and_json(capsys: pytest.CaptureFixture[str], sample_dir: Path) -> None:
    assert main(["fleet", "plan", "--config", str(sample_dir)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("plan sha256:") and "canary-county       1  tonglu" in text
    assert main(["fleet", "plan", "--config", str(sample_dir), "--format", "json", "tonglu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["assumed_applied"] == ["hangzhou"]


def test_plan_without_canaries_starts_the_sibling_counties_together(
    capsys: pytest.CaptureFixture[str], sample_dir: Path
) -> None:
    args = [
        "fleet",
        "plan",
        "--config",
        str(sample_dir),
        "zhejiang",
        "hangzhou",
        "chunan",
        "tonglu",
    ]
    assert main([*args, "--no-canaries"]) == 0
    text = capsys.readouterr().out
    assert "canary" not in text and "wave-3              2  tonglu, chunan" in text
    assert main(args) == 0
    assert text.splitlines()[0] != capsys.readouterr().out.splitlines()[0]  # another digest


def test_plan_of_an_invalid_configuration_exits_2(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_dir / "regions" / "64-ningxia.yaml").write_text("regions: [1]\n", encoding="utf-8")
    assert main(["fleet", "plan", "--config", str(config_dir)]) == 2
    assert "64-ningxia.yaml" in capsys.readouterr().err


def test_plan_of_an_unknown_region_exits_2(
    sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "plan", "--config", str(sample_dir), "atlantis"]) == 2
    assert "no region with code or stack name 'atlantis'" in capsys.readouterr().err


def test_up_applies_every_region_and_again_once_the_rollout_is_done(
    project: Path, tmp_path: Path, fake_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.jsonl"
    assert up(project, journal) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["applied"], summary["exit"], summary["resumed"]) == (5, 0, False)
    assert "fleet: 5/5 done, 0 running, 0 failed, 0 blocked" in captured.err
    applied = ups(fake_pulumi)
    assert applied[:3] == ["zhejiang", "hangzhou", "tonglu"]
    assert sorted(applied[3:]) == ["chunan", "ningxia"]
    # A finished rollout is not resumed: the same command again is a new rollout (code may
    # have changed, which no plan digest covers), the finished journal kept beside it.
    assert up(project, journal) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["applied"], again["resumed"]) == (5, False)
    assert len(ups(fake_pulumi)) == 10
    assert (tmp_path / "journal.jsonl.1").read_text().splitlines()[-1] == '{"event": "done"}'


@pytest.mark.parametrize("failing", ["hangzhou"])
def test_failed_region_blocks_its_children(
    project: Path, tmp_path: Path, failing_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert up(project, tmp_path / "j", "--failure-budget", "100%") == 1
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["failed"]) == ["hangzhou"]
    assert summary["blocked"] == {"chunan": "hangzhou", "tonglu": "hangzhou"}
    assert sorted(ups(failing_pulumi)) == ["hangzhou", "ningxia", "zhejiang"]


@pytest.mark.parametrize("failing", ["zhejiang"])
def test_canary_failure_exceeds_the_budget_and_exits_3(
    project: Path, tmp_path: Path, failing_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "up", "--config", str(project), "--journal", str(tmp_path / "j")]) == 3
    out = capsys.readouterr().out
    assert (
        "stopped: wave canary-province exceeded the failure budget 10%; fix the failures, "
        "then run the same command with --retry-failed"
    ) in out
    assert ups(failing_pulumi) == ["zhejiang"]


@pytest.mark.parametrize("failing", ["tonglu"])
def test_journal_of_another_unfinished_plan_is_refused_unless_new(
    project: Path, tmp_path: Path, failing_pulumi: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "j"
    assert up(project, journal, "tonglu") == 3
    capsys.readouterr()
    assert up(project, journal, "chunan") == 2
    assert "not of this plan" in capsys.readouterr().err
    assert up(project, journal, "chunan", "--new-journal") == 0
    assert (tmp_path / "j.1").is_file()


def test_after_a_finished_rollout_the_next_plan_starts_its_own_journal(
    project: Path, tmp_path: Path, fake_pulumi: Path
) -> None:
    journal = tmp_path / "j"
    assert up(project, journal, "tonglu") == 0
    assert up(project, journal, "chunan") == 0
    assert (tmp_path / "j.1").is_file()


@pytest.mark.parametrize("failing", ["zhejiang"])
def test_retry_failed_after_the_budget_stopped_the_rollout(
    project: Path,
    tmp_path: Path,
    failing_pulumi: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = tmp_path / "j"
    assert up(project, journal) == 3
    assert up(project, journal) == 3  # resuming alone: the canary wave is still over budget
    monkeypatch.delenv("FAKE_PULUMI_FAIL")
    capsys.readouterr()
    assert up(project, journal, "--retry-failed") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["retried"], summary["applied"]) == (["zhejiang"], 5)
    assert ups(failing_pulumi).count("zhejiang") == 2


def test_bad_failure_budget_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "up", "--config", str(project), "--failure-budget", "lots"]) == 2
    assert "failure budget 'lots'" in capsys.readouterr().err


def test_concurrency_below_one_is_a_usage_error(project: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["fleet", "up", "--config", str(project), "--max-concurrency", "0"])
    assert stopped.value.code == 2


def test_simulate_the_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "simulate", "--regions", "sample", "--kills", "1", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["regions"] == 5 and result["restarts"] == 2


def test_drift_hands_its_arguments_to_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.fleet import drift

    received: list[tuple[Any, ...]] = []

    def drift_command(*args: Any) -> int:
        received.append(args)
        return 1

    monkeypatch.setattr(drift, "drift_command", drift_command)
    parser = argparse.ArgumentParser()
    add_fleet_commands(parser.add_subparsers(), lambda sub: sub.set_defaults(config=Path("c")))
    args = parser.parse_args(["fleet", "drift", "chunan", "--format", "json", "--parallel", "3"])
    assert args.handler(args) == 1
    assert received == [(["chunan"], "json", Path("c"), None, 3)]


def test_drift_refuses_a_parallelism_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_fleet_commands(parser.add_subparsers(), lambda sub: None)
    with pytest.raises(SystemExit):
        parser.parse_args(["fleet", "drift", "--parallel", "0"])
    assert "--parallel" in capsys.readouterr().err
