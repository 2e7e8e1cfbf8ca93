"""Settings that come from the controller's environment rather than from `stacks/`.

Kept here, beside the unified configuration, so the program reads every setting through
the config package.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LOCAL_STATE = Path("/var/lib/regionstack/local")


def local_state_root() -> Path:
    """Where local regions keep machine disks, pid files and gateway service state."""
    return Path(os.environ.get("REGIONSTACK_LOCAL_STATE") or DEFAULT_LOCAL_STATE)


def passphrase() -> str | None:
    return os.environ.get("PULUMI_CONFIG_PASSPHRASE")
