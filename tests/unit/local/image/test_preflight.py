"""Preflight: a ready controller passes; each missing piece is an error saying what to do."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.local.image import preflight
from infra.local.image.errors import ImagePreflightError
from tests.unit.local.image.fakes import DiskUsage


def test_preflight_passes_on_a_ready_controller(
    controller: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    preflight.preflight(tmp_path / "not/yet/created")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda m: m.setattr(os, "geteuid", lambda: 1000),
            r"needs root.*sudo -E regionstack image build",
        ),
        (
            lambda m: m.setattr(shutil, "which", lambda name: None),
            r"`apt-get install debootstrap`",
        ),
        (
            lambda m: m.setattr(preflight, "DEBIAN_KEYRING", Path("/nonexistent/keyring.gpg")),
            r"`apt-get install debian-archive-keyring`",
        ),
        (
            lambda m: m.setattr(shutil, "disk_usage", lambda path: DiskUsage(0, 0, 1024**3)),
            r"only 1\.0 GiB free .* needs 2 GiB: .*regionstack image prune.*REGIONSTACK_CACHE_DIR",
        ),
    ],
    ids=["not-root", "no-debootstrap", "no-keyring", "low-disk"],
)
def test_preflight_errors_say_what_to_do(
    controller: pytest.MonkeyPatch,
    tmp_path: Path,
    breakage: Callable[[pytest.MonkeyPatch], None],
    message: str,
) -> None:
    breakage(controller)
    with pytest.raises(ImagePreflightError, match=message):
        preflight.preflight(tmp_path)
