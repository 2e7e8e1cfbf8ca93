"""Every task of the roles and the site playbook says whether an image layer holds its result.

A bake run is `--tags bake`, a host booted from a layer gets `--tags boot`: a task with
neither (nor `always`) silently runs on neither, only on bare hosts. The walk follows what
Ansible does with tags: `import_tasks`, `import_role` and `block` pass theirs down; an
`include_tasks` or `include_role` passes only its `apply: {tags: …}`, and is itself a task
the tags select. Every other tag is a concern's, prefixed by the role that declares it, so
the roles' tags do not collide in the site playbook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SITE = Path("playbooks/site.yml")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks/main.yml").is_file())

SELECTORS = frozenset({"bake", "boot", "always"})
CONTROL_ID = re.compile(r"^mlps-\d+(\.\d+)+$")
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
            tags = _tags(play)
            for key in ("pre_tasks", "tasks", "post_tasks"):
                self.entries(play.get(key) or [], path, None, tags, "")
            for entry in play.get("roles") or []:
                entry = {"role": entry} if isinstance(entry, str) else entry
                self.role(entry["role"], "main", tags | _tags(entry), self._rel(path))

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
            own = _tags(entry)
            apply = _tags(argument.get("apply") or {}) if isinstance(argument, dict) else set()
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


def _tags(entry: dict[str, Any]) -> frozenset[str]:
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


def untagged(found: Walk) -> list[str]:
    return sorted({t.where for t in found.tasks if not t.tags & SELECTORS})


def unprefixed(found: Walk) -> list[str]:
    return sorted(
        {
            f"{tag.where}: tag {tag.tag!r}"
            for tag in found.declared
            if tag.tag not in SELECTORS
            and not CONTROL_ID.match(tag.tag)
            and not tag.tag.startswith(tuple(f"{r}_" for r in ([tag.role] if tag.role else ROLES)))
        }
    )


ENTRIES = [*ROLES, str(SITE)]


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_task_is_tagged_bake_boot_or_always(entry: str) -> None:
    found = walk(ROOT, entry)
    assert found.tasks, f"no tasks found from {entry}"
    missing = untagged(found)
    assert not missing, (
        f"tasks reached from {entry} without `bake`, `boot` or `always` run neither in a bake "
        "nor on a host booted from a layer; tag them (or the import that brings them):\n"
        + "\n".join(missing)
    )


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_concern_tag_is_prefixed_by_its_role(entry: str) -> None:
    foreign = unprefixed(walk(ROOT, entry))
    assert not foreign, (
        "prefix each tag with the role that declares it (`<role>_<concern>`): the site "
        "playbook selects tags across all roles:\n" + "\n".join(foreign)
    )


def unregistered_reads(found: Walk) -> list[str]:
    """Tasks that read a result registered only by tasks the same run leaves out (a boot
    run skips the bake-only ones, and the other way round): the variable is undefined."""
    problems = set()
    results = {t.registers for t in found.tasks if t.registers}
    for selector in ("bake", "boot"):
        runs = [t for t in found.tasks if t.tags & {selector, "always"}]
        registered = {t.registers for t in runs if t.registers}
        for task in runs:
            for name in sorted((task.reads & results) - registered):
                problems.add(f"{task.where}: reads {name} in a {selector} run")
    return sorted(problems)


@pytest.mark.parametrize("entry", ENTRIES)
def test_no_task_reads_a_result_its_run_does_not_register(entry: str) -> None:
    missing = unregistered_reads(walk(ROOT, entry))
    assert not missing, (
        "register the result in the same run (tag the registering task too), or read it with "
        "`| default(...)` where its absence has a meaning:\n" + "\n".join(missing)
    )


def test_every_task_file_is_reached_from_an_entry_point() -> None:
    reached = set().union(*(walk(ROOT, entry).files for entry in ENTRIES))
    on_disk = set((ROOT / "roles").glob("*/tasks/*.yml"))
    assert sorted(str(p.relative_to(ROOT)) for p in on_disk - reached) == []


def test_the_walk_catches_a_task_without_bake_or_boot_and_a_foreign_tag(tmp_path: Path) -> None:
    tasks = tmp_path / "roles/demo/tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Check",
                    "ansible.builtin.import_tasks": "preflight.yml",
                    "tags": ["always"],
                },
                {
                    "name": "Install",
                    "ansible.builtin.import_tasks": "install.yml",
                    "tags": ["demo_install", "bake"],
                },
                {
                    "name": "Run",
                    "block": [{"name": "Start it", "command": "true"}],
                    "tags": ["boot"],
                },
                {
                    "name": "Topology",
                    "ansible.builtin.include_tasks": {
                        "file": "topology.yml",
                        "apply": {"tags": ["demo_topology"]},
                    },
                    "tags": ["boot"],
                },
                {"name": "Stray", "command": "true", "tags": ["other_concern", "mlps-8.1.4.4"]},
            ]
        )
    )
    (tasks / "preflight.yml").write_text(yaml.safe_dump([{"name": "Assert", "assert": {}}]))
    (tasks / "install.yml").write_text(yaml.safe_dump([{"name": "Install it", "apt": {}}]))
    (tasks / "topology.yml").write_text(yaml.safe_dump([{"name": "Declare it", "command": "true"}]))
    found = walk(tmp_path, "demo")
    assert untagged(found) == [
        "roles/demo/tasks/main.yml: Stray",
        "roles/demo/tasks/topology.yml: Declare it (via roles/demo/tasks/main.yml: Topology)",
    ]
    assert unprefixed(found) == ["roles/demo/tasks/main.yml: Stray: tag 'other_concern'"]


def test_the_walk_catches_a_boot_task_reading_a_bake_only_result(tmp_path: Path) -> None:
    tasks = tmp_path / "roles/demo/tasks"
    tasks.mkdir(parents=True)
    unit = {"name": "Write the unit", "copy": {}, "register": "__demo_unit", "tags": ["bake"]}
    start = {"name": "Start", "systemd": {"daemon_reload": "{{ __demo_unit is changed }}"}}
    safe = {"name": "Start safely", "systemd": {"x": "{{ __demo_unit | default({}) is changed }}"}}
    (tasks / "main.yml").write_text(
        yaml.safe_dump([unit, {**start, "tags": ["boot"]}, {**safe, "tags": ["boot"]}])
    )
    assert unregistered_reads(walk(tmp_path, "demo")) == [
        "roles/demo/tasks/main.yml: Start: reads __demo_unit in a boot run"
    ]
