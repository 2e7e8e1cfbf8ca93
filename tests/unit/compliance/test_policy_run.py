"""The policy evidence read from a preview's event log, and the preview's exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from infra.compliance import policy_run
from infra.compliance.policy_run import PolicyRunError, check_policies, summarise

FIREWALL = "urn:pulumi:chunan::regionstack::pulumi-python:dynamic/local:Firewall::fw"
MACHINE = "urn:pulumi:chunan::regionstack::pulumi-python:dynamic/local:Machine::m"
EVENTS = [
    {"policyAnalyzeStackSummaryEvent": {"passed": ["local-firewall-from-flow-matrix"]}},
    {
        "policyEvent": {
            "policyName": "local-hosts-have-common-baseline",
            "resourceUrn": MACHINE,
            "message": "Every machine is a planned host of the region and is configured by the "
            "site playbook.\nm is never configured\n",
            "enforcementLevel": "mandatory",
        }
    },
    {
        "policyEvent": {
            "policyName": "waived-resources",
            "resourceUrn": FIREWALL,
            "message": "Resources a waiver exempts.\nwaived: local-ports-bound-to-hosts by W-1\n",
            "enforcementLevel": "advisory",
        }
    },
]


def test_the_event_log_becomes_the_evidence_document() -> None:
    document = summarise("chunan", "local", EVENTS, "2026-12-06T00:00:00+00:00")
    by_name = {p["name"]: p for p in document["policies"]}
    assert document["pack"] == "regionstack-mlps" and document["stack"] == "chunan"
    assert list(by_name) == [
        "local-firewall-from-flow-matrix",
        "local-hosts-have-common-baseline",
        "local-ports-bound-to-hosts",
    ]
    assert by_name["local-hosts-have-common-baseline"]["violations"] == [
        {"resource": MACHINE, "message": "m is never configured"}
    ]
    assert by_name["local-ports-bound-to-hosts"]["waived"] == [
        {"resource": FIREWALL, "waiver": "W-1"}
    ]
    assert by_name["local-firewall-from-flow-matrix"] == {
        "name": "local-firewall-from-flow-matrix",
        "enforcement": "mandatory",
        "violations": [],
        "waived": [],
    }


def _fake_pulumi(tmp_path: Path, events: list[dict[str, object]], exit_code: int) -> dict[str, str]:
    """A `pulumi` that writes `events` to the --event-log path and exits with `exit_code`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "events.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do [ "$1" = --event-log ] && out=$2; shift; done\n'
        f'cp {log} "$out"\n'
        "echo 'error: the program failed' >&2\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.fixture
def evidence_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "evidence"


def test_a_blocked_preview_is_recorded_with_its_mandatory_violations(
    tmp_path: Path, evidence_root: Path
) -> None:
    env = _fake_pulumi(tmp_path, EVENTS, 1)
    run = check_policies("chunan", policy_run.REPO_ROOT, env)
    assert (run.exit_code, run.mandatory_violations, run.waived, run.passed) == (1, 1, 1, False)
    recorded = json.loads((evidence_root / "chunan" / "policies.json").read_text())
    assert recorded == run.evidence


def test_a_failed_preview_without_verdicts_raises_and_records_nothing(
    tmp_path: Path, evidence_root: Path
) -> None:
    env = _fake_pulumi(tmp_path, [], 255)
    with pytest.raises(PolicyRunError, match="the program failed"):
        check_policies("chunan", policy_run.REPO_ROOT, env)
    assert not (evidence_root / "chunan").exists()
