"""Configuration cases: small patches to a copy of the sample `stacks/`, and what they expect.

A case file (`invalid/*.yaml`, `valid/*.yaml`) holds:

* `description` - what the case proves;
* either one patch at the top level (`file` plus an operation) or `patches:`, a list of them.
  `file` is relative to `stacks/`; the operations are
  `content` (replace or create the file), `replace` (`[{old, new}]` text substitutions),
  `set` (`{key path: value}` on the parsed YAML, e.g. `regions[2].parent`; an index one past
  the end appends), `unset` (a list of key paths), `delete: true`, and `encoding` (write
  the result in that encoding instead of UTF-8);
* `expect` - every problem validation must report, as `{rule, path, file,
  message_contains}` with optional `hint_contains`, `line` and `column`; nothing else may be
  reported;
* `xfail` - optional: why the case fails today (a known bug in infra/), so the suite still
  runs and says when it is fixed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config.problems import Problem

HERE = Path(__file__).resolve().parent
OPERATIONS = ("content", "replace", "set", "unset", "delete")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Expected:
    rule: str
    path: str
    file: str
    message_contains: str
    hint_contains: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.rule, self.path)

    def matches(self, problem: Problem) -> bool:
        return (
            problem_key(problem) == self.key
            and self.message_contains in problem.message
            and (self.hint_contains is None or self.hint_contains in problem.hint)
            and (self.line is None or problem.line == self.line)
            and (self.column is None or problem.column == self.column)
        )


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    patches: list[dict[str, Any]]
    expect: list[Expected] = field(default_factory=list)
    xfail: str | None = None

    def param(self, expecting: bool = True) -> Any:
        """A pytest parameter; `expecting` tests compare with `expect` and carry the xfail."""
        xfail = self.xfail if expecting else None
        marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
        return pytest.param(self, id=self.name, marks=marks)


def problem_key(problem: Problem) -> tuple[str, str, str]:
    return (problem.file, problem.rule, problem.path)


def load_case(path: Path) -> Case:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    patches = data.get("patches") or [
        {k: v for k, v in data.items() if k in ("file", "encoding", *OPERATIONS)}
    ]
    for patch in patches:
        if "file" not in patch or not any(op in patch for op in OPERATIONS):
            raise ValueError(f"{path}: each patch needs `file` and one of {OPERATIONS}")
    return Case(
        name=path.stem,
        description=data["description"],
        patches=patches,
        expect=[Expected(**e) for e in data.get("expect") or []],
        xfail=data.get("xfail"),
    )


def load_cases(kind: str) -> list[Case]:
    return [load_case(p) for p in sorted((HERE / kind).glob("*.yaml"))]


def parse_key_path(text: str) -> list[str | int]:
    """`regions[2].local.cidr` -> `["regions", 2, "local", "cidr"]`."""
    return [name if name else int(index) for name, index in _PART.findall(text)]


def _set(data: Any, path: list[str | int], value: Any) -> None:
    *parents, last = path
    for part in parents:
        data = data[part]
    if isinstance(last, int) and last == len(data):
        data.append(value)
    else:
        data[last] = value


def _unset(data: Any, path: list[str | int]) -> None:
    *parents, last = path
    for part in parents:
        data = data[part]
    del data[last]


def apply_patch(config_dir: Path, patch: dict[str, Any]) -> None:
    target = config_dir / patch["file"]
    if patch.get("delete"):
        target.unlink()
        return
    if "content" in patch:
        text = patch["content"]
    else:
        text = target.read_text(encoding="utf-8")
        for sub in patch.get("replace", []):
            if sub["old"] not in text:
                raise ValueError(f"{patch['file']}: {sub['old']!r} not found")
            text = text.replace(sub["old"], sub["new"], 1)
        if "set" in patch or "unset" in patch:
            data = yaml.safe_load(text)
            for key_path, value in (patch.get("set") or {}).items():
                _set(data, parse_key_path(key_path), value)
            for key_path in patch.get("unset") or []:
                _unset(data, parse_key_path(key_path))
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode(patch.get("encoding", "utf-8")))


def apply_case(case: Case, config_dir: Path) -> None:
    for patch in case.patches:
        apply_patch(config_dir, patch)


def mismatch(case: Case, problems: list[Problem]) -> str | None:
    """Why `problems` is not what the case expects, or None when it is."""
    found = Counter(problem_key(p) for p in problems)
    wanted = Counter(e.key for e in case.expect)
    lines = []
    if found != wanted:
        lines.append(f"missing: {sorted((wanted - found).elements())}")
        lines.append(f"unexpected: {sorted((found - wanted).elements())}")
    for expected in case.expect:
        if not any(expected.matches(p) for p in problems):
            lines.append(f"no problem matches {expected}")
    if not lines:
        return None
    shown = "\n".join(p.to_text() + f" @{p.line}:{p.column}" for p in problems)
    return f"{case.name}: {case.description}\n" + "\n".join(lines) + f"\nreported:\n{shown}"
