"""What a failed machine said: the ends of its console log and of its guest's journal."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from infra.local import supervisor
from infra.local.machine.state import UPPER

CONSOLE_TAIL_LINES = 40
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def console_tail(directory: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The end of the console log as plain lines: without the colours and carriage
    returns systemd writes to a terminal, which would garble an error message."""
    try:
        text = (directory / supervisor.CONSOLE_LOG).read_text(errors="replace")
    except OSError:
        return "(no console log)"
    plain = _ANSI.sub("", text).replace("\r", "")
    return "\n".join([line for line in plain.splitlines() if line.strip()][-lines:])


def journal_tail(directory: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The guest's own journal: the console shows what systemd started and failed, the
    journal what the failing units said."""
    journal = directory / UPPER / "var/log/journal"
    if not journal.is_dir():
        return "(no persistent journal in the upper dir)"
    result = subprocess.run(
        [
            "journalctl",
            f"--directory={journal}",
            "--no-pager",
            "-o",
            "short-monotonic",
            "-n",
            str(lines),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or result.stderr.strip()
