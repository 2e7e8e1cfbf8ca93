"""Whether this controller can build an image at all, checked before anything changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from infra.local.image.errors import ImagePreflightError

MIN_FREE_BYTES = 2 * 1024**3  # debs + rootfs + tarball of one build, with room to spare
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def _existing_dir(path: Path) -> Path:
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def preflight(cache_dir: Path) -> None:
    """Raise ImagePreflightError saying what to do if this controller cannot build."""
    if os.geteuid() != 0:
        raise ImagePreflightError(
            "building the base image needs root (debootstrap, chroot, device nodes): "
            "run it as root, e.g. `sudo -E regionstack image build`"
        )
    if shutil.which("debootstrap") is None:
        raise ImagePreflightError(
            "debootstrap is not installed: run `apt-get install debootstrap` "
            "(scripts/setup.sh installs it)"
        )
    if not DEBIAN_KEYRING.is_file():
        raise ImagePreflightError(
            f"{DEBIAN_KEYRING} is missing, so debootstrap cannot verify the mirror: "
            "run `apt-get install debian-archive-keyring`"
        )
    existing = _existing_dir(cache_dir)
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise ImagePreflightError(
            f"only {free / 1024**3:.1f} GiB free on the filesystem of {existing}; an image build "
            f"needs {MIN_FREE_BYTES / 1024**3:.0f} GiB: free some space (`regionstack image prune` "
            "removes stale images) or set REGIONSTACK_CACHE_DIR to a larger filesystem"
        )
