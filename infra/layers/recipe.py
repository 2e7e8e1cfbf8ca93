"""The layers, what each is built from, and their content-addressed digests.

A layer's digest covers everything its content depends on and nothing else:
- the layer below it (the base image's identity for `base`, the base layer's digest for
  a component), so a change underneath rebuilds everything above it;
- the bytes of the files its bake run reads: the site playbook and ansible.cfg for
  `base`, `roles/<role>/` for its role, and the reference service the role copies;
- the bake variables: the national standard and the target, the only inventory the bake
  run gets — no region is known at bake time, so no region-level value can reach a layer
  or its digest;
- the per-host state rules the builder scrubs with.
Changing one component's role or service changes that layer's digest only; changing
`common` (or the playbook) changes the base layer's, and so every layer above it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.layers.per_host_state import PER_HOST_STATE

# Bump when the bake/boot contract itself changes (what the builders do around the bake
# run): the digests change and every controller and account rebuilds its layers.
LAYER_FORMAT = 1

BAKE_TAG = "bake"  # tasks whose result a layer holds: the same on every host
BOOT_TAG = "boot"  # tasks applied per region and per host when a host is booted
BASE = "base"

# Not part of what reaches a host: caches and the services' own tests and tooling.
_IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", "tests", ".ruff_cache"})


@dataclass(frozen=True)
class Layer:
    name: str  # `base`, or the component whose hosts boot from it
    parent: str | None  # the layer below (None: the target's base image)
    role: str  # the role whose `bake` tasks it adds
    sources: tuple[str, ...]  # repository paths its bake run reads (files or directories)


LAYERS: tuple[Layer, ...] = (
    Layer(BASE, None, "common", ("ansible.cfg", "playbooks/site.yml", "roles/common")),
    Layer(
        "data_exchange", BASE, "data_exchange", ("roles/data_exchange", "services/catalog/catalog")
    ),
    Layer(
        "hotline",
        BASE,
        "hotline",
        ("roles/hotline", "roles/nginx_front", "services/hotline/hotline"),
    ),
    Layer(
        "portal", BASE, "portal", ("roles/portal", "roles/nginx_front", "services/portal/portal")
    ),
    Layer("security_monitoring", BASE, "security_monitoring", ("roles/security_monitoring",)),
)
_BY_NAME = {layer.name: layer for layer in LAYERS}


def layer_of(component: str) -> Layer:
    """The layer a host of `component` boots from."""
    try:
        return _BY_NAME[component]
    except KeyError:
        raise KeyError(f"no image layer for component {component!r}") from None


def bake_vars(standard: Mapping[str, Any], target: str, admin_user: str) -> dict[str, Any]:
    """The variables of a bake run, beside the build host's connection and apt sources: all
    it may know. The admin is the one login the booted hosts will allow (sshd's AllowUsers)."""
    return {
        "regionstack_bake": True,
        "regionstack_target": target,
        "regionstack_config": {"standard": standard},
        "common_users_admin": admin_user,
    }


def layer_files(root: Path, source: str) -> Iterable[Path]:
    """The files of one layer source (a file or a directory) that reach a host, in a stable
    order: what its digest covers, and what the aws build ships (infra/aws/bake.py)."""
    path = root / source
    if path.is_file():
        yield path
    elif path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file() and not _IGNORED_PARTS.intersection(file.relative_to(root).parts):
                yield file
    else:
        raise FileNotFoundError(f"layer source {source} does not exist under {root}")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(layer: Layer, below: str, root: Path, variables: str) -> str:
    digest = hashlib.sha256()
    rules = [(s.pattern, s.remade_by) for s in PER_HOST_STATE]
    head = {"format": LAYER_FORMAT, "layer": layer.name, "below": below, "scrub": rules}
    digest.update(_canonical(head).encode() + b"\n" + variables.encode() + b"\n")
    for source in layer.sources:
        for file in layer_files(root, source):
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def layer_digests(
    root: Path, base_image: str, standard: Mapping[str, Any], target: str, admin_user: str
) -> dict[str, str]:
    """Every layer's digest, for the checkout at `root` on top of `base_image` (the base
    image's identity: the local recipe digest, or the aws source image)."""
    variables = _canonical(bake_vars(standard, target, admin_user))
    digests: dict[str, str] = {}
    for layer in LAYERS:  # parents come first
        below = base_image if layer.parent is None else digests[layer.parent]
        digests[layer.name] = _digest(layer, below, root, variables)
    return digests
