"""What enforces and verifies each control at a revision, fingerprinted so two revisions
can be compared: the control's catalogue entry, the policy pack's source files that define
its policies, the role tasks carrying its tags (with the templates and files they install),
and its host-test files.

A change to any of these changes how the control is enforced or checked even when its
design status stays the same; the diff reports it as "affected". Policies are matched by
file (every file under policies/ naming the policy), so an edit to a file holding several
policies affects each of them: the diff over-reports rather than misses. Tasks are matched
one by one, so editing one tagged task affects only the controls of its tags.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.ansible_tasks import task_tags
from infra.compliance.catalog import Catalog, Control

POLICIES_DIR = "policies"
ROLES_DIR = "roles"
# Modules whose `src` names a file of the role that the task installs on the host.
INSTALLING_MODULES = {"template": "templates", "copy": "files"}
BLOCK_KEYS = ("block", "rescue", "always")

try:  # libyaml: the roles' task files are read once per revision
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


def _digest(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Links:
    """One control's fingerprints at a revision: label -> digest, and what enforces it."""

    fingerprints: dict[str, str]
    enforced_by: frozenset[str]  # "policy <name>" / "tag <tag>" that exist at the revision


def _module_name(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _installed_file(role_dir: Path, task: dict[str, Any]) -> str:
    """The content of the template or file a task installs, so editing it counts."""
    for key, args in task.items():
        folder = INSTALLING_MODULES.get(_module_name(str(key)))
        if folder and isinstance(args, dict) and isinstance(args.get("src"), str):
            source = role_dir / folder / args["src"]
            if source.is_file():
                return _digest(source.read_bytes())
    return ""


def _leaf_tasks(
    tasks: Any, inherited: frozenset[str]
) -> Iterator[tuple[dict[str, Any], frozenset[str]]]:
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            continue
        tags = inherited | task_tags(task)
        if any(key in task for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from _leaf_tasks(task.get(key), tags)
        else:
            yield task, tags


def tagged_tasks(root: Path) -> dict[str, dict[str, str]]:
    """tag -> {"task <file>: <name>": digest} over every role's task files."""
    index: dict[str, dict[str, str]] = defaultdict(dict)
    for path in sorted((root / ROLES_DIR).glob("*/tasks/*.yml")):
        role_dir = path.parents[1]
        relative = path.relative_to(root).as_posix()
        try:
            tasks = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except (yaml.YAMLError, UnicodeDecodeError):
            tasks = None  # ansible-lint and the role tests report a broken task file
        for position, (task, tags) in enumerate(_leaf_tasks(tasks, frozenset())):
            label = f"task {relative}: {task.get('name') or f'#{position}'}"
            fingerprint = _digest(_canonical(task) + _installed_file(role_dir, task))
            for tag in tags:
                index[tag][label] = fingerprint
    return index


def policy_files(root: Path) -> dict[str, str]:
    """relative path -> text of every Python file of the policy pack."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8", errors="replace")
        for path in sorted((root / POLICIES_DIR).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _names_policy(text: str, policy: str) -> bool:
    return re.search(rf"[\"']{re.escape(policy)}[\"']", text) is not None


def _file_digest(root: Path, relative: str) -> str:
    path = root / relative
    return _digest(path.read_bytes()) if path.is_file() else "missing"


def control_links(
    root: Path,
    control: Control,
    tasks: dict[str, dict[str, str]],
    policies: dict[str, str],
) -> Links:
    fingerprints = {"catalogue entry": _digest(_canonical(asdict(control)))}
    enforced_by: set[str] = set()
    for policy in control.policies:
        for file, text in policies.items():
            if _names_policy(text, policy):
                fingerprints[f"policy {file}"] = _digest(text)
                enforced_by.add(f"policy {policy}")
    for tag in control.ansible_tags:
        fingerprints.update(tasks.get(tag, {}))
        if tasks.get(tag):
            enforced_by.add(f"tag {tag}")
    for test in control.host_tests:
        file = test.split("::", 1)[0]
        fingerprints[f"host test {file}"] = _file_digest(root, file)
    return Links(fingerprints, frozenset(enforced_by))


def catalogue_links(root: Path, catalog: Catalog) -> dict[str, Links]:
    """Every control's links at the revision extracted under `root`."""
    tasks = tagged_tasks(root)
    policies = policy_files(root)
    return {c.id: control_links(root, c, tasks, policies) for c in catalog.controls}
