"""A throwaway copy of the project with a Pulumi file backend of its own.

Tests and benchmarks run the real CLI against such a copy, so `pulumi stack init` may write
its encryption salt into the copy's stack files and nothing touches an operator's stacks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from infra.playbook import CONTENT_PATHS

ROOT = Path(__file__).resolve().parent.parent
# The Pulumi program and its configuration, the policy pack and the catalogue it reads,
# and everything the site playbook reads.
PROJECT_PARTS = (
    "Pulumi.yaml",
    "infra",
    "modules",
    "stacks",
    "policies",
    "compliance",
    *CONTENT_PATHS,
)


def copy_project(workdir: Path) -> Path:
    """Copy the program, its configuration and what the site playbook reads into `workdir`
    (made here; it must not exist yet)."""
    workdir.mkdir()
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, workdir / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, workdir / part)
    return workdir


def make_sandbox(directory: Path, passphrase: str, **extra_env: str) -> tuple[Path, dict[str, str]]:
    """Copy the project under `directory`; return its work dir and the environment to run
    `pulumi` in (own backend and PULUMI_HOME, offline knobs, the given passphrase)."""
    workdir = copy_project(directory / "project")
    # The operator's own stacks may carry the salt of their passphrase; the sandbox's stacks
    # are new ones, initialised with the sandbox's passphrase.
    for stack_file in (workdir / "stacks").glob("Pulumi.*.yaml"):
        text = stack_file.read_text(encoding="utf-8")
        kept = [line for line in text.splitlines(True) if not line.startswith("encryptionsalt:")]
        stack_file.write_text("".join(kept), encoding="utf-8")
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    backend = directory / "backend"
    backend.mkdir()
    env = dict(os.environ)
    env.update(
        PULUMI_BACKEND_URL=f"file://{backend}",
        PULUMI_HOME=str(directory / "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_CONFIG_PASSPHRASE=passphrase,
        # Inventories and playbook logs the stacks write at deploy time stay in the sandbox.
        REGIONSTACK_STATE_DIR=str(directory / "state"),
        **extra_env,
    )
    return workdir, env
