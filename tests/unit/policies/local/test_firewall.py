from __future__ import annotations

from policies.local.firewall import check_firewall, check_port_bindings
from policies.model import LOCAL_FIREWALL, LOCAL_MACHINE, RegionFacts
from tests.unit.policies.conftest import resource

MACHINE = resource(
    LOCAL_MACHINE, "chunan-local-chunan-portal-1", name="chunan-portal-1", address="10.0.0.2"
)


def _firewall(facts: RegionFacts, ruleset: str | None = None) -> object:
    assert facts.local is not None
    return resource(
        LOCAL_FIREWALL,
        "chunan-local-firewall",
        stack="chunan",
        table=facts.local.table,
        ruleset=facts.local.ruleset if ruleset is None else ruleset,
    )


def test_the_rendered_ruleset_passes(local_facts: RegionFacts) -> None:
    resources = [_firewall(local_facts), MACHINE]
    assert check_firewall(resources, local_facts) == []  # type: ignore[arg-type]
    assert check_port_bindings(resources, local_facts) == []  # type: ignore[arg-type]


def test_a_hand_added_rule_is_caught(local_facts: RegionFacts) -> None:
    assert local_facts.local is not None
    edited = local_facts.local.ruleset.replace("flow a", "flow a\n\ttcp dport 3306 accept")
    findings = check_firewall([_firewall(local_facts, edited), MACHINE], local_facts)  # type: ignore[list-item]
    assert "tcp dport 3306 accept" in findings[0].message
    assert "stacks/standard.yaml" in findings[0].message


def test_machines_without_a_firewall_are_caught(local_facts: RegionFacts) -> None:
    findings = check_firewall([MACHINE], local_facts)
    assert [f.urn for f in findings] == [MACHINE.urn] and "no firewall" in findings[0].message


def test_an_unbound_port_is_caught(local_facts: RegionFacts) -> None:
    unbound = _firewall(local_facts, "table bridge x {\n\tflow a\n}\n")
    findings = check_port_bindings([unbound, MACHINE], local_facts)  # type: ignore[list-item]
    assert [f.urn for f in findings] == [MACHINE.urn] and "host_binding_rules" in findings[
        0
    ].message
