"""Where image layers live, and how one is found, published and measured.

Layout (``<images dir>/layers``, beside the base images)::

    <layer>-<digest12>/root/         the layer: the overlay upper dir of its build host,
                                     scrubbed of per-host state; a read-only lowerdir
    <layer>-<digest12>/layer.json    name, digest, the layer below, build time, sizes
    .lock                            serializes builds (two `pulumi up` may both ask)
    .build-*                         work dirs; never complete, removed by the next build

A layer is published by one rename of its work dir, so an interrupted build leaves nothing
that looks complete, and it is never changed afterwards: machines mount it as a lowerdir,
and overlayfs forbids changing a lower layer under a mounted overlay.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.image.cache import images_dir

ROOT, MANIFEST = "root", "layer.json"
WORK_PREFIX = ".build-"


def layers_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir or images_dir()) / "layers"


def layer_name(layer: str, digest: str) -> str:
    return f"{layer}-{digest[:12]}"


@dataclass(frozen=True)
class CachedLayer:
    name: str  # the layer's name, e.g. `portal`
    digest: str
    path: Path  # the layer's directory (its root/ is the lowerdir)
    manifest: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.path / ROOT


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find(layer: str, digest: str, cache_dir: Path | None = None) -> CachedLayer | None:
    """The published layer of that digest, or None."""
    path = layers_dir(cache_dir) / layer_name(layer, digest)
    manifest = read_manifest(path)
    if manifest is None or manifest.get("digest") != digest or not (path / ROOT).is_dir():
        return None
    return CachedLayer(layer, digest, path, manifest)


def cached(cache_dir: Path | None = None) -> list[CachedLayer]:
    """Every published layer, current or not."""
    directory = layers_dir(cache_dir)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        manifest = read_manifest(path)
        if path.name.startswith(".") or manifest is None:
            continue
        found.append(
            CachedLayer(str(manifest.get("layer")), str(manifest.get("digest")), path, manifest)
        )
    return found


def work_dirs(cache_dir: Path | None = None) -> list[Path]:
    directory = layers_dir(cache_dir)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(WORK_PREFIX))


def publish(work: Path, layer: str, digest: str, manifest: dict[str, Any]) -> CachedLayer:
    """Write the manifest into `work` and make it the layer, by one rename."""
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    os.sync()  # the rename publishes the layer: its contents must be on disk first
    final = work.parent / layer_name(layer, digest)
    work.rename(final)
    return CachedLayer(layer, digest, final, manifest)
