"""The self-built Pulumi toolchain: our language host's Go tests, and the pins agree."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLCHAIN = ROOT / "toolchain"


def _go() -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        pytest.fail("go is not installed; scripts/setup.sh needs it to build the toolchain")
    return go


def test_language_host_go_tests_pass() -> None:
    result = subprocess.run(
        [_go(), "test", "./..."], cwd=TOOLCHAIN, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_go_vet_is_clean() -> None:
    result = subprocess.run(
        [_go(), "vet", "./..."], cwd=TOOLCHAIN, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_and_sdk_pins_agree() -> None:
    sdk = re.search(r'"pulumi==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    cli = re.search(
        r"github.com/pulumi/pulumi/pkg/v3 v([0-9.]+)", (TOOLCHAIN / "go.mod").read_text()
    )
    assert sdk and cli, "both pins must be present"
    assert sdk.group(1) == cli.group(1)


def test_pulumi_on_path_is_the_pinned_version() -> None:
    pulumi = shutil.which("pulumi")
    assert pulumi, "pulumi is not on PATH: run the tests through scripts/test.sh"
    version = subprocess.run([pulumi, "version"], capture_output=True, text=True, check=True).stdout
    sdk = re.search(r'"pulumi==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert sdk and version.strip() == f"v{sdk.group(1)}"
