"""`regionstack fleet simulate`: the real scheduler and journal against a fake engine.

The orchestrator runs as a child process (`python -m infra.fleet.simulate --child`),
which this module SIGKILLs when the journal reaches random lengths and then starts
again, `kills` times; the last run goes to the end. The verdict is read from the journal
alone: every region applied exactly once, or failed (injected), or blocked below a
failed region; none applied twice, none lost. Failures are injected by a hash of the
seed and the stack, so the same region fails in every restart of a seed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.fleet.dag import descendants
from infra.fleet.engine import ApplyFailed
from infra.fleet.journal import Journal, read_records
from infra.fleet.plan import Plan, PlannedRegion
from infra.fleet.progress import Progress
from infra.fleet.scheduler import Budget, Limits, Scheduler

POLL_SECONDS = 0.002


def injected_failure(seed: int, stack: str, rate: float) -> bool:
    draw = hashlib.sha256(f"{seed}:{stack}".encode()).digest()
    return int.from_bytes(draw[:8], "big") / 2**64 < rate


@dataclass(frozen=True)
class FakeEngine:
    seed: int
    failure_rate: float
    delay: float = 0.0

    def apply(self, region: PlannedRegion) -> None:
        if self.delay:
            time.sleep(self.delay)
        if injected_failure(self.seed, region.stack, self.failure_rate):
            raise ApplyFailed(f"injected failure (seed {self.seed})")


@dataclass
class Simulation:
    seed: int
    regions: int
    kills_at: list[int] = field(default_factory=list)
    restarts: int = 0
    killed: int = 0
    records: int = 0
    # Journal records by event: plan, started, applied, failed, blocked, rerun.
    events: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def verdict(plan: Plan, records: list[dict[str, Any]], seed: int, rate: float) -> list[str]:
    """What the journal shows went wrong; empty when the rollout is exactly right."""
    applied = Counter(r["stack"] for r in records if r["event"] == "applied")
    failed = {r["stack"] for r in records if r["event"] == "failed"}
    blocked = {r["stack"]: r["by"] for r in records if r["event"] == "blocked"}
    children: dict[str, list[str]] = {}
    for region in plan.regions:
        if region.parent is not None:
            children.setdefault(region.parent, []).append(region.stack)
    problems = [f"{s} applied {n} times" for s, n in sorted(applied.items()) if n > 1]
    for region in plan.regions:
        stack = region.stack
        outcomes = (stack in applied) + (stack in failed) + (stack in blocked)
        if outcomes != 1:
            problems.append(f"{stack} has {outcomes} outcomes (lost or contradictory)")
        should_fail = injected_failure(seed, stack, rate)
        if (stack in applied and should_fail) or (stack in failed and not should_fail):
            problems.append(f"{stack}: the engine's verdict was not journaled as given")
    for stack in sorted(failed):
        problems += [
            f"{d} is below failed {stack} but not blocked"
            for d in descendants(children, stack)
            if d not in blocked
        ]
    problems += [
        f"{s} is blocked by {by}, which did not fail"
        for s, by in blocked.items()
        if by not in failed
    ]
    return problems


def _child_command(plan_file: Path, journal: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "infra.fleet.simulate",
        "--child",
        str(plan_file),
        str(journal),
        f"--seed={args.seed}",
        f"--failure-rate={args.failure_rate}",
        f"--delay={args.delay}",
        f"--max-concurrency={args.max_concurrency}",
    ]


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _run_until(command: list[str], journal: Path, kill_at: int | None) -> int:
    """Run the orchestrator; SIGKILL it once the journal has `kill_at` lines."""
    child = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    while child.poll() is None:
        if kill_at is not None and _lines(journal) >= kill_at:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            return -signal.SIGKILL
        time.sleep(POLL_SECONDS)
    return child.returncode


def simulate(
    plan: Plan, work_dir: Path, seed: int, failure_rate: float, kills: int, delay: float = 0.0
) -> Simulation:
    """Roll `plan` out against the fake engine, killing the orchestrator `kills` times."""
    start = time.perf_counter()
    plan_file, journal = work_dir / "plan.json", work_dir / "journal.jsonl"
    plan_file.write_text(plan.to_json(), encoding="utf-8")
    # A journal holds about two records per region; kill somewhere inside that.
    span = max(2 * len(plan.regions), kills + 2)
    kill_points = sorted(random.Random(seed).sample(range(2, span), kills))
    options = argparse.Namespace(
        seed=seed, failure_rate=failure_rate, delay=delay, max_concurrency=8
    )
    command = _child_command(plan_file, journal, options)
    result = Simulation(seed, len(plan.regions), kills_at=kill_points)
    for point in [*kill_points, None]:
        result.restarts += 1
        result.killed += _run_until(command, journal, point) == -signal.SIGKILL
    records = read_records(journal)
    result.records = len(records)
    result.events = dict(sorted(Counter(r["event"] for r in records).items()))
    result.violations = verdict(plan, records, seed, failure_rate)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def sample_plan(regions: str) -> Plan:
    """The plan of the national fleet (generated) or of this checkout's sample regions."""
    from infra.config.loader import load_fleet
    from infra.fleet.selection import plan_fleet

    if regions == "sample":
        return plan_fleet(load_fleet(Path(__file__).resolve().parents[2] / "stacks"), [])
    # The national fleet's one generator lives with the benchmarks (validate_fleet.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    generator = importlib.import_module("validate_fleet")
    with tempfile.TemporaryDirectory(prefix="regionstack-fleet-") as tmp:
        generator.generate(Path(tmp) / "stacks")
        return plan_fleet(load_fleet(Path(tmp) / "stacks"), [])


def _child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="infra.fleet.simulate --child")
    parser.add_argument("--child", type=Path, dest="plan", required=True)
    parser.add_argument("journal", type=Path)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--failure-rate", type=float, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    plan = Plan.from_json(args.plan.read_text(encoding="utf-8"))
    journal = Journal.open(args.journal, plan.digest)
    limits = Limits(args.max_concurrency, budget=Budget(100, percent=True))
    progress = Progress(len(plan.regions), args.max_concurrency, interval=3600)
    engine = FakeEngine(args.seed, args.failure_rate, args.delay)
    return Scheduler(plan, engine, journal, limits, progress).run().exit_code


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
