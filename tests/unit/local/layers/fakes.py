"""What the layer cache tests share: fake published layers and the machines created on them."""

from __future__ import annotations

import json
from pathlib import Path

from infra.local import supervisor
from infra.local.layers import cache

CURRENT = {
    "base": "b" * 64,
    "data_exchange": "d" * 64,
    "hotline": "e" * 64,
    "portal": "a" * 64,
    "security_monitoring": "c" * 64,
}
STALE = "0123456789ab" + "0" * 52


def make_layer(
    cache_dir: Path, name: str, digest: str, *, built_at: str = "2026-01-02T00:00:00+00:00"
) -> cache.CachedLayer:
    """A published layer as build.py leaves one, 3 MiB by its manifest."""
    path = cache.layers_dir(cache_dir) / cache.layer_name(name, digest)
    (path / cache.ROOT / "etc").mkdir(parents=True)
    manifest = {
        "layer": name,
        "digest": digest,
        "built_at": built_at,
        "build_seconds": 312.4,
        "bytes": 3 * 1024**2,
    }
    (path / cache.MANIFEST).write_text(json.dumps(manifest))
    return cache.CachedLayer(name, digest, path, manifest)


def make_machine(state_root: Path, stack: str, name: str, *layers: cache.CachedLayer) -> Path:
    """A machine's state dir with the inputs it was created from (machine.json)."""
    directory = state_root / stack / "machines" / name
    directory.mkdir(parents=True)
    inputs = {"name": name, "stack": stack, "layers": [str(layer.root) for layer in layers]}
    (directory / supervisor.CONFIG_NAME).write_text(json.dumps(inputs))
    return directory
