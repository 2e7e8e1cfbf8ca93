"""The control catalogue, compliance/controls.yaml: every level 3 requirement item of
GB/T 22239-2019 (general requirements §8.1 and the cloud computing extension §8.2), what
class it is (technical, process, not applicable) and, for technical items, what enforces
and what verifies it.

An item id is its clause and item letter (`8.1.4.1a`); the clause (`8.1.4.1`) and the
part (§8.1 general, §8.2 cloud) follow from it, so they are never written twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config.problems import Problem
from infra.config.yamlsource import YamlSyntaxError, load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOG_FILE = REPO_ROOT / "compliance" / "controls.yaml"

TECHNICAL, PROCESS, NOT_APPLICABLE = "technical", "process", "not_applicable"
STATUS_CLASSES = (TECHNICAL, PROCESS, NOT_APPLICABLE)
TARGETS = ("aws", "local")

ITEM_ID = re.compile(r"^(?P<clause>8\.[12]\.\d+\.\d+)(?P<item>[a-z])$")


class CatalogError(Exception):
    """The catalogue cannot be used; `problems` says where and how to fix it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.to_text() for p in problems))


@dataclass(frozen=True)
class Clause:
    id: str  # "8.1.4.1"
    title_zh: str
    title_en: str


@dataclass(frozen=True)
class Section:
    id: str  # "8.1.4"
    title_zh: str
    title_en: str


@dataclass(frozen=True)
class Control:
    """One requirement item of level 3."""

    id: str  # "8.1.4.1a"
    title_zh: str
    title_en: str
    status: str  # one of STATUS_CLASSES
    # technical: what enforces it and what verifies it
    policies: tuple[str, ...] = ()
    ansible_tags: tuple[str, ...] = ()
    host_tests: tuple[str, ...] = ()  # "tests/hosts/test_common.py::test_sshd_hardened"
    unit_tests: tuple[str, ...] = ()  # "tests/unit/policies/test_aws.py::test_x"
    # keys of the unified configuration the item depends on ("standard.log_retention_days")
    config_keys: tuple[str, ...] = ()
    # process: the document holding the procedure ("docs/procedures/backup.md#restore")
    procedure: str | None = None
    # not_applicable: why; technical with `targets` narrower than TARGETS: why not elsewhere
    reason: str | None = None
    # the deployment targets the technical enforcement exists on
    targets: tuple[str, ...] = ("aws", "local")

    @property
    def clause(self) -> str:
        return _split(self.id)[0]

    @property
    def section(self) -> str:
        return self.clause.rsplit(".", 1)[0]

    @property
    def part(self) -> str:
        """`general` (§8.1) or `cloud` (§8.2, the cloud computing extension)."""
        return "general" if self.id.startswith("8.1.") else "cloud"

    @property
    def tag(self) -> str:
        """The Ansible/pytest tag naming this item (`mlps-8.1.4.1a`)."""
        return f"mlps-{self.id}"


@dataclass(frozen=True)
class Catalog:
    standard: str
    level: int
    sections: dict[str, Section]
    clauses: dict[str, Clause]
    controls: tuple[Control, ...]
    _by_id: dict[str, Control] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({c.id: c for c in self.controls})

    def control(self, control_id: str) -> Control:
        return self._by_id[control_id]

    def has(self, control_id: str) -> bool:
        return control_id in self._by_id

    def technical(self) -> list[Control]:
        return [c for c in self.controls if c.status == TECHNICAL]

    def enforced_by_policy(self, policy: str) -> list[Control]:
        return [c for c in self.controls if policy in c.policies]


def _split(control_id: str) -> tuple[str, str]:
    match = ITEM_ID.match(control_id)
    if not match:
        raise ValueError(f"not an item id: {control_id!r} (expected e.g. 8.1.4.1a)")
    return match["clause"], match["item"]


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def _control(entry: dict[str, Any]) -> Control:
    enforced = entry.get("enforced_by") or {}
    verified = entry.get("verified_by") or {}
    return Control(
        id=str(entry["id"]),
        title_zh=str(entry["zh"]),
        title_en=str(entry["en"]),
        status=str(entry["status"]),
        policies=_strings(enforced.get("policies")),
        ansible_tags=_strings(enforced.get("ansible_tags")),
        host_tests=_strings(verified.get("host_tests")),
        unit_tests=_strings(verified.get("unit_tests")),
        config_keys=_strings(entry.get("config_keys")),
        procedure=entry.get("procedure"),
        reason=entry.get("reason"),
        targets=_strings(entry.get("targets")) or TARGETS,
    )


def _titled(data: dict[str, Any], kind: type) -> dict[str, Any]:
    return {str(k): kind(str(k), str(v["zh"]), str(v["en"])) for k, v in (data or {}).items()}


def _shape_problems(data: Any, file: str) -> list[Problem]:
    """What keeps the document from being read at all (the links are checked elsewhere)."""
    problems: list[Problem] = []

    def problem(path: str, message: str, hint: str, value: Any = None) -> None:
        problems.append(Problem(file, path, message, hint, "catalog-shape", value))

    if not isinstance(data, dict):
        problem("<document>", "is not a mapping", "start from the keys standard, level, controls")
        return problems
    for key in ("standard", "level", "sections", "clauses", "controls"):
        if key not in data:
            problem(key, "is missing", f"add `{key}:` (see docs/compliance.md)")
    seen: set[str] = set()
    for index, entry in enumerate(data.get("controls") or []):
        path = f"controls[{index}]"
        if not isinstance(entry, dict):
            problem(path, "is not a mapping", "write the item as id/zh/en/status keys")
            continue
        for key in ("id", "zh", "en", "status"):
            if not entry.get(key):
                problem(f"{path}.{key}", "is missing", f"give the item its `{key}`")
        control_id = str(entry.get("id", ""))
        if control_id and not ITEM_ID.match(control_id):
            problem(
                f"{path}.id",
                "is not an item id",
                "write clause and item letter: 8.1.4.1a",
                control_id,
            )
        if control_id in seen:
            problem(f"{path}.id", "is listed twice", "keep one entry per item", control_id)
        seen.add(control_id)
        if entry.get("status") not in STATUS_CLASSES:
            problem(
                f"{path}.status",
                "is not a status class",
                f"one of {', '.join(STATUS_CLASSES)}",
                entry.get("status"),
            )
    return problems


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalogue at `path`; CatalogError naming file, key path and fix if it is not
    well formed. Whether its links resolve is `infra.compliance.links`' job."""
    display = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
    try:
        document = load_yaml(path, display)
    except YamlSyntaxError as err:
        raise CatalogError([err.problem]) from err
    problems = _shape_problems(document.data, display)
    if problems:
        raise CatalogError(problems)
    data = document.data
    return Catalog(
        standard=str(data["standard"]),
        level=int(data["level"]),
        sections=_titled(data["sections"], Section),
        clauses=_titled(data["clauses"], Clause),
        controls=tuple(_control(entry) for entry in data["controls"]),
    )
