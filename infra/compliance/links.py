"""Whether the catalogue's links resolve: every technical item names at least one thing that
enforces it and one that verifies it, and every policy, Ansible tag, test, procedure and
configuration key it names exists in this repository.

`load_catalog` only checks the document's shape; this is the second pass, run by the unit
tests (tests/unit/compliance/test_links.py) and by anything that must refuse a catalogue
whose claims point nowhere.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from infra.ansible_tasks import walk
from infra.compliance.catalog import (
    NOT_APPLICABLE,
    PROCESS,
    TARGETS,
    TECHNICAL,
    Catalog,
    Control,
)
from infra.config.effective import effective_config, flatten
from infra.config.loader import load_fleet
from infra.config.problems import Problem

CATALOG_DISPLAY = "compliance/controls.yaml"
SITE_PLAYBOOK = "playbooks/site.yml"


def policy_names() -> frozenset[str]:
    # Imported late: the registry lives in the policy pack, which may not be importable in
    # every checkout that only reads the catalogue (it never needs pulumi_policy).
    from policies.registry import POLICY_NAMES

    return frozenset(POLICY_NAMES)


@cache  # the walk parses every task file; one per process is enough for a check
def role_tags(repo_root: Path) -> frozenset[str]:
    """Every tag some task of the roles carries, its own or inherited, as Ansible sees it
    from each role's tasks/main.yml and from the site playbook."""
    entries = [
        p.name for p in sorted((repo_root / "roles").iterdir()) if (p / "tasks/main.yml").is_file()
    ]
    if (repo_root / SITE_PLAYBOOK).is_file():
        entries.append(SITE_PLAYBOOK)
    tags: set[str] = set()
    for entry in entries:
        for task in walk(repo_root, entry).tasks:
            tags |= task.tags
    return frozenset(tags)


def defined_test_ids(path: Path) -> frozenset[str]:
    """The pytest ids of a test module's functions: `test_x` and `Class::test_x`."""
    tree = ast.parse(path.read_text(), str(path))
    ids: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            ids.add(node.name)
        elif isinstance(node, ast.ClassDef):
            ids |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return frozenset(i for i in ids if i.rsplit("::", 1)[-1].startswith("test_"))


