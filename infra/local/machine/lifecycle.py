"""A machine's create and update, as its provider (modules/local/machine.py) and the bake's
build hosts (infra/local/layers/machines.py) run them; `outputs` is what read reports too.

Read reports `running` (supervisor and guest alive, each pid verified against /proc), so
`pulumi refresh` shows a machine that is down as drift and `pulumi up` powers it on again,
keeping its upper dir - like a VM that is switched back on. Delete (`teardown`) powers the
guest off and removes processes, mounts, cgroups and the state dir; it is idempotent and
never touches a directory whose marker is not this machine's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from infra.local import cgroups, ownership, supervisor
from infra.local.machine.console import console_tail, journal_tail
from infra.local.machine.errors import MachineError
from infra.local.machine.inputs import input_values, normalize, validate
from infra.local.machine.power import is_running, power_off, power_on
from infra.local.machine.state import MERGED, UPPER, WORK, owner, state_dir, write_config
from infra.local.machine.teardown import teardown
from infra.local.machine.upper import admin_account, host_key, write_authorized_key, write_upper


def preflight(props: dict[str, Any]) -> None:
    """Refuse, before anything exists, what would only fail later."""
    rootfs = Path(props["rootfs"])
    if not (rootfs / "sbin/init").exists() and not (rootfs / "lib/systemd/systemd").exists():
        raise MachineError(f"rootfs {rootfs} has no init: is it an image root?")
    for layer in props.get("layers") or []:
        if not Path(layer).is_dir():
            raise MachineError(
                f"image layer {layer} does not exist: `regionstack image build` makes it"
            )
    admin_account(props, props["admin_user"])
    if not Path("/sys/class/net", props["bridge"], "bridge").is_dir():
        raise MachineError(
            f"bridge {props['bridge']} does not exist: the region's Network creates it"
        )
    if not cgroups.hierarchies():
        raise MachineError("no name=systemd or cgroup2 hierarchy is mounted on the controller")
    for tool in ("systemd-nspawn", "ip", "ssh-keygen", "ssh-keyscan", "mount", "journalctl"):
        if shutil.which(tool) is None:
            raise MachineError(f"{tool} is not installed on the controller")


def outputs(props: dict[str, Any], directory: Path) -> dict[str, Any]:
    upper = directory / UPPER
    return {
        **input_values(props),
        "machine_id": (upper / "etc/machine-id").read_text().strip(),
        "ssh_host_ed25519_public_key": host_key(directory),
        "state_dir": str(directory),
        "running": is_running(directory, props["name"]),
    }


def create(props: dict[str, Any]) -> dict[str, Any]:
    """Build and boot the machine; its outputs. A failure undoes everything it made."""
    props = normalize(props)
    validate(props)
    preflight(props)
    directory = state_dir(props)
    if directory.exists():
        if not ownership.is_owned(directory, owner(props)):
            raise MachineError(f"{directory} exists and is not this machine's: remove or move it")
        teardown(props)  # left by a killed run, unknown to Pulumi: start afresh
    ownership.create_owned_dir(directory, owner(props))
    try:
        for sub in (UPPER, WORK, MERGED):
            (directory / sub).mkdir()
        write_config(directory, props)
        write_upper(directory / UPPER, props)
        power_on(directory, props)
        return outputs(props, directory)
    except Exception as error:
        tail = console_tail(directory)
        journal = journal_tail(directory)
        try:
            teardown(props)
        except Exception as cleanup:
            error.add_note(f"cleaning up after the failed create also failed: {cleanup}")
        raise MachineError(
            f"creating machine {props['name']} failed: {error}\n"
            f"--- last lines of {directory / supervisor.CONSOLE_LOG} ---\n{tail}\n"
            f"--- last lines of the guest's journal ---\n{journal}"
        ) from error


def update(olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    """Rewrite who may log in, in place, and power the machine on if it is down; its
    outputs."""
    olds, props = normalize(olds), normalize(news)
    validate(props)
    directory = state_dir(props)
    if not ownership.is_owned(directory, owner(props)):
        raise MachineError(f"{directory} is gone or not this machine's: run `pulumi refresh`")
    write_config(directory, props)
    running = is_running(directory, props["name"])
    root = directory / (MERGED if os.path.ismount(directory / MERGED) else UPPER)
    if olds.get("admin_user") not in (None, props["admin_user"]):
        with contextlib.suppress(MachineError, OSError):
            old_home = admin_account(props, olds["admin_user"]).home
            (root / old_home.lstrip("/") / ".ssh/authorized_keys").unlink(missing_ok=True)
    write_authorized_key(root, props)
    if not running:
        power_off(directory, props["name"])  # whatever half of it is still up
        power_on(directory, props)
    return outputs(props, directory)
