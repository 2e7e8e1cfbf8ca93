"""The simulation: the real scheduler and journal, the orchestrator really SIGKILLed."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.fleet.plan import Plan
from infra.fleet.simulate import FakeEngine, injected_failure, sample_plan, simulate, verdict
from tests.unit.fleet.conftest import plan_of, tree


@pytest.fixture(scope="module")
def medium_plan() -> Plan:
    """4 provinces × 4 cities × 6 counties: 116 regions, enough for kills mid-wave."""
    return plan_of(tree(4, 4, 6))


@pytest.mark.parametrize("seed", range(1, 9))
def test_three_kills_lose_nothing_and_apply_nothing_twice(
    medium_plan: Plan, tmp_path: Path, seed: int
) -> None:
    result = simulate(medium_plan, tmp_path, seed, failure_rate=0.05, kills=3)
    assert result.violations == []
    assert result.restarts == 4
    assert result.killed >= 1, result.summary()
    events = result.events
    assert events["applied"] + events.get("failed", 0) + events.get("blocked", 0) == result.regions


def test_national_seed_within_a_minute(tmp_path: Path) -> None:
    plan = sample_plan("national")
    assert len(plan.regions) == 3213
    result = simulate(plan, tmp_path, 1, failure_rate=0.01, kills=3)
    assert result.violations == [], result.violations[:5]
    assert result.killed == 3
    assert result.events["failed"] > 0 and result.events["blocked"] > 0
    assert result.seconds < 60


def records(*events: tuple[str, str]) -> list[dict[str, str]]:
    out = [{"event": "plan", "plan": "p"}]
    for event, stack in events:
        record = {"event": event, "stack": stack}
        if event == "blocked":
            record["by"] = "p1"
        out.append(record)
    return out


def test_verdict_finds_a_region_applied_twice_or_lost() -> None:
    plan = plan_of(tree(2, 0, 0))
    found = verdict(plan, records(("applied", "p1"), ("applied", "p1")), seed=1, rate=0.0)
    assert found == ["p1 applied 2 times", "p2 has 0 outcomes (lost or contradictory)"]


def test_verdict_finds_an_unblocked_descendant_and_a_false_block() -> None:
    plan = plan_of(tree(1, 1, 0))
    found = verdict(plan, records(("failed", "p1"), ("applied", "p1-c1")), seed=1, rate=0.0)
    assert "p1-c1 is below failed p1 but not blocked" in found
    assert "p1: the engine's verdict was not journaled as given" in found
    found = verdict(plan, records(("applied", "p1"), ("blocked", "p1-c1")), seed=1, rate=0.0)
    assert "p1-c1 is blocked by p1, which did not fail" in found


def test_injected_failures_follow_the_seed_and_rate() -> None:
    stacks = [f"s{n}" for n in range(2000)]
    failing = [s for s in stacks if injected_failure(7, s, 0.05)]
    assert 60 < len(failing) < 140
    assert failing == [s for s in stacks if injected_failure(7, s, 0.05)]
    assert failing != [s for s in stacks if injected_failure(8, s, 0.05)]
    assert not any(injected_failure(7, s, 0.0) for s in stacks)


def test_fake_engine_raises_for_injected_failures(medium_plan: Plan) -> None:
    region = medium_plan.regions[0]
    FakeEngine(1, 0.0).apply(region)
    with pytest.raises(Exception, match="injected failure"):
        FakeEngine(1, 1.0).apply(region)
