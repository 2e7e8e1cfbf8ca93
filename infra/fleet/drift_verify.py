"""The drift a `regionstack verify` run shows: each failing host test, from its JUnit XML.

A testcase `test_x[chunan-portal-1-MaxAuthTries-3]` of `tests.hosts.test_common` is the
host test `tests/hosts/test_common.py::test_x` (the catalogue's id,
infra/compliance/results.py `host_test_id`) failing on host chunan-portal-1 for the
parameter `<host>-MaxAuthTries-3`; the host the id names first is the one it ran on. A host
verify could not reach is a finding of its own (its preflight error).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from infra.compliance.catalog import Catalog
from infra.compliance.results import host_test_id
from infra.fleet.drift_causes import (
    HOST_TEST,
    Cause,
    Finding,
    component_of,
    first_host,
    host_test_controls,
    normalise,
)
from infra.verify.report import PREFLIGHT_CLASS

UNREACHABLE_ITEM = "verify could not reach the host"


class VerifyReportError(ValueError):
    """The verify report is not JUnit XML."""


def _failure_message(case: ET.Element) -> str | None:
    bad = case.find("failure")
    if bad is None:
        bad = case.find("error")
    if bad is None:
        return None
    lines = (bad.get("message") or bad.text or "failed").strip().splitlines()
    return lines[0][:300] if lines else "failed"


def verify_findings(stack: str, junit: bytes, catalog: Catalog) -> list[Finding]:
    """A finding per failing testcase of `stack`'s verify report."""
    try:
        root = ET.fromstring(junit)
    except ET.ParseError as err:
        raise VerifyReportError(f"the verify report is not XML: {err}") from err
    findings = []
    for case in root.iter("testcase"):
        message = _failure_message(case)
        if message is None:
            continue
        classname, name = case.get("classname", ""), case.get("name", "")
        if classname.startswith(PREFLIGHT_CLASS):
            cause = Cause(HOST_TEST, component_of(name, stack) or name, UNREACHABLE_ITEM)
            findings.append(Finding(stack, cause, "verify", name, (), message))
            continue
        test_id = host_test_id(classname, name)
        parameter = name.partition("[")[2].removesuffix("]")
        host = first_host(parameter, stack)
        cause = Cause(
            HOST_TEST,
            component_of(host, stack) if host else "",
            test_id,
            normalise(parameter, stack),
        )
        controls = host_test_controls(test_id, catalog)
        findings.append(Finding(stack, cause, test_id, host, controls, message))
    return findings
