"""Baking the local target's image layers: the layers a checkout needs, cached or built.

A build boots one throwaway machine per missing layer on the build network (the `bake`
region: infra/local/layers/build_network.py) from the layers below it, runs the site
playbook's `bake` tasks on them (`--tags bake -e regionstack_bake=true`), powers them
off, scrubs the per-host state from each machine's upper dir and publishes that upper dir
as the layer. The base layer is built first (alone: everything else stands on it), then
every missing component layer at once, in one playbook run. Whatever happens, the build
machines, network and firewall are removed again; an interrupted build leaves only a
work dir, which the next build removes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.config.environment import local_state_root
from infra.config.schema import Standard
from infra.layers import BASE, LAYERS, Layer, layer_digests
from infra.local.image import (
    ADMIN_USER,
    controller_mirror,
    controller_security_mirror,
    ensure_image,
    recipe_digest,
)
from infra.local.image.cache import _build_lock, _disk_usage, _remove_tree
from infra.local.image.progress import Progress
from infra.local.layers import cache
from infra.local.layers import machines as build_machines
from infra.local.layers.build_network import BASE_COMPONENT, bake_plan, build_network
from infra.local.layers.errors import LayerError
from infra.local.layers.inventory import write_bake_inventory
from infra.local.layers.scrub import leftovers, scrub
from infra.playbook import PlaybookFailed, run_site


def print_progress(message: str) -> None:
    print(f"[layers] {message}", flush=True)


def current_digests(root: Path, standard_data: Mapping[str, Any]) -> dict[str, str]:
    """The digest of every layer for this checkout on the current base image."""
    return layer_digests(root, recipe_digest(), standard_data, "local", ADMIN_USER)


def ensure_layers(
    root: Path,
    standard: Standard,
    standard_data: Mapping[str, Any],
    *,
    only: Sequence[str] | None = None,
    cache_dir: Path | None = None,
    progress: Progress = print_progress,
) -> dict[str, cache.CachedLayer]:
    """Every layer of the checkout at `root` (or those in `only`, with what they stand on),
    built where the cache has no layer of its digest."""
    digests = current_digests(root, standard_data)
    wanted = [layer for layer in LAYERS if only is None or layer.name in only or layer.name == BASE]
    directory = cache.layers_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    found = {layer.name: cache.find(layer.name, digests[layer.name], cache_dir) for layer in wanted}
    if all(found.values()):
        return {name: layer for name, layer in found.items() if layer is not None}
    rootfs = ensure_image()
    with _build_lock(directory, progress):
        for leftover in cache.work_dirs(cache_dir):
            progress(f"removing {leftover.name}, left by an interrupted build")
            _remove_tree(leftover)
        found = {
            layer.name: cache.find(layer.name, digests[layer.name], cache_dir) for layer in wanted
        }
        base = found[BASE]
        if base is None:
            built = _bake(
                [layer_by_name(BASE)],
                digests,
                rootfs,
                (),
                root,
                standard,
                standard_data,
                directory,
                progress,
            )
            base = found[BASE] = built[BASE]
        missing = [layer for layer in wanted if found[layer.name] is None]
        if missing:
            found.update(
                _bake(
                    missing,
                    digests,
                    rootfs,
                    (base.root,),
                    root,
                    standard,
                    standard_data,
                    directory,
                    progress,
                )
            )
    return {name: layer for name, layer in found.items() if layer is not None}


def layer_by_name(name: str) -> Layer:
    return next(layer for layer in LAYERS if layer.name == name)


def _bake(
    layers: Sequence[Layer],
    digests: Mapping[str, str],
    rootfs: Path,
    below: Sequence[Path],
    root: Path,
    standard: Standard,
    standard_data: Mapping[str, Any],
    directory: Path,
    progress: Progress,
) -> dict[str, cache.CachedLayer]:
    """Build `layers`, all standing on `below` (top first), in one playbook run."""
    started = time.monotonic()
    names = ", ".join(f"{layer.name} ({digests[layer.name][:12]})" for layer in layers)
    progress(f"baking {names}")
    plan = bake_plan(
        [(layer.name, layer.name if layer.name != BASE else BASE_COMPONENT) for layer in layers]
    )
    network = build_network(
        plan, standard, controller_mirror().uri, controller_security_mirror(), local_state_root()
    )
    work = {
        layer.name: directory
        / f"{cache.WORK_PREFIX}{cache.layer_name(layer.name, digests[layer.name])}-{os.getpid()}"
        for layer in layers
    }
    session = directory / f"{cache.WORK_PREFIX}session-{os.getpid()}"
    session.mkdir()
    booted: list[dict[str, Any]] = []
    try:
        build_machines.network_up(network)
        key, public_key = build_machines.admin_key(session)
        known_hosts = []
        for host in plan.hosts:
            props = build_machines.machine_props(network, host, rootfs, below, public_key)
            booted.append(props)
            known_hosts.append(build_machines.create(props))
        progress(f"build hosts up in {time.monotonic() - started:.0f} s; running the bake tasks")
        layer_of_host = {h.name: layer.name for h, layer in zip(plan.hosts, layers, strict=True)}
        files = write_bake_inventory(
            session / "inventory",
            plan,
            layer_of_host,
            standard_data,
            network.props["apt_security_upstream"],
            key,
            known_hosts,
        )
        _run_bake(files.inventory, root, progress)
        for props, layer in zip(booted, layers, strict=True):
            work[layer.name].mkdir()
            upper = build_machines.stop_and_take_upper(props, work[layer.name] / cache.ROOT)
            removed = scrub(upper)
            left = leftovers(upper)
            if left:
                raise LayerError(
                    f"the {layer.name} layer still holds per-host state after the scrub: {left}"
                )
            progress(f"{layer.name}: scrubbed {len(removed)} per-host path(s)")
        published = {}
        for layer in layers:
            root_dir = work[layer.name] / cache.ROOT
            manifest = {
                "layer": layer.name,
                "digest": digests[layer.name],
                "below": layer.parent and digests[layer.parent],
                "base_image": recipe_digest(),
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "build_seconds": round(time.monotonic() - started, 1),
                "bytes": _disk_usage(root_dir),
                "packages": build_machines.dpkg_versions(root_dir),
            }
            published[layer.name] = cache.publish(
                work[layer.name], layer.name, digests[layer.name], manifest
            )
            progress(f"published {published[layer.name].path}")
        return published
    finally:
        for props in booted:
            build_machines.teardown(props)
        build_machines.network_down(network)
        for path in [*work.values(), session]:
            if path.exists():
                _remove_tree(path)


def _run_bake(inventory: Path, root: Path, progress: Progress) -> None:
    try:
        run_site(
            "bake",
            inventory,
            root,
            lambda line: progress(f"  {line}"),
            ["--tags", "bake", "-e", "regionstack_bake=true"],
        )
    except PlaybookFailed as error:
        raise LayerError(f"baking the layers failed: {error}") from error
