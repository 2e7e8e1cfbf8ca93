"""Removing stale layers and what interrupted builds left, but never a layer in use.

A layer is in use while a machine was created on it (stopped machines boot from it
again) or a mounted overlay has it as a lowerdir: infra/local/layers/status.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from infra.config.environment import local_state_root
from infra.local.image.cache import _build_lock, _describe_use, _remove_tree
from infra.local.image.errors import ImageInUseError
from infra.local.image.progress import Progress, print_progress
from infra.local.layers import cache
from infra.local.layers.status import layer_status, layer_users
from infra.local.mounts import MOUNTINFO


def prune_layers(
    current: Mapping[str, str],
    keep_current: bool = True,
    *,
    cache_dir: Path | None = None,
    state_root: Path | None = None,
    mountinfo: Path = MOUNTINFO,
    progress: Progress = print_progress,
) -> list[Path]:
    """Remove stale layers (all with keep_current=False) and leftover work dirs.

    A layer that a machine was created on, or a mounted overlay uses, is kept; the others
    still go, then ImageInUseError names the kept ones and their users.
    """
    directory = cache.layers_dir(cache_dir)
    if not directory.is_dir():
        return []
    state_root = state_root or local_state_root()
    removed: list[Path] = []
    refused: list[str] = []
    with _build_lock(directory, progress):
        for work in cache.work_dirs(cache_dir):
            _remove_tree(work)
            removed.append(work)
        for info in layer_status(
            current, cache_dir=cache_dir, state_root=state_root, mountinfo=mountinfo
        ):
            if info.current and keep_current:
                continue
            machines, mounts = layer_users(info.path, state_root, mountinfo)
            if machines:
                refused.append(
                    f"{info.dir_name} is in use by the machines {', '.join(machines)}; "
                    "destroy their regions (or the machines) first"
                )
            elif mounts:
                refused.append(_describe_use(info.dir_name, mounts))
            else:
                _remove_tree(info.path)
                removed.append(info.path)
    if refused:
        raise ImageInUseError("not removed: " + " | ".join(refused), removed)
    return removed
