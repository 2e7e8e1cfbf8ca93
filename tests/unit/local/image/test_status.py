"""The status of the cache: current, stale and incomplete images, and what uses them."""

from __future__ import annotations

from pathlib import Path

from infra.local.image.status import image_status
from tests.unit.local.image.fakes import CURRENT, STALE, make_image, overlay_line


def test_status_of_an_empty_or_missing_cache(tmp_path: Path, images: Path) -> None:
    assert image_status(cache_dir=images) == []
    assert image_status(cache_dir=tmp_path / "missing") == []


def test_status_lists_current_stale_and_incomplete_images(images: Path, mountinfo: Path) -> None:
    make_image(images, STALE)
    current = make_image(images, CURRENT)
    make_image(images, "fedcba987654" + "0" * 52, complete=False)
    (images / ".build-abc-1").mkdir()  # a work dir is not an image
    with mountinfo.open("a") as f:
        f.write(overlay_line(40, "/var/lib/m/merged", f"{current}/rootfs"))
    infos = image_status(cache_dir=images, mountinfo=mountinfo)
    summary = [(i.name, i.current, i.complete, i.built_at, i.in_use_by) for i in infos]
    assert summary == [
        ("base-fedcba987654", False, False, None, ()),
        ("base-0123456789ab", False, True, "2026-01-01T00:00:00+00:00", ()),
        (current.name, True, True, "2026-01-02T00:00:00+00:00", ("/var/lib/m/merged",)),
    ]
    assert infos[2].size_bytes == 5 * 1024**2 and infos[2].digest == CURRENT
    assert infos[0].size_bytes > 0  # measured on disk, no manifest to read it from
