"""What is in the layer cache: every layer, current or stale, and what uses it.

A layer is current when its digest is the one the checkout asks for now (build.py's
`current_digests`). It is in use while a machine was created on it - its machine.json
lists the layer among its lower dirs, running or not, for the machine boots from it again
- or while a mounted overlay has it as a lowerdir (a build host in the middle of a bake).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.config.environment import local_state_root
from infra.layers import LAYERS
from infra.local import supervisor
from infra.local.image.cache import _disk_usage, _is_within, mounts_using
from infra.local.layers import cache
from infra.local.mounts import MOUNTINFO, Mount

_ORDER = {layer.name: index for index, layer in enumerate(LAYERS)}


@dataclass(frozen=True)
class LayerInfo:
    name: str  # the layer, e.g. `portal`
    dir_name: str  # its directory in the cache, `<layer>-<digest12>`
    digest: str
    path: Path
    current: bool
    size_bytes: int
    built_at: str | None
    build_seconds: float | None
    in_use_by: tuple[str, ...]  # `<stack>/<machine>`, then mount points of other mounts


def machines_using(path: Path, state_root: Path) -> list[str]:
    """`<stack>/<machine>` of every machine whose recorded inputs have `path` as a layer."""
    root = Path(path).resolve()
    users = []
    for config in sorted(state_root.glob(f"*/machines/*/{supervisor.CONFIG_NAME}")):
        try:
            inputs = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        layers = inputs.get("layers") if isinstance(inputs, dict) else None
        if any(_is_within(str(layer), root) for layer in layers or []):
            users.append(f"{config.parents[2].name}/{inputs.get('name', config.parent.name)}")
    return users


def layer_users(
    path: Path, state_root: Path, mountinfo: Path = MOUNTINFO
) -> tuple[list[str], list[Mount]]:
    """The machines created on the layer, and the mounts using it outside those machines."""
    machines = machines_using(path, state_root)
    homes = [state_root / user.split("/")[0] / "machines" / user.split("/")[1] for user in machines]
    mounts = [
        m
        for m in mounts_using(path, mountinfo)
        if not any(_is_within(m.mount_point, home.resolve()) for home in homes)
    ]
    return machines, mounts


def layer_status(
    current: Mapping[str, str],
    *,
    cache_dir: Path | None = None,
    state_root: Path | None = None,
    mountinfo: Path = MOUNTINFO,
) -> list[LayerInfo]:
    """Every published layer, current (its digest is `current`'s for its name) or stale,
    base first, then the components as LAYERS lists them, oldest first within each."""
    state_root = state_root or local_state_root()
    infos = []
    for layer in cache.cached(cache_dir):
        manifest = layer.manifest
        machines, mounts = layer_users(layer.path, state_root, mountinfo)
        seconds = manifest.get("build_seconds")
        infos.append(
            LayerInfo(
                layer.name,
                layer.path.name,
                layer.digest,
                layer.path,
                current.get(layer.name) == layer.digest
                and layer.path.name == cache.layer_name(layer.name, layer.digest),
                int(manifest.get("bytes") or _disk_usage(layer.path)),
                str(manifest["built_at"]) if manifest.get("built_at") else None,
                float(seconds) if isinstance(seconds, int | float) else None,
                (*machines, *(m.mount_point for m in mounts)),
            )
        )
    return sorted(
        infos, key=lambda i: (_ORDER.get(i.name, len(_ORDER)), i.built_at or "", i.dir_name)
    )
