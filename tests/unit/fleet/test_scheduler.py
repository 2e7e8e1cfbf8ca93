from __future__ import annotations

import io
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from infra.fleet.engine import ApplyFailed
from infra.fleet.journal import Journal
from infra.fleet.plan import Plan, PlannedRegion
from infra.fleet.progress import Progress
from infra.fleet.scheduler import (
    EXIT_APPLIED,
    EXIT_BUDGET,
    EXIT_FAILED,
    Budget,
    Limits,
    Outcome,
    Scheduler,
)
from tests.unit.fleet.conftest import plan_of, tree


class RecordingEngine:
    """Applies after `delay`, fails the stacks in `failing`, records concurrency."""

    def __init__(self, failing: frozenset[str] = frozenset(), delay: float = 0.0) -> None:
        self.failing, self.delay = failing, delay
        self.lock = threading.Lock()
        self.running: Counter[str | None] = Counter()
        self.peak, self.peak_per_parent = 0, 0
        self.calls: list[str] = []

    def apply(self, region: PlannedRegion) -> None:
        with self.lock:
            self.calls.append(region.stack)
            self.running[region.parent] += 1
            self.peak = max(self.peak, sum(self.running.values()))
            if region.parent is not None:
                self.peak_per_parent = max(self.peak_per_parent, self.running[region.parent])
        time.sleep(self.delay)
        with self.lock:
            self.running[region.parent] -= 1
        if region.stack in self.failing:
            raise ApplyFailed(f"{region.stack} failed on purpose")


def run(
    plan: Plan, engine: RecordingEngine, path: Path, limits: Limits | None = None
) -> tuple[Outcome, Journal]:
    journal = Journal.open(path, plan.digest)
    progress = Progress(len(plan.regions), 4, stream=io.StringIO(), interval=0)
    outcome = Scheduler(plan, engine, journal, limits or Limits(), progress).run()
    journal.close()
    return outcome, journal


def test_everything_applied_once_in_wave_order(small_plan: Plan, tmp_path: Path) -> None:
    engine = RecordingEngine()
    outcome, _ = run(small_plan, engine, tmp_path / "j")
    assert outcome.exit_code == EXIT_APPLIED
    assert sorted(engine.calls) == sorted(r.stack for r in small_plan.regions)
    position = {stack: i for i, stack in enumerate(engine.calls)}
    for region in small_plan.regions:
        if region.parent is not None:
            assert position[region.parent] < position[region.stack], region


def test_global_and_per_parent_caps_hold(tmp_path: Path) -> None:
    plan = plan_of(tree(1, 2, 12))
    engine = RecordingEngine(delay=0.05)
    run(plan, engine, tmp_path / "j", Limits(max_concurrency=5, max_per_parent=2))
    assert engine.peak == 4  # two parents in the county waves, two children each
    assert engine.peak_per_parent == 2
    unlimited = RecordingEngine(delay=0.05)
    run(plan, unlimited, tmp_path / "k", Limits(max_concurrency=5))
    assert unlimited.peak == 5


def test_descendants_of_a_failed_region_are_blocked_never_attempted(
    small_plan: Plan, tmp_path: Path
) -> None:
    engine = RecordingEngine(failing=frozenset({"p2-c1"}))
    outcome, _ = run(small_plan, engine, tmp_path / "j", Limits(budget=Budget(100, True)))
    blocked = {f"p2-c1-k{k}" for k in range(1, 5)}
    assert outcome.failed == {"p2-c1": "p2-c1 failed on purpose"}
    assert outcome.blocked == {stack: "p2-c1" for stack in blocked}
    assert not blocked & set(engine.calls)
    assert outcome.exit_code == EXIT_FAILED
    assert len(outcome.applied) == len(small_plan.regions) - 5


def test_failure_budget_stops_new_starts(small_plan: Plan, tmp_path: Path) -> None:
    # The canary province fails: 1 of 1 is over 10 %; nothing else starts.
    engine = RecordingEngine(failing=frozenset({"p1"}))
    outcome, _ = run(small_plan, engine, tmp_path / "j")
    assert engine.calls == ["p1"]
    assert outcome.budget_exceeded == "canary-province"
    assert outcome.exit_code == EXIT_BUDGET
    assert len(outcome.not_started) == len(small_plan.regions) - 1 - len(outcome.blocked)


