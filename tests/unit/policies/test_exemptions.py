from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from infra.compliance.waivers import Waiver
from policies.evaluate import evaluate
from policies.exemptions import Exemptions
from policies.model import LOCAL_MACHINE, RegionFacts
from tests.unit.policies.conftest import resource


@dataclass(frozen=True)
class _Control:
    id: str


class _Catalog:
    def enforced_by_policy(self, policy: str) -> list[_Control]:
        return [_Control("8.1.4.3a")] if policy == "local-hosts-have-common-baseline" else []


def _waiver(**changes: object) -> Waiver:
    fields: dict[str, object] = {
        "id": "W-2026-001",
        "control": "8.1.4.3a",
        "region": "chunan",
        "tier": None,
        "resources": ("chunan-portal-*",),
        "owner": "o",
        "approver": "a",
        "ticket": "T-1",
        "reason": "r",
        "approved": date(2026, 12, 1),
        "expires": date(2027, 5, 30),
    }
    return Waiver(**{**fields, **changes})  # type: ignore[arg-type]


MACHINE = resource(
    LOCAL_MACHINE, "chunan-local-chunan-portal-1", name="chunan-portal-1", address="10.0.0.2"
)


def test_a_covering_waiver_reports_the_finding_as_waived(local_facts: RegionFacts) -> None:
    exemptions = Exemptions.build([_waiver()], _Catalog(), ["local-hosts-have-common-baseline"])
    outcome = evaluate([MACHINE], local_facts, exemptions)["local-hosts-have-common-baseline"]
    assert outcome.violations == []
    assert outcome.waived == [(MACHINE.urn, "W-2026-001")]


def test_a_waiver_for_another_region_control_or_host_exempts_nothing(
    local_facts: RegionFacts,
) -> None:
    for waiver in (
        _waiver(region="tonglu"),
        _waiver(control="8.1.4.8a"),
        _waiver(resources=("chunan-hotline-1",)),
    ):
        exemptions = Exemptions.build([waiver], _Catalog(), ["local-hosts-have-common-baseline"])
        outcome = evaluate([MACHINE], local_facts, exemptions)["local-hosts-have-common-baseline"]
        assert outcome.waived == [] and len(outcome.violations) == 1, waiver
