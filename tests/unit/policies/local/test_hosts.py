from __future__ import annotations

from policies.local.hosts import check_common_baseline
from policies.model import LOCAL_MACHINE, LOCAL_PLAYBOOK, UNKNOWN, RegionFacts
from tests.unit.policies.conftest import resource

MACHINE = resource(LOCAL_MACHINE, "m", name="chunan-portal-1", address="10.0.0.2")
PLAYBOOK = resource(LOCAL_PLAYBOOK, "chunan-site", stack="chunan", outputs=UNKNOWN)


def test_planned_configured_hosts_pass(local_facts: RegionFacts) -> None:
    assert check_common_baseline([MACHINE, PLAYBOOK], local_facts) == []


def test_hosts_without_the_site_playbook_are_caught(local_facts: RegionFacts) -> None:
    findings = check_common_baseline([MACHINE], local_facts)
    assert [f.urn for f in findings] == [MACHINE.urn]
    assert "pulumi config rm regionstack:configure --stack chunan" in findings[0].message


def test_a_host_outside_the_plan_is_caught(local_facts: RegionFacts) -> None:
    stray = resource(LOCAL_MACHINE, "stray", name="chunan-debug-1", address="10.0.0.9")
    findings = check_common_baseline([MACHINE, stray, PLAYBOOK], local_facts)
    assert [f.urn for f in findings] == [stray.urn] and "host_groups" in findings[0].message
