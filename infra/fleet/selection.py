"""Which regions of the configuration `fleet plan` and `fleet up` take, and their plan.

The regions named on the command line (all when none), narrowed by `--changed-since` to
what a change affects (infra/fleet/changes.py); each with the digest `render` wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

from infra.config.loader import REGIONS_DIR, Fleet, UnknownRegion
from infra.config.problems import Problem
from infra.config.render import stack_file
from infra.fleet.changes import changed_since, digest_of
from infra.fleet.dag import Node, PlanError, children_of, descendants
from infra.fleet.plan import Plan, build_plan

CODE_LINE = re.compile(r'^\s*-\s*code:\s*"?(\d+)"?', re.MULTILINE)


def region_files(config_dir: Path) -> dict[str, str]:
    """code → the region file that declares it, for error messages (a scan, not a parse)."""
    files: dict[str, str] = {}
    for path in sorted((config_dir / REGIONS_DIR).glob("*.yaml")):
        shown = f"{config_dir.name}/{REGIONS_DIR}/{path.name}"
        for code in CODE_LINE.findall(path.read_text(encoding="utf-8")):
            files.setdefault(code, shown)
    return files


def fleet_nodes(fleet: Fleet) -> list[Node]:
    files = region_files(fleet.config_dir)
    stacks = {r.code: r.stack for r in fleet.regions}
    return [
        Node(
            r.stack,
            r.code,
            r.tier.value,
            # An unknown parent code stays visible, so the graph check can name it.
            stacks.get(r.parent, r.parent) if r.parent else None,
            files.get(r.code, f"{fleet.config_dir.name}/{REGIONS_DIR}/*.yaml"),
        )
        for r in fleet.regions
    ]


def _chosen(fleet: Fleet, keys: list[str]) -> set[str]:
    if not keys:
        return {r.stack for r in fleet.regions}
    chosen = set()
    for key in keys:
        try:
            chosen.add(fleet.region(key).stack)
        except UnknownRegion:
            raise PlanError(
                [
                    Problem(
                        "REGION",
                        "arguments",
                        f"no region with code or stack name {key!r}",
                        "give a GB/T 2260 code or stack name from `regionstack validate`",
                        "fleet-unknown-region",
                        key,
                    )
                ]
            ) from None
    return chosen


def _rendered_digests(fleet: Fleet) -> dict[str, str | None]:
    digests = {}
    for region in fleet.regions:
        path = stack_file(fleet.config_dir, region.stack)
        digests[region.stack] = (
            digest_of(path.read_text(encoding="utf-8")) if path.is_file() else None
        )
    return digests


def plan_fleet(
    fleet: Fleet,
    keys: list[str],
    since: str | None = None,
    *,
    canaries: bool = True,
    subtree: bool = False,
) -> Plan:
    """The plan of `fleet up`: the regions named by `keys` (all when empty), with every
    region below them when `subtree` says so."""
    nodes = fleet_nodes(fleet)
    chosen = _chosen(fleet, keys)
    if subtree:  # a province with its cities and counties
        children = children_of({n.stack: n for n in nodes})
        chosen |= {below for stack in list(chosen) for below in descendants(children, stack)}
    changes = changed_since(fleet.config_dir, since, sorted(chosen)) if since else None
    return build_plan(nodes, chosen, _rendered_digests(fleet), changes, canaries=canaries)
