"""The builder's own error paths: a failing command, a failing debootstrap, an sshd that
ignores the drop-in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.image.builder import _Builder
from infra.local.image.errors import ImageError
from infra.local.image.recipe import DEFAULT_RECIPE
from tests.unit.local.image.fakes import MIRROR_A


@pytest.fixture
def builder(images: Path) -> Iterator[_Builder]:
    fd = os.open(images / ".lock", os.O_RDWR | os.O_CREAT)
    yield _Builder(fd, print)
    os.close(fd)


def test_a_failing_command_is_an_image_error_with_its_output(builder: _Builder) -> None:
    with pytest.raises(ImageError, match=r"`sh -c .*` failed with exit code 3:\nboom"):
        builder.run(["sh", "-c", "echo boom >&2; exit 3"])


def test_a_failing_debootstrap_reports_its_last_output(
    builder: _Builder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "debootstrap"
    script.write_text(
        "#!/bin/sh\n"
        'echo "I: Retrieving InRelease"\n'
        'echo "E: Failed getting release file http://mirror-a.example/debian/dists/bookworm/InRelease"\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    lines: list[str] = []
    builder.progress = lines.append
    with pytest.raises(ImageError) as err:
        builder.debootstrap(DEFAULT_RECIPE, MIRROR_A, tmp_path / "rootfs")
    message = str(err.value)
    assert "debootstrap of bookworm from http://mirror-a.example/debian failed (exit 1)" in message
    assert "apt-get update" in message and "E: Failed getting release file" in message
    assert lines == [
        "debootstrap: fetching the package index…",
        "debootstrap error: Failed getting release file http://mirror-a.example/debian/dists/bookworm/InRelease",
    ]


def test_sshd_must_apply_the_drop_in(
    builder: _Builder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An sshd_config that sets a value before the Include wins; the build must notice."""

    def chroot(rootfs: Path, *args: str) -> str:
        return "passwordauthentication yes\npermitrootlogin no\n" if "-T" in args else ""

    monkeypatch.setattr(builder, "chroot", chroot)
    rootfs = tmp_path / "rootfs"
    (rootfs / "run").mkdir(parents=True)
    with pytest.raises(ImageError, match=r"sshd does not apply `PasswordAuthentication no`"):
        builder._sshd(DEFAULT_RECIPE, rootfs)
    assert not (rootfs / "run/sshd").exists()  # the check's scaffolding is gone
