"""The facts of one region stack, derived by the same code the program deploys it with.

Nothing here restates the design: the expected security group rules are
`infra.aws.flows.security_group_rules`, the expected nftables ruleset is
`infra.local.firewall_rules.render_ruleset`, the tags are the plan's, the retention the
standard's - all of them computed from the unified configuration (`stacks/`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from infra.config.loader import Fleet, load_fleet
from policies.model import AwsFacts, LocalFacts, LocalHost, RegionFacts


def region_facts(fleet: Fleet, stack: str) -> RegionFacts:
    """The facts of the region whose stack (region key) is `stack`; KeyError if the
    configuration has no such region."""
    region = fleet.region(stack)
    base = RegionFacts(
        stack=region.stack,
        tier=str(region.tier),
        target=region.target,
        log_retention_days=fleet.standard.log_retention_days,
    )
    if region.target == "aws":
        return replace(base, aws=_aws_facts(fleet, stack))
    return replace(base, local=_local_facts(fleet, stack))


def facts_from_config(stacks_dir: Path, stack: str) -> RegionFacts:
    return region_facts(load_fleet(stacks_dir), stack)


def _aws_facts(fleet: Fleet, stack: str) -> AwsFacts:
    from infra.aws.flows import group_name, security_group_rules, security_groups
    from infra.aws.plan import plan_aws_region

    plan = plan_aws_region(fleet, fleet.region(stack))
    rules = security_group_rules(plan, fleet.standard)
    return AwsFacts(
        partition=plan.partition.name,
        region=plan.region,
        tags=plan.tags,
        rule_keys=frozenset(rule.key for rule in rules),
        group_names={group_name(plan.stack, g): g for g in security_groups()},
    )


def _local_facts(fleet: Fleet, stack: str) -> LocalFacts:
    from infra.local.firewall_rules import host_binding_rules, render_ruleset
    from infra.local.plan import plan_region

    plan = plan_region(fleet, fleet.region(stack))
    return LocalFacts(
        table=plan.table,
        bridge=plan.bridge,
        ruleset=render_ruleset(plan, fleet.standard),
        hosts=tuple(LocalHost(h.name, h.address) for h in plan.hosts),
        bindings={
            h.name: tuple(host_binding_rules(plan.stack, h.name, h.address)) for h in plan.hosts
        },
    )
