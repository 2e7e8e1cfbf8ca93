"""Fixtures that run the real Pulumi CLI and engine against a throwaway copy of the project.

Each test gets its own copy of the project (so `pulumi stack init` may write its
encryption salt into the copy's stack files, never into the checkout) and its own file
backend, so tests neither see nor touch an operator's stacks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PARTS = ("Pulumi.yaml", "infra", "modules", "stacks")


@dataclass
class PulumiProject:
    workdir: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", "--non-interactive", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def init(self, stack: str) -> None:
        self.run("stack", "init", stack)

    def outputs(self, stack: str) -> dict[str, Any]:
        out = self.run("stack", "output", "--stack", stack, "--json", "--show-secrets").stdout
        return dict(json.loads(out))


def make_project(tmp_path: Path, **extra_env: str) -> PulumiProject:
    """A copy of the project with its own file backend under `tmp_path`."""
    if shutil.which("pulumi") is None:
        pytest.fail("pulumi is not on PATH: run the tests through scripts/test.sh, which builds it")
    workdir = tmp_path / "project"
    workdir.mkdir()
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, workdir / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, workdir / part)
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    backend = tmp_path / "backend"
    backend.mkdir()
    env = dict(os.environ)
    env.update(
        PULUMI_BACKEND_URL=f"file://{backend}",
        PULUMI_HOME=str(tmp_path / "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_CONFIG_PASSPHRASE="e2e-test-passphrase",
        **extra_env,
    )
    return PulumiProject(workdir, env)


@pytest.fixture
def pulumi_project(tmp_path: Path) -> Iterator[PulumiProject]:
    yield make_project(tmp_path)
