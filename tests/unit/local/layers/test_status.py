"""Layer status: current or stale by the checkout's digests, and the machines that use each."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.layers.status import layer_status, machines_using
from tests.unit.local.image.fakes import overlay_line
from tests.unit.local.layers.fakes import CURRENT, STALE, make_layer, make_machine


@pytest.fixture
def mountinfo(tmp_path: Path) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text("22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    return path


def test_status_lists_every_layer_current_or_stale_base_first(
    tmp_path: Path, mountinfo: Path
) -> None:
    make_layer(tmp_path, "portal", STALE, built_at="2026-01-01T00:00:00+00:00")
    make_layer(tmp_path, "portal", CURRENT["portal"])
    make_layer(tmp_path, "base", CURRENT["base"])
    found = layer_status(CURRENT, cache_dir=tmp_path, state_root=tmp_path, mountinfo=mountinfo)
    assert [(i.dir_name, i.current) for i in found] == [
        (f"base-{'b' * 12}", True),
        ("portal-0123456789ab", False),
        (f"portal-{'a' * 12}", True),
    ]
    assert {(i.size_bytes, i.built_at is not None, i.build_seconds) for i in found} == {
        (3 * 1024**2, True, 312.4)
    }


def test_a_layer_of_another_components_digest_is_stale(tmp_path: Path, mountinfo: Path) -> None:
    make_layer(tmp_path, "hotline", CURRENT["portal"])
    [info] = layer_status(CURRENT, cache_dir=tmp_path, state_root=tmp_path, mountinfo=mountinfo)
    assert not info.current


def test_status_names_the_machines_created_on_a_layer_running_or_not(
    tmp_path: Path, mountinfo: Path
) -> None:
    state = tmp_path / "state"
    base = make_layer(tmp_path, "base", CURRENT["base"])
    portal = make_layer(tmp_path, "portal", CURRENT["portal"])
    make_machine(state, "chunan", "chunan-portal-1", portal, base)
    machine = make_machine(state, "hangzhou", "hangzhou-portal-1", portal, base)
    make_machine(state, "tonglu", "tonglu-portal-1")  # the bare image
    with mountinfo.open("a") as f:  # only the hangzhou machine runs
        f.write(overlay_line(41, f"{machine}/merged", f"{portal.root}:{base.root}:/img/rootfs"))
    found = layer_status(CURRENT, cache_dir=tmp_path, state_root=state, mountinfo=mountinfo)
    assert {i.name: i.in_use_by for i in found} == {
        "base": ("chunan/chunan-portal-1", "hangzhou/hangzhou-portal-1"),
        "portal": ("chunan/chunan-portal-1", "hangzhou/hangzhou-portal-1"),
    }


def test_status_names_a_mount_of_no_recorded_machine(tmp_path: Path, mountinfo: Path) -> None:
    base = make_layer(tmp_path, "base", CURRENT["base"])
    with mountinfo.open("a") as f:
        f.write(overlay_line(41, "/mnt/inspect", f"{base.root}:/img/rootfs"))
    [info] = layer_status(CURRENT, cache_dir=tmp_path, state_root=tmp_path, mountinfo=mountinfo)
    assert info.in_use_by == ("/mnt/inspect",)


def test_an_unreadable_machine_record_uses_nothing(tmp_path: Path) -> None:
    base = make_layer(tmp_path, "base", CURRENT["base"])
    machine = make_machine(tmp_path / "state", "chunan", "chunan-portal-1", base)
    (machine / "machine.json").write_text("{")
    assert machines_using(base.path, tmp_path / "state") == []


def test_status_of_a_missing_cache_is_empty(tmp_path: Path, mountinfo: Path) -> None:
    missing = tmp_path / "missing"
    assert layer_status(CURRENT, cache_dir=missing, state_root=tmp_path, mountinfo=mountinfo) == []
