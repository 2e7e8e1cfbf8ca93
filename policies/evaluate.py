"""Run the pack's validators over a stack's resources: violations and waived findings
per policy, the shape of the evidence (infra/compliance/policy_run.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from policies.checks import CHECKS
from policies.exemptions import NO_EXEMPTIONS, Exemptions
from policies.model import Finding, RegionFacts, Resource
from policies.registry import for_target


@dataclass
class Outcome:
    policy: str
    enforcement: str
    violations: list[Finding] = field(default_factory=list)
    waived: list[tuple[str, str]] = field(default_factory=list)  # (urn, waiver id)


def split_waived(
    policy: str,
    findings: Sequence[Finding],
    resources: Sequence[Resource],
    facts: RegionFacts,
    exemptions: Exemptions,
) -> tuple[list[Finding], list[tuple[str, str]]]:
    """The findings no waiver covers, and (urn, waiver id) of those one does."""
    by_urn = {r.urn: r for r in resources}
    kept, waived = [], []
    for finding in findings:
        resource = by_urn.get(finding.urn)
        waiver = exemptions.waiver_for(policy, resource, facts) if resource else None
        if waiver:
            waived.append((finding.urn, waiver))
        else:
            kept.append(finding)
    return kept, waived


def evaluate(
    resources: Sequence[Resource], facts: RegionFacts, exemptions: Exemptions = NO_EXEMPTIONS
) -> dict[str, Outcome]:
    """Every policy of the stack's target, evaluated over `resources`."""
    outcomes = {}
    for spec in for_target(facts.target):
        findings = CHECKS[spec.name].run(resources, facts)
        kept, waived = split_waived(spec.name, findings, resources, facts, exemptions)
        outcomes[spec.name] = Outcome(spec.name, spec.enforcement, kept, waived)
    return outcomes


def mandatory_violations(outcomes: dict[str, Outcome]) -> list[tuple[str, Finding]]:
    return [
        (name, finding)
        for name, outcome in outcomes.items()
        if outcome.enforcement == "mandatory"
        for finding in outcome.violations
    ]