def heading_anchors(markdown: str) -> frozenset[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped,
    spaces as hyphens, a repeated heading numbered (`-1`, `-2`)."""
    anchors: set[str] = set()
    in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_fence or not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in anchors:
            number += 1
            anchor = f"{slug}-{number}"
        anchors.add(anchor)
    return frozenset(anchors)


def config_key_paths(configs: Iterable[dict[str, Any]]) -> frozenset[str]:
    """Every dotted key path, leaf or branch, of the given effective configurations
    (`standard`, `standard.tls`, `standard.tls.min_version`); list indexes are dropped so
    `standard.flows` names the whole list."""
    paths: set[str] = set()
    for config in configs:
        for leaf in flatten(config):
            parts = re.sub(r"\[\d+\]", "", leaf).split(".")
            paths |= {".".join(parts[: n + 1]) for n in range(len(parts))}
    return frozenset(paths)


def sample_configs(repo_root: Path) -> list[dict[str, Any]]:
    """The effective configuration of every region of the repository's stacks/."""
    fleet = load_fleet(repo_root / "stacks")
    return [effective_config(fleet, region) for region in fleet.regions]


class _Checker:
    def __init__(self, catalog: Catalog, repo_root: Path, configs: Sequence[dict[str, Any]]):
        self.catalog = catalog
        self.root = repo_root
        self.problems: list[Problem] = []
        self.policies = policy_names()
        self.tags = role_tags(repo_root)
        self.config_keys = config_key_paths(configs)

    def problem(
        self, control: Control, key: str, rule: str, message: str, hint: str, value: Any = None
    ) -> None:
        path = f"controls[{control.id}].{key}"
        self.problems.append(Problem(CATALOG_DISPLAY, path, message, hint, rule, value))

    def check(self, control: Control) -> None:
        self.titles(control)
        if control.status == TECHNICAL:
            self.technical(control)
        elif control.status == PROCESS and not control.procedure:
            self.problem(
                control,
                "procedure",
                "catalog-procedure-missing",
                "is missing",
                "a process item names the document holding its procedure: "
                "procedure: docs/procedures/<file>.md#<heading-anchor>",
                None,
            )
        elif control.status == NOT_APPLICABLE and not (control.reason or "").strip():
            self.problem(
                control,
                "reason",
                "catalog-reason-missing",
                "is missing",
                "say why the item does not apply to a region (reason: ...)",
                None,
            )
        if control.procedure:
            self.procedure(control, control.procedure)
        self.names(
            control,
            "config_keys",
            control.config_keys,
            self.config_keys.__contains__,
            "add a key path that `regionstack show <region>` prints "
            "(e.g. standard.log_retention_days)",
        )

    def titles(self, control: Control) -> None:
        if control.clause not in self.catalog.clauses:
            self.problem(
                control,
                "id",
                "catalog-title-missing",
                "belongs to a clause without titles",
                f'add "{control.clause}": {{zh: ..., en: ...}} under clauses',
                control.clause,
            )
        if control.section not in self.catalog.sections:
            self.problem(
                control,
                "id",
                "catalog-title-missing",
                "belongs to a section without titles",
                f'add "{control.section}": {{zh: ..., en: ...}} under sections',
                control.section,
            )

    def technical(self, control: Control) -> None:
        if not control.policies and not control.ansible_tags:
            self.problem(
                control,
                "enforced_by",
                "catalog-enforcement-missing",
                "is a technical item without enforcement",
                "name the policies or ansible_tags that enforce it, or class it process",
                None,
            )
        if not control.host_tests and not control.unit_tests:
            self.problem(
                control,
                "verified_by",
                "catalog-verification-missing",
                "is a technical item without verification",
                "name the host_tests or unit_tests that show it holds",
                None,
            )
        self.names(
            control,
            "enforced_by.policies",
            control.policies,
            self.policies.__contains__,
            "use a name of policies/registry.py POLICY_NAMES",
        )
        self.names(
            control,
            "enforced_by.ansible_tags",
            control.ansible_tags,
            self.tags.__contains__,
            "use a tag some task in roles/ carries",
        )
        for key, ids in (("host_tests", control.host_tests), ("unit_tests", control.unit_tests)):
            self.names(
                control,
                f"verified_by.{key}",
                ids,
                self.test_exists,
                "write a test id as tests/<dir>/test_x.py::test_name "
                "(or ::Class::test_name) of a test that exists",
            )
        unknown = [t for t in control.targets if t not in TARGETS]
        if unknown:
            self.problem(
                control,
                "targets",
                "catalog-unknown-target",
                "names an unknown target",
                f"use {', '.join(TARGETS)}",
                unknown,
            )
        if set(control.targets) != set(TARGETS) and not (control.reason or "").strip():
            self.problem(
                control,
                "reason",
                "catalog-reason-missing",
                "is missing for an item enforced on some targets only",
                "say why the enforcement does not exist on the other target",
                list(control.targets),
            )

    def names(
        self,
        control: Control,
        key: str,
        values: Iterable[str],
        exists: Callable[[str], bool],
        hint: str,
    ) -> None:
        for value in values:
            if not exists(value):
                self.problem(
                    control,
                    key,
                    "catalog-unknown-link",
                    f"names an unknown {_noun(key)}",
                    hint,
                    value,
                )

    def test_exists(self, test_id: str) -> bool:
        file, _, name = test_id.partition("::")
        path = self.root / file
        return bool(name) and path.is_file() and name.split("[")[0] in _test_ids(path)

    def procedure(self, control: Control, procedure: str) -> None:
        file, _, anchor = procedure.partition("#")
        path = self.root / file
        if not path.is_file():
            self.problem(
                control,
                "procedure",
                "catalog-procedure-missing",
                "names a document that does not exist",
                "write the document under docs/procedures/ or fix the path",
                procedure,
            )
        elif not anchor or anchor not in heading_anchors(path.read_text()):
            self.problem(
                control,
                "procedure",
                "catalog-procedure-missing",
                "names a heading the document does not have",
                f"link one heading of {file}: #"
                + ", #".join(sorted(heading_anchors(path.read_text()))),
                procedure,
            )


@cache
def _test_ids(path: Path) -> frozenset[str]:
    return defined_test_ids(path)


def _noun(key: str) -> str:
    return {
        "enforced_by.policies": "policy",
        "enforced_by.ansible_tags": "Ansible tag",
        "verified_by.host_tests": "host test",
        "verified_by.unit_tests": "unit test",
        "config_keys": "configuration key",
    }[key]


def check_links(
    catalog: Catalog,
    repo_root: Path,
    *,
    configs: Sequence[dict[str, Any]] | None = None,
) -> list[Problem]:
    """Every broken link of the catalogue, in catalogue order. `configs`: the effective
    configurations whose key paths `config_keys` may name (default: every region of
    `repo_root`/stacks)."""
    checker = _Checker(
        catalog, repo_root, sample_configs(repo_root) if configs is None else configs
    )
    for control in catalog.controls:
        checker.check(control)
    return checker.problems
