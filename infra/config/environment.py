"""Settings that come from the controller's environment rather than from `stacks/`.

Kept here, beside the unified configuration, so the program reads every setting through
the config package: one function per variable, and nothing else in `infra/` or `modules/`
reads `os.environ` (except to hand a whole environment to a subprocess). The table of
every variable, its default and what it moves is in docs/operations.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_LOCAL_STATE = Path("/var/lib/regionstack/local")
# Beside apt's own cache, not under a home directory: the gateway's apt-cacher-ng runs
# unprivileged and must reach it.
DEFAULT_APT_CACHE = Path("/var/cache/regionstack/apt")
# The network image layers are built on (infra/local/layers/): private, and outside every
# region's CIDR of the sample fleet (10.203.0.0/16).
DEFAULT_BAKE_CIDR = "10.254.254.0/24"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The controller's own state: inventories, playbook logs, the Pulumi file backend.

    REGIONSTACK_STATE_DIR, else `$XDG_STATE_HOME/regionstack`, else
    `~/.local/state/regionstack` (scripts/env.sh derives PULUMI_BACKEND_URL from it).
    """
    if env.get("REGIONSTACK_STATE_DIR"):
        return Path(env["REGIONSTACK_STATE_DIR"])
    xdg = env.get("XDG_STATE_HOME") or str(_home(env) / ".local" / "state")
    return Path(xdg) / "regionstack"


def cache_root(env: Mapping[str, str] = os.environ) -> Path:
    """Controller caches that outlive every deployment: base images, layers, toolchain.

    REGIONSTACK_CACHE_DIR, else `$XDG_CACHE_HOME/regionstack`, else `~/.cache/regionstack`.
    """
    if env.get("REGIONSTACK_CACHE_DIR"):
        return Path(env["REGIONSTACK_CACHE_DIR"])
    xdg = env.get("XDG_CACHE_HOME") or str(_home(env) / ".cache")
    return Path(xdg) / "regionstack"


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
    """The passphrase of the secrets provider (PULUMI_CONFIG_PASSPHRASE), None when unset."""
    return os.environ.get("PULUMI_CONFIG_PASSPHRASE")
