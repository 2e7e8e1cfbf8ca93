"""Image layers: what a host's image holds before its region is known.

One hardened base layer (the `common` role's bake tasks) and one layer per component on
top of it, each made by running the site playbook's roles with `--tags bake` on a build
host that knows only the national standard. Tasks tagged `boot` are applied per region
and per host when a region's hosts are booted (`pulumi up`); a host booted from the bare
image runs both. The same layers become directories on the local target and AMIs on aws.

The modules: `recipe` (the layers, what each is built from, and their digests) and
`per_host_state` (what a layer must never hold: made at each host's first boot).
"""

from __future__ import annotations

from .per_host_state import PER_HOST_STATE, PerHostState
from .recipe import (
    BAKE_TAG,
    BASE,
    BOOT_TAG,
    LAYERS,
    Layer,
    bake_vars,
    layer_digests,
    layer_of,
)

__all__ = [
    "BAKE_TAG",
    "BASE",
    "BOOT_TAG",
    "LAYERS",
    "PER_HOST_STATE",
    "Layer",
    "PerHostState",
    "bake_vars",
    "layer_digests",
    "layer_of",
]
