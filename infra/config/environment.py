"""Settings that come from the controller's environment rather than from `stacks/`.

Kept here, beside the unified configuration, so the program reads every setting through
the config package.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LOCAL_STATE = Path("/var/lib/regionstack/local")
# Beside apt's own cache, not under a home directory: the gateway's apt-cacher-ng runs
# unprivileged and must reach it.
DEFAULT_APT_CACHE = Path("/var/cache/regionstack/apt")
# The network image layers are built on (infra/local/layers/): private, and outside every
# region's CIDR of the sample fleet (10.203.0.0/16).
DEFAULT_BAKE_CIDR = "10.254.254.0/24"


def local_state_root() -> Path:
    """Where local regions keep machine disks, pid files and gateway service state."""
    return Path(os.environ.get("REGIONSTACK_LOCAL_STATE") or DEFAULT_LOCAL_STATE)


def apt_cache_root() -> Path:
    """Where the gateways' apt proxies keep packages, one directory per region.

    A controller cache like the base image's: it outlives `pulumi destroy`, so the next
    deployment of the region downloads nothing it already had (delete it to reclaim space).
    """
    return Path(os.environ.get("REGIONSTACK_APT_CACHE") or DEFAULT_APT_CACHE)


def bake_cidr() -> str:
    """The CIDR of the build network image layers are baked on (REGIONSTACK_BAKE_CIDR)."""
    return os.environ.get("REGIONSTACK_BAKE_CIDR") or DEFAULT_BAKE_CIDR


def passphrase() -> str | None:
    return os.environ.get("PULUMI_CONFIG_PASSPHRASE")
