"""Parsing /proc/self/mountinfo: one parser for the image cache (which overlays use an
image) and the machines (what is mounted under a machine's state dir)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Mount:
    mount_id: str
    mount_point: str
    fstype: str
    lowerdirs: tuple[str, ...]


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _split_lowerdir(value: str) -> list[str]:
    """`lowerdir=a:b::c` (user escapes `\\:`) -> [a, b, c]; `::` marks data-only layers."""
    parts = re.split(r"(?<!\\):+", value)
    return [p.replace("\\:", ":").replace("\\\\", "\\") for p in parts if p]


def read_mounts(mountinfo: Path = MOUNTINFO) -> list[Mount]:
    mounts = []
    for line in mountinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(rest) < 2:
            continue
        lowerdirs: list[str] = []
        if rest[0] == "overlay" and len(rest) >= 3:
            for option in rest[2].split(","):
                key, _, value = option.partition("=")
                if key == "lowerdir":
                    lowerdirs += _split_lowerdir(_unescape(value))
                elif key in ("lowerdir+", "datadir+"):
                    lowerdirs.append(_unescape(value))
        mounts.append(Mount(fields[0], _unescape(fields[4]), rest[0], tuple(lowerdirs)))
    return mounts
