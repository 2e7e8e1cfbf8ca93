"""The suites' JUnit reports: merged into one file for review tools, and summarised per role
in the table verify prints."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.verify.suites import SUITE_MODULES, SUITES


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


@dataclass(frozen=True)
class Failure:
    suite: str
    test: str
    message: str


PREFLIGHT_CLASS = "verify.preflight"
MODULE_SUITES = {Path(module).stem: role for role, module in SUITE_MODULES.items()}


def suite_of(classname: str, name: str) -> str:
    """The suite a JUnit testcase belongs to (`tests.hosts.test_portal` -> `portal`)."""
    if classname.startswith(PREFLIGHT_CLASS):
        return "preflight"
    for dotted in (classname, name):
        for part in dotted.replace("/", ".").split("."):
            if part in MODULE_SUITES:
                return MODULE_SUITES[part]
    return "other"


def summarize_junit(path: Path) -> tuple[dict[str, Counts], list[Failure]]:
    """Per suite: passed, failed (failures and errors), skipped; and every failure."""
    root = ET.parse(path).getroot()
    counts: dict[str, Counts] = {}
    failures: list[Failure] = []
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        suite_roles: set[str] = set()
        for case in suite.iter("testcase"):
            role = suite_of(case.get("classname", ""), case.get("name", ""))
            suite_roles.add(role)
            entry = counts.setdefault(role, Counts())
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                entry.failed += 1
                message = (bad.get("message") or (bad.text or "").strip()).splitlines()
                failures.append(Failure(role, case.get("name", ""), message[0] if message else ""))
            elif case.find("skipped") is not None:
                entry.skipped += 1
            else:
                entry.passed += 1
        # A suite's wall time: its cases ran one after the other in that role's process.
        if len(suite_roles) == 1:
            counts[suite_roles.pop()].seconds += float(suite.get("time") or 0)
    return counts, failures


def format_summary(
    stack: str, counts: Mapping[str, Counts], failures: Sequence[Failure], notes: Sequence[str]
) -> str:
    order = [r for r in ("preflight", *SUITES, "other") if r in counts]
    lines = [f"verify of {stack}:"]
    lines += [f"  {note}" for note in notes]
    lines.append(f"  {'SUITE':<22}{'PASSED':>8}{'FAILED':>8}{'SKIPPED':>9}{'TIME':>9}")
    total = Counts()
    for role in order:
        c = counts[role]
        lines.append(f"  {role:<22}{c.passed:>8}{c.failed:>8}{c.skipped:>9}{c.seconds:>8.1f}s")
        total.passed += c.passed
        total.failed += c.failed
        total.skipped += c.skipped
    lines.append(f"  {'total':<22}{total.passed:>8}{total.failed:>8}{total.skipped:>9}")
    if failures:
        lines.append("  failures:")
        lines += [f"    {f.suite}: {f.test}: {f.message[:160]}" for f in failures]
    lines.append(f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return "\n".join(lines)


def merge_junit(parts: Sequence[tuple[str, Path]], destination: Path) -> None:
    """One <testsuites> document holding each role's <testsuite>."""
    merged = ET.Element("testsuites")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    elapsed = 0.0
    for _, path in parts:
        root = ET.parse(path).getroot()
        for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
            merged.append(suite)
            for key in totals:
                totals[key] += int(suite.get(key) or 0)
            elapsed += float(suite.get("time") or 0)
    for key, value in totals.items():
        merged.set(key, str(value))
    merged.set("time", f"{elapsed:.3f}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(destination, encoding="utf-8", xml_declaration=True)


def preflight_junit(stack: str, unreachable: Mapping[str, str], destination: Path) -> None:
    suite = ET.Element("testsuite", name="preflight", tests=str(len(unreachable)), failures="0")
    suite.set("errors", str(len(unreachable)))
    for name, error in sorted(unreachable.items()):
        case = ET.SubElement(suite, "testcase", classname=f"{PREFLIGHT_CLASS}.{stack}", name=name)
        ET.SubElement(case, "error", message=f"cannot reach {name}: {error}")
    merged = ET.Element("testsuites")
    merged.append(suite)
    destination.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(destination, encoding="utf-8", xml_declaration=True)
