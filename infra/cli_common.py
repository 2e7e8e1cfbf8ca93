"""What every `regionstack` command group shares (the main CLI, `compliance`, `fleet`):
the validated configuration or the report of why not, and where a report is written."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.config.loader import Fleet, validate


def load_valid_fleet(config: Path) -> Fleet | None:
    """The fleet of `config`, or None after printing every problem to stderr."""
    fleet, report = validate(config)
    if fleet is None:
        print(report.to_text(), file=sys.stderr)
    return fleet


def write_output(text: str, output: Path | None) -> None:
    """`text` to stdout, or to `output` (its directory made first)."""
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
