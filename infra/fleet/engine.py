"""What applies one region: the `Engine` protocol, and the real one over Pulumi.

The Automation API is not safe for parallel operations in one workspace: selecting a
stack rewrites the workspace's "current stack" file, so parallel selects corrupt it
(pulumi/pulumi #8186, #6287), and one Python process running several updates shares
its working directory and gRPC servers (#7782). So each region's `up` runs in a process
of its own (`python -m infra.fleet.pulumi_up`), with its own `LocalWorkspace` over the
project root and `--stack` on every command instead of a selected stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from infra.fleet.plan import PlannedRegion

# The checkout this code runs from: the child process imports the same code, whatever
# the project root it runs in.
CODE_ROOT = Path(__file__).resolve().parents[2]
# Kept from a failed `up` so the journal says why without holding the whole log.
ERROR_TAIL_LINES = 20


class ApplyFailed(Exception):
    """The region's update failed; the message says why."""


class Engine(Protocol):
    def apply(self, region: PlannedRegion) -> None:
        """Bring the region to its configuration; raise `ApplyFailed` if it does not."""


@dataclass(frozen=True)
class PulumiEngine:
    """`pulumi up` of each region through the Automation API, one process per stack."""

    work_dir: Path
    log_dir: Path
    python: str = sys.executable
    env: Mapping[str, str] | None = None

    def command(self, region: PlannedRegion) -> list[str]:
        return [
            self.python,
            "-m",
            "infra.fleet.pulumi_up",
            "--work-dir",
            str(self.work_dir),
            "--stack",
            region.stack,
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.env is None else dict(self.env)
        # Several updates at once must not each stop to check for a newer CLI or prompt.
        env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
        env["PULUMI_NON_INTERACTIVE"] = "true"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CODE_ROOT), env.get("PYTHONPATH")]))
        return env

    def apply(self, region: PlannedRegion) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{region.stack}.log"
        with log.open("w", encoding="utf-8") as out:
            result = subprocess.run(
                self.command(region),
                cwd=self.work_dir,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()
            raise ApplyFailed(
                f"pulumi up of {region.stack} exited {result.returncode} (log: {log}): "
                + " / ".join(tail[-ERROR_TAIL_LINES:])
            )
