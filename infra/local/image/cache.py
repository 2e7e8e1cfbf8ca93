"""Where images live, and the primitives every use of the cache shares: naming an image,
measuring it, finding the mounts that use it, the build lock, and removing a tree.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from infra.config.environment import cache_root
from infra.local.image.progress import Progress
from infra.local.mounts import MOUNTINFO, Mount, read_mounts

IMAGE_PREFIX = "base-"
ROOTFS, TARBALL, MANIFEST = "rootfs", "image.tar", "manifest.json"
LOCK_NAME = ".lock"
WORK_PREFIXES = (".build-", ".old-", ".restore-")


def image_name(digest: str) -> str:
    return f"{IMAGE_PREFIX}{digest[:12]}"


def images_dir(env: Mapping[str, str] | None = None) -> Path:
    return (cache_root() if env is None else cache_root(env)) / "images"


def _is_within(path: str, root: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == root or root in real.parents


def mounts_using(directory: Path, mountinfo: Path = MOUNTINFO) -> list[Mount]:
    """Mounts that would break if `directory` went: overlays on it, and mounts inside it."""
    root = Path(os.path.realpath(directory))
    return [
        m
        for m in read_mounts(mountinfo)
        if any(_is_within(lower, root) for lower in m.lowerdirs) or _is_within(m.mount_point, root)
    ]


def _describe_use(name: str, users: Sequence[Mount]) -> str:
    where = "; ".join(
        f"the {u.fstype} at {u.mount_point} (mount id {u.mount_id})"
        + (" has it as lowerdir" if u.lowerdirs else " is mounted inside it")
        for u in users
    )
    return f"{name} is in use: {where}; destroy or stop the machines on it first"


def _disk_usage(path: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


@contextmanager
def _build_lock(directory: Path, progress: Progress) -> Iterator[int]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another image build ({directory / LOCK_NAME})…")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _unmount_within(path: Path, mountinfo: Path = MOUNTINFO) -> None:
    """Detach what an interrupted build left mounted inside its work dir (debootstrap's /proc)."""
    root = Path(os.path.realpath(path))
    inside = [m.mount_point for m in read_mounts(mountinfo) if _is_within(m.mount_point, root)]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        _unmount_within(path)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _work_dirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(WORK_PREFIXES))
