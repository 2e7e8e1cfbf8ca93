"""Fixtures of the image tests: a cache dir, a mountinfo, a controller that passes
preflight, and a guard against real builds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from infra.local.image import build, preflight
from tests.unit.local.image.fakes import DiskUsage


@pytest.fixture
def images(tmp_path: Path) -> Path:
    directory = tmp_path / "images"
    directory.mkdir()
    return directory


@pytest.fixture
def mountinfo(tmp_path: Path) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text("22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    return path


@pytest.fixture(autouse=True)
def no_real_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        pytest.fail("a unit test started a real image build: install the fake_build fixture first")

    monkeypatch.setattr(build, "_build_into", refuse)


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A controller that passes preflight; each test breaks one thing."""
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(preflight, "DEBIAN_KEYRING", keyring)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: DiskUsage(0, 0, 50 * 1024**3))
    return monkeypatch
