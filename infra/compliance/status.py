"""The status of each catalogue item in one region, from the catalogue, the waivers and the
region's recorded evidence (infra/compliance/results.py).

Statuses (the words the report and the diff share):

* `failing` - a technical item whose linked host test failed or errored in the region's
  last verify, or whose linked policy found a violation in the last policy run;
* `enforced-verified` - its linked host tests passed (each ran, none failed), or for an
  item enforced by policies alone, its policies ran clean;
* `enforced` - technical, and no evidence yet proves it either way;
* `waived` - a waiver covers it; this wins over every other status (a waived item is
  never shown as passed) but the underlying status is kept for the report;
* `process` - a documented procedure the region runs;
* `not-applicable` - the catalogue says so, or the item's enforcement does not exist on
  the region's target (with the catalogue's reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from infra.compliance.catalog import NOT_APPLICABLE, PROCESS, Control
from infra.compliance.results import FAILED, PASSED, StackResults
from infra.compliance.waivers import Waiver
from infra.config.schema import Region

FAILING = "failing"
ENFORCED_VERIFIED = "enforced-verified"
ENFORCED = "enforced"
WAIVED = "waived"
PROCESS_STATUS = "process"
NOT_APPLICABLE_STATUS = "not-applicable"
# Worst first: the order of the report's tables and summaries.
STATUSES = (FAILING, WAIVED, ENFORCED, ENFORCED_VERIFIED, PROCESS_STATUS, NOT_APPLICABLE_STATUS)
# What counts as proven, for the report's collapsed section.
PASSING = frozenset({ENFORCED_VERIFIED, PROCESS_STATUS, NOT_APPLICABLE_STATUS})
NOT_RUN = "not-run"


@dataclass(frozen=True)
class ControlStatus:
    control: Control
    status: str
    why: str  # one sentence: what decided the status
    underlying: str  # the status the evidence alone gives (differs from `status` if waived)
    host_tests: dict[str, str] = field(default_factory=dict)  # test id -> outcome | not-run
    policies: dict[str, str] = field(default_factory=dict)  # name -> passed | failed | not-run
    waivers: tuple[str, ...] = ()  # ids of the waivers covering it


def covering_waivers(waivers: Sequence[Waiver], region: Region, control_id: str) -> tuple[str, ...]:
    tier = region.tier.value
    return tuple(
        w.id
        for w in waivers
        if any(w.covers(key, tier, control_id) for key in (region.stack, region.code))
    )


def _technical(
    control: Control, results: StackResults
) -> tuple[str, str, dict[str, str], dict[str, str]]:
    verify, pack = results.verify, results.policies
    tests = {
        test: (verify.tests[test].outcome if verify and test in verify.tests else NOT_RUN)
        for test in control.host_tests
    }
    # A policy of the other target is not evaluated for this stack: it is left out.
    policies = {
        name: (PASSED if pack.policies[name].clean else FAILED)
        for name in control.policies
        if pack is not None and name in pack.policies
    }
    failed_tests = sorted(t for t, outcome in tests.items() if outcome == FAILED)
    failed_policies = sorted(p for p, outcome in policies.items() if outcome == FAILED)
    if failed_tests or failed_policies:
        why = ", ".join([*failed_tests, *(f"policy {p}" for p in failed_policies)])
        return FAILING, f"failed: {why}", tests, policies
    if tests:
        if all(o != NOT_RUN for o in tests.values()) and PASSED in tests.values():
            return ENFORCED_VERIFIED, "its host tests passed in the last verify", tests, policies
        return ENFORCED, "its host tests have not all run yet", tests, policies
    if policies:
        return ENFORCED_VERIFIED, "its policies ran clean", tests, policies
    return ENFORCED, "no verification evidence for it yet", tests, policies


def control_status(
    control: Control, region: Region, results: StackResults, waivers: Sequence[Waiver]
) -> ControlStatus:
    """The status of `control` in `region`; `waivers` may be all of them or the region's."""
    tests: dict[str, str] = {}
    policies: dict[str, str] = {}
    if control.status == PROCESS:
        status, why = PROCESS_STATUS, f"procedure: {control.procedure}"
    elif control.status == NOT_APPLICABLE:
        status, why = NOT_APPLICABLE_STATUS, control.reason or "not applicable"
    elif region.target not in control.targets:
        status = NOT_APPLICABLE_STATUS
        why = f"not enforced on the {region.target} target: {control.reason or 'see catalogue'}"
    else:
        status, why, tests, policies = _technical(control, results)
    covering = covering_waivers(waivers, region, control.id)
    if covering:
        return ControlStatus(
            control, WAIVED, f"covered by {', '.join(covering)}", status, tests, policies, covering
        )
    return ControlStatus(control, status, why, status, tests, policies)
