"""The controller preflight: each missing piece is refused with what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.preflight import REQUIRED_TOOLS, PreflightError, check_controller


@pytest.fixture
def filesystems(tmp_path: Path) -> Path:
    path = tmp_path / "filesystems"
    path.write_text("nodev\tproc\n\text4\nnodev\toverlay\n")
    return path


def _all_tools(_tool: str) -> str:
    return "/usr/bin/tool"


def test_a_ready_controller_passes(filesystems: Path) -> None:
    check_controller(euid=lambda: 0, which=_all_tools, filesystems=filesystems)


def test_non_root_is_refused(filesystems: Path) -> None:
    with pytest.raises(PreflightError, match="need root"):
        check_controller(euid=lambda: 1000, which=_all_tools, filesystems=filesystems)


@pytest.mark.parametrize("tool", sorted(REQUIRED_TOOLS))
def test_each_missing_tool_names_its_package(filesystems: Path, tool: str) -> None:
    with pytest.raises(PreflightError) as raised:
        check_controller(
            euid=lambda: 0, which=lambda t: None if t == tool else "/x", filesystems=filesystems
        )
    assert f"{tool} is missing: {REQUIRED_TOOLS[tool]}" in str(raised.value)


def test_missing_overlayfs_is_refused(tmp_path: Path) -> None:
    filesystems = tmp_path / "filesystems"
    filesystems.write_text("nodev\tproc\n\text4\n")
    with pytest.raises(PreflightError, match="no overlayfs"):
        check_controller(euid=lambda: 0, which=_all_tools, filesystems=filesystems)


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    filesystems = tmp_path / "filesystems"
    filesystems.write_text("")
    with pytest.raises(PreflightError) as raised:
        check_controller(euid=lambda: 1000, which=_all_tools, filesystems=filesystems)
    assert "need root" in str(raised.value) and "no overlayfs" in str(raised.value)
