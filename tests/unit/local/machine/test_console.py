"""What a failed machine's error shows of its console (infra/local/machine/console.py)."""

from __future__ import annotations

from pathlib import Path

from infra.local.machine import console as machine


def test_console_tail_is_plain_text(tmp_path: Path) -> None:
    (tmp_path / "console.log").write_text(
        "Spawning container m1.\n"
        "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mssh.service\x1b[0m.\r\r\n\r\r\n"
        "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start x.service.\r\r\n"
    )
    assert machine.console_tail(tmp_path, lines=2) == (
        "[  OK  ] Started ssh.service.\n[FAILED] Failed to start x.service."
    )
    assert machine.console_tail(tmp_path / "absent") == "(no console log)"
