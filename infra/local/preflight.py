"""Refuse, before anything is created, to deploy a local region on a controller that
cannot run one; each refusal says what to install or change."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

REQUIRED_TOOLS = {
    "systemd-nspawn": "apt-get install systemd-container",
    "debootstrap": "apt-get install debootstrap",
    "nft": "apt-get install nftables",
    "ip": "apt-get install iproute2",
    "dnsmasq": "apt-get install dnsmasq-base",
    "chronyd": "apt-get install chrony",
    "apt-cacher-ng": "apt-get install apt-cacher-ng",
    "ssh-keygen": "apt-get install openssh-client",
}


class PreflightError(Exception):
    """The controller cannot host a local region; the message says how to fix that."""


def check_controller(
    euid: Callable[[], int] = os.geteuid,
    which: Callable[[str], str | None] = shutil.which,
    filesystems: Path = Path("/proc/filesystems"),
) -> None:
    problems = []
    if euid() != 0:
        problems.append("local regions need root (bridges, mounts, cgroups, nftables): run as root")
    for tool, fix in sorted(REQUIRED_TOOLS.items()):
        if which(tool) is None:
            problems.append(f"{tool} is missing: {fix} (or run scripts/setup.sh)")
    known = filesystems.read_text() if filesystems.exists() else ""
    if "overlay" not in known.split():
        problems.append(
            "the kernel has no overlayfs: load it (`modprobe overlay`) or use a kernel with it"
        )
    if problems:
        raise PreflightError(
            "this controller cannot run a local region:\n  - " + "\n  - ".join(problems)
        )
