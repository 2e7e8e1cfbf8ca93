from __future__ import annotations

import pytest

from infra.compliance.catalog import Catalog
from infra.fleet.drift_causes import HOST_TEST
from infra.fleet.drift_verify import UNREACHABLE_ITEM, VerifyReportError, verify_findings

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="common">
    <testcase classname="tests.hosts.test_common" name="test_sshd_effective_setting[chunan-portal-1-maxauthtries-3]">
      <failure message="assert '10' == '3'">details</failure>
    </testcase>
    <testcase classname="tests.hosts.test_common" name="test_sshd_effective_setting[chunan-hotline-1-maxauthtries-3]"/>
    <testcase classname="tests.hosts.test_common" name="test_package_is_installed[chunan-hotline-1-aide]">
      <error>package aide is absent
second line</error>
    </testcase>
    <testcase classname="tests.hosts.test_common" name="test_skipped[chunan-hotline-1]"><skipped/></testcase>
  </testsuite>
  <testsuite name="flows">
    <testcase classname="tests.hosts.test_flows" name="test_allowed_flow_connects[admin-ssh:controller-&gt;chunan-hotline-1:22]">
      <failure message="timed out"/>
    </testcase>
  </testsuite>
</testsuites>
"""
PREFLIGHT = b"""<testsuites><testsuite name="preflight">
<testcase classname="verify.preflight.chunan" name="chunan-portal-1">
<error message="cannot reach chunan-portal-1: timed out"/></testcase>
</testsuite></testsuites>"""


def test_each_failing_testcase_is_a_finding_without_its_host_in_the_cause(catalog: Catalog) -> None:
    sshd, aide, flow = verify_findings("chunan", JUNIT, catalog)
    assert (sshd.cause.kind, sshd.cause.component) == (HOST_TEST, "portal")
    assert sshd.cause.item == "tests/hosts/test_common.py::test_sshd_effective_setting"
    assert sshd.cause.property == "<host>-maxauthtries-3"
    assert (sshd.host, sshd.controls, sshd.detail) == (
        "chunan-portal-1",
        ("8.1.4.1b",),
        "assert '10' == '3'",
    )
    assert (aide.host, aide.detail, aide.controls) == (
        "chunan-hotline-1",
        "package aide is absent",
        (),
    )
    assert flow.cause.property == "admin-ssh:controller-><host>:22"


def test_the_same_failure_in_another_region_has_the_same_cause(catalog: Catalog) -> None:
    tonglu = JUNIT.replace(b"chunan", b"tonglu")
    assert [f.cause for f in verify_findings("tonglu", tonglu, catalog)] == [
        f.cause for f in verify_findings("chunan", JUNIT, catalog)
    ]


def test_an_unreachable_host_is_a_finding(catalog: Catalog) -> None:
    (finding,) = verify_findings("chunan", PREFLIGHT, catalog)
    assert (finding.cause.component, finding.cause.item) == ("portal", UNREACHABLE_ITEM)
    assert finding.detail == "cannot reach chunan-portal-1: timed out"


def test_a_clean_report_has_no_findings(catalog: Catalog) -> None:
    assert verify_findings("chunan", b"<testsuites><testsuite/></testsuites>", catalog) == []


def test_a_report_that_is_not_xml_is_refused(catalog: Catalog) -> None:
    with pytest.raises(VerifyReportError, match="the verify report is not XML"):
        verify_findings("chunan", b"not xml", catalog)
