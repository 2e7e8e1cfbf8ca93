"""`regionstack fleet plan`: the chosen regions in dependency order, cut into waves.

The plan is data: `Plan.to_json()` is what `fleet up` runs and what its journal is
bound to (`Plan.digest`), so the same input gives the same bytes and the same digest.
Each region carries its rendered config digest, so a journal of a rollout of one
configuration is not resumed against another. Which regions of the configuration a plan
holds is infra/fleet/selection.py's; this module needs no configuration, so a saved plan
is run without loading one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from infra.fleet.changes import Changes
from infra.fleet.dag import Node, check_graph
from infra.fleet.waves import cut_waves

PLAN_FORMAT = 1


@dataclass(frozen=True)
class PlannedRegion:
    stack: str
    code: str
    tier: str
    parent: str | None
    digest: str | None


@dataclass(frozen=True)
class Wave:
    name: str
    regions: tuple[PlannedRegion, ...]


@dataclass(frozen=True)
class Plan:
    waves: tuple[Wave, ...]
    # Parents of chosen regions that the plan leaves out: `fleet up` takes them as applied.
    assumed_applied: tuple[str, ...] = ()
    changed_since: str | None = None
    shared_changes: tuple[str, ...] = ()

    @property
    def regions(self) -> list[PlannedRegion]:
        return [r for w in self.waves for r in w.regions]

    def data(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "changed_since": self.changed_since,
            "shared_changes": list(self.shared_changes),
            "assumed_applied": list(self.assumed_applied),
            "waves": [
                {"name": w.name, "regions": [asdict(r) for r in w.regions]} for w in self.waves
            ],
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.data(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> str:
        data = {"digest": self.digest, "regions": len(self.regions), **self.data()}
        return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        lines = [f"plan {self.digest}: {len(self.regions)} region(s) in {len(self.waves)} wave(s)"]
        if self.changed_since is not None:
            why = (
                f"shared inputs changed ({', '.join(self.shared_changes[:5])}"
                f"{', …' if len(self.shared_changes) > 5 else ''}): every region"
                if self.shared_changes
                else "regions whose rendered digest changed"
            )
            lines.append(f"changed since {self.changed_since}: {why}")
        if self.assumed_applied:
            lines.append(
                "assumed applied (parents outside the plan): " + ", ".join(self.assumed_applied)
            )
        for wave in self.waves:
            stacks = [r.stack for r in wave.regions]
            shown = ", ".join(stacks[:8]) + (f", … (+{len(stacks) - 8})" if len(stacks) > 8 else "")
            lines.append(f"{wave.name:<16}{len(stacks):>5}  {shown}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(
            waves=tuple(
                Wave(w["name"], tuple(PlannedRegion(**r) for r in w["regions"]))
                for w in data["waves"]
            ),
            assumed_applied=tuple(data["assumed_applied"]),
            changed_since=data["changed_since"],
            shared_changes=tuple(data["shared_changes"]),
        )


def build_plan(
    nodes: list[Node],
    chosen: set[str],
    digests: dict[str, str | None],
    changes: Changes | None = None,
    *,
    canaries: bool = True,
) -> Plan:
    by_stack = check_graph(nodes)
    if changes is not None:
        chosen &= changes.stacks
    waves = cut_waves(by_stack, chosen, canaries=canaries)
    assumed = sorted(
        {p for s in chosen if (p := by_stack[s].parent) is not None and p not in chosen}
    )
    return Plan(
        waves=tuple(
            Wave(
                name,
                tuple(
                    PlannedRegion(n.stack, n.code, n.tier, n.parent, digests.get(n.stack))
                    for n in regions
                ),
            )
            for name, regions in waves
        ),
        assumed_applied=tuple(assumed),
        changed_since=changes.rev if changes else None,
        shared_changes=changes.shared if changes else (),
    )
