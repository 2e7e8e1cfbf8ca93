"""The compliance report tells the truth about live hosts (issue #14 point 6).

On the county 淳安县 (chunan), booted from the image layers: the policy pack passes in a
real `pulumi preview`; then five controls are broken on live hosts the way an operator's
slip would break them — an sshd setting, a host firewall rule, log retention, an audit
rule, a TLS setting — each through the file the role manages, applied live. After
`regionstack verify` the report shows each of their items failing; `pulumi up --refresh`
finds the drift (the site playbook in check mode), runs every task on the drifted hosts,
and after the next verify the report shows the items enforced and verified again.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.local.hierarchy import COUNTY, PLANS, Deployment, up


@dataclass(frozen=True)
class Breakage:
    what: str
    host: str  # the component whose first host is broken
    command: str
    items: tuple[str, ...]  # catalogue items whose verification must then fail


BREAKAGES = (
    Breakage(
        "sshd allows ten authentication attempts",
        "hotline",
        "sed -i 's/^MaxAuthTries 3$/MaxAuthTries 10/' "
        "/etc/ssh/sshd_config.d/00-regionstack-common.conf && systemctl reload ssh",
        ("8.1.4.1b",),
    ),
    Breakage(
        "the host firewall lost the monitor's scrape rule",
        "data_exchange",
        "sed -i '/comment \"monitor-scrapes-hosts\"/d' /etc/nftables.conf "
        "&& nft -f /etc/nftables.conf",
        ("8.1.3.2b",),
    ),
    Breakage(
        "the portal's access logs are kept 30 days",
        "portal",
        "sed -i 's/rotate 180$/rotate 30/' /etc/logrotate.d/regionstack-portal-nginx",
        ("8.1.3.5a",),
    ),
    Breakage(
        "writes to /etc/passwd are no longer audited",
        "security_monitoring",
        "sed -i '\\#^-w /etc/passwd -p wa -k identity$#d' /etc/audit/rules.d/regionstack.rules",
        ("8.1.4.3a",),
    ),
    Breakage(
        "the portal refuses TLS 1.2",
        "portal",
        "sed -i 's/ssl_protocols TLSv1.2 TLSv1.3;/ssl_protocols TLSv1.3;/' "
        "/etc/nginx/sites-available/regionstack-portal.conf && systemctl reload nginx",
        ("8.1.2.2a",),
    ),
)
ITEMS = sorted({item for breakage in BREAKAGES for item in breakage.items})


def statuses(hierarchy: Deployment) -> dict[str, dict[str, Any]]:
    """The county's items as the report gives them, after a fresh `regionstack verify`."""
    hierarchy.regionstack("verify", COUNTY)  # its exit code is the report's business
    report = hierarchy.regionstack("compliance", "report", COUNTY, "--format", "json")
    assert report.returncode == 0, report.stderr
    (region,) = json.loads(report.stdout)["regions"]
    return dict(region["controls"])


def test_the_policy_pack_passes_in_a_real_preview_of_the_county(hierarchy: Deployment) -> None:
    result = hierarchy.regionstack("compliance", "policies", COUNTY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local-firewall-from-flow-matrix" in result.stdout


@pytest.fixture(scope="module")
def broken(hierarchy: Deployment) -> dict[str, dict[str, Any]]:
    before = statuses(hierarchy)
    assert {item: before[item]["status"] for item in ITEMS} == dict.fromkeys(
        ITEMS, "enforced-verified"
    )
    for breakage in BREAKAGES:
        address = PLANS[COUNTY].hosts_of(breakage.host)[0].address
        result = hierarchy.ssh(address, f"sudo sh -c {shlex.quote(breakage.command)}")
        assert result.returncode == 0, f"{breakage.what}: {result.stderr}"
    return statuses(hierarchy)


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.what for b in BREAKAGES])
def test_the_report_shows_a_broken_control_failing(
    broken: dict[str, dict[str, Any]], breakage: Breakage
) -> None:
    for item in breakage.items:
        assert broken[item]["status"] == "failing", (breakage.what, broken[item])


def test_pulumi_up_with_refresh_repairs_every_broken_control(
    hierarchy: Deployment, broken: dict[str, dict[str, Any]]
) -> None:
    output = up(hierarchy.project, COUNTY, "--refresh", "--skip-preview")
    assert "drift on" in output, output[-5000:]
    after = statuses(hierarchy)
    assert {item: after[item]["status"] for item in ITEMS} == dict.fromkeys(
        ITEMS, "enforced-verified"
    )
    assert [item for item, control in after.items() if control["status"] == "failing"] == []