def test_count_budget_allows_that_many_failures_per_wave(tmp_path: Path) -> None:
    plan = plan_of(tree(6, 0, 0))
    engine = RecordingEngine(failing=frozenset({"p2", "p3"}))
    outcome, _ = run(
        plan, engine, tmp_path / "j", Limits(max_concurrency=1, budget=Budget(2, False))
    )
    assert outcome.budget_exceeded is None and set(outcome.failed) == {"p2", "p3"}
    engine = RecordingEngine(failing=frozenset({"p2", "p3"}))
    outcome, _ = run(
        plan, engine, tmp_path / "k", Limits(max_concurrency=1, budget=Budget(1, False))
    )
    assert outcome.budget_exceeded == "wave-2"
    assert "p4" not in engine.calls


def test_resume_applies_nothing_twice_and_reruns_the_unfinished(
    small_plan: Plan, tmp_path: Path
) -> None:
    path = tmp_path / "j"
    journal = Journal.open(path, small_plan.digest)
    for stack in ["p1", "p1-c1"]:
        journal.append({"event": "started", "stack": stack})
        journal.append({"event": "applied", "stack": stack})
    journal.append({"event": "started", "stack": "p1-c1-k1"})
    journal.close()
    engine = RecordingEngine()
    outcome, again = run(small_plan, engine, path)
    assert outcome.resumed and outcome.rerun == ["p1-c1-k1"]
    assert "p1" not in engine.calls and "p1-c1" not in engine.calls
    assert "p1-c1-k1" in engine.calls
    assert outcome.exit_code == EXIT_APPLIED
    assert max(again.state.applied_count.values()) == 1


def test_resume_blocks_below_a_failure_recorded_before_a_kill(
    small_plan: Plan, tmp_path: Path
) -> None:
    path = tmp_path / "j"
    journal = Journal.open(path, small_plan.digest)
    journal.append({"event": "started", "stack": "p1"})
    journal.append({"event": "failed", "stack": "p1", "error": "x"})
    journal.close()
    engine = RecordingEngine()
    outcome, _ = run(small_plan, engine, path, Limits(budget=Budget(100, True)))
    assert len(outcome.blocked) == 3 + 12
    assert not any(stack.startswith("p1") for stack in engine.calls)


def test_engine_crash_fails_only_that_region(tmp_path: Path) -> None:
    class Crashing(RecordingEngine):
        def apply(self, region: PlannedRegion) -> None:
            if region.stack == "p2":
                raise RuntimeError("engine bug")

    outcome, _ = run(
        plan_of(tree(3, 0, 0)), Crashing(), tmp_path / "j", Limits(budget=Budget(1, False))
    )
    assert outcome.failed == {"p2": "engine bug"}
    assert outcome.applied == ["p1", "p3"]


@pytest.mark.parametrize(
    ("text", "failed", "size", "exceeded"),
    [("10%", 1, 10, False), ("10%", 2, 10, True), ("0", 1, 50, True), ("3", 3, 4, False)],
)
def test_budget(text: str, failed: int, size: int, exceeded: bool) -> None:
    assert Budget.parse(text).exceeded(failed, size) is exceeded


@pytest.mark.parametrize("text", ["ten", "-1", "150%", "5 %%", ""])
def test_bad_budget_says_what_to_give(text: str) -> None:
    with pytest.raises(ValueError, match=r"give a count of regions \(3\) or a percentage"):
        Budget.parse(text)


def test_retry_failed_attempts_the_failure_and_what_it_blocked(
    small_plan: Plan, tmp_path: Path
) -> None:
    path = tmp_path / "j"
    first, _ = run(
        small_plan,
        RecordingEngine(failing=frozenset({"p2-c1"})),
        path,
        Limits(budget=Budget(100, True)),
    )
    assert first.exit_code == EXIT_FAILED
    engine = RecordingEngine()
    journal = Journal.open(path, small_plan.digest)
    progress = Progress(len(small_plan.regions), 4, stream=io.StringIO(), interval=0)
    outcome = Scheduler(small_plan, engine, journal, Limits(), progress, retry_failed=True).run()
    assert outcome.retried == ["p2-c1"]
    assert sorted(engine.calls) == ["p2-c1", *(f"p2-c1-k{k}" for k in range(1, 5))]
    assert outcome.exit_code == EXIT_APPLIED
    assert journal.state.done


def test_done_is_journaled_once_when_everything_is_applied(
    small_plan: Plan, tmp_path: Path
) -> None:
    path = tmp_path / "j"
    run(small_plan, RecordingEngine(), path)
    _, journal = run(small_plan, RecordingEngine(), path)
    events = [line for line in path.read_text(encoding="utf-8").splitlines() if '"done"' in line]
    assert len(events) == 1 and journal.state.done


def test_no_done_while_regions_failed(small_plan: Plan, tmp_path: Path) -> None:
    _, journal = run(
        small_plan,
        RecordingEngine(failing=frozenset({"p3"})),
        tmp_path / "j",
        Limits(budget=Budget(100, True)),
    )
    assert not journal.state.done
