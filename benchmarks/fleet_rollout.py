"""Time a real fleet rollout on the local target: one by one, in parallel, and a change.

    source scripts/env.sh && python benchmarks/fleet_rollout.py [--skip-serial] [--json]

The fleet is the sample hierarchy plus a second city, 宁波市 (`ningbo`, 330200), in a
throwaway copy of the project (its own git repository, file backend and state root): the
province 浙江省, the cities 杭州市 and 宁波市, the counties 淳安县 and 桐庐县 — five
local regions, all booted from the baked image layers (桐庐县's `local.image: bare` is
dropped here: the figure is the baked rollout's). The layers must be cached or are built
first (`regionstack image build`, timed apart). Then:

1. one by one: `regionstack fleet up --no-canaries --max-concurrency 1`, from nothing;
   every region's portal probed; destroy, bottom up;
2. in parallel: the same plan with `--max-concurrency 4`: province, then the two cities
   at once, then the two counties at once; the portals probed; `fleet drift` of the
   county twice (and with `--drift-fleet` of all five, two at a time), each with the load
   average just before it: no drift may be found;
3. a standard change: `log_retention_days` (a locked key of stacks/standard.yaml) 180 →
   365, rendered and committed; `fleet plan --changed-since HEAD~1` must hold all five;
   the layers re-bake (the standard is in every layer's digest: timed apart), then
   `fleet up --changed-since HEAD~1`; `regionstack verify` of a county proves the hosts
   keep logs the new 365 days; destroy.

Per-region seconds come from each rollout's journal. Nothing else may be deployed while
this runs: the sandbox's regions use the sample's bridge names.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.sandbox import make_sandbox  # noqa: E402

STACKS = ("zhejiang", "hangzhou", "ningbo", "chunan", "tonglu")
COUNTY = "chunan"
NINGBO = """
  - code: "330200"
    name: 宁波市
    stack: ningbo
    parent: "330000"
    target: local
    local:
      cidr: 10.203.4.0/24
    contacts:
      operations: {name: 市大数据局运维值班, phone: 0574-12345201, email: ops@nb.example.gov.cn}
      security: {name: 市大数据局安全管理员, phone: 0574-12345202, email: security@nb.example.gov.cn}
"""
RETENTION_BEFORE, RETENTION_AFTER = 180, 365


class Sandbox:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env

    def run(self, *command: str, timeout: float = 7200) -> tuple[float, str]:
        start = time.perf_counter()
        result = subprocess.run(
            list(command),
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(
                f"{' '.join(command)} exited {result.returncode}:\n"
                f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
            )
        return elapsed, result.stdout

    def regionstack(self, *args: str) -> tuple[float, str]:
        return self.run("regionstack", "--config", str(self.workdir / "stacks"), *args)

    def git(self, *args: str) -> None:
        self.run("git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args)

    def destroy(self, check: bool = True) -> float:
        seconds = 0.0
        for stack in reversed(STACKS):
            command = ["pulumi", "--non-interactive", "destroy", "--stack", stack, "--yes"]
            if check:
                seconds += self.run(*command)[0]
            else:
                subprocess.run(command, cwd=self.workdir, env=self.env, capture_output=True)
        return seconds


def prepare(sandbox: Sandbox) -> None:
    """The second city in, 桐庐县 on the layers, rendered and committed."""
    regions = sandbox.workdir / "stacks" / "regions" / "33-zhejiang.yaml"
    text = regions.read_text(encoding="utf-8")
    bare = "      image: bare\n"
    if bare not in text:
        raise SystemExit(f"{regions}: 桐庐县's `image: bare` not found; update this benchmark")
    regions.write_text(text.replace(bare, "") + NINGBO, encoding="utf-8")
    sandbox.regionstack("render")
    sandbox.regionstack("validate")
    sandbox.git("init", "-q", "-b", "main")
    sandbox.git("add", "-A")
    sandbox.git("commit", "-qm", "the sample hierarchy and 宁波市")


def change_standard(sandbox: Sandbox) -> None:
    standard = sandbox.workdir / "stacks" / "standard.yaml"
    text = standard.read_text(encoding="utf-8")
    before = f"log_retention_days: {RETENTION_BEFORE}\n"
    if before not in text:
        raise SystemExit(f"{standard}: {before.strip()!r} not found; update this benchmark")
    standard.write_text(text.replace(before, f"log_retention_days: {RETENTION_AFTER}\n"))
    sandbox.regionstack("render")
    sandbox.git("commit", "-qam", f"standard: logs kept {RETENTION_AFTER} days")


def rollout(sandbox: Sandbox, journal: Path, *extra: str) -> dict[str, Any]:
    """`fleet up` of the five regions; its summary and each region's seconds."""
    seconds, out = sandbox.regionstack(
        "fleet", "up", "--no-canaries", "--json", "--journal", str(journal), *extra, *STACKS
    )
    summary = json.loads(out)
    if summary["applied"] != len(STACKS):
        raise SystemExit(f"fleet up did not apply every region: {summary}")
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    per_region = {r["stack"]: r["seconds"] for r in records if r["event"] == "applied"}
    return {"seconds": seconds, "regions": per_region, "sum_of_regions": sum(per_region.values())}


def probe_all(sandbox: Sandbox) -> None:
    for stack in STACKS:
        sandbox.regionstack("inventory", stack)
        sandbox.regionstack("probe", stack)


