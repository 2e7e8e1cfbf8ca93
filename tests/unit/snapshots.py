"""Readable snapshots a reviewer diffs: compare, or rewrite after a reviewed change.

`REGIONSTACK_UPDATE_SNAPSHOTS=1` rewrites every snapshot a test compares; commit them with
the change that moved them.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

UPDATE = os.environ.get("REGIONSTACK_UPDATE_SNAPSHOTS") == "1"


def snapshot_diff(path: Path, current: str) -> str:
    """The unified diff from the recorded snapshot to `current` ("" when they agree)."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current, encoding="utf-8")
    recorded = path.read_text(encoding="utf-8") if path.exists() else ""
    return "".join(
        difflib.unified_diff(
            recorded.splitlines(keepends=True),
            current.splitlines(keepends=True),
            f"{path.name} (recorded)",
            f"{path.name} (now)",
        )
    )
