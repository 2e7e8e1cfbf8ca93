"""One git revision's compliance inputs, read straight from the object store.

The files a design-level evaluation needs (the unified configuration, the catalogue and
waivers, the policy pack, the roles' tasks and templates, the host tests) are streamed
with one `git cat-file --batch` into a temporary directory, never checked out, so the
reviewer's work tree is untouched and any two revisions can be compared. The directory
is then loaded with this checkout's loaders: `stacks/` by infra/config, the catalogue by
infra/compliance/catalog, the waivers by infra/compliance/waivers.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from infra.compliance.catalog import Catalog, CatalogError, load_catalog
from infra.compliance.waivers import Waiver, WaiverError, load_waivers
from infra.config.loader import Fleet, validate
from infra.config.problems import Problem

# What a design-level evaluation reads from a revision; nothing else is extracted.
SOURCES = ("stacks", "compliance", "policies", "roles", "tests/hosts")
CATALOG_PATH = "compliance/controls.yaml"
WAIVERS_PATH = "compliance/waivers.yaml"
# git ls-tree's mode of a regular file (executable or not); links and submodules are skipped
FILE_MODES = ("100644", "100755")


class RevisionError(Exception):
    """A revision cannot be read (unknown name, not a git repository)."""


@dataclass(frozen=True)
class Revision:
    name: str  # as the reviewer wrote it ("origin/main", "HEAD~1")
    commit: str


@dataclass
class Snapshot:
    """What a revision says, loaded; `problems` is why it cannot be evaluated, if it can't."""

    revision: Revision
    root: Path
    fleet: Fleet | None = None
    catalog: Catalog | None = None
    waivers: list[Waiver] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RevisionError(f"git {' '.join(args)} failed in {repo}: {message}")
    return result.stdout


def resolve(repo: Path, name: str) -> Revision:
    """The commit `name` points at; RevisionError naming it if there is none."""
    if not _succeeds(repo, "rev-parse", "--git-dir"):
        raise RevisionError(f"{repo} is not a git repository; run the diff inside a checkout")
    if (
        not name
        or name.startswith("-")
        or not _succeeds(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    ):
        raise RevisionError(
            f"{name!r} is not a commit in {repo}; give a branch, tag or commit "
            "(e.g. origin/main, HEAD~1) that `git rev-parse` knows"
        )
    commit = _git(repo, "rev-parse", "--verify", f"{name}^{{commit}}").decode().strip()
    return Revision(name, commit)


def _succeeds(repo: Path, *args: str) -> bool:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    return result.returncode == 0


def extract(repo: Path, revision: Revision, dest: Path) -> None:
    """Write the revision's SOURCES under `dest` (paths as in the repository)."""
    listing = _git(repo, "ls-tree", "-r", "-z", revision.commit, "--", *SOURCES)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, raw_path = record.split(b"\t", 1)
        mode, kind, oid = meta.decode().split()
        if kind == "blob" and mode in FILE_MODES:
            entries.append((oid, raw_path.decode("utf-8", "surrogateescape")))
    if not entries:
        return
    stream = _git(repo, "cat-file", "--batch", stdin="".join(f"{o}\n" for o, _ in entries).encode())
    offset = 0
    for _oid, path in entries:
        header_end = stream.index(b"\n", offset)
        size = int(stream[offset:header_end].split()[2])
        start = header_end + 1
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stream[start : start + size])
        offset = start + size + 1  # the object is followed by a newline


def _in_revision(problems: list[Problem], root: Path, revision: Revision) -> list[Problem]:
    """Problems naming `<revision>:<path>` instead of the temporary directory."""
    prefix = str(root) + "/"
    return [replace(p, file=f"{revision.name}:{p.file.removeprefix(prefix)}") for p in problems]


def load(repo: Path, revision: Revision, root: Path) -> Snapshot:
    """Extract the revision under `root` and load it; problems are kept, not raised."""
    extract(repo, revision, root)
    snapshot = Snapshot(revision, root)
    problems: list[Problem] = []
    fleet, report = validate(root / "stacks")
    problems += report.sorted()
    snapshot.fleet = fleet
    if (root / CATALOG_PATH).is_file():
        try:
            snapshot.catalog = load_catalog(root / CATALOG_PATH)
        except CatalogError as err:
            problems += err.problems
    if (root / WAIVERS_PATH).is_file():
        try:
            snapshot.waivers = load_waivers(root / WAIVERS_PATH)
        except WaiverError as err:
            problems += err.problems
    snapshot.problems = _in_revision(problems, root, revision)
    return snapshot
