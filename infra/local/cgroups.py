"""The cgroups of local machines: one `regionstack-<machine>` group per hierarchy.

systemd-nspawn with `--keep-unit --register=no` runs the container in the cgroup it was
started in. The controller's PID 1 is not systemd, so nobody else makes a group per
machine: without ours every nspawn would share the launcher's cgroup, and the guests'
systemd would see (and on poweroff, kill) each other's processes. The supervisor therefore
moves itself into the machine's group in every hierarchy nspawn looks at - on a v1 hybrid
host the `name=systemd` hierarchy and the `cgroup2` (unified) one - before it starts
nspawn; nspawn then creates `payload/`, `supervisor/` and the guest's own groups below.

The same groups give delete a complete list of the machine's processes, including any
that outlived nspawn, and are removed depth-first once empty (a cgroup directory can only
be removed when it has no child groups and no processes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

PREFIX = "regionstack-"
MOUNTS = Path("/proc/self/mounts")
REMOVE_TIMEOUT_S = 10.0
KILL_TIMEOUT_S = 10.0
POLL_S = 0.05


def group_name(machine: str) -> str:
    return f"{PREFIX}{machine}"


def hierarchies_from_mounts(text: str) -> tuple[Path, ...]:
    """The hierarchies a machine needs a group in, from the text of /proc/self/mounts.

    nspawn and the guest's systemd use the `name=systemd` v1 hierarchy (hybrid hosts) and
    the cgroup2 one; the v1 controller hierarchies (memory, cpu, ...) they leave alone.
    The named hierarchy comes first so callers join in the same order every time.
    """
    named: list[Path] = []
    unified: list[Path] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mountpoint = Path(fields[1].replace("\\040", " "))
        fstype, options = fields[2], fields[3].split(",")
        if fstype == "cgroup" and "name=systemd" in options:
            named.append(mountpoint)
        elif fstype == "cgroup2":
            unified.append(mountpoint)
    return (*named[:1], *unified[:1])


def hierarchies() -> tuple[Path, ...]:
    return hierarchies_from_mounts(MOUNTS.read_text())


def group_paths(machine: str, roots: Sequence[Path]) -> tuple[Path, ...]:
    return tuple(root / group_name(machine) for root in roots)


def join(machine: str, pid: int, roots: Sequence[Path] | None = None) -> tuple[Path, ...]:
    """Create the machine's groups where missing and move `pid` into each of them."""
    paths = group_paths(machine, hierarchies() if roots is None else roots)
    if not paths:
        raise RuntimeError("no name=systemd or cgroup2 hierarchy is mounted")
    for path in paths:
        path.mkdir(exist_ok=True)
        (path / "cgroup.procs").write_text(f"{pid}\n")
    return paths


def _groups_depth_first(path: Path) -> list[Path]:
    """`path` and every group below it, children before parents."""
    found: list[Path] = []
    for dirpath, _dirnames, _files in os.walk(path, topdown=False):
        found.append(Path(dirpath))
    return found


def pids(machine: str, roots: Sequence[Path] | None = None) -> set[int]:
    """Every process in the machine's groups and their descendants, in any hierarchy."""
    found: set[int] = set()
    for path in group_paths(machine, hierarchies() if roots is None else roots):
        for group in _groups_depth_first(path):
            try:
                text = (group / "cgroup.procs").read_text()
            except OSError:  # removed while we walked
                continue
            found.update(int(pid) for pid in text.split())
    return found


def live_pids(machine: str, roots: Sequence[Path] | None = None) -> set[int]:
    """`pids` without zombies: a dead process lingers until its parent (or PID 1) reaps it."""
    return {pid for pid in pids(machine, roots) if _running(pid)}


def kill_all(
    machine: str,
    roots: Sequence[Path] | None = None,
    exclude: Iterable[int] = (),
    timeout: float = KILL_TIMEOUT_S,
) -> set[int]:
    """SIGKILL every process in the machine's groups (except `exclude`) until none is left.

    Repeats because a dying process may still fork. Returns the pids that survived the
    timeout (empty when the groups are clean). Zombies count as gone: they are dead, and
    only their parent (or PID 1) can reap them.
    """
    spared = set(exclude)
    deadline = time.monotonic() + timeout
    while True:
        remaining = live_pids(machine, roots) - spared
        if not remaining or time.monotonic() > deadline:
            return remaining
        for pid in remaining:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(POLL_S)


def _running(pid: int) -> bool:
    """False for a pid that is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def remove(
    machine: str, roots: Sequence[Path] | None = None, timeout: float = REMOVE_TIMEOUT_S
) -> list[Path]:
    """Remove the machine's groups depth-first; return the ones still there at the timeout.

    A group stays busy for a moment after its last process exits, so each pass retries
    what the previous one could not remove.
    """
    paths = group_paths(machine, hierarchies() if roots is None else roots)
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for path in paths:
            for group in _groups_depth_first(path):
                try:
                    group.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(group)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(POLL_S)


def existing_groups(roots: Sequence[Path] | None = None) -> list[Path]:
    """Every `regionstack-*` group on the controller, for leak checks."""
    return sorted(
        path
        for root in (hierarchies() if roots is None else roots)
        for path in root.glob(f"{PREFIX}*")
        if path.is_dir()
    )
