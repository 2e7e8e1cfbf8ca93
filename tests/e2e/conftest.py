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

from infra.sandbox import make_sandbox

ROOT = Path(__file__).resolve().parents[2]


def needs_root_and(*tools: str) -> pytest.MarkDecorator:
    """Skip a module's tests unless run as root with every one of `tools` installed."""
    missing = [t for t in tools if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    return pytest.mark.skipif(
        os.geteuid() != 0 or bool(missing),
        reason=f"needs root and {', '.join(tools)} (missing: {', '.join(missing) or 'none'})",
    )


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
    workdir, env = make_sandbox(tmp_path, "e2e-test-passphrase", **extra_env)
    return PulumiProject(workdir, env)


@pytest.fixture
def pulumi_project(tmp_path: Path) -> Iterator[PulumiProject]:
    yield make_project(tmp_path)
