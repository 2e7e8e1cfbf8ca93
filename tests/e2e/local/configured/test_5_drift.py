"""`regionstack fleet drift` finds what an operator's slip changed on live hosts (issue #15
point 5).

Right after deployment two scans of the hierarchy report no drift. Then eleven kinds of
drift are injected on the county 淳安县 (chunan) at once, over its four hosts and the
controller, each touching something no other touches so its causes are its own: a firewall rule deleted live, an sshd setting, a stopped
service, a removed package, an edited managed file, a file mode, an extra login, a live
sysctl, an unmasked unit, an audit rule, and the region's bridge firewall deleted on the
controller. One scan of the county must report each as a cause of its own, attributed to
the county, the host's component (or the resource) and, where the task or test carries
one, its MLPS item; `pulumi up --refresh` repairs them all and the next scan is clean.
Last, a machine powered off from inside is found (its Machine resource no longer
`running`, verify cannot reach it) and `pulumi up --refresh` boots it again.

Every row was checked by hand on a live county first: the expected causes are what that
scan reported (a row's task and host test; the bridge firewall's `applied` turned false).

Opt-in (`REGIONSTACK_E2E_DRIFT=1 bash scripts/test.sh`): its scans, repairs and power
cycle take ~25–40 min (40 min on the slow day it was last run), which CI's 90-minute
budget does not hold beside the rest of the configured suite (a CI rehearsal with it ran
past 90 min; docs/performance.md).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest

from infra.fleet.drift_verify import UNREACHABLE_ITEM
from tests.e2e.local.hierarchy import COUNTY, FLEET, PLANS, STACKS, Deployment, up

SCAN_TIMEOUT_S = 900

pytestmark = pytest.mark.skipif(
    os.environ.get("REGIONSTACK_E2E_DRIFT") != "1",
    reason="the drift suite is opt-in: REGIONSTACK_E2E_DRIFT=1 (~25–40 min)",
)


TASK, TEST, RESOURCE = "host-task", "host-test", "resource"


@dataclass(frozen=True)
class Injection:
    what: str
    component: str | None  # the component whose first host is changed; None: the controller
    command: str  # run as root there; `{table}` is the county's firewall table name
    # (kind, a part of the item) of each cause the scan must report: the task check mode
    # would change and/or the host test that fails, or the resource a refresh changes
    finds: tuple[tuple[str, str], ...]
    controls: tuple[str, ...] = ()  # MLPS items each of those causes is attributed to


INJECTIONS = (
    Injection(
        "a host firewall rule deleted live",
        "data_exchange",
        "nft delete rule inet regionstack_host input handle $(nft -a list chain inet "
        "regionstack_host input | sed -n 's/.*comment \"monitor-scrapes-hosts\".*# handle //p')",
        (
            (TASK, "common : Compare the loaded host firewall with the saved one"),
            (TEST, "test_common.py::test_firewall_has_a_rule_for_every_inbound_flow"),
        ),
        ("8.1.3.2b",),
    ),
    Injection(
        "sshd allows ten authentication attempts",
        "hotline",
        "sed -i 's/^MaxAuthTries 3$/MaxAuthTries 10/' "
        "/etc/ssh/sshd_config.d/00-regionstack-common.conf && systemctl reload ssh",
        (
            (TASK, "common : Write the SSH server hardening"),
            (TEST, "test_common.py::test_sshd_effective_setting"),
        ),
        ("8.1.4.1b",),
    ),
    Injection(
        "chrony stopped",
        "portal",
        "systemctl stop chrony",
        (
            (TASK, "common : Enable and start chrony"),
            (TEST, "test_common.py::test_service_runs_and_starts_at_boot"),
        ),
    ),
    Injection(
        "debsums removed",
        "hotline",
        "apt-get remove -y debsums",
        ((TASK, "common : Install debsums"),),
        ("8.1.4.6a",),
    ),
    Injection(
        "the portal's access logs kept 30 days",
        "portal",
        "sed -i 's/rotate 180$/rotate 30/' /etc/logrotate.d/regionstack-portal-nginx",
        (
            (TASK, "nginx_front : Keep the access logs for the standard's retention period"),
            (TEST, "test_portal.py::test_logs_are_kept_for_the_retention_period"),
        ),
        ("8.1.3.5a",),
    ),
    Injection(
        "the saved host firewall readable by all",
        "security_monitoring",
        "chmod 0644 /etc/nftables.conf",
        ((TASK, "common : Write the host firewall from the flow matrix"),),
        ("8.1.3.2b",),
    ),
    Injection(
        "an extra login",
        "security_monitoring",
        "useradd --create-home --shell /bin/bash intruder",
        (
            (TASK, "common : Disable every other human login account"),
            (TEST, "test_common.py::test_admin_is_the_only_human_login"),
        ),
        ("8.1.4.2a",),
    ),
    Injection(
        "ICMP redirects accepted (live sysctl)",
        "hotline",
        "sysctl -w net.ipv4.conf.all.accept_redirects=1",
        (
            (TASK, "common : Harden the network stack"),
            (TEST, "test_common.py::test_network_sysctl"),
        ),
        ("8.2.4.4a",),
    ),
    Injection(
        "the debug shell unmasked",
        "data_exchange",
        "systemctl unmask debug-shell.service",
        (
            (TASK, "common : Mask the Ctrl-Alt-Del reboot and the early debug shell"),
            (TEST, "test_common.py::test_unit_is_masked"),
        ),
        ("8.1.4.4b",),
    ),
    Injection(
        "writes to /etc/passwd no longer audited",
        "security_monitoring",
        "sed -i '\\#^-w /etc/passwd -p wa -k identity$#d' /etc/audit/rules.d/regionstack.rules",
        (
            (TASK, "common : Write the audit rules"),
            (TEST, "test_common.py::test_audit_rule"),
        ),
        ("8.1.4.3a",),
    ),
    Injection(
        "the county's bridge firewall deleted on the controller",
        None,
        "nft delete table bridge {table}",
        ((RESOURCE, "<region>-local-firewall"),),
    ),
)


def scan(hierarchy: Deployment, *stacks: str) -> tuple[int, dict[str, Any]]:
    result = hierarchy.regionstack(
        "fleet", "drift", *stacks, "--format", "json", timeout=SCAN_TIMEOUT_S
    )
    assert result.returncode in (0, 1), result.stderr[-5000:]
    return result.returncode, json.loads(result.stdout)


def inject(hierarchy: Deployment, injection: Injection) -> None:
    table = f"regionstack_{FLEET.region(COUNTY).code}"
    command = injection.command.replace("{table}", table)
    if injection.component is None:
        result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)
    else:
        address = PLANS[COUNTY].hosts_of(injection.component)[0].address
        result = hierarchy.ssh(address, f"sudo sh -c {shlex.quote(command)}", timeout=300)
    assert result.returncode == 0, f"{injection.what}: {result.stderr}"


@pytest.mark.parametrize("attempt", [1, 2])
def test_the_deployed_hierarchy_has_no_drift(hierarchy: Deployment, attempt: int) -> None:
    code, report = scan(hierarchy, *STACKS)
    assert (code, report["causes"]) == (0, []), (attempt, report)
    assert report["summary"]["clean"] == len(STACKS)


@pytest.fixture(scope="module")
def drifted(hierarchy: Deployment) -> dict[str, Any]:
    for injection in INJECTIONS:
        inject(hierarchy, injection)
    code, report = scan(hierarchy, COUNTY)
    assert code == 1, report
    return report


def _causes_of(report: dict[str, Any], kind: str, item: str) -> list[dict[str, Any]]:
    return [c for c in report["causes"] if c["kind"] == kind and item in c["item"]]


@pytest.mark.parametrize("injection", INJECTIONS, ids=[i.what for i in INJECTIONS])
def test_the_scan_finds_each_drift_by_cause_and_attributes_it(
    drifted: dict[str, Any], injection: Injection
) -> None:
    for kind, item in injection.finds:
        causes = _causes_of(drifted, kind, item)
        assert len(causes) == 1, f"{injection.what}: {kind} causes naming {item!r}: {causes}"
        (cause,) = causes
        assert cause["regions"] == [COUNTY], cause
        if injection.component is None:
            assert cause["resources"], cause
        else:
            assert cause["component"] == injection.component, cause
            host = PLANS[COUNTY].hosts_of(injection.component)[0].name
            assert cause["hosts"] == [host], cause
        assert set(injection.controls) <= set(cause["controls"]), cause


def test_pulumi_up_with_refresh_repairs_and_the_next_scan_is_clean(
    hierarchy: Deployment, drifted: dict[str, Any]
) -> None:
    up(hierarchy.project, COUNTY, "--refresh", "--skip-preview")
    code, report = scan(hierarchy, COUNTY)
    assert (code, report["causes"]) == (0, []), report


def test_a_powered_off_machine_is_found_and_restarted(hierarchy: Deployment) -> None:
    portal = PLANS[COUNTY].hosts_of("portal")[0]
    hierarchy.ssh(portal.address, "sudo systemctl poweroff")  # the connection drops with it
    deadline = time.monotonic() + 60
    while hierarchy.ssh(portal.address, "true", timeout=10).returncode == 0:
        assert time.monotonic() < deadline, f"{portal.name} still answers after poweroff"
        time.sleep(2)
    code, report = scan(hierarchy, COUNTY)
    assert code == 1, report
    found = {(c["kind"], c["component"], c["item"], c["property"]): c for c in report["causes"]}
    machine = found[(RESOURCE, "local:Machine", "<region>-local-<host>", "update: running")]
    unreachable = found[(TEST, "portal", UNREACHABLE_ITEM, "")]
    assert machine["hosts"] == unreachable["hosts"] == [portal.name]
    up(hierarchy.project, COUNTY, "--refresh", "--skip-preview")
    code, report = scan(hierarchy, COUNTY)
    assert (code, report["causes"]) == (0, []), report
