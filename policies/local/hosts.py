"""local-hosts-have-common-baseline (MLPS 8.1.4.1-8.1.4.6: the host controls the common
role enforces - authentication, access control, audit, intrusion prevention, integrity).

Every machine is a host of the region's plan (so it is in the inventory and the flow
matrix) and the stack configures the hosts with the site playbook, whose first play
applies the common baseline to every host (playbooks/site.yml). A stack with
`regionstack:configure false` boots hosts that never get the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.model import LOCAL_MACHINE, LOCAL_PLAYBOOK, Finding, RegionFacts, Resource, known


def check_common_baseline(resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
    if facts.local is None:
        return []
    planned = {h.name: h.address for h in facts.local.hosts}
    machines = [r for r in resources if r.type == LOCAL_MACHINE]
    findings = []
    for machine in machines:
        name, address = machine.get("name"), machine.get("address")
        if known(name) and name not in planned:
            findings.append(
                Finding(
                    machine.urn,
                    f"machine {name} is no host of the region's plan, so no inventory and no "
                    "baseline reach it: add hosts through the tier's host_groups in stacks/, "
                    "not in the program",
                )
            )
        elif known(address) and name in planned and address != planned[name]:
            findings.append(
                Finding(machine.urn, f"machine {name} has {address}, the plan {planned[name]}")
            )
    playbooks = [r for r in resources if r.type == LOCAL_PLAYBOOK and r.get("stack") == facts.stack]
    if machines and not playbooks:
        findings += [
            Finding(
                machine.urn,
                f"{machine.get('name')} is never configured: the stack has no site playbook, so "
                "the common baseline is not applied; remove `regionstack:configure false` "
                f"(`pulumi config rm regionstack:configure --stack {facts.stack}`)",
            )
            for machine in machines
        ]
    return findings
