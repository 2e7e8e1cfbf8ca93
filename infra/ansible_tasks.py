"""Every task the roles and the site playbook reach, with the tags Ansible gives it.

The walk follows what Ansible does with tags: `import_tasks`, `import_role` and `block` pass
theirs down; an `include_tasks` or `include_role` passes only its `apply: {tags: …}`, and is
itself a task the tags select. A templated `tasks_from` is followed for each value it takes
in a bake and in a boot run. Used by the role tests (tests/unit/roles) and by the compliance
catalogue's link check, which needs to know which tags exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

STATIC = ("import_tasks", "import_role")
DYNAMIC = ("include_tasks", "include_role")
NESTED = ("block", "rescue", "always")
# The values a role entry's template takes: a bake run and a boot (or bare) run.
RUNS = ({"regionstack_bake": True}, {"regionstack_bake": False})


@dataclass(frozen=True)
class Task:
    where: str  # file: task name (via the chain of imports)
    tags: frozenset[str]  # its effective tags: its own and those it inherits
    registers: str | None = None  # the variable it registers its result in
    reads: frozenset[str] = frozenset()  # registered-result variables (`__…`) it reads


@dataclass(frozen=True)
class Declared:
    where: str
    role: str | None  # whose tag it must be; None: any role's (a play's own task)
    tag: str


@dataclass
class Walk:
    root: Path
    tasks: list[Task] = field(default_factory=list)
    declared: list[Declared] = field(default_factory=list)
    files: set[Path] = field(default_factory=set)

    def role(self, name: str, tasks_from: str, inherited: frozenset[str], via: str) -> None:
        file = tasks_from if tasks_from.endswith((".yml", ".yaml")) else f"{tasks_from}.yml"
        self.file(self.root / "roles" / name / "tasks" / file, name, inherited, via)

    def playbook(self, path: Path) -> None:
        for play in yaml.safe_load(path.read_text()) or []:
            tags = task_tags(play)
            for key in ("pre_tasks", "tasks", "post_tasks"):
                self.entries(play.get(key) or [], path, None, tags, "")
            for entry in play.get("roles") or []:
                entry = {"role": entry} if isinstance(entry, str) else entry
                self.role(entry["role"], "main", tags | task_tags(entry), self._rel(path))

    def file(self, path: Path, role: str | None, inherited: frozenset[str], via: str) -> None:
        if not path.is_file():
            raise AssertionError(f"{path} (imported via {via or 'an entry point'}) is missing")
        self.files.add(path)
        self.entries(yaml.safe_load(path.read_text()) or [], path, role, inherited, via)

    def entries(
        self,
        entries: Iterable[dict[str, Any]],
        path: Path,
        role: str | None,
        inherited: frozenset[str],
        via: str,
    ) -> None:
        for entry in entries:
            where = f"{self._rel(path)}: {entry.get('name', '(unnamed)')}"
            action, argument = _action(entry)
            owner = role
            if role is None and action in ("import_role", "include_role"):
                owner = argument["name"]  # a play's task that applies a role carries its tags
            own = task_tags(entry)
            apply = task_tags(argument.get("apply") or {}) if isinstance(argument, dict) else set()
            self.declared += [Declared(where, owner, t) for t in sorted(own | apply)]
            tags = inherited | own
            chain = f"{where} < {via}" if via else where
            if any(key in entry for key in NESTED):
                for key in NESTED:
                    self.entries(entry.get(key) or [], path, role, tags, via)
                continue
            if action not in STATIC:
                name = f"{where}{f' (via {via})' if via else ''}"
                self.tasks.append(Task(name, tags, entry.get("register"), _reads(entry)))
            below = tags if action in STATIC else frozenset(apply)
            if action in ("import_tasks", "include_tasks"):
                file = argument["file"] if isinstance(argument, dict) else argument
                self.file(path.parent / str(file), role, below, chain)
            elif action in ("import_role", "include_role"):
                for tasks_from in _rendered(str(argument.get("tasks_from", "main"))):
                    self.role(str(argument["name"]), tasks_from, below, chain)

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))


# A registered result read without a default: `__role_x`, not followed by `| default(`.
_READ = re.compile(r"\b(__\w+)\b(?![\w.\[\]'\"]*\s*\|\s*default\()")


def _reads(entry: dict[str, Any]) -> frozenset[str]:
    text = yaml.safe_dump({k: v for k, v in entry.items() if k != "register"})
    return frozenset(_READ.findall(text))


def task_tags(entry: dict[str, Any]) -> frozenset[str]:
    """A task's, block's or play's own tags, as Ansible reads them (a list, or one
    comma-separated string)."""
    tags = entry.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(",")
    return frozenset(str(tag).strip() for tag in tags)


def _action(entry: dict[str, Any]) -> tuple[str | None, Any]:
    for key, value in entry.items():
        short = key.removeprefix("ansible.builtin.").removeprefix("ansible.legacy.")
        if short in STATIC + DYNAMIC:
            return short, value
    return None, None


def _rendered(value: str) -> set[str]:
    """A templated role entry becomes each value it takes in a bake and in a boot run."""
    if "{{" not in value:
        return {value}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["bool"] = bool
    return {env.from_string(value).render(**run) for run in RUNS}


def walk(root: Path, entry: str) -> Walk:
    """Every task reached from a role's tasks/main.yml, or from a playbook."""
    result = Walk(root)
    if entry.endswith(".yml"):
        result.playbook(root / entry)
    else:
        result.role(entry, "main", frozenset(), "")
    return result
