from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.machine.errors import MachineError
from infra.local.machine.limits import INOTIFY_LIMITS, raise_inotify_limits


def _proc_sys(tmp_path: Path, instances: int, watches: int) -> Path:
    inotify = tmp_path / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_instances").write_text(f"{instances}\n")
    (inotify / "max_user_watches").write_text(f"{watches}\n")
    return tmp_path


def _value(proc_sys: Path, key: str) -> int:
    return int((proc_sys / key.replace(".", "/")).read_text())


def test_a_limit_below_its_floor_is_raised_and_one_above_is_left(tmp_path: Path) -> None:
    floor = INOTIFY_LIMITS["fs.inotify.max_user_instances"]
    proc_sys = _proc_sys(tmp_path, 128, 4 * floor)  # Debian's default instances
    assert raise_inotify_limits(proc_sys) == ["fs.inotify.max_user_instances"]
    assert _value(proc_sys, "fs.inotify.max_user_instances") == floor
    assert _value(proc_sys, "fs.inotify.max_user_watches") == 4 * floor  # never lowered
    assert raise_inotify_limits(proc_sys) == []


def test_a_limit_that_cannot_be_raised_refuses_with_the_sysctl_to_run(tmp_path: Path) -> None:
    # Root may write a read-only file, so the unwritable /proc/sys entry is a directory here.
    inotify = tmp_path / "fs" / "inotify"
    (inotify / "max_user_instances").mkdir(parents=True)
    with pytest.raises(MachineError, match=r"sysctl -w fs\.inotify\.max_user_instances=1048576"):
        raise_inotify_limits(tmp_path)
