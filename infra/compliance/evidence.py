"""What a stack last proved about itself, kept on the controller for the compliance report.

Each producer records its latest result for a stack, replacing the one before:
`regionstack verify` its merged JUnit XML (`verify.xml`), the policy pack its results
(`policies.json`), `regionstack verify --hardening` its Lynis/OpenSCAP figures
(`hardening.json`). Beside each file a `<name>.meta.json` says when it was recorded and
from which checkout, so the report can show the evidence's date.

The store is `<state dir>/evidence/<stack>/` (REGIONSTACK_STATE_DIR moves it, with the
rest of the controller's state: infra/config/environment.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.config.environment import state_dir

VERIFY_JUNIT = "verify.xml"
POLICY_RESULTS = "policies.json"
HARDENING = "hardening.json"
KINDS = (VERIFY_JUNIT, POLICY_RESULTS, HARDENING)

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Evidence:
    stack: str
    kind: str
    path: Path
    recorded_at: datetime
    revision: str | None  # the checkout's commit, None outside a git checkout

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def evidence_dir(stack: str, root: Path | None = None) -> Path:
    return (root or state_dir() / "evidence") / stack


def _revision() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def record(stack: str, kind: str, data: bytes, root: Path | None = None) -> Evidence:
    """Keep `data` as the stack's latest evidence of `kind` (written whole, then renamed, so
    a reader never sees half a file)."""
    if kind not in KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}: one of {', '.join(KINDS)}")
    directory = evidence_dir(stack, root)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    meta = {"stack": stack, "kind": kind, "recorded_at": now.isoformat(), "revision": _revision()}
    for name, content in ((kind, data), (f"{kind}.meta.json", json.dumps(meta).encode())):
        partial = directory / f".{name}.partial"
        partial.write_bytes(content)
        os.replace(partial, directory / name)
    return Evidence(stack, kind, directory / kind, now, meta["revision"])


def latest(stack: str, kind: str, root: Path | None = None) -> Evidence | None:
    """The stack's latest evidence of `kind`, None if it has none yet."""
    directory = evidence_dir(stack, root)
    path, meta_path = directory / kind, directory / f"{kind}.meta.json"
    if not path.is_file() or not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    return Evidence(
        stack, kind, path, datetime.fromisoformat(meta["recorded_at"]), meta.get("revision")
    )
