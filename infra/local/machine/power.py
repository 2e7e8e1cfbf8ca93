"""A machine's power: on (overlay, supervisor, wait for its own sshd), off (orderly, then
whatever it left running), and whether it runs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local import cgroups, supervisor
from infra.local.machine.errors import MachineError
from infra.local.machine.limits import raise_inotify_limits
from infra.local.machine.overlay import mount_overlay
from infra.local.machine.state import MERGED
from infra.local.machine.upper import host_key, lower_dirs
from infra.local.proc import cmdline

BOOT_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = supervisor.STOP_TIMEOUT_S + 10.0  # the supervisor's own timeout, then ours
POLL_S = 0.05


def is_running(directory: Path, name: str) -> bool:
    """Supervisor alive and the guest's PID 1 alive under its nspawn, all pids verified."""
    return (
        supervisor.verified_supervisor(directory) is not None
        and supervisor.verified_leader(directory, name) is not None
    )


def _wait_gone(pid: int, check: Callable[[list[str]], bool], timeout: float) -> bool:
    """True once `pid` is gone or no longer passes `check` (its argv): a recycled pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not check(cmdline(pid)):
            return True
        time.sleep(POLL_S)
    return False


def power_off(directory: Path, name: str) -> None:
    """Stop the supervisor (an orderly poweroff), then anything the machine left running."""
    pid = supervisor.verified_supervisor(directory)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(
            pid, lambda argv: supervisor.is_supervisor(argv, directory), STOP_TIMEOUT_S
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # An nspawn whose supervisor was killed runs on, orphaned: power its guest off too.
    nspawn = supervisor.verified_nspawn(directory, name)
    if nspawn is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(nspawn, signal.SIGTERM)
        if not _wait_gone(
            nspawn, lambda argv: supervisor.is_nspawn(argv, name), supervisor.STOP_TIMEOUT_S
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(nspawn, signal.SIGKILL)
    survivors = cgroups.kill_all(name)
    if survivors:
        raise MachineError(f"processes of {name} survived SIGKILL: {sorted(survivors)}")
    supervisor.remove_runtime_files(supervisor.nspawn_runtime_files(name, directory / MERGED))
    for pid_file in (supervisor.SUPERVISOR_PID, supervisor.NSPAWN_PID, supervisor.LEADER_PID):
        (directory / pid_file).unlink(missing_ok=True)


def _keyscan(address: str) -> str | None:
    result = subprocess.run(
        ["ssh-keyscan", "-T", "2", "-t", "ed25519", address],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((x for x in result.stdout.splitlines() if x and not x.startswith("#")), None)
    return " ".join(line.split()[1:3]) if line else None


def wait_for_ssh(directory: Path, props: dict[str, Any], timeout: float | None = None) -> float:
    """Seconds until sshd answers on the host's address with this host's own key.

    The key check matters: anything else answering there (a host with a clashing address)
    would otherwise pass for our machine.
    """
    timeout = BOOT_TIMEOUT_S if timeout is None else timeout
    started = time.monotonic()
    deadline = started + timeout
    address, name = props["address"], props["name"]
    expected = " ".join(host_key(directory).split()[:2])
    while time.monotonic() < deadline:
        if supervisor.verified_supervisor(directory) is None:
            raise MachineError(f"the supervisor of {name} exited while the guest booted")
        try:
            with socket.create_connection((address, 22), timeout=0.5):
                pass
        except OSError:
            time.sleep(POLL_S)
            continue
        served = _keyscan(address)
        if served == expected:
            return time.monotonic() - started
        if served is not None:
            raise MachineError(
                f"{address}:22 answers with host key {served}, not {name}'s: is the address in use?"
            )
        time.sleep(POLL_S)
    raise MachineError(f"{name} did not answer ssh on {address}:22 within {timeout:.0f} s")


def power_on(directory: Path, props: dict[str, Any]) -> float:
    """Mount the overlay, start the supervisor, wait for ssh; returns seconds to ssh."""
    raise_inotify_limits()
    mount_overlay(directory, lower_dirs(props))
    supervisor.launch(directory)
    return wait_for_ssh(directory, props)
