"""Ownership markers: how a local provider knows a directory is its own before it touches it.

A provider writes a marker into every directory it creates, naming the kind of resource,
the stack and the resource's name. Delete and adopt-on-create verify the marker first, so a
directory that merely sits at the expected path (an operator's, another stack's, a typo in
`state_root`) is never unmounted, emptied or removed.

The marker is a small JSON file, written atomically (temporary file, then rename), so a
reader sees either no marker or a complete one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

MARKER_NAME = ".regionstack-owner.json"
FORMAT = 1


@dataclass(frozen=True)
class Owner:
    kind: str  # the resource type, e.g. `machine`
    stack: str
    name: str
    format: int = FORMAT


def marker_path(directory: Path) -> Path:
    return directory / MARKER_NAME


def write_marker(directory: Path, owner: Owner) -> None:
    path = marker_path(directory)
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.write_text(json.dumps(asdict(owner), sort_keys=True) + "\n")
    os.replace(temporary, path)


def read_marker(directory: Path) -> Owner | None:
    """The marker of `directory`, or None when it has none or one we cannot parse."""
    try:
        data = json.loads(marker_path(directory).read_text())
        return Owner(
            kind=str(data["kind"]),
            stack=str(data["stack"]),
            name=str(data["name"]),
            format=int(data["format"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_owned(directory: Path, owner: Owner) -> bool:
    """True only when `directory` carries exactly this owner's marker."""
    return read_marker(directory) == owner


def create_owned_dir(directory: Path, owner: Owner, mode: int = 0o755) -> None:
    """Create `directory` with its marker in one step: it never exists without one.

    The directory is built under a temporary name beside its final one and renamed into
    place, so a crash leaves at worst a `.creating-*` sibling, never an unmarked directory
    that a later delete would have to leave behind as foreign. FileExistsError when
    `directory` is already there, ours or not: the caller decides what that means.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.exists():
        raise FileExistsError(directory)
    temporary = directory.with_name(f".{directory.name}.creating-{os.getpid()}")
    temporary.mkdir(mode=mode)
    try:
        write_marker(temporary, owner)
        if directory.exists():  # rename(2) would silently replace an empty directory
            raise FileExistsError(directory)
        temporary.rename(directory)
    except BaseException:
        marker_path(temporary).unlink(missing_ok=True)
        temporary.rmdir()
        raise
