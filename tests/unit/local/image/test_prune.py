"""Pruning: stale images and work dirs go, the current image stays, images in use are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.image.errors import ImageInUseError
from infra.local.image.prune import prune_images
from tests.unit.local.image.fakes import CURRENT, STALE, make_image, overlay_line


def test_prune_removes_stale_incomplete_and_work_dirs_but_keeps_current(
    images: Path, mountinfo: Path
) -> None:
    stale = make_image(images, STALE)
    incomplete = make_image(images, "fedcba987654" + "0" * 52, complete=False)
    work = images / ".build-0123456789ab-42"
    (work / "rootfs").mkdir(parents=True)
    current = make_image(images, CURRENT)
    removed = prune_images(cache_dir=images, mountinfo=mountinfo, progress=print)
    assert sorted(removed) == sorted([stale, incomplete, work])
    assert sorted(p.name for p in images.iterdir()) == [".lock", current.name]


def test_prune_all_removes_the_current_image_too(images: Path, mountinfo: Path) -> None:
    current = make_image(images, CURRENT)
    assert prune_images(keep_current=False, cache_dir=images, mountinfo=mountinfo) == [current]
    assert not current.exists()


def test_prune_of_a_missing_cache_removes_nothing(tmp_path: Path) -> None:
    assert prune_images(cache_dir=tmp_path / "missing") == []


@pytest.mark.parametrize(
    "lowerdir",
    [
        "{rootfs}",
        "/var/lib/m/extra:{rootfs}",  # one of several layers
        "{rootfs}/",  # as the operator typed it
    ],
    ids=["only-layer", "second-layer", "trailing-slash"],
)
def test_prune_refuses_an_image_in_use_and_names_the_mount(
    images: Path, mountinfo: Path, lowerdir: str
) -> None:
    stale = make_image(images, STALE)
    older = make_image(images, "aaaaaaaaaaaa" + "0" * 52)
    with mountinfo.open("a") as f:
        f.write(overlay_line(41, "/var/lib/m/merged", lowerdir.format(rootfs=stale / "rootfs")))
    with pytest.raises(ImageInUseError) as err:
        prune_images(cache_dir=images, mountinfo=mountinfo)
    message = str(err.value)
    assert "base-0123456789ab is in use" in message
    assert "/var/lib/m/merged (mount id 41) has it as lowerdir" in message
    assert stale.is_dir() and not older.exists()
    assert err.value.removed == [older]


def test_prune_refuses_an_image_with_a_mount_inside(images: Path, mountinfo: Path) -> None:
    stale = make_image(images, STALE)
    with mountinfo.open("a") as f:
        f.write(f"50 22 0:50 / {stale}/rootfs/proc rw - proc proc rw\n")
    with pytest.raises(ImageInUseError, match=r"/rootfs/proc \(mount id 50\) is mounted inside it"):
        prune_images(cache_dir=images, mountinfo=mountinfo)
    assert stale.is_dir()
