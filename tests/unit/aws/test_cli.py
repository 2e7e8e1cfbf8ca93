"""`regionstack inventory` and `regionstack audit` on aws stacks, through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import infra.cli
from infra.aws.inventory import PLUGIN, PLUGIN_FILE
from infra.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from infra.inventory import InventoryError
from tests.unit.aws.emulator import (
    COMPLIANT,
    NONCOMPLIANT,
    PARTITION_IDS,
    PARTITIONS,
    emulator_env,
)
from tests.unit.aws.emulator.account import VIOLATIONS, BuiltRegion

# Every test here runs against the loopback AWS emulator, never AWS.
pytestmark = pytest.mark.usefixtures("emulator_only")


def _use_account(monkeypatch: pytest.MonkeyPatch, emulator: str, built: BuiltRegion) -> None:
    for key, value in emulator_env(emulator, built.account).items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_audit_of_a_compliant_account_exits_0(
    deployed: Callable[[str, str], BuiltRegion],
    emulator: str,
    emulated_fleet_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    partition: str,
    stack: str,
) -> None:
    _use_account(monkeypatch, emulator, deployed(stack, COMPLIANT))
    code = main(["--config", str(emulated_fleet_dir), "audit", stack, "--endpoint-url", emulator])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert f"audit of {stack} in {partition} " in out
    assert "0 finding(s)" in out


@pytest.mark.parametrize(("partition", "stack"), PARTITIONS, ids=PARTITION_IDS)
def test_audit_of_a_noncompliant_account_exits_1(
    deployed: Callable[[str, str], BuiltRegion],
    emulator: str,
    emulated_fleet_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    partition: str,
    stack: str,
) -> None:
    _use_account(monkeypatch, emulator, deployed(stack, NONCOMPLIANT))
    # Without --endpoint-url: boto3 takes AWS_ENDPOINT_URL, the emulator.
    code = main(["--config", str(emulated_fleet_dir), "audit", stack])
    out = capsys.readouterr().out
    assert code == EXIT_INVALID, out
    assert f"{len(VIOLATIONS)} finding(s)" in out


def test_audit_refuses_a_local_stack(
    emulated_fleet_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(emulated_fleet_dir), "audit", "zhejiang"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "zhejiang targets local, not aws" in err
    assert "regionstack verify zhejiang" in err


def test_audit_without_credentials_says_what_to_set(
    emulated_fleet_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code = main(["--config", str(emulated_fleet_dir), "audit", "ningxia"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "no AWS credentials for aws-cn" in err
    assert "AWS_PROFILE" in err and "AWS_ACCESS_KEY_ID" in err


def test_audit_of_an_unknown_stack_is_a_usage_error(
    emulated_fleet_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(emulated_fleet_dir), "audit", "atlantis"]) == EXIT_USAGE


def _no_stack(stack: str, cwd: Path) -> dict[str, object]:
    raise InventoryError(f"cannot read the outputs of stack {stack!r}: no such stack")


def test_inventory_of_an_aws_stack_is_the_tag_inventory(
    emulated_fleet_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(infra.cli, "stack_outputs", _no_stack)
    args = ["--config", str(emulated_fleet_dir), "inventory", "ningxia", "--output", str(tmp_path)]
    code = main([*args, "--ssm-bucket", "transfer"])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert captured.out.strip() == str(tmp_path / PLUGIN_FILE)
    document = yaml.safe_load((tmp_path / PLUGIN_FILE).read_text())
    assert document["plugin"] == PLUGIN
    assert document["regions"] == ["cn-northwest-1"]
    assert "configuration alone" in captured.err
    assert "no regionstack_secrets" in captured.err


def test_inventory_takes_either_ssm_or_a_bastion(
    emulated_fleet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config", str(emulated_fleet_dir), "inventory", "ningxia", "--output", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--ssm-bucket", "transfer", "--bastion", "ops@jump"])
    assert exit_info.value.code == EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err


def test_inventory_of_a_local_stack_still_reads_its_outputs(
    emulated_fleet_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(infra.cli, "stack_outputs", _no_stack)
    code = main(
        ["--config", str(emulated_fleet_dir), "inventory", "zhejiang", "--output", str(tmp_path)]
    )
    assert code == EXIT_INVALID
    assert "no such stack" in capsys.readouterr().err
    assert not (tmp_path / PLUGIN_FILE).exists()
