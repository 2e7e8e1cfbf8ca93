"""Building, with the real build faked: publishing under the digest, forcing, interruptions,
the lock, restoring from the tarball; and the checks of a built rootfs.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.local.image import build
from infra.local.image.build import _verify, build_image, ensure_image
from infra.local.image.errors import ImageError, ImageInUseError, ImagePreflightError
from infra.local.image.mirror import MirrorConfig
from infra.local.image.recipe import DEFAULT_RECIPE, ImageRecipe
from infra.local.image.status import image_status
from tests.unit.local.image.fakes import CURRENT, MIRROR_A, MIRROR_B, make_image, overlay_line


class FakeBuild:
    """Stands in for `_build_into`: writes what a build publishes, records the mirrors."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.mirrors: list[str] = []
        self.fail_with = fail_with

    def __call__(
        self, builder: Any, recipe: ImageRecipe, mirror: MirrorConfig, work: Path, digest: str
    ) -> None:
        self.mirrors.append(mirror.uri)
        (work / "rootfs/etc").mkdir(parents=True)
        (work / "image.tar").write_bytes(b"")
        if self.fail_with is not None:
            raise self.fail_with
        (work / "manifest.json").write_text(json.dumps({"digest": digest, "mirror": mirror.uri}))


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeBuild]:
    def install(
        mirror: MirrorConfig = MIRROR_A, fail_with: BaseException | None = None
    ) -> FakeBuild:
        fake = FakeBuild(fail_with)
        monkeypatch.setattr(build, "_build_into", fake)
        monkeypatch.setattr(build, "preflight", lambda cache_dir: None)
        monkeypatch.setattr(build, "controller_mirror", lambda suite: mirror)
        return fake

    return install


