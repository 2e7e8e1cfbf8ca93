"""The design-level status of every control in every region of one revision.

Design level means from the revision's files alone, with no deployed host: a control is
`waived` when a waiver covers it for the region, `process` or `not-applicable` by its
catalogue class (or `not-applicable` when its enforcement does not exist on the region's
target), `failing` when the region's effective configuration breaks a design rule on one
of its config keys (infra/compliance/design.py), else `enforced`. `enforced-verified`
needs verify evidence from deployed hosts, so it never appears here.

Evaluated for a national fleet without per-region work where none is needed: a status
table is computed once per target from the shared standard, and a region only adds its
waivers and, for controls whose keys lie outside the standard, its own configuration.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from infra.compliance.catalog import NOT_APPLICABLE, PROCESS, Control
from infra.compliance.design import DesignRule, breaches, rules_for
from infra.compliance.revision import Snapshot
from infra.compliance.waivers import Waiver
from infra.config.effective import effective_config
from infra.config.schema import Region

ENFORCED, FAILING, WAIVED = "enforced", "failing", "waived"
PROCESS_STATUS, NOT_APPLICABLE_STATUS = "process", "not-applicable"
ABSENT = "absent"  # the control or the region does not exist at the revision
# Statuses in which the infrastructure enforces the control (so its enforcement matters).
TECHNICAL_STATUSES = frozenset({ENFORCED, FAILING, WAIVED})
STANDARD_PREFIX = "standard."


@dataclass(frozen=True)
class Status:
    word: str
    reasons: tuple[str, ...] = ()  # breaches for failing, waiver ids for waived


def is_standard_key(key: str) -> bool:
    return key == "standard" or key.startswith(STANDARD_PREFIX)


def control_order(control_id: str) -> tuple[tuple[int, ...], str]:
    """8.1.4.2a before 8.1.10.1a: clause numbers compared as numbers (ids are checked by
    the catalogue's loader, infra/compliance/catalog.py ITEM_ID)."""
    clause, item = control_id[:-1], control_id[-1:]
    return tuple(int(n) for n in clause.split(".") if n.isdigit()), item


@dataclass
class Evaluation:
    """A valid snapshot's statuses, computed per region on demand."""

    snapshot: Snapshot
    _configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @cached_property
    def regions(self) -> dict[str, Region]:
        fleet = self.snapshot.fleet
        return {r.code: r for r in fleet.regions} if fleet else {}

    @cached_property
    def controls(self) -> dict[str, Control]:
        catalog = self.snapshot.catalog
        return {c.id: c for c in catalog.controls} if catalog else {}

    @cached_property
    def _rules(self) -> dict[str, tuple[DesignRule, ...]]:
        return {cid: rules_for(c.config_keys) for cid, c in self.controls.items()}

    @cached_property
    def regional_controls(self) -> frozenset[str]:
        """Controls with a design rule outside the standard: evaluated region by region."""
        return frozenset(
            cid
            for cid, rules in self._rules.items()
            if any(not is_standard_key(rule.key) for rule in rules)
        )

    @cached_property
    def waivers_by_control(self) -> dict[str, list[Waiver]]:
        index: dict[str, list[Waiver]] = defaultdict(list)
        for waiver in self.snapshot.waivers:
            index[waiver.control].append(waiver)
        return dict(index)

    @cached_property
    def standard_config(self) -> dict[str, Any]:
        """The part of every region's effective config that the standard gives."""
        fleet = self.snapshot.fleet
        return {"standard": fleet.standard_data} if fleet else {}

    def config(self, region: Region) -> dict[str, Any]:
        cached = self._configs.get(region.code)
        if cached is None:
            assert self.snapshot.fleet is not None, "only valid snapshots are evaluated"
            cached = self._configs[region.code] = effective_config(self.snapshot.fleet, region)
        return cached

    def _design_status(self, control: Control, target: str, config: dict[str, Any]) -> Status:
        if control.status == PROCESS:
            return Status(PROCESS_STATUS)
        if control.status == NOT_APPLICABLE or target not in control.targets:
            return Status(NOT_APPLICABLE_STATUS)
        found = breaches(config, self._rules[control.id])
        if found:
            return Status(FAILING, tuple(f"design rule {b.to_text()}" for b in found))
        return Status(ENFORCED)

    @cached_property
    def _tables(self) -> dict[str, dict[str, Status]]:
        """target -> control -> status from the standard alone (no waivers)."""
        return {
            target: {
                cid: self._design_status(control, target, self.standard_config)
                for cid, control in self.controls.items()
            }
            for target in {r.target for r in self.regions.values()}
        }

    def waivers(self, region: Region, control_id: str) -> list[Waiver]:
        """Waivers of the control that apply to the region (by code or stack name)."""
        tier = region.tier.value
        return [
            w
            for w in self.waivers_by_control.get(control_id, ())
            if w.applies_to(region.stack, tier) or w.applies_to(region.code, tier)
        ]

    def _covers(self, region: Region, control_id: str) -> tuple[str, ...]:
        tier = region.tier.value
        return tuple(
            sorted(
                w.id
                for w in self.waivers(region, control_id)
                if w.covers(region.stack, tier, control_id)
                or w.covers(region.code, tier, control_id)
            )
        )

    def table(self, target: str) -> dict[str, Status]:
        """control -> status for a region of `target` that adds nothing of its own."""
        return self._tables.get(target, {})

    def overlay(self, region: Region) -> dict[str, Status]:
        """The statuses in which `region` differs from its target's table."""
        overlay: dict[str, Status] = {}
        for cid in self.regional_controls:
            control = self.controls[cid]
            overlay[cid] = self._design_status(control, region.target, self.config(region))
        for cid in self.waivers_by_control:
            if cid in self.controls and (ids := self._covers(region, cid)):
                overlay[cid] = Status(WAIVED, tuple(f"waived by {i}" for i in ids))
        return overlay
