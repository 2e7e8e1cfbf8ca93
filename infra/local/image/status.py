"""What is in the cache: every image, current or stale, and what uses it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.image.cache import (
    IMAGE_PREFIX,
    MANIFEST,
    _disk_usage,
    images_dir,
    mounts_using,
)
from infra.local.image.recipe import DEFAULT_RECIPE, ImageRecipe, recipe_digest
from infra.local.mounts import MOUNTINFO


@dataclass(frozen=True)
class ImageInfo:
    name: str
    digest: str  # the full digest from the manifest, or the short one of the dir name
    path: Path
    current: bool
    complete: bool  # has a readable manifest
    size_bytes: int
    built_at: str | None
    in_use_by: tuple[str, ...]  # mount points of the mounts using it


def _read_manifest(image_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((image_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def image_status(
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    cache_dir: Path | None = None,
    mountinfo: Path = MOUNTINFO,
) -> list[ImageInfo]:
    """Every cached image, current (built from `recipe`) or stale, oldest first."""
    directory = cache_dir or images_dir()
    if not directory.is_dir():
        return []
    current = recipe_digest(recipe)
    infos = []
    for path in sorted(directory.glob(f"{IMAGE_PREFIX}*")):
        manifest = _read_manifest(path)
        short = path.name.removeprefix(IMAGE_PREFIX)
        digest = str(manifest["digest"]) if manifest else short
        complete = manifest is not None and digest.startswith(short)
        if complete and manifest is not None:
            size = int(manifest.get("rootfs_bytes", 0)) + int(manifest.get("tar_bytes", 0))
            built_at = str(manifest.get("built_at"))
        else:
            size, built_at = _disk_usage(path), None
        users = tuple(m.mount_point for m in mounts_using(path, mountinfo))
        infos.append(
            ImageInfo(
                path.name,
                digest,
                path,
                complete and digest == current,
                complete,
                size,
                built_at,
                users,
            )
        )
    return sorted(infos, key=lambda i: (i.built_at or "", i.name))