def test_build_publishes_the_image_under_its_digest(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake = fake_build()
    lines: list[str] = []
    rootfs = build_image(cache_dir=images, progress=lines.append)
    assert rootfs == images / f"base-{CURRENT[:12]}" / "rootfs" and rootfs.is_dir()
    assert fake.mirrors == [MIRROR_A.uri]
    assert sorted(p.name for p in images.iterdir()) == [".lock", f"base-{CURRENT[:12]}"]
    assert lines[-1].startswith("done in ")


def test_the_same_image_whatever_mirror_built_it(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake_build(MIRROR_A)
    first = ensure_image(cache_dir=images, progress=print)
    other_mirror = fake_build(MIRROR_B)
    assert ensure_image(cache_dir=images, progress=print) == first
    assert other_mirror.mirrors == []  # cached: not rebuilt from the other mirror


def test_force_rebuilds_and_replaces(images: Path, fake_build: Callable[..., FakeBuild]) -> None:
    fake_build(MIRROR_A)
    build_image(cache_dir=images, progress=print)
    fake = fake_build(MIRROR_B)
    rootfs = build_image(force=True, cache_dir=images, progress=print)
    assert fake.mirrors == [MIRROR_B.uri]
    manifest = json.loads((rootfs.parent / "manifest.json").read_text())
    assert manifest["mirror"] == MIRROR_B.uri
    assert sorted(p.name for p in images.iterdir()) == [".lock", rootfs.parent.name]


def test_force_is_refused_while_the_image_is_in_use(
    images: Path, mountinfo: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake_build()
    rootfs = build_image(cache_dir=images, progress=print)
    with mountinfo.open("a") as f:
        f.write(overlay_line(45, "/var/lib/m/merged", str(rootfs)))
    fake = fake_build()
    with pytest.raises(
        ImageInUseError, match=r"cannot rebuild: base-\w+ is in use: .*/var/lib/m/merged"
    ):
        build_image(force=True, cache_dir=images, progress=print, mountinfo=mountinfo)
    assert fake.mirrors == []


@pytest.mark.parametrize(
    "interruption",
    [KeyboardInterrupt(), ImageError("debootstrap failed")],
    ids=["ctrl-c", "error"],
)
def test_an_interrupted_build_leaves_nothing_that_looks_complete(
    images: Path, fake_build: Callable[..., FakeBuild], interruption: BaseException
) -> None:
    fake_build(fail_with=interruption)
    with pytest.raises(type(interruption)):
        build_image(cache_dir=images, progress=print)
    assert [p.name for p in images.iterdir()] == [".lock"]
    assert image_status(cache_dir=images) == []


def test_a_killed_builds_work_dir_is_removed_by_the_next_build(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    (images / ".build-0123456789ab-999/rootfs").mkdir(parents=True)
    fake_build()
    lines: list[str] = []
    build_image(cache_dir=images, progress=lines.append)
    assert "removing .build-0123456789ab-999, left by an interrupted build" in lines
    assert not (images / ".build-0123456789ab-999").exists()


def test_concurrent_builds_wait_for_the_lock_and_reuse_the_result(
    images: Path, fake_build: Callable[..., FakeBuild]
) -> None:
    fake = fake_build()
    lines: list[str] = []
    result: list[Path] = []
    fd = os.open(images / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "another pulumi up" is building
    waiter = threading.Thread(
        target=lambda: result.append(ensure_image(cache_dir=images, progress=lines.append))
    )
    waiter.start()
    deadline = time.monotonic() + 10
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lines and lines[0].startswith("waiting for another image build")
    make_image(images, CURRENT)  # ...which then publishes the image
    os.close(fd)
    waiter.join(10)
    assert result == [images / f"base-{CURRENT[:12]}" / "rootfs"]
    assert fake.mirrors == []


def tar_of(rootfs: Path, tarball: Path) -> None:
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")


def test_ensure_restores_rootfs_from_the_tarball(tmp_path: Path, images: Path) -> None:
    final = make_image(images, CURRENT)
    (final / "rootfs/etc/os-release").write_text("ID=debian\n")
    tar_of(final / "rootfs", final / "image.tar")
    subprocess.run(["rm", "-rf", str(final / "rootfs")], check=True)
    lines: list[str] = []
    rootfs = ensure_image(cache_dir=images, progress=lines.append)
    assert (rootfs / "etc/os-release").read_text() == "ID=debian\n"
    assert lines == [f"restoring {final.name}/rootfs from image.tar…"]
    assert sorted(p.name for p in images.iterdir()) == [".lock", final.name]


def test_a_corrupt_tarball_fails_the_restore_and_leaves_no_rootfs(images: Path) -> None:
    final = make_image(images, CURRENT)
    subprocess.run(["rm", "-rf", str(final / "rootfs")], check=True)
    (final / "image.tar").write_bytes(b"not a tar file" * 100)
    with pytest.raises(
        ImageError, match=rf"(?s)cannot restore {final.name} .*remove {final} to rebuild"
    ):
        ensure_image(cache_dir=images, progress=print)
    assert sorted(p.name for p in final.iterdir()) == ["image.tar", "manifest.json"]
    assert sorted(p.name for p in images.iterdir()) == [".lock", final.name]


def test_build_runs_preflight_before_anything_else(
    controller: pytest.MonkeyPatch, images: Path
) -> None:
    controller.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ImagePreflightError, match="needs root"):
        build_image(cache_dir=images)
    assert list(images.iterdir()) == []


def fake_rootfs(tmp_path: Path) -> Path:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc/ssh").mkdir(parents=True)
    (rootfs / "etc/systemd/system").mkdir(parents=True)
    (rootfs / "etc/machine-id").write_text("")
    for unit in DEFAULT_RECIPE.masked_units:
        (rootfs / "etc/systemd/system" / unit).symlink_to("/dev/null")
    return rootfs


def test_verify_accepts_a_rootfs_that_keeps_the_recipe(tmp_path: Path) -> None:
    _verify(DEFAULT_RECIPE, fake_rootfs(tmp_path))


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (lambda r: (r / "etc/ssh/ssh_host_ed25519_key").write_text("k"), "SSH host keys left"),
        (
            lambda r: (r / "etc/machine-id").write_text("0" * 32 + "\n"),
            "/etc/machine-id is not empty",
        ),
        (
            lambda r: (r / "etc/systemd/system/console-getty.service").unlink(),
            "console-getty.service is not masked",
        ),
    ],
    ids=["host-keys", "machine-id", "unmasked"],
)
def test_verify_refuses_a_rootfs_that_breaks_the_recipe(
    tmp_path: Path, breakage: Callable[[Path], object], problem: str
) -> None:
    rootfs = fake_rootfs(tmp_path)
    breakage(rootfs)
    with pytest.raises(ImageError, match=f"breaks its recipe: {problem}"):
        _verify(DEFAULT_RECIPE, rootfs)
