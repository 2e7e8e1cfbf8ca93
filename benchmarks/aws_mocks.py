"""Evaluate the aws program of a province under Pulumi mocks, as the unit tests do.

    .venv/bin/python benchmarks/aws_mocks.py [--stack ningxia] [--repeat N] [--json] [--profile [N]]

The region is the real `stacks/` one (ningxia: a province in aws-cn, portal x 3, every
component an auto scaling group); the mocks are the unit tests' (infra/aws/mocks.py).
The first evaluation is reported apart ("cold"): it includes loading pulumi_aws's service
modules, which the Python process does once. Then `--repeat` warm evaluations. For each,
wall time and process CPU time (user + sys) - on a shared machine the CPU figure is the
one to compare. Design target: a province's evaluation < 3 s (docs/design §8); a slow run
is reported, never failed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.aws.mocks import Evaluation, evaluate  # noqa: E402
from infra.config.loader import load_fleet  # noqa: E402

TARGET_SECONDS = 3.0


def timed(stack: str) -> tuple[float, float, Evaluation]:
    fleet = load_fleet(ROOT / "stacks")
    wall, cpu = time.perf_counter(), time.process_time()
    evaluation = evaluate(fleet, stack)
    return time.perf_counter() - wall, time.process_time() - cpu, evaluation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="ningxia", help="an aws stack of stacks/")
    parser.add_argument("--repeat", type=int, default=5, help="warm evaluations (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profile", nargs="?", const=30, type=int, help="cProfile one warm run, top N"
    )
    args = parser.parse_args()

    cold_wall, cold_cpu, evaluation = timed(args.stack)
    warm = [timed(args.stack) for _ in range(args.repeat)]
    walls, cpus = [w for w, _, _ in warm], [c for _, c, _ in warm]
    figures: dict[str, Any] = {
        "stack": args.stack,
        "tier": evaluation.tier,
        "partition": evaluation.partition,
        "resources": len(evaluation.resources),
        "cold_wall_s": round(cold_wall, 3),
        "cold_cpu_s": round(cold_cpu, 3),
        "warm_wall_s": {
            "min": round(min(walls), 3),
            "median": round(statistics.median(walls), 3),
            "max": round(max(walls), 3),
        },
        "warm_cpu_median_s": round(statistics.median(cpus), 3),
        "target_s": TARGET_SECONDS,
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{args.stack} ({evaluation.tier}, {evaluation.partition}): "
            f"{figures['resources']} resources under mocks"
        )
        print(f"  cold  wall {cold_wall:6.3f} s   cpu {cold_cpu:6.3f} s   (imports included)")
        warm_wall = figures["warm_wall_s"]
        print(
            f"  warm  wall {warm_wall['median']:6.3f} s   cpu {figures['warm_cpu_median_s']:6.3f} s"
            f"   (median of {args.repeat}; wall min {warm_wall['min']:.3f}, max {warm_wall['max']:.3f})"
        )
        verdict = "within" if cold_wall < TARGET_SECONDS else "OVER"
        print(f"  design target < {TARGET_SECONDS:.0f} s: cold run {verdict}")
    if args.profile:
        profiler = cProfile.Profile()
        fleet = load_fleet(ROOT / "stacks")
        profiler.enable()
        evaluate(fleet, args.stack)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
