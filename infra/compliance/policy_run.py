"""Run the policy pack in a real `pulumi preview` of a stack and keep the result as evidence.

`check_policies(stack)` runs `pulumi preview --stack <stack> --policy-pack <project>/policies`
and reads the engine's event log (`--event-log`, offered when PULUMI_DEBUG_COMMANDS is set;
`--json` output carries no policy events), which has one `policyEvent` per violation and,
per resource and for the stack, the policies that ran and passed. It writes the evidence
JSON (`policies.json`, infra/compliance/evidence.py):

    {"stack", "ran_at", "pack": "regionstack-mlps",
     "policies": [{"name", "enforcement", "violations": [{"resource", "message"}],
                   "waived": [{"resource", "waiver"}]}]}

listing every policy of the stack's target that the pack evaluated.

Exit codes of the preview: 0 - no mandatory violation (advisory ones may be listed);
non-zero with mandatory violations in the log - the pack blocked the change (recorded,
`PolicyRun.mandatory_violations` > 0); non-zero without any - the preview itself failed
(the program, the backend or the pack could not run): `PolicyRunError`, nothing recorded.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.compliance import evidence
from infra.config.loader import load_fleet
from infra.pulumi_events import preview_with_event_log, read_events
from policies.registry import PACK_NAME, WAIVED_POLICY, for_target

REPO_ROOT = Path(__file__).resolve().parents[2]
EVIDENCE_KIND = "policies.json"
WAIVED_PREFIX = "waived: "  # policies/pack.py reports "waived: <policy> by <waiver id>"
PREVIEW_TIMEOUT_S = 900


class PolicyRunError(Exception):
    """The preview could not judge the stack (not a policy violation)."""


@dataclass(frozen=True)
class PolicyRun:
    stack: str
    exit_code: int
    mandatory_violations: int
    advisory_violations: int
    waived: int
    evidence: dict[str, Any]  # exactly what was recorded

    @property
    def passed(self) -> bool:
        return self.mandatory_violations == 0


def _message(event: dict[str, Any], description: str) -> str:
    """The engine prefixes a violation's message with its policy's description."""
    message = str(event.get("message", "")).strip()
    return message.removeprefix(description).strip() if description else message


def summarise(stack: str, target: str, events: list[dict[str, Any]], ran_at: str) -> dict[str, Any]:
    """The evidence document of one preview's event log."""
    specs = for_target(target)
    evaluated: set[str] = set()
    violations: dict[str, list[dict[str, str]]] = {s.name: [] for s in specs}
    waived: dict[str, list[dict[str, str]]] = {s.name: [] for s in specs}
    descriptions = {s.name: s.description for s in specs}
    for event in events:
        for key in ("policyAnalyzeSummaryEvent", "policyAnalyzeStackSummaryEvent"):
            summary = event.get(key) or {}
            evaluated.update(summary.get("passed") or [], summary.get("failed") or [])
        policy_event = event.get("policyEvent")
        if not policy_event:
            continue
        name, urn = policy_event.get("policyName", ""), policy_event.get("resourceUrn", "")
        evaluated.add(name)
        if name == WAIVED_POLICY:
            text = _message(policy_event, "").splitlines()[-1].removeprefix(WAIVED_PREFIX)
            policy, _, waiver = text.partition(" by ")
            if policy in waived:
                waived[policy].append({"resource": urn, "waiver": waiver})
                evaluated.add(policy)
        elif name in violations:
            message = _message(policy_event, descriptions[name])
            violations[name].append({"resource": urn, "message": message})
    return {
        "stack": stack,
        "ran_at": ran_at,
        "pack": PACK_NAME,
        "policies": [
            {
                "name": s.name,
                "enforcement": s.enforcement,
                "violations": violations[s.name],
                "waived": waived[s.name],
            }
            for s in specs
            if s.name in evaluated
        ],
    }


def check_policies(
    stack: str, project_dir: Path = REPO_ROOT, env: Mapping[str, str] | None = None
) -> PolicyRun:
    """Preview `stack` with the pack, record the evidence, and summarise it (see the
    module docstring for the exit codes). `env` is the environment to run pulumi in
    (default: this process's)."""
    target = load_fleet(project_dir / "stacks").region(stack).target
    with tempfile.TemporaryDirectory(prefix="regionstack-policies-") as tmp:
        log = Path(tmp) / "events.jsonl"
        ran_at = datetime.now(UTC).isoformat(timespec="seconds")
        options = ["--policy-pack", str(project_dir / "policies")]
        result = preview_with_event_log(
            stack,
            options,
            log,
            project_dir,
            dict(os.environ) if env is None else env,
            PREVIEW_TIMEOUT_S,
        )
        # No log: the engine failed before it began; the exit code says so below.
        document = summarise(stack, target, read_events(log) if log.exists() else [], ran_at)
    counts = _counts(document)
    if result.returncode != 0 and counts["mandatory"] == 0:
        raise PolicyRunError(
            f"`pulumi preview --stack {stack} --policy-pack policies` failed "
            f"(exit {result.returncode}) before any policy verdict:\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    data = json.dumps(document, indent=2, ensure_ascii=False).encode()
    evidence.record(stack, EVIDENCE_KIND, data)
    return PolicyRun(
        stack,
        result.returncode,
        counts["mandatory"],
        counts["advisory"],
        counts["waived"],
        document,
    )


def _counts(document: dict[str, Any]) -> dict[str, int]:
    counts = {"mandatory": 0, "advisory": 0, "waived": 0}
    for policy in document["policies"]:
        counts[policy["enforcement"]] += len(policy["violations"])
        counts["waived"] += len(policy["waived"])
    return counts


def format_run(run: PolicyRun) -> str:
    """What `regionstack compliance policies` prints: a line per policy, then the counts."""
    lines = [f"policy pack {PACK_NAME} on {run.stack}:"]
    for policy in run.evidence["policies"]:
        violations, waived = policy["violations"], policy["waived"]
        verdict = f"{len(violations)} violation(s)" if violations else "passed"
        extra = f", {len(waived)} waived" if waived else ""
        lines.append(f"  {policy['enforcement']:<9}  {policy['name']:<40} {verdict}{extra}")
        lines += [f"      {v['resource']}: {v['message']}" for v in violations]
    lines.append(
        f"{run.mandatory_violations} mandatory and {run.advisory_violations} advisory "
        f"violation(s), {run.waived} waived; recorded as the stack's policy evidence"
    )
    return "\n".join(lines)
