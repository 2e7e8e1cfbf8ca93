"""Time `regionstack fleet plan` of the whole national fleet.

    .venv/bin/python benchmarks/fleet_plan.py [--repeat N] [--json]

Generates the national fleet of benchmarks/validate_fleet.py (3,213 regions, its
generator reused), renders its stack files (so each region has its digest), commits it
to a throwaway git repository and changes one region's contacts (zhejiang-330100). Then, per run: load
(validate) the configuration, plan every region, plan `--changed-since HEAD` (one region
changed: one `git cat-file --batch` for 3,213 stack files), and check the plan is
byte-identical from run to run. The target (< 2 s) is for load + plan, what
`regionstack fleet plan` does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's infra, not the installed one

from validate_fleet import generate  # noqa: E402  (beside this file: the fleet's one generator)

from infra.config.loader import load_fleet  # noqa: E402
from infra.config.render import render  # noqa: E402
from infra.fleet.selection import plan_fleet  # noqa: E402

TARGET_SECONDS = 2.0


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _fleet_repository(root: Path) -> Path:
    config = root / "stacks"
    generate(config)
    render(load_fleet(config))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=bench", "-c", "user.email=b@e", "commit", "-qm", "fleet")
    zhejiang = config / "regions" / "33-zhejiang.yaml"
    text = zhejiang.read_text(encoding="utf-8")
    county = text.index("email: ops@zhejiang-33")
    zhejiang.write_text(text[:county] + "email: oncall@" + text[county + 11 :], encoding="utf-8")
    render(load_fleet(config))
    return config


def run(repeat: int) -> dict[str, Any]:
    rows: dict[str, list[float]] = {"load": [], "plan": [], "load+plan": [], "changed-since": []}
    texts: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="regionstack-fleet-plan-") as tmp:
        config = _fleet_repository(Path(tmp))
        for _ in range(repeat):
            load_s, fleet = _timed(lambda: load_fleet(config))
            plan_s, plan = _timed(partial(plan_fleet, fleet, []))
            since_s, changed = _timed(partial(plan_fleet, fleet, [], "HEAD"))
            texts.add(plan.to_json())
            rows["load"].append(load_s)
            rows["plan"].append(plan_s)
            rows["load+plan"].append(load_s + plan_s)
            rows["changed-since"].append(since_s)
    medians = {step: statistics.median(values) for step, values in rows.items()}
    return {
        "regions": len(plan.regions),
        "waves": [len(w.regions) for w in plan.waves],
        "changed_since_regions": [r.stack for r in changed.regions],
        "byte_identical": len(texts) == 1,
        "repeat": repeat,
        "median_seconds": medians,
        "max_seconds": {step: max(values) for step, values in rows.items()},
        "target_seconds": TARGET_SECONDS,
        "within_target": medians["load+plan"] < TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.repeat)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{result['regions']} regions in waves of {result['waves']}")
        for step, seconds in result["median_seconds"].items():
            print(f"{step:<14}{seconds:>7.3f} s median, {result['max_seconds'][step]:.3f} s max")
        print(
            f"--changed-since HEAD after one region's contacts changed: {result['changed_since_regions']}"
        )
        print(f"byte-identical plan over {result['repeat']} runs: {result['byte_identical']}")
        verdict = "within" if result["within_target"] else "OVER"
        print(f"load+plan {verdict} the {TARGET_SECONDS:g} s target")
    return 0 if result["within_target"] and result["byte_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
