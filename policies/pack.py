"""The CrossGuard side of the pack: policies/registry.py's policies as pulumi_policy
objects, the engine's property maps turned into plain `Resource`s (unknowns marked)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import _DictProxy, _is_unknown, _ListProxy
from pulumi_policy.secret import Secret

from policies.checks import CHECKS
from policies.evaluate import split_waived
from policies.exemptions import Exemptions
from policies.facts import facts_from_config
from policies.model import UNKNOWN, Finding, RegionFacts, Resource
from policies.registry import PACK_NAME, POLICIES, WAIVED_POLICY, for_target


def plain(value: Any) -> Any:
    """A property value without pulumi_policy's proxies and secrets; unknowns as UNKNOWN."""
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if _is_unknown(value):
        return UNKNOWN
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def stack_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::...` -> the stack name."""
    return urn.split(":", 3)[2].split("::")[0] if urn.startswith("urn:pulumi:") else ""


class Context:
    """The region facts and exemptions of the stack under preview, computed once."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir

    @cache  # noqa: B019 - one Context per pack process
    def facts(self, stack: str) -> RegionFacts:
        return facts_from_config(self.project_dir / "stacks", stack)

    @cache  # noqa: B019
    def exemptions(self) -> Exemptions:
        from infra.compliance.catalog import load_catalog
        from infra.compliance.waivers import WAIVERS_FILE, load_waivers

        waivers = load_waivers(WAIVERS_FILE) if WAIVERS_FILE.exists() else []
        return Exemptions.build(waivers, load_catalog(), [p.name for p in POLICIES])


def _resource(urn: str, typ: str, name: str, props: Any) -> Resource:
    return Resource(urn, typ, name, plain(props))


def _report(findings: list[Finding], report: ReportViolation) -> None:
    for finding in findings:
        report(finding.message, finding.urn)


def _stack_validator(
    ctx: Context, policy: str
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [_resource(r.urn, r.resource_type, r.name, r.props) for r in args.resources]
        stack = next((stack_of(r.urn) for r in resources), "")
        facts = ctx.facts(stack)
        if facts.target != _target(policy):
            return
        findings = CHECKS[policy].run(resources, facts)
        kept, _ = split_waived(policy, findings, resources, facts, ctx.exemptions())
        _report(kept, report)

    return validate


def _resource_validator(
    ctx: Context, policy: str
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = _resource(args.urn, args.resource_type, args.name, args.props)
        facts = ctx.facts(stack_of(args.urn))
        if facts.target != _target(policy):
            return
        findings = CHECKS[policy].run([resource], facts)
        kept, _ = split_waived(policy, findings, [resource], facts, ctx.exemptions())
        _report(kept, report)

    return validate


def _waived_validator(ctx: Context) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [_resource(r.urn, r.resource_type, r.name, r.props) for r in args.resources]
        facts = ctx.facts(next((stack_of(r.urn) for r in resources), ""))
        for spec in for_target(facts.target):
            findings = CHECKS[spec.name].run(resources, facts)
            _, waived = split_waived(spec.name, findings, resources, facts, ctx.exemptions())
            for urn, waiver in waived:
                report(f"waived: {spec.name} by {waiver}", urn)

    return validate


def _target(policy: str) -> str:
    return next(p.target for p in POLICIES if p.name == policy)


def build_pack(project_dir: Path) -> None:
    """Serve the pack to the engine (blocks until the engine stops it)."""
    ctx = Context(project_dir)
    policies: list[Any] = []
    for spec in POLICIES:
        if CHECKS[spec.name].stack is not None:
            kind: Any = StackValidationPolicy
            validate: Any = _stack_validator(ctx, spec.name)
        else:
            kind, validate = ResourceValidationPolicy, _resource_validator(ctx, spec.name)
        policies.append(
            kind(
                name=spec.name,
                description=spec.description,
                enforcement_level=EnforcementLevel(spec.enforcement),
                validate=validate,
            )
        )
    policies.append(
        StackValidationPolicy(
            name=WAIVED_POLICY,
            description="Resources a waiver (compliance/waivers.yaml) exempts from a policy.",
            enforcement_level=EnforcementLevel.ADVISORY,
            validate=_waived_validator(ctx),
        )
    )
    PolicyPack(name=PACK_NAME, policies=policies, enforcement_level=EnforcementLevel.MANDATORY)
