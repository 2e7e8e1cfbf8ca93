"""Time `pulumi up` and `pulumi destroy` of local regions, and the memory of their hosts.

    source scripts/env.sh && python benchmarks/local_up.py [--repeat N] [--json]

Runs on a throwaway copy of the project with its own file backend and state root (like the
e2e tests), with the base image already cached (`regionstack image build`): the figures
are the warm-cache times an operator sees. Measured: the county alone, the city alone, and
the three sample levels (province, city, county) one after the other; for each, up and
destroy wall time; and, while the three levels are up, the memory of every host as RSS and
as PSS (shared pages divided between the machines that share them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.local.status import machine_memory_kib  # noqa: E402
from infra.sandbox import make_sandbox  # noqa: E402

SCENARIOS = {
    "county": ("chunan",),
    "city": ("hangzhou",),
    "three levels": ("zhejiang", "hangzhou", "chunan"),
}


def _pulumi(workdir: Path, env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        ["pulumi", "--non-interactive", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def host_memory(state_root: Path) -> dict[str, dict[str, float]]:
    memory = {}
    for machine_dir in sorted(state_root.glob("*/machines/*")):
        rss, pss = machine_memory_kib(machine_dir.name)
        memory[machine_dir.name] = {"rss_mib": rss / 1024, "pss_mib": pss / 1024}
    return memory


def run(repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"scenarios": {}, "repeat": repeat}
    with tempfile.TemporaryDirectory(prefix="regionstack-bench-") as tmp_name:
        tmp = Path(tmp_name)
        state_root = Path("/var/lib/regionstack-bench") / uuid.uuid4().hex[:8]
        state_root.mkdir(parents=True)
        workdir, env = make_sandbox(tmp, "benchmark", REGIONSTACK_LOCAL_STATE=str(state_root))
        for stack in ("zhejiang", "hangzhou", "chunan"):
            _pulumi(workdir, env, "stack", "init", stack)
        try:
            for scenario, stacks in SCENARIOS.items():
                ups, downs = [], []
                for _ in range(repeat):
                    ups.append(
                        sum(
                            _pulumi(workdir, env, "up", "--stack", s, "--yes", "--skip-preview")
                            for s in stacks
                        )
                    )
                    if scenario == "three levels":
                        time.sleep(20)  # let the guests settle before reading their memory
                        results["memory"] = host_memory(state_root)
                    downs.append(
                        sum(
                            _pulumi(workdir, env, "destroy", "--stack", s, "--yes")
                            for s in reversed(stacks)
                        )
                    )
                results["scenarios"][scenario] = {
                    "stacks": list(stacks),
                    "up_s": statistics.median(ups),
                    "destroy_s": statistics.median(downs),
                }
        finally:
            for stack in ("chunan", "hangzhou", "zhejiang"):
                subprocess.run(
                    ["pulumi", "--non-interactive", "destroy", "--stack", stack, "--yes"],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    check=False,
                )
            shutil.rmtree(state_root, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("pulumi") is None:
        parser.error(
            "pulumi is not on PATH: run `bash scripts/setup.sh` and `source scripts/env.sh`"
        )
    result = run(max(1, args.repeat))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{'scenario':<14}{'up s':>8}{'destroy s':>11}")
    for scenario, figures in result["scenarios"].items():
        print(f"{scenario:<14}{figures['up_s']:>8.1f}{figures['destroy_s']:>11.1f}")
    memory = result.get("memory", {})
    if memory:
        rss = statistics.median(m["rss_mib"] for m in memory.values())
        pss = statistics.median(m["pss_mib"] for m in memory.values())
        print(
            f"memory per idle host ({len(memory)} hosts): median RSS {rss:.1f} MiB, PSS {pss:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
