"""`regionstack local status`: what the local target is running on this controller.

It reads only what the providers left in the state root (machine.json, pid files,
ownership markers) and /proc, so it works without Pulumi and shows leftovers of killed
runs too.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.local import cgroups, supervisor
from infra.local.firewall_rules import marker
from infra.local.machine.power import is_running

MARKER_PREFIX = marker("")

MACHINES = "machines"


@dataclass(frozen=True)
class MachineStatus:
    stack: str
    name: str
    address: str
    state: str  # running | stopped
    memory_mib: float


@dataclass(frozen=True)
class RegionStatus:
    stack: str
    bridge: str | None
    bridge_up: bool
    machines: tuple[MachineStatus, ...]


def machine_memory_kib(name: str) -> tuple[int, int]:
    """RSS and PSS of every process in the machine's cgroups, in KiB.

    RSS counts pages the machines share (the image's libraries) once per machine; PSS
    divides them between the machines that share them, so PSS adds up across a region.
    """
    rss = pss = 0
    for pid in cgroups.pids(name):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # the process exited meanwhile
        for line in rollup.splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss += int(value.split()[0])
            elif key == "Pss":
                pss += int(value.split()[0])
    return rss, pss


def machine_status(stack: str, directory: Path) -> MachineStatus | None:
    try:
        config = json.loads((directory / supervisor.CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return None
    name = str(config.get("name", directory.name))
    running = is_running(directory, name)
    memory_kib = machine_memory_kib(name)[0] if running else 0
    return MachineStatus(
        stack,
        name,
        str(config.get("address", "?")),
        "running" if running else "stopped",
        memory_kib / 1024,
    )


def bridges_by_owner() -> dict[str, str]:
    """Bridge name by owning stack, from the ownership alias the network provider sets."""
    result = subprocess.run(
        ["ip", "-j", "link", "show", "type", "bridge"], capture_output=True, text=True, check=False
    )
    links = json.loads(result.stdout or "[]") if result.returncode == 0 else []
    return {
        str(link["ifalias"]).removeprefix(MARKER_PREFIX): str(link["ifname"])
        for link in links
        if str(link.get("ifalias", "")).startswith(MARKER_PREFIX)
    }


def region_status(state_root: Path) -> list[RegionStatus]:
    regions = []
    bridges = bridges_by_owner()
    for stack_dir in sorted(p for p in state_root.glob("*") if p.is_dir()):
        machines = tuple(
            status
            for machine_dir in sorted((stack_dir / MACHINES).glob("*"))
            if (status := machine_status(stack_dir.name, machine_dir)) is not None
        )
        bridge = bridges.get(stack_dir.name)
        regions.append(RegionStatus(stack_dir.name, bridge, bridge is not None, machines))
    return regions


def format_status(regions: list[RegionStatus]) -> str:
    if not regions:
        return "no local regions on this controller"
    lines = [f"{'REGION':<12} {'MACHINE':<34} {'STATE':<8} {'ADDRESS':<15} {'RSS':>9}"]
    for region in regions:
        bridge = (
            f"{region.bridge} ({'up' if region.bridge_up else 'missing'})"
            if region.bridge
            else "no network"
        )
        lines.append(f"{region.stack:<12} {'bridge ' + bridge:<34}")
        for m in region.machines:
            lines.append(
                f"{'':<12} {m.name:<34} {m.state:<8} {m.address:<15} {m.memory_mib:>6.1f} MiB"
            )
        total = sum(m.memory_mib for m in region.machines)
        running = sum(m.state == "running" for m in region.machines)
        lines.append(
            f"{'':<12} {f'{running}/{len(region.machines)} running':<34} {'':<8} {'':<15} {total:>6.1f} MiB"
        )
    return "\n".join(lines)
