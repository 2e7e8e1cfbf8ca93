"""Waivers (compliance/waivers.yaml) as the one way a resource is exempt from a policy.

A resource is exempt from a policy when a waiver covers, for the region (its stack name
is its region key) and tier, one of the controls the catalogue says the policy enforces
(`Catalog.enforced_by_policy`), naming the resource by its logical name or, for a host,
by its host name. An exempt finding is never dropped: it is reported as waived, with the
waiver's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from policies.model import RegionFacts, Resource


class WaiverLike(Protocol):
    @property
    def id(self) -> str: ...

    def covers(
        self, region_key: str, tier: str, control_id: str, resource_name: str | None = None
    ) -> bool: ...


class CatalogLike(Protocol):
    def enforced_by_policy(self, policy: str) -> Sequence[ControlLike]: ...


class ControlLike(Protocol):
    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class Exemptions:
    waivers: tuple[WaiverLike, ...]
    # policy name -> the control ids it enforces
    controls: dict[str, tuple[str, ...]]

    @classmethod
    def build(
        cls, waivers: Iterable[WaiverLike], catalog: CatalogLike, policies: Iterable[str]
    ) -> Exemptions:
        return cls(
            tuple(waivers),
            {p: tuple(c.id for c in catalog.enforced_by_policy(p)) for p in policies},
        )

    def waiver_for(self, policy: str, resource: Resource, facts: RegionFacts) -> str | None:
        """The id of the first waiver exempting `resource` from `policy`, or None."""
        names = [n for n in (resource.name, resource.host_name) if n]
        for waiver in self.waivers:
            for control in self.controls.get(policy, ()):
                if any(waiver.covers(facts.stack, facts.tier, control, n) for n in names):
                    return waiver.id
        return None


NO_EXEMPTIONS = Exemptions((), {})
