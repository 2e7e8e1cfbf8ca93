"""`pulumi preview` with the engine's event log: what the policy run and the drift scan read.

The event log (`--event-log`, a JSON object per line) carries what `--json` output does
not: each policy's verdicts, and per resource the properties a refreshed state differs in.
Pulumi offers the flag only with its debug commands on (PULUMI_DEBUG_COMMANDS).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class EventLogError(ValueError):
    """The event log is not what the engine writes (a line is not JSON)."""


def preview_with_event_log(
    stack: str,
    options: Sequence[str],
    event_log: Path,
    project_dir: Path,
    env: Mapping[str, str],
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run `pulumi preview --stack <stack> <options>` writing `event_log`; its result as it
    is (the caller judges the exit code); subprocess.TimeoutExpired after `timeout` s."""
    return subprocess.run(
        [
            "pulumi",
            "--non-interactive",
            "preview",
            "--stack",
            stack,
            *options,
            "--event-log",
            str(event_log),
        ],
        cwd=project_dir,
        env={**env, "PULUMI_DEBUG_COMMANDS": "true"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_events(log: Path) -> list[dict[str, Any]]:
    """The log's events in order; OSError when there is none (the engine failed first)."""
    events = []
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise EventLogError(f"{log}: line {number} is not JSON ({err.msg})") from err
    return events
