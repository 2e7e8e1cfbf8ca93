"""Every task of the roles and the site playbook says whether an image layer holds its result.

A bake run is `--tags bake`, a host booted from a layer gets `--tags boot`: a task with
neither (nor `always`) silently runs on neither, only on bare hosts. The walk
(infra/ansible_tasks.py) follows what Ansible does with tags. Every other tag is a
concern's, prefixed by the role that declares it, so the roles' tags do not collide in the
site playbook.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infra.ansible_tasks import Walk, walk

ROOT = Path(__file__).resolve().parents[3]
SITE = Path("playbooks/site.yml")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks/main.yml").is_file())

SELECTORS = frozenset({"bake", "boot", "always"})
# A control's tag: its clause (`mlps-8.1.4.1`) or one item of it (`mlps-8.1.4.1a`).
CONTROL_ID = re.compile(r"^mlps-\d+(\.\d+)+[a-z]?$")


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
