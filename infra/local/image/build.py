"""Getting the current image: cached, restored from its tarball, or built in a work dir
and published by one rename.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from infra.local.image.builder import _Builder
from infra.local.image.cache import (
    MANIFEST,
    ROOTFS,
    TARBALL,
    _build_lock,
    _describe_use,
    _disk_usage,
    _remove_tree,
    _work_dirs,
    image_name,
    images_dir,
    mounts_using,
)
from infra.local.image.errors import ImageError, ImageInUseError
from infra.local.image.mirror import MirrorConfig, controller_mirror
from infra.local.image.preflight import preflight
from infra.local.image.progress import Progress, print_progress
from infra.local.image.recipe import DEFAULT_RECIPE, RECIPE_VERSION, ImageRecipe, recipe_digest
from infra.local.mounts import MOUNTINFO


def _verify(recipe: ImageRecipe, rootfs: Path) -> None:
    """Cheap checks that the post-build promises hold before the image is published."""
    problems = []
    if glob.glob(str(rootfs / "etc/ssh/ssh_host_*")):
        problems.append("SSH host keys left in /etc/ssh")
    if (rootfs / "etc/machine-id").read_text() != "":
        problems.append("/etc/machine-id is not empty")
    for unit in recipe.masked_units:
        link = rootfs / "etc/systemd/system" / unit
        if not link.is_symlink() or os.readlink(link) != "/dev/null":
            problems.append(f"{unit} is not masked")
    if problems:
        raise ImageError("the built image breaks its recipe: " + "; ".join(problems))


def _build_into(
    builder: _Builder,
    recipe: ImageRecipe,
    mirror: MirrorConfig,
    work: Path,
    digest: str,
) -> None:
    started = time.monotonic()
    rootfs = work / ROOTFS
    builder.progress(
        f"building {image_name(digest)} ({recipe.suite} {recipe.variant}) from {mirror.uri}"
    )
    builder.debootstrap(recipe, mirror, rootfs)
    builder.post_build(recipe, rootfs)
    _verify(recipe, rootfs)
    packages = builder.packages(rootfs)
    builder.progress("packing image.tar…")
    builder.tarball(rootfs, work / TARBALL)
    manifest = {
        "name": image_name(digest),
        "digest": digest,
        "recipe_version": RECIPE_VERSION,
        "recipe": recipe.canonical(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.monotonic() - started, 1),
        "built_from": mirror.uri,  # provenance only: not in the digest
        "rootfs_bytes": _disk_usage(rootfs),
        "tar_bytes": (work / TARBALL).stat().st_blocks * 512,
        "packages": dict(sorted(packages.items())),
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    os.sync()  # the rename below publishes the image: its contents must be on disk first


def _publish(work: Path, final: Path) -> None:
    """Replace `final` by `work` with renames only; the old image is deleted afterwards."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        final.rename(old)
    work.rename(final)
    if old is not None:
        _remove_tree(old)


def build_image(
    force: bool = False,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    progress: Progress = print_progress,
    mountinfo: Path = MOUNTINFO,
) -> Path:
    """Build the image of `recipe` unless it is cached (always with force); its rootfs dir."""
    directory = cache_dir or images_dir()
    digest = recipe_digest(recipe)
    final = directory / image_name(digest)
    if not force and (final / MANIFEST).is_file() and (final / ROOTFS).is_dir():
        return final / ROOTFS
    preflight(directory)
    mirror = controller_mirror(recipe.suite)
    with _build_lock(directory, progress) as lock_fd:
        if not force and (final / MANIFEST).is_file() and (final / ROOTFS).is_dir():
            return final / ROOTFS  # another process built it while we waited
        if force and (users := mounts_using(final, mountinfo)):
            raise ImageInUseError(f"cannot rebuild: {_describe_use(final.name, users)}")
        for leftover in _work_dirs(directory):
            progress(f"removing {leftover.name}, left by an interrupted build")
            _remove_tree(leftover)
        started = time.monotonic()
        work = directory / f".build-{digest[:12]}-{os.getpid()}"
        work.mkdir()
        try:
            _build_into(_Builder(lock_fd, progress), recipe, mirror, work, digest)
            _publish(work, final)
        except BaseException:
            _remove_tree(work)
            raise
        progress(f"done in {time.monotonic() - started:.0f} s: {final}")
    return final / ROOTFS


def _restore(final: Path, progress: Progress) -> None:
    """Unpack rootfs/ from image.tar (an image moved here without its rootfs)."""
    work = final.with_name(f".restore-{final.name}-{os.getpid()}")
    work.mkdir()
    try:
        progress(f"restoring {final.name}/rootfs from {TARBALL}…")
        result = subprocess.run(
            [
                "tar",
                "--extract",
                f"--file={final / TARBALL}",
                f"--directory={work}",
                "--numeric-owner",
                "--preserve-permissions",
                "--xattrs",
                "--xattrs-include=*",
                "--acls",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ImageError(
                f"cannot restore {final.name} from {final / TARBALL}: {result.stderr.strip()}; "
                f"remove {final} to rebuild it"
            )
        work.rename(final / ROOTFS)
    except BaseException:
        _remove_tree(work)
        raise


def ensure_image(
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    progress: Progress = print_progress,
) -> Path:
    """The rootfs dir of the current image: cached, restored from its tarball, or built."""
    directory = cache_dir or images_dir()
    final = directory / image_name(recipe_digest(recipe))
    if (final / MANIFEST).is_file() and (final / ROOTFS).is_dir():
        return final / ROOTFS
    if (final / MANIFEST).is_file() and (final / TARBALL).is_file():
        with _build_lock(directory, progress):
            if not (final / ROOTFS).is_dir():
                _restore(final, progress)
        return final / ROOTFS
    return build_image(recipe=recipe, cache_dir=directory, progress=progress)
