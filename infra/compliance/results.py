"""A stack's recorded evidence (infra/compliance/evidence.py) read into what the status of
a control needs: the outcome of each host test, of each policy, and the hardening figures.

Host tests are keyed by the ids the catalogue uses (`tests/hosts/test_common.py::test_x`):
a JUnit testcase `classname="tests.hosts.test_common" name="test_x[host-a]"` is one run of
that id on one host (or one parameter); the id's outcome is the worst of its runs.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.compliance import evidence
from infra.verify.report import PREFLIGHT_CLASS

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
_SEVERITY = {SKIPPED: 0, PASSED: 1, FAILED: 2}


@dataclass
class HostTestOutcome:
    """Every run of one host test id in the last verify."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)  # "test_x[host]: message"

    @property
    def outcome(self) -> str:
        if self.failed:
            return FAILED
        return PASSED if self.passed else SKIPPED


@dataclass(frozen=True)
class VerifyResults:
    recorded_at: datetime
    revision: str | None
    tests: dict[str, HostTestOutcome]
    unreachable: tuple[str, ...]  # the preflight's errors: hosts verify could not reach

    def counts(self) -> dict[str, int]:
        return {
            PASSED: sum(t.passed for t in self.tests.values()),
            FAILED: sum(t.failed for t in self.tests.values()),
            SKIPPED: sum(t.skipped for t in self.tests.values()),
        }


@dataclass(frozen=True)
class PolicyOutcome:
    name: str
    enforcement: str
    violations: tuple[dict[str, str], ...]
    waived: tuple[dict[str, str], ...]

    @property
    def clean(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class PolicyResults:
    recorded_at: datetime
    ran_at: str
    policies: dict[str, PolicyOutcome]


@dataclass(frozen=True)
class HardeningResults:
    recorded_at: datetime
    hosts: int
    hardening_index: tuple[int, ...]  # Lynis, one per host that reported it
    pass_rate: tuple[float, ...]  # OpenSCAP, one per host that reported it


@dataclass(frozen=True)
class StackResults:
    verify: VerifyResults | None = None
    policies: PolicyResults | None = None
    hardening: HardeningResults | None = None


NO_EVIDENCE = StackResults()


def host_test_id(classname: str, name: str) -> str:
    """`tests.hosts.test_common` + `test_x[host]` -> `tests/hosts/test_common.py::test_x`."""
    return f"{classname.replace('.', '/')}.py::{name.split('[', 1)[0]}"


def parse_verify_junit(data: bytes) -> tuple[dict[str, HostTestOutcome], tuple[str, ...]]:
    """Host test outcomes by test id, and the preflight's unreachable-host messages."""
    root = ET.fromstring(data)
    tests: dict[str, HostTestOutcome] = {}
    unreachable: list[str] = []
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if classname.startswith(PREFLIGHT_CLASS):
            unreachable.append(bad.get("message", name) if bad is not None else name)
            continue
        outcome = tests.setdefault(host_test_id(classname, name), HostTestOutcome())
        if bad is not None:
            outcome.failed += 1
            message = (bad.get("message") or (bad.text or "")).strip().splitlines()
            outcome.failures.append(f"{name}: {message[0] if message else 'failed'}")
        elif case.find("skipped") is not None:
            outcome.skipped += 1
        else:
            outcome.passed += 1
    return tests, tuple(sorted(unreachable))


def parse_policies(data: bytes) -> tuple[str, dict[str, PolicyOutcome]]:
    """The pack's run time and each evaluated policy's outcome."""
    document = json.loads(data)
    policies = {
        entry["name"]: PolicyOutcome(
            name=entry["name"],
            enforcement=entry.get("enforcement", "mandatory"),
            violations=tuple(entry.get("violations") or ()),
            waived=tuple(entry.get("waived") or ()),
        )
        for entry in document.get("policies") or ()
    }
    return str(document.get("ran_at", "")), policies


def parse_hardening(data: bytes) -> tuple[int, tuple[int, ...], tuple[float, ...]]:
    """Hosts, and the Lynis indexes and OpenSCAP pass rates they reported (hardening_json)."""
    document: dict[str, list[dict[str, Any]]] = json.loads(data)
    hosts = [host for role in sorted(document) for host in document[role]]
    indexes = tuple(h["hardening_index"] for h in hosts if h.get("hardening_index") is not None)
    rates = tuple(h["pass_rate"] for h in hosts if h.get("pass_rate") is not None)
    return len(hosts), indexes, rates


def load_results(stack: str, root: Path | None = None) -> StackResults:
    """What the stack last recorded of each kind; None for a kind it has none of."""
    verify = policies = hardening = None
    if (found := evidence.latest(stack, evidence.VERIFY_JUNIT, root)) is not None:
        tests, unreachable = parse_verify_junit(found.read_bytes())
        verify = VerifyResults(found.recorded_at, found.revision, tests, unreachable)
    if (found := evidence.latest(stack, evidence.POLICY_RESULTS, root)) is not None:
        ran_at, by_name = parse_policies(found.read_bytes())
        policies = PolicyResults(found.recorded_at, ran_at, by_name)
    if (found := evidence.latest(stack, evidence.HARDENING, root)) is not None:
        hosts, indexes, rates = parse_hardening(found.read_bytes())
        hardening = HardeningResults(found.recorded_at, hosts, indexes, rates)
    return StackResults(verify, policies, hardening)
