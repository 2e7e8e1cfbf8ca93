"""local-firewall-from-flow-matrix (MLPS 8.1.3.1 boundary protection, 8.1.3.2 access
control) and local-ports-bound-to-hosts (advisory; the anti-spoofing bridge-port binding).

The only ruleset a local region may apply is `render_ruleset(plan, standard)` of its
configuration (infra/local/firewall_rules.py): a rule added by hand to the program, a
stale ruleset or a region without a firewall all differ from it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from policies.model import LOCAL_FIREWALL, LOCAL_MACHINE, Finding, RegionFacts, Resource, known

RENDERER = "infra/local/firewall_rules.py render_ruleset"


def _firewalls(resources: Sequence[Resource], facts: RegionFacts) -> list[Resource]:
    return [r for r in resources if r.type == LOCAL_FIREWALL and r.get("stack") == facts.stack]


def _first_difference(expected: str, actual: str) -> str:
    for line in difflib.unified_diff(expected.splitlines(), actual.splitlines(), n=0, lineterm=""):
        if line[:1] in "+-" and not line.startswith(("+++", "---")):
            return line.strip()
    return "(whitespace)"


def check_firewall(resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
    if facts.local is None:
        return []
    firewalls = _firewalls(resources, facts)
    machines = [r for r in resources if r.type == LOCAL_MACHINE]
    if not firewalls:
        if not machines:
            return []
        return [
            Finding(
                machines[0].urn,
                f"the region's {len(machines)} machine(s) have no firewall: the LocalRegion "
                f"must create its Firewall with the ruleset of {RENDERER}",
            )
        ]
    findings = []
    for firewall in firewalls:
        ruleset, table = firewall.get("ruleset"), firewall.get("table")
        if known(table) and table != facts.local.table:
            findings.append(
                Finding(
                    firewall.urn,
                    f"the firewall's table is {table!r}, the plan's {facts.local.table!r}",
                )
            )
        if known(ruleset) and ruleset != facts.local.ruleset:
            findings.append(
                Finding(
                    firewall.urn,
                    "the ruleset is not the one rendered from the flow matrix (first difference: "
                    f"{_first_difference(facts.local.ruleset, str(ruleset))!r}): change the flow "
                    f"in stacks/standard.yaml `flows`, never the rules; apply {RENDERER}",
                )
            )
    return findings


def check_port_bindings(resources: Sequence[Resource], facts: RegionFacts) -> list[Finding]:
    if facts.local is None:
        return []
    rulesets = [
        str(f.get("ruleset")) for f in _firewalls(resources, facts) if known(f.get("ruleset"))
    ]
    if not rulesets:
        return []
    lines = {line for ruleset in rulesets for line in ruleset.splitlines()}
    findings = []
    for machine in (r for r in resources if r.type == LOCAL_MACHINE):
        name = machine.get("name")
        binding = facts.local.bindings.get(str(name), ())
        if not binding or not set(binding) <= lines:
            findings.append(
                Finding(
                    machine.urn,
                    f"the bridge port of {name} is not bound to its MAC and address: the "
                    "firewall's bridge prerouting chain must carry its binding "
                    "(infra/local/firewall_rules.py host_binding_rules)",
                )
            )
    return findings
