"""Time `regionstack fleet simulate` of the national rollout, seed by seed.

    .venv/bin/python benchmarks/fleet_simulate.py [--seeds N] [--failure-rate R] [--kills K] [--json]

Plans the national fleet of benchmarks/validate_fleet.py (3,213 regions) once, then per
seed: the real scheduler and journal against the fake engine (instant applies, failures
injected at `--failure-rate` by the seed), the orchestrator run as a child process and
SIGKILLed `--kills` times at random journal lengths, restarted each time, and the verdict
read from the journal (every region applied exactly once, failed, or blocked below a
failure; none lost). Prints each seed's seconds; target < 60 s per seed. The journal is
fsynced per record, so its filesystem matters: TMPDIR=/dev/shm measures without the disk.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's infra, not the installed one

from validate_fleet import _filesystem  # noqa: E402  (beside this file)

from infra.fleet.simulate import sample_plan, simulate  # noqa: E402

TARGET_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", "--repeat", type=int, default=3, help="seeds 1..N")
    parser.add_argument("--failure-rate", type=float, default=0.01)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    plan = sample_plan("national")
    results = []
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory(prefix="regionstack-simulate-") as tmp:
            filesystem = _filesystem(Path(tmp))
            result = simulate(plan, Path(tmp), seed, args.failure_rate, args.kills)
        results.append(result.summary())
        if not args.json:
            events = result.events
            print(
                f"seed {seed}: {result.seconds:6.2f} s  {events.get('applied', 0)} applied, "
                f"{events.get('failed', 0)} failed, {events.get('blocked', 0)} blocked, "
                f"{result.killed} kills at journal lines {result.kills_at}, "
                f"{events.get('rerun', 0)} re-run; "
                + ("ok" if result.ok else f"{len(result.violations)} violations")
            )
    slowest = max(r["seconds"] for r in results)
    ok = all(r["ok"] for r in results) and slowest < TARGET_SECONDS
    if args.json:
        print(json.dumps({"journal_on": filesystem, "seeds": results}, indent=1))
    else:
        print(
            f"{len(plan.regions)} regions, journal on {filesystem}; slowest seed {slowest:.2f} s: "
            + ("within" if slowest < TARGET_SECONDS else "OVER")
            + f" the {TARGET_SECONDS:g} s target"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
