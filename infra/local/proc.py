"""Reading processes from /proc and pid files: shared by the machine supervisor and the
gateway services, so "is this pid still the process we started?" has one answer."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def cmdline(pid: int, proc: Path = PROC) -> list[str]:
    """argv of `pid`; empty when the process is gone, a zombie or a kernel thread."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def status_field(pid: int, field: str, proc: Path = PROC) -> str | None:
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == field:
            return value.strip()
    return None


def write_pid(path: Path, pid: int) -> None:
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.write_text(f"{pid}\n")
    os.replace(temporary, path)


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None
