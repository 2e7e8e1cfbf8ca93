"""The sample hierarchy deployed for real, for the e2e suites that need one.

Province 浙江省 (zhejiang), city 杭州市 (hangzhou), counties 淳安县 (chunan) and 桐庐县
(tonglu) go up top down (each region's CA is issued by its parent's stack) in a sandbox copy
of the project with its own file backend and state root, and come down bottom up. They go
up through `regionstack fleet up --no-canaries` — the fleet orchestrator's real engine on
real stacks, the two counties at once — and each region's log is kept for a failure. The
sandbox shares the controller's caches (base image, image layers, packages). The lifecycle suite deploys
them without configuration (the target itself); the configured suite runs the roles.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra.config.loader import load_fleet
from infra.inventory import InventoryFiles, write_inventory
from infra.local import cgroups
from infra.local.machine.console import console_tail
from infra.local.machine.state import state_dir
from infra.local.plan import RegionPlan, plan_region
from infra.local.supervisor import CONSOLE_LOG
from tests.e2e.conftest import ROOT, PulumiProject, make_project

# Province, city and two counties, top down. Every region boots from the image layers but
# 桐庐县 (tonglu), which stays on the bare image (`local.image: bare`): the proof that every
# role still converges from nothing, and the county the baked one is compared with.
STACKS = ("zhejiang", "hangzhou", "chunan", "tonglu")
COUNTY = "chunan"
BARE_COUNTY = "tonglu"
BAKED_STACKS = tuple(s for s in STACKS if s != BARE_COUNTY)
FLEET = load_fleet(ROOT / "stacks")
PLANS = {stack: plan_region(FLEET, FLEET.region(stack)) for stack in STACKS}
# A configured province takes ~6 min warm; a cold apt cache can double it.
UP_TIMEOUT_S = 1800
# The fleet's waves: province, city, then both counties at once.
FLEET_UP_TIMEOUT_S = 3 * UP_TIMEOUT_S
# A configured host reboots in well under a minute; four at once on two cores take longer.
REBOOT_TIMEOUT_S = 300


@dataclass
class Region:
    stack: str
    plan: RegionPlan
    inventory: InventoryFiles


@dataclass
class Deployment:
    project: PulumiProject
    state_root: Path
    regions: dict[str, Region] = field(default_factory=dict)

    def region_of(self, address: str) -> Region:
        return next(
            r for r in self.regions.values() if any(h.address == address for h in r.plan.hosts)
        )

    def ssh(
        self, address: str, command: str, timeout: float = 30, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `command` on a host as the admin user, the way an operator would."""
        inventory = self.region_of(address).inventory
        return subprocess.run(
            [
                "ssh",
                "-i",
                str(inventory.private_key),
                "-o",
                f"UserKnownHostsFile={inventory.known_hosts}",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=5",
                f"rsadmin@{address}",
                command,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def console_tail(self, address: str) -> str:
        """The end of the host's console log (the guest's console and its supervisor's
        lines), as the Machine resource reports a failed boot: what a failure about a host
        that is down should show."""
        region = self.region_of(address)
        name = next(h.name for h in region.plan.hosts if h.address == address)
        directory = state_dir({"state_root": self.state_root, "stack": region.stack, "name": name})
        return f"--- last lines of {directory / CONSOLE_LOG} ---\n{console_tail(directory)}"

    def boot_id(self, address: str) -> str:
        """The host's boot id; empty while it cannot be reached."""
        result = self.ssh(address, "cat /proc/sys/kernel/random/boot_id", timeout=15)
        return result.stdout.strip() if result.returncode == 0 else ""

    def wait_until_rebooted(self, address: str, boot_id_before: str) -> None:
        """Wait until the host answers with a new boot id and its systemd is up; fail with
        its console's last lines."""
        try:
            eventually(
                lambda: self.boot_id(address) not in ("", boot_id_before),
                f"{address} back with a new boot id",
                timeout_s=REBOOT_TIMEOUT_S,
            )
        except AssertionError as error:
            pytest.fail(f"{error}\n{self.console_tail(address)}")
        state = self.ssh(address, "systemctl is-system-running --wait", timeout=180).stdout
        failed = self.ssh(address, "systemctl --failed --no-legend --plain").stdout
        assert state.strip() == "running", f"{address}: {state}\n{failed}"

    def regionstack(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        """The `regionstack` command on the sandbox's configuration and state."""
        return subprocess.run(
            ["regionstack", "--config", str(self.project.workdir / "stacks"), *args],
            cwd=self.project.workdir,
            env=self.project.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def write_inventories(self) -> None:
        """Each region's inventory where `regionstack` looks for it in the sandbox (the
        Playbook resource wrote the same there on a configured deployment)."""
        state = Path(self.project.env["REGIONSTACK_STATE_DIR"])
        for stack in STACKS:
            files = write_inventory(stack, self.project.outputs(stack), state / "inventory" / stack)
            self.regions[stack] = Region(stack, PLANS[stack], files)


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 180) -> None:
    """Wait for an asynchronous hop (a shovel, a restart, a reboot) to be done, by the
    clock: a count of tries would end early whenever each try fails at once (a refused
    connection). Fails naming what did not happen."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(2)


def all_hosts() -> list[tuple[str, str]]:
    return [(stack, h.address) for stack, plan in PLANS.items() for h in plan.hosts]


def up(project: PulumiProject, stack: str, *extra: str) -> str:
    """`pulumi up` of one stack; its output, or the test fails with it."""
    result = subprocess.run(
        ["pulumi", "--non-interactive", "up", "--stack", stack, "--yes", *extra],
        cwd=project.workdir,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=UP_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"pulumi up {stack} {' '.join(extra)} failed:\n{result.stdout[-20000:]}")
    return result.stdout


def fleet_up(deployment: Deployment, stacks: tuple[str, ...]) -> dict[str, object]:
    """`regionstack fleet up` of `stacks`; its JSON summary, or the test fails with the
    summary and the log of every region that did not apply."""
    result = deployment.regionstack(
        "fleet", "up", "--no-canaries", "--json", *stacks, timeout=FLEET_UP_TIMEOUT_S
    )
    try:
        summary: dict[str, object] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"fleet up printed no summary (exit {result.returncode}):\n{result.stderr}")
    if result.returncode != 0:
        logs = Path(str(summary["journal"])).parent / "logs"
        failed = dict(summary["failed"])  # type: ignore[call-overload]
        tails = [
            f"--- {stack}\n{(logs / f'{stack}.log').read_text(errors='replace')[-8000:]}"
            for stack in sorted(failed)
            if (logs / f"{stack}.log").is_file()
        ]
        pytest.fail(
            f"fleet up exited {result.returncode}: {json.dumps(summary, ensure_ascii=False)}\n"
            + "\n".join(tails)
        )
    return summary


def leftovers(state_root: Path) -> list[str]:
    """Everything of the deployment still on the controller: processes, mounts, cgroups,
    bridges, nftables tables, state files."""
    found = []
    ps = subprocess.run(
        ["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True
    ).stdout
    found += [f"process: {line}" for line in ps.splitlines() if str(state_root) in line]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount: {line}" for line in mounts.splitlines() if str(state_root) in line]
    found += [f"cgroup: {path}" for path in cgroups.existing_groups()]
    links = json.loads(
        subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    )
    bridges = {p.bridge for p in PLANS.values()}
    found += [f"bridge: {link['ifname']}" for link in links if link["ifname"] in bridges]
    tables = subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout
    found += [f"nft: {line}" for line in tables.splitlines() if "regionstack_" in line]
    found += [f"state: {path}" for path in state_root.rglob("*")] if state_root.exists() else []
    return found


def destroy(project: PulumiProject, *, check: bool) -> None:
    for stack in reversed(STACKS):
        project.run("destroy", "--stack", stack, "--yes", check=check)


def cancel_updates(project: PulumiProject) -> None:
    """Release the lock an interrupted `pulumi up` left, so destroy can run."""
    for stack in STACKS:
        project.run("cancel", "--stack", stack, "--yes", check=False)


@contextlib.contextmanager
def deployed_hierarchy(
    tmp_path_factory: pytest.TempPathFactory, *, configure: bool
) -> Iterator[Deployment]:
    """The three regions up (configured by the roles or not), destroyed afterwards."""
    # Not under pytest's 0700 tmp dirs: the gateway daemons drop privileges and must
    # traverse the state root.
    state_root = Path("/var/lib/regionstack-test") / uuid.uuid4().hex[:8]
    state_root.mkdir(parents=True)
    project = make_project(
        tmp_path_factory.mktemp("local"), REGIONSTACK_LOCAL_STATE=str(state_root)
    )
    for stack in STACKS:
        project.init(stack)
        if not configure:
            project.run("config", "set", "--stack", stack, "regionstack:configure", "false")
    deployment = Deployment(project, state_root)
    try:
        summary = fleet_up(deployment, STACKS)
        assert summary["applied"] == len(STACKS), summary
        deployment.write_inventories()
        yield deployment
    finally:
        cancel_updates(project)
        destroy(project, check=False)
        with contextlib.suppress(OSError):  # left in place, for diagnosis, if not empty
            state_root.rmdir()
