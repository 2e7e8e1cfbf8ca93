"""Run a plan through an engine: wave by wave, capped, within a failure budget, journaled.

Waves run one after another (a wave's parents are all in earlier waves). Inside a wave
at most `max_concurrency` regions run at once, and at most `max_per_parent` children of
one parent: their updates all call the parent's exchange and CA. A failed region's
descendants are journaled `blocked` at once and never attempted. Once a wave's failures
exceed the budget, no new region starts; those running finish and the run stops.
Everything settled is in the journal first, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from infra.fleet.dag import descendants
from infra.fleet.engine import Engine
from infra.fleet.journal import Journal
from infra.fleet.plan import Plan, PlannedRegion, Wave
from infra.fleet.progress import Progress

EXIT_APPLIED, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3
BUDGET_FORMAT = re.compile(r"^(\d+(?:\.\d+)?)(%?)$")


@dataclass(frozen=True)
class Budget:
    """Failures a wave may have: a count, or a percentage of the wave's regions."""

    limit: float
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Budget:
        found = BUDGET_FORMAT.match(text.strip())
        if found is None or (found.group(2) and float(found.group(1)) > 100):
            raise ValueError(
                f"failure budget {text!r}: give a count of regions (3) or a percentage of "
                "each wave (10%, at most 100%)"
            )
        return cls(float(found.group(1)), bool(found.group(2)))

    def exceeded(self, failed: int, wave_size: int) -> bool:
        allowed = wave_size * self.limit / 100 if self.percent else self.limit
        return failed > allowed

    def __str__(self) -> str:
        return f"{self.limit:g}%" if self.percent else f"{self.limit:g}"


@dataclass(frozen=True)
class Limits:
    max_concurrency: int = 4
    max_per_parent: int | None = None
    budget: Budget = Budget(10, percent=True)


@dataclass
class Outcome:
    regions: int
    applied: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    rerun: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    budget_exceeded: str | None = None
    resumed: bool = False

    @property
    def exit_code(self) -> int:
        if self.budget_exceeded is not None:
            return EXIT_BUDGET
        return EXIT_FAILED if self.failed or self.blocked or self.not_started else EXIT_APPLIED


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        engine: Engine,
        journal: Journal,
        limits: Limits,
        progress: Progress,
        retry_failed: bool = False,
    ) -> None:
        self.plan, self.engine, self.journal = plan, engine, journal
        self.limits, self.progress = limits, progress
        self.retry_failed = retry_failed
        self.state = journal.state
        in_plan = {r.stack for r in plan.regions}
        self.children: dict[str, list[str]] = {}
        for region in plan.regions:
            if region.parent in in_plan and region.parent is not None:
                self.children.setdefault(region.parent, []).append(region.stack)

    def run(self) -> Outcome:
        outcome = Outcome(len(self.plan.regions), resumed=self.journal.resumed)
        self._resume(outcome)
        with ThreadPoolExecutor(max_workers=self.limits.max_concurrency) as pool:
            for wave in self.plan.waves:
                if not self._run_wave(wave, pool):
                    outcome.budget_exceeded = wave.name
                    break
        self.progress.show(final=True)
        self._settle_outcome(outcome)
        if outcome.exit_code == EXIT_APPLIED and not self.state.done:
            # Lets the next rollout (another plan) start without --new-journal.
            self.journal.append({"event": "done"})
        return outcome

    def _resume(self, outcome: Outcome) -> None:
        """Journal what a resumed run does differently, and count what is settled."""
        outcome.rerun = sorted(self.state.unfinished)
        for stack in outcome.rerun:
            self.journal.append({"event": "rerun", "stack": stack})
        if self.retry_failed:
            outcome.retried = sorted(self.state.failed)
            for stack in outcome.retried:
                self.journal.append({"event": "retry", "stack": stack})
        # Killed between a `failed` and its `blocked` records: block the rest now.
        for stack in sorted(self.state.failed):
            self._block_below(stack)
        self.progress.done = len(self.state.applied)
        self.progress.failed = len(self.state.failed)
        self.progress.blocked = len(self.state.blocked)

    def _settle_outcome(self, outcome: Outcome) -> None:
        for region in self.plan.regions:
            stack = region.stack
            if stack in self.state.applied:
                outcome.applied.append(stack)
            elif stack in self.state.failed:
                outcome.failed[stack] = self.state.failed[stack]
            elif stack in self.state.blocked:
                outcome.blocked[stack] = self.state.blocked[stack]
            else:
                outcome.not_started.append(stack)

    def _over_budget(self, wave: Wave) -> bool:
        failed = sum(r.stack in self.state.failed for r in wave.regions)
        return self.limits.budget.exceeded(failed, len(wave.regions))

    def _run_wave(self, wave: Wave, pool: ThreadPoolExecutor) -> bool:
        """Run what is left of `wave`; False once its failures exceed the budget."""
        queue = deque(r for r in wave.regions if not self.state.settled(r.stack))
        running: dict[Future[float], PlannedRegion] = {}
        per_parent: Counter[str | None] = Counter()
        stopped = self._over_budget(wave)
        while True:
            if not stopped:
                self._start(queue, running, per_parent, pool)
            if not running:
                return not stopped
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                region = running.pop(future)
                per_parent[region.parent] -= 1
                self.progress.running -= 1
                self._settle(region, future)
            stopped = stopped or self._over_budget(wave)
            self.progress.show()

    def _start(
        self,
        queue: deque[PlannedRegion],
        running: dict[Future[float], PlannedRegion],
        per_parent: Counter[str | None],
        pool: ThreadPoolExecutor,
    ) -> None:
        cap = self.limits.max_per_parent
        waiting: list[PlannedRegion] = []
        while queue and len(running) < self.limits.max_concurrency:
            region = queue.popleft()
            if cap is not None and region.parent is not None and per_parent[region.parent] >= cap:
                waiting.append(region)
                continue
            self.journal.append({"event": "started", "stack": region.stack})
            per_parent[region.parent] += 1
            self.progress.running += 1
            running[pool.submit(self._apply, region)] = region
        queue.extendleft(reversed(waiting))

    def _apply(self, region: PlannedRegion) -> float:
        start = time.monotonic()
        self.engine.apply(region)
        return time.monotonic() - start

    def _settle(self, region: PlannedRegion, future: Future[float]) -> None:
        try:
            seconds = future.result()
        except Exception as err:  # any engine error fails only this region
            self.journal.append({"event": "failed", "stack": region.stack, "error": str(err)})
            self.progress.failed += 1
            self._block_below(region.stack)
            return
        self.journal.append(
            {"event": "applied", "stack": region.stack, "seconds": round(seconds, 3)}
        )
        self.progress.applied(seconds)

    def _block_below(self, failed: str) -> None:
        for stack in descendants(self.children, failed):
            if not self.state.settled(stack):
                self.journal.append({"event": "blocked", "stack": stack, "by": failed})
                self.progress.blocked += 1
