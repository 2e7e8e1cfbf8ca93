"""What the image tests share: the current digest, a stale one, two mirrors, a fake cache
with the mountinfo lines of overlays using it, and the disk usage preflight reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from infra.local.image.cache import image_name
from infra.local.image.mirror import MirrorConfig
from infra.local.image.recipe import DEFAULT_RECIPE, recipe_digest

CURRENT = recipe_digest(DEFAULT_RECIPE)
STALE = "0123456789ab" + "0" * 52
MIRROR_A = MirrorConfig("http://mirror-a.example/debian")
MIRROR_B = MirrorConfig("http://mirror-b.example/debian", "http://proxy.example:3142")


def make_image(images: Path, digest: str, *, complete: bool = True) -> Path:
    path = images / image_name(digest)
    (path / "rootfs/etc").mkdir(parents=True)
    (path / "rootfs/etc/machine-id").write_text("")
    if complete:
        manifest = {
            "digest": digest,
            "built_at": f"2026-01-0{1 if digest == STALE else 2}T00:00:00+00:00",
            "rootfs_bytes": 3 * 1024**2,
            "tar_bytes": 2 * 1024**2,
        }
        (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def overlay_line(mount_id: int, mount_point: str, lowerdir: str) -> str:
    return (
        f"{mount_id} 27 0:{mount_id} / {mount_point} rw,relatime - overlay overlay "
        f"rw,lowerdir={lowerdir},upperdir=/var/lib/m/upper,workdir=/var/lib/m/work\n"
    )


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int
