"""Pruning layers: stale ones and work dirs go, current ones stay, ones in use are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.image.errors import ImageInUseError
from infra.local.layers import cache
from infra.local.layers.prune import prune_layers
from tests.unit.local.image.fakes import overlay_line
from tests.unit.local.layers.fakes import CURRENT, STALE, make_layer, make_machine


@pytest.fixture
def mountinfo(tmp_path: Path) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text("22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    return path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def prune(tmp_path: Path, state: Path, mountinfo: Path, keep_current: bool = True) -> list[Path]:
    return prune_layers(
        CURRENT,
        keep_current,
        cache_dir=tmp_path,
        state_root=state,
        mountinfo=mountinfo,
        progress=print,
    )


def test_prune_removes_stale_layers_and_work_dirs_but_keeps_current(
    tmp_path: Path, state: Path, mountinfo: Path
) -> None:
    stale = make_layer(tmp_path, "portal", STALE)
    current = make_layer(tmp_path, "portal", CURRENT["portal"])
    work = cache.layers_dir(tmp_path) / f"{cache.WORK_PREFIX}portal-0123456789ab-42"
    (work / cache.ROOT).mkdir(parents=True)
    assert sorted(prune(tmp_path, state, mountinfo)) == sorted([stale.path, work])
    assert sorted(p.name for p in cache.layers_dir(tmp_path).iterdir()) == [
        ".lock",
        current.path.name,
    ]


def test_prune_all_removes_current_layers_too(tmp_path: Path, state: Path, mountinfo: Path) -> None:
    current = make_layer(tmp_path, "base", CURRENT["base"])
    assert prune(tmp_path, state, mountinfo, keep_current=False) == [current.path]


def test_prune_refuses_a_layer_a_stopped_machine_was_created_on(
    tmp_path: Path, state: Path, mountinfo: Path
) -> None:
    used = make_layer(tmp_path, "portal", STALE)
    unused = make_layer(tmp_path, "hotline", STALE)
    make_machine(state, "chunan", "chunan-portal-1", used)
    with pytest.raises(ImageInUseError) as err:
        prune(tmp_path, state, mountinfo)
    assert "portal-0123456789ab is in use by the machines chunan/chunan-portal-1" in str(err.value)
    assert used.path.is_dir() and not unused.path.exists()
    assert err.value.removed == [unused.path]


def test_prune_all_refuses_a_current_layer_in_use(
    tmp_path: Path, state: Path, mountinfo: Path
) -> None:
    base = make_layer(tmp_path, "base", CURRENT["base"])
    make_machine(state, "chunan", "chunan-portal-1", base)
    with pytest.raises(ImageInUseError, match="base-bbbbbbbbbbbb is in use"):
        prune(tmp_path, state, mountinfo, keep_current=False)
    assert base.path.is_dir()


def test_prune_refuses_a_layer_a_mount_has_as_lowerdir(
    tmp_path: Path, state: Path, mountinfo: Path
) -> None:
    stale = make_layer(tmp_path, "base", STALE)
    with mountinfo.open("a") as f:
        f.write(overlay_line(41, "/var/lib/m/merged", f"{stale.root}:/img/rootfs"))
    with pytest.raises(
        ImageInUseError, match=r"/var/lib/m/merged \(mount id 41\) has it as lowerdir"
    ):
        prune(tmp_path, state, mountinfo)
    assert stale.path.is_dir()


def test_prune_of_a_missing_cache_removes_nothing(tmp_path: Path, mountinfo: Path) -> None:
    assert prune_layers(CURRENT, cache_dir=tmp_path / "missing", mountinfo=mountinfo) == []
