"""`regionstack compliance report | policies | diff`: arguments, errors and the hand-off
to the policy run and the diff (stood in for here: other modules own them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from infra.compliance import policy_run
from infra.compliance.policy_run import PolicyRun


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as raised:
        main(list(argv))
    assert raised.value.code == EXIT_USAGE
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compliance"], "the following arguments are required: ACTION"),
        (["compliance", "report", "--format", "pdf"], "invalid choice: 'pdf'"),
        (["compliance", "policies"], "the following arguments are required: STACK"),
        (["compliance", "diff", "main"], "the following arguments are required: HEAD"),
        (["compliance", "diff", "a", "b", "--format", "html"], "invalid choice: 'html'"),
    ],
)
def test_argument_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert message in usage_error(capsys, *argv)


def test_an_unknown_region_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compliance", "report", "atlantis"]) == EXIT_USAGE
    assert "no region with code or stack name 'atlantis'" in capsys.readouterr().err


def test_report_writes_the_file_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", str(tmp_path))
    output = tmp_path / "out" / "report.json"
    assert (
        main(
            [
                "compliance",
                "report",
                "chunan",
                "330122",
                "--format",
                "json",
                "--output",
                str(output),
            ]
        )
        == EXIT_OK
    )
    assert f"wrote {output}" in capsys.readouterr().out
    data = json.loads(output.read_text())
    assert [r["region"]["stack"] for r in data["regions"]] == ["chunan", "tonglu"]


def test_report_of_an_invalid_configuration_fails(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_dir / "standard.yaml").write_text("version: x\n")
    assert main(["--config", str(config_dir), "compliance", "report"]) == EXIT_INVALID
    assert "stacks/standard.yaml" in capsys.readouterr().err


def test_report_refuses_unreadable_waivers(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_dir.parent / "compliance").mkdir()
    (config_dir.parent / "compliance" / "waivers.yaml").write_text("waivers: 3\n")
    assert main(["--config", str(config_dir), "compliance", "report"]) == EXIT_INVALID
    assert "waivers: is not a list" in capsys.readouterr().err


def _policy_run(mandatory: int) -> PolicyRun:
    violations = [{"resource": "urn:x", "message": "open to the world"}] * mandatory
    policy = {"name": "local-firewall-from-flow-matrix", "enforcement": "mandatory"}
    evidence = {"policies": [{**policy, "violations": violations, "waived": []}]}
    return PolicyRun("chunan", int(bool(mandatory)), mandatory, 0, 0, evidence)


@pytest.mark.parametrize(("mandatory", "code"), [(0, 0), (1, 1)])
def test_policies_runs_the_pack_on_the_stack_and_fails_on_a_mandatory_violation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], mandatory: int, code: int
) -> None:
    calls: list[tuple[str, Path]] = []

    def check_policies(stack: str, project_dir: Path) -> PolicyRun:
        calls.append((stack, project_dir))
        return _policy_run(mandatory)

    monkeypatch.setattr(policy_run, "check_policies", check_policies)
    assert main(["compliance", "policies", "330127"]) == code
    # the project of the configuration: its stack files and its policy pack
    assert calls == [("chunan", Path(__file__).resolve().parents[3])]
    out = capsys.readouterr().out
    assert "local-firewall-from-flow-matrix" in out
    assert ("urn:x: open to the world" in out) == bool(mandatory)


def test_a_preview_that_cannot_judge_is_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(stack: str, project_dir: Path) -> PolicyRun:
        raise policy_run.PolicyRunError("the program failed: no parent stack")

    monkeypatch.setattr(policy_run, "check_policies", fails)
    assert main(["compliance", "policies", "chunan"]) == 2
    assert "error: the program failed: no parent stack" in capsys.readouterr().err


def test_diff_hands_its_arguments_to_the_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.compliance import diff

    calls: list[tuple[Any, ...]] = []

    def diff_command(*args: Any) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(diff, "diff_command", diff_command)
    assert main(["compliance", "diff", "main", "HEAD", "chunan", "--format", "json"]) == 0
    repo = Path(__file__).resolve().parents[3]
    assert calls == [("main", "HEAD", ["chunan"], "json", repo)]
