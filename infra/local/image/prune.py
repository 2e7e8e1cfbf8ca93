"""Removing stale images and what interrupted builds left, but never an image in use."""

from __future__ import annotations

from pathlib import Path

from infra.local.image.cache import (
    _build_lock,
    _describe_use,
    _remove_tree,
    _work_dirs,
    images_dir,
    mounts_using,
)
from infra.local.image.errors import ImageInUseError
from infra.local.image.progress import Progress, print_progress
from infra.local.image.recipe import DEFAULT_RECIPE, ImageRecipe
from infra.local.image.status import image_status
from infra.local.mounts import MOUNTINFO


def prune_images(
    keep_current: bool = True,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    mountinfo: Path = MOUNTINFO,
    progress: Progress = print_progress,
) -> list[Path]:
    """Remove stale images (all with keep_current=False) and leftover work dirs.

    An image that a mounted overlay uses as lowerdir is kept; the others still go, then
    ImageInUseError names the kept ones and the mounts using them.
    """
    directory = cache_dir or images_dir()
    if not directory.is_dir():
        return []
    removed: list[Path] = []
    refused: list[str] = []
    with _build_lock(directory, progress):
        for work in _work_dirs(directory):
            _remove_tree(work)
            removed.append(work)
        for info in image_status(recipe, cache_dir=directory, mountinfo=mountinfo):
            if info.current and keep_current:
                continue
            users = mounts_using(info.path, mountinfo)
            if users:
                refused.append(_describe_use(info.name, users))
                continue
            _remove_tree(info.path)
            removed.append(info.path)
    if refused:
        raise ImageInUseError("not removed: " + " | ".join(refused), removed)
    return removed
