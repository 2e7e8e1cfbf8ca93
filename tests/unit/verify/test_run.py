"""The command: argument and inventory errors, and a host out of reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import cli
from infra.compliance import evidence
from infra.config.effective import effective_config
from infra.config.loader import Fleet
from infra.verify.report import summarize_junit
from infra.verify.run import VerifyRequest, record_junit, verify


def test_cli_says_to_write_a_missing_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", str(tmp_path))
    assert cli.main(["verify", "chunan"]) == cli.EXIT_INVALID
    error = capsys.readouterr().err
    assert f"no inventory for chunan at {tmp_path}/inventory/chunan" in error
    assert "run `regionstack inventory chunan`" in error


def test_cli_refuses_an_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "atlantis"]) == cli.EXIT_USAGE
    assert "no region with code or stack name 'atlantis'" in capsys.readouterr().err


def test_cli_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "chunan", "--only", "web"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "argument --only: invalid choice: 'web'" in capsys.readouterr().err


def test_verify_stops_at_a_host_it_cannot_reach(
    tmp_path: Path, sample_fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on loopback port 1: ssh fails at once, and the host is reported,
    on the terminal and in the JUnit file, before any suite runs."""
    config = json.loads(json.dumps(effective_config(sample_fleet, sample_fleet.region("chunan"))))
    inventory = tmp_path / "chunan"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(json.dumps({"regionstack_config": config}))
    (inventory / "inventory.yml").write_text(
        json.dumps(
            {
                "all": {
                    "vars": {"regionstack_stack": "chunan", "ansible_port": 1},
                    "children": {
                        "portal": {"hosts": {"chunan-portal-1": {"ansible_host": "127.0.0.1"}}}
                    },
                }
            }
        )
    )
    junit = tmp_path / "out.xml"
    request = VerifyRequest("chunan", inventory, ("portal",), None, None, junit, tmp_path / "ev")
    assert verify(request, out=print) == 1
    assert "regionstack: cannot reach chunan-portal-1 over ssh: " in capsys.readouterr().out
    counts, failures = summarize_junit(junit)
    assert counts["preflight"].failed == 1
    assert [(f.suite, f.test, f.message.split(":")[0]) for f in failures] == [
        ("preflight", "chunan-portal-1", "cannot reach chunan-portal-1")
    ]
    recorded = evidence.latest("chunan", evidence.VERIFY_JUNIT, tmp_path / "ev")
    assert recorded is not None and recorded.read_bytes() == junit.read_bytes()


def test_a_run_is_recorded_as_the_stacks_verify_evidence(tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    junit.write_text('<testsuites><testsuite name="common"/></testsuites>')
    recorded = record_junit("tonglu", junit, tmp_path / "ev")
    assert recorded.path == tmp_path / "ev" / "tonglu" / "verify.xml"
    latest = evidence.latest("tonglu", evidence.VERIFY_JUNIT, tmp_path / "ev")
    assert latest is not None and latest.read_bytes() == junit.read_bytes()
