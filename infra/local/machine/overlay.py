"""A machine's overlay: the image and its layers below, the upper dir above, merged/ what
nspawn boots."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from infra.local.machine.errors import MachineError
from infra.local.machine.state import MERGED, UPPER, WORK
from infra.local.mounts import read_mounts

UNMOUNT_ATTEMPTS = 10


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below `directory`, deepest first."""
    points = (Path(m.mount_point) for m in read_mounts())
    found = [p for p in points if p == directory or directory in p.parents]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def mount_overlay(directory: Path, lowers: list[Path]) -> None:
    merged = directory / MERGED
    if os.path.ismount(merged):
        return
    lowerdir = ":".join(str(p) for p in lowers)
    options = f"lowerdir={lowerdir},upperdir={directory / UPPER},workdir={directory / WORK}"
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise MachineError(f"mounting the overlay on {merged} failed: {result.stderr.strip()}")


def _umount(point: Path, *flags: str) -> bool:
    return subprocess.run(["umount", *flags, str(point)], capture_output=True).returncode == 0


def unmount_all(directory: Path) -> None:
    """Unmount everything under `directory`; lazily when still busy after retries."""
    for point in mounts_under(directory):
        for _ in range(UNMOUNT_ATTEMPTS):
            if _umount(point):
                break
            time.sleep(0.2)
        else:
            _umount(point, "--lazy")
    left = mounts_under(directory)
    if left:
        raise MachineError(f"cannot unmount {', '.join(map(str, left))}")
