"""Removing a machine: processes, mounts, cgroups and its state dir."""

from __future__ import annotations

import contextlib
import shutil
from typing import Any

from infra.local import cgroups, ownership
from infra.local.machine.errors import MachineError
from infra.local.machine.overlay import mounts_under, unmount_all
from infra.local.machine.power import power_off
from infra.local.machine.state import owner, state_dir


def teardown(props: dict[str, Any]) -> None:
    """Remove everything of this machine; idempotent, and copes with a half-made one.

    A state dir without this machine's marker is someone else's: nothing is touched, not
    even what its pid files name. With no state dir at all, the machine's cgroups (they
    carry its name) are still emptied and removed: a state dir removed by hand under a
    running machine leaves exactly those behind.
    """
    directory, name = state_dir(props), props["name"]
    if directory.exists() and not ownership.is_owned(directory, owner(props)):
        return
    if directory.exists():
        power_off(directory, name)
        unmount_all(directory)
    else:
        survivors = cgroups.kill_all(name)
        if survivors:
            raise MachineError(f"processes of {name} survived SIGKILL: {sorted(survivors)}")
    left = cgroups.remove(name)
    if left:
        raise MachineError(f"cannot remove the cgroups {', '.join(map(str, left))}")
    if directory.exists():
        if mounts_under(directory):  # never let rmtree walk into a mounted image
            raise MachineError(f"{directory} still has mounts")
        shutil.rmtree(directory)
    for parent in (directory.parent, directory.parent.parent):  # machines/, then <stack>/
        with contextlib.suppress(OSError):
            parent.rmdir()
