"""The controller's inotify budget, which every local host's systemd draws on.

The hosts run as root without a user namespace, so each guest's systemd, journald, udev
and their services take inotify instances from the one per-user budget of the
controller's root. Debian's default (128 instances) runs out at about 18 hosts: the
nineteenth guest's systemd dies at boot with "Failed to allocate manager object: Too many
open files" (a five-region fleet showed it). Before a host boots, the budget is raised to
what container hosts are usually given (LXD's production settings), never lowered.
"""

from __future__ import annotations

from pathlib import Path

from infra.local.machine.errors import MachineError

PROC_SYS = Path("/proc/sys")
# sysctl key → the least a controller of many hosts needs.
INOTIFY_LIMITS = {
    "fs.inotify.max_user_instances": 1_048_576,
    "fs.inotify.max_user_watches": 1_048_576,
}


def raise_inotify_limits(proc_sys: Path = PROC_SYS) -> list[str]:
    """Raise each limit below its floor; the keys raised. Refuses with the fix when it
    cannot (a read-only /proc/sys, as in an unprivileged container)."""
    raised = []
    for key, floor in INOTIFY_LIMITS.items():
        path = proc_sys / key.replace(".", "/")
        try:
            if int(path.read_text().strip()) >= floor:
                continue
            path.write_text(f"{floor}\n")
        except OSError as err:
            raise MachineError(
                f"{key} is below {floor} and cannot be raised ({err}): every local host's "
                f"systemd takes inotify instances from the controller's one budget; run "
                f"`sysctl -w {key}={floor}` as root on the controller"
            ) from err
        raised.append(key)
    return raised
