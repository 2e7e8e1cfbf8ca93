"""Removing the per-host state (infra/layers/per_host_state.py) from a layer's root.

The root is an overlay upper dir: removing a path here only drops the build host's copy;
where a lower layer has the path, that one shows again (an empty machine-id, say).
"""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

from infra.layers import PER_HOST_STATE


def _inside(path: Path, root: Path) -> bool:
    # A layer's own symlink must never lead the scrub outside the layer.
    return (
        path.parent.resolve() == root.resolve() or root.resolve() in path.parent.resolve().parents
    )


def scrub(root: Path) -> list[str]:
    """Remove every per-host path under `root`; returns what was removed, relative."""
    removed = []
    for state in PER_HOST_STATE:
        for match in sorted(glob.glob(str(root / state.pattern))):
            path = Path(match)
            if not _inside(path, root):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(str(path.relative_to(root)))
    return removed


def leftovers(root: Path) -> list[str]:
    """Per-host paths still under `root` (none after `scrub`): what a publish refuses."""
    return sorted(
        str(Path(match).relative_to(root))
        for state in PER_HOST_STATE
        for match in glob.glob(str(root / state.pattern))
    )