def drift_scan(sandbox: Sandbox, figures: dict[str, Any], name: str, *stacks: str) -> None:
    """Time `fleet drift` of `stacks` into figures[name_s], with the controller's 1-minute
    load average just before it (name_load): the scan is CPU-bound, so its figure means
    little without what else kept the two cores busy (hosts still settling after a
    rollout, another job)."""
    figures[f"{name}_load"] = round(os.getloadavg()[0], 2)
    figures[f"{name}_s"] = sandbox.regionstack("fleet", "drift", *stacks)[0]


def keep_logs(tmp: Path) -> None:
    """Copy the failed run's journals, `fleet up` logs and playbook logs out of the sandbox
    (which is removed) so the failure can be read; say where."""
    kept = Path("/var/tmp") / f"regionstack-fleet-bench-{time.strftime('%Y%m%dT%H%M%S')}"
    kept.mkdir(parents=True)
    for name in ("logs", "state/logs"):
        if (tmp / name).is_dir():
            shutil.copytree(tmp / name, kept / name)
    for journal in tmp.glob("*.jsonl"):
        shutil.copy2(journal, kept / journal.name)
    print(f"the failed run's journals and logs are kept in {kept}", file=sys.stderr)


def run(skip_serial: bool, drift_fleet: bool, skip_change: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="regionstack-fleet-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # Not under a 0700 temp dir: the gateway daemons drop privileges.
        state_root = Path("/var/lib/regionstack-bench") / uuid.uuid4().hex[:8]
        state_root.mkdir(parents=True)
        workdir, env = make_sandbox(tmp, "benchmark", REGIONSTACK_LOCAL_STATE=str(state_root))
        sandbox = Sandbox(workdir, env)
        try:
            prepare(sandbox)
            figures["layers_s"] = sandbox.regionstack("image", "build")[0]
            if not skip_serial:
                figures["one_by_one"] = rollout(
                    sandbox, tmp / "serial.jsonl", "--max-concurrency", "1"
                )
                probe_all(sandbox)
                figures["destroy_s"] = sandbox.destroy()
            figures["parallel"] = rollout(sandbox, tmp / "parallel.jsonl", "--max-concurrency", "4")
            probe_all(sandbox)
            # Right after a rollout nothing may have drifted: a scan that finds drift fails.
            # Twice: the first scan's verify sends denied flows, which a firewall compared
            # with its counters would report as drift on the second.
            drift_scan(sandbox, figures, "drift_county", COUNTY)
            drift_scan(sandbox, figures, "drift_county_again", COUNTY)
            if drift_fleet:
                drift_scan(sandbox, figures, "drift_fleet", *STACKS)
            if not skip_serial:
                figures["speed_up"] = (
                    figures["one_by_one"]["seconds"] / figures["parallel"]["seconds"]
                )
            if skip_change:
                figures["destroy_after_s"] = sandbox.destroy()
                return figures
            change_standard(sandbox)
            _, planned = sandbox.regionstack(
                "fleet", "plan", "--changed-since", "HEAD~1", "--format", "json", *STACKS
            )
            chosen = sorted(r["stack"] for w in json.loads(planned)["waves"] for r in w["regions"])
            if chosen != sorted(STACKS):
                raise SystemExit(f"the standard change selected {chosen}, not every region")
            figures["change_layers_s"] = sandbox.regionstack("image", "build")[0]
            figures["change"] = rollout(
                sandbox, tmp / "change.jsonl", "--changed-since", "HEAD~1", "--max-concurrency", "4"
            )
            figures["verify_county_s"] = sandbox.regionstack("verify", COUNTY)[0]
            figures["destroy_after_s"] = sandbox.destroy()
        except BaseException:
            keep_logs(tmp)
            raise
        finally:
            # What was measured before a failure is kept: the rounds take most of an hour.
            print(f"figures so far: {json.dumps(figures, sort_keys=True)}", file=sys.stderr)
            sandbox.destroy(check=False)
            shutil.rmtree(state_root, ignore_errors=True)
    return figures


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--skip-serial", action="store_true", help="no one-by-one rollout (no speed-up figure)"
    )
    parser.add_argument(
        "--skip-change", action="store_true", help="no standard change after the rollouts"
    )
    parser.add_argument(
        "--drift-fleet", action="store_true", help="also scan all five regions for drift"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("pulumi") is None:
        parser.error(
            "pulumi is not on PATH: run `bash scripts/setup.sh` and `source scripts/env.sh`"
        )
    figures = run(args.skip_serial, args.drift_fleet, args.skip_change)
    if args.json:
        print(json.dumps(figures, indent=1, sort_keys=True))
        return 0
    print(f"layers (cached or built)             {_minutes(figures['layers_s'])}")
    for name in ("one_by_one", "parallel", "change"):
        if name in figures:
            rollout_figures = figures[name]
            regions = ", ".join(f"{s} {v:.0f} s" for s, v in rollout_figures["regions"].items())
            print(f"{name:<37}{_minutes(rollout_figures['seconds'])} ({regions})")
    if "speed_up" in figures:
        print(f"parallel speed-up over one by one    {figures['speed_up']:.2f}x")
    print(
        f"fleet drift of {COUNTY}, twice          {figures['drift_county_s']:.0f} s, "
        f"{figures['drift_county_again_s']:.0f} s (load average before: "
        f"{figures['drift_county_load']}, {figures['drift_county_again_load']})"
    )
    if "drift_fleet_s" in figures:
        print(f"fleet drift of all five              {_minutes(figures['drift_fleet_s'])}")
    if "change" in figures:
        print(f"layers re-baked for the change       {_minutes(figures['change_layers_s'])}")
        print(f"verify of {COUNTY} after the change     {figures['verify_county_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
