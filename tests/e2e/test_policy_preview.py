"""The policy pack in a real `pulumi preview --policy-pack policies` of a local stack.

A local stack never deployed previews without touching the machine (its dynamic
providers only check and diff), so the real CLI, engine, language host and pack run
here in a sandbox backend. The province previews on its own (a county's needs its
parent's stack). Two previews, about 10 s each.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra.compliance import evidence
from infra.compliance.policy_run import check_policies
from policies.registry import for_target
from tests.e2e.conftest import PulumiProject, needs_root_and

pytestmark = needs_root_and("nft")

PROVINCE = "zhejiang"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Evidence goes to the test's own state dir, never the operator's."""
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", str(tmp_path / "evidence-state"))
    return tmp_path / "evidence-state"


def test_the_pack_passes_the_sample_and_catches_hosts_without_the_baseline(
    pulumi_project: PulumiProject, state_dir: Path
) -> None:
    pulumi_project.init(PROVINCE)
    # Through the command, from elsewhere: the sandbox's configuration names its project
    # (stack files with their own secrets salt, program, pack), not this checkout.
    result = subprocess.run(
        [
            *("regionstack", "--config", str(pulumi_project.workdir / "stacks")),
            *("compliance", "policies", PROVINCE),
        ],
        cwd=state_dir.parent,
        env={**pulumi_project.env, "REGIONSTACK_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = evidence.latest(PROVINCE, "policies.json")
    assert recorded is not None
    policies = json.loads(recorded.read_bytes())["policies"]
    assert [p["name"] for p in policies] == [p.name for p in for_target("local")]
    assert all(not p["violations"] for p in policies), policies

    # Provisioning without configuring: the hosts would never get the common baseline.
    pulumi_project.run("config", "set", "--stack", PROVINCE, "regionstack:configure", "false")
    broken = check_policies(PROVINCE, pulumi_project.workdir, pulumi_project.env)
    assert broken.exit_code != 0 and broken.mandatory_violations > 0
    baseline = next(
        p for p in broken.evidence["policies"] if p["name"] == "local-hosts-have-common-baseline"
    )
    assert baseline["violations"], broken.evidence
    assert all("never configured" in v["message"] for v in baseline["violations"])
    assert {v["resource"].rsplit("::", 1)[1] for v in baseline["violations"]} >= {
        f"{PROVINCE}-local-{PROVINCE}-portal-1"
    }
