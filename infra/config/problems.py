"""What validation reports: one `Problem` per finding, all of them in one pass.

A problem names the file, the key path inside it (``regions[2].parent``), where that key
sits (line and column, when the YAML told us), the offending value and how to fix it, so
an ops engineer can repair a region file without reading the validator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]


def format_key_path(path: KeyPath) -> str:
    """Render ``("regions", 2, "parent")`` as ``regions[2].parent``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "<document>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, and what to do about it."""

    file: str
    path: str
    message: str
    hint: str
    rule: str
    value: Any = None
    line: int | None = None
    column: int | None = None

    def location(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def to_text(self) -> str:
        value = "" if self.value is None else f" (got {self.value!r})"
        return (
            f"{self.location()}: {self.path}: {self.message}{value}\n"
            f"    fix: {self.hint}  [{self.rule}]"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """Every problem found in one validation pass, in a stable order."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    def sorted(self) -> list[Problem]:
        return sorted(
            self.problems, key=lambda p: (p.file, p.line or 0, p.column or 0, p.path, p.rule)
        )

    def to_text(self) -> str:
        if self.ok:
            return "configuration is valid"
        lines = [p.to_text() for p in self.sorted()]
        lines.append(f"{len(self.problems)} problem(s) found")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {"valid": self.ok, "problems": [p.to_dict() for p in self.sorted()]},
            ensure_ascii=False,
            indent=2,
        )


class ConfigInvalid(Exception):
    """Raised by loaders that cannot go on; carries the full report."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.to_text())
        self.report = report
