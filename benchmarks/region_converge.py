"""Time a local region from nothing to fully configured, and the runs that change nothing.

    source scripts/env.sh && python benchmarks/region_converge.py [--repeat N] [--json]

Runs on a throwaway copy of the project with its own file backend and state root (like the
e2e tests), with the base image cached (`regionstack image build`) and the gateway's apt
cache warm after the first round: the warm-cache figures of design.md §8. Each round:

1. the province and the city come up (timed: each `pulumi up` boots and configures them);
2. the county comes up from nothing — machines, PKI, credentials, the site playbook —
   the "county from nothing to configured" figure; `regionstack probe` then checks its
   portal from outside, so a figure is only kept for a region that works;
3. `pulumi up --expect-no-changes` of the county: the no-change re-run;
4. `ansible-playbook` of the county again, outside Pulumi: its time and the changed count
   (0 on every host is the idempotence the roles promise);
5. the memory of every configured host (RSS and PSS), then destroy, bottom up (timed).

Nothing may be deployed from the operator's own stacks while this runs: the sandbox's
regions use the same bridge names.
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

from infra.inventory import write_inventory  # noqa: E402
from infra.local.status import machine_memory_kib  # noqa: E402
from infra.playbook import PlaybookProgress, ansible_environment  # noqa: E402
from infra.probe import probe_portals  # noqa: E402
from infra.sandbox import make_sandbox  # noqa: E402

STACKS = ("zhejiang", "hangzhou", "chunan")
COUNTY = "chunan"


def _run(command: list[str], workdir: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr}")
    return elapsed, result.stdout


def _pulumi(workdir: Path, env: dict[str, str], *args: str) -> float:
    return _run(["pulumi", "--non-interactive", *args], workdir, env)[0]


def _outputs(workdir: Path, env: dict[str, str], stack: str) -> dict[str, Any]:
    _, out = _run(
        ["pulumi", "stack", "output", "--stack", stack, "--json", "--show-secrets"], workdir, env
    )
    return dict(json.loads(out))


def _changed_total(output: str) -> int:
    progress = PlaybookProgress()
    for line in output.splitlines():
        progress.read(line)
    return sum(progress.changed.values())


def host_memory(state_root: Path) -> dict[str, dict[str, float]]:
    memory = {}
    for machine_dir in sorted(state_root.glob("*/machines/*")):
        rss, pss = machine_memory_kib(machine_dir.name)
        memory[machine_dir.name] = {"rss_mib": rss / 1024, "pss_mib": pss / 1024}
    return memory


def one_round(workdir: Path, env: dict[str, str], state_root: Path, tmp: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for stack in STACKS:
        figures[f"{stack}_up_s"] = _pulumi(workdir, env, "up", "--stack", stack, "--yes")
    figures["county_no_change_up_s"] = _pulumi(
        workdir, env, "up", "--stack", COUNTY, "--yes", "--expect-no-changes"
    )
    files = write_inventory(COUNTY, _outputs(workdir, env, COUNTY), tmp / "inventory")
    failed = [c for c in probe_portals(COUNTY, files.inventory.parent) if not c.ok]
    if failed:
        raise SystemExit(f"the county's portal does not work: {failed}")
    elapsed, recap = _run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(files.inventory),
            str(workdir / "playbooks" / "site.yml"),
        ],
        workdir,
        ansible_environment(workdir),
    )
    figures["county_ansible_rerun_s"] = elapsed
    figures["county_ansible_rerun_changed"] = _changed_total(recap)
    time.sleep(10)  # let the services settle before reading their memory
    figures["memory"] = host_memory(state_root)
    figures["destroy_s"] = sum(
        _pulumi(workdir, env, "destroy", "--stack", stack, "--yes") for stack in reversed(STACKS)
    )
    return figures


def run(repeat: int) -> dict[str, Any]:
    rounds = []
    with tempfile.TemporaryDirectory(prefix="regionstack-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # Not under a 0700 temp dir: the gateway daemons drop privileges.
        state_root = Path("/var/lib/regionstack-bench") / uuid.uuid4().hex[:8]
        state_root.mkdir(parents=True)
        workdir, env = make_sandbox(tmp, "benchmark", REGIONSTACK_LOCAL_STATE=str(state_root))
        for stack in STACKS:
            _pulumi(workdir, env, "stack", "init", stack)
        try:
            for _ in range(repeat):
                rounds.append(one_round(workdir, env, state_root, tmp))
        finally:
            for stack in reversed(STACKS):
                subprocess.run(
                    ["pulumi", "--non-interactive", "destroy", "--stack", stack, "--yes"],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    check=False,
                )
            shutil.rmtree(state_root, ignore_errors=True)
    keys = [k for k in rounds[0] if k != "memory"]
    summary = {k: statistics.median(r[k] for r in rounds) for k in keys}
    return {"repeat": repeat, "median": summary, "rounds": rounds}


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
    for key, value in result["median"].items():
        print(f"{key:<32}{value:>10.1f}")
    memory = result["rounds"][-1]["memory"]
    if memory:
        rss = statistics.median(m["rss_mib"] for m in memory.values())
        pss = statistics.median(m["pss_mib"] for m in memory.values())
        print(
            f"memory per configured host ({len(memory)}): median RSS {rss:.1f} MiB, PSS {pss:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
