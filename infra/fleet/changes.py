"""What `--changed-since REV` affects: regions whose rendered digest moved, or all of them.

`regionstack render` writes each region's effective-config digest into
`stacks/Pulumi.<stack>.yaml`, so a change to the standard, a tier or a region file shows
as a changed digest exactly where it matters. Code is not in the digest: a change under
one of `SHARED_DIRS` (or to one of `SHARED_FILES`) changes what every region deploys, so
it selects every region. The fleet orchestrator itself (`infra/fleet/`) deploys nothing.
Compared: REV (from git) against the work tree, untracked files included.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.config.problems import Problem
from infra.fleet.dag import PlanError

SHARED_DIRS = ("infra/", "modules/", "roles/", "playbooks/", "policies/", "plugins/", "services/")
SHARED_FILES = ("Pulumi.yaml", "ansible.cfg")
NOT_DEPLOYED = ("infra/fleet/",)
DIGEST_LINE = re.compile(r'^\s*regionstack:digest:\s*"?([^"\s]+)"?\s*$', re.MULTILINE)


@dataclass(frozen=True)
class Changes:
    rev: str
    stacks: frozenset[str]
    shared: tuple[str, ...]


def _git(root: Path, *args: str, stdin: str | None = None) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, input=stdin, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as err:
        raise _usage("git", "git is not installed", "install git") from err
    if result.returncode != 0:
        raise _usage(
            str(root),
            f"git {' '.join(args[:2])} failed: {result.stderr.strip()}",
            "see git's message",
        )
    return result.stdout


def _usage(file: str, message: str, hint: str, value: str | None = None) -> PlanError:
    return PlanError(
        [Problem(file, "--changed-since", message, hint, "fleet-changed-since", value)]
    )


def digest_of(text: str | None) -> str | None:
    if text is None:
        return None
    found = DIGEST_LINE.search(text)
    return found.group(1) if found else None


def _generated(path: str) -> bool:
    """Python's bytecode: made from the sources on import (untracked where no .gitignore
    hides it, as in a copy of the project), never an input of its own."""
    return "__pycache__/" in path or path.endswith((".pyc", ".pyo"))


def shared_changes(paths: list[str]) -> tuple[str, ...]:
    return tuple(
        sorted(
            p
            for p in paths
            if (p.startswith(SHARED_DIRS) or p in SHARED_FILES)
            and not p.startswith(NOT_DEPLOYED)
            and not _generated(p)
        )
    )


def _files_at(root: Path, rev: str, paths: list[str]) -> dict[str, str | None]:
    """Every path's text at `rev` in one `git cat-file --batch` (one process, not many)."""
    if not paths:
        return {}
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        input="".join(f"{rev}:{p}\n" for p in paths).encode(),
        capture_output=True,
        check=True,
    ).stdout
    texts: dict[str, str | None] = {}
    position = 0
    for path in paths:
        end = out.index(b"\n", position)
        header = out[position:end].decode()
        position = end + 1
        if header.endswith(" missing"):
            texts[path] = None
            continue
        size = int(header.rsplit(" ", 1)[1])
        texts[path] = out[position : position + size].decode("utf-8", errors="replace")
        position += size + 1
    return texts


def changed_since(config_dir: Path, rev: str, stacks: list[str]) -> Changes:
    """The stacks among `stacks` that a change since `rev` affects."""
    config_dir = config_dir.resolve()
    if shutil.which("git") is None:
        raise _usage("git", "git is not installed", "install git, or plan without --changed-since")
    try:
        root = Path(_git(config_dir, "rev-parse", "--show-toplevel").strip())
    except PlanError as err:
        raise _usage(
            str(config_dir),
            f"the configuration is not in a git repository ({err.problems[0].message})",
            "run from a git checkout: --changed-since compares with the history",
        ) from None
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except PlanError:
        raise _usage(
            str(root),
            f"{rev!r} is not a commit of this repository",
            "give a branch, tag or commit",
            rev,
        ) from None
    changed = _git(root, "diff", "--name-only", rev, "--").splitlines()
    changed += _git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    shared = shared_changes(changed)
    if shared:
        return Changes(rev, frozenset(stacks), shared)
    prefix = config_dir.relative_to(root).as_posix()
    paths = {
        s: f"{prefix}/Pulumi.{s}.yaml" if prefix != "." else f"Pulumi.{s}.yaml" for s in stacks
    }
    # A stack file git sees unchanged has the digest it had; only the others are read at
    # REV (asking git for 3,000 files by path costs seconds, a few costs nothing).
    touched = set(changed)
    candidates = {s: p for s, p in paths.items() if p in touched or not (root / p).is_file()}
    before = _files_at(root, rev, sorted(candidates.values()))
    moved = set()
    for stack, path in candidates.items():
        current = root / path
        now = current.read_text(encoding="utf-8") if current.is_file() else None
        if digest_of(now) is None or digest_of(now) != digest_of(before[path]):
            moved.add(stack)
    return Changes(rev, frozenset(moved), ())
