"""Fixtures shared by the unit tests: the sample configuration and throwaway copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.config.loader import Fleet, load_fleet

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "stacks"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The sample `stacks/` of the checkout; read it, never write it."""
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_fleet() -> Fleet:
    return load_fleet(SAMPLE_DIR)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the sample `stacks/`, named `stacks` like the original."""
    copy = tmp_path / "stacks"
    shutil.copytree(SAMPLE_DIR, copy)
    return copy
