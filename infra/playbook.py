"""Running the site playbook against a deployed region: what `pulumi up` calls to configure.

* `content_hash(root)` - a digest of everything the playbook's result depends on in the
  repository (playbooks, roles, the reference services the roles deploy, ansible.cfg). The
  Playbook resource re-runs when it, the hosts or the effective config change.
* `run_playbook(...)` - writes the inventory (infra.inventory), runs ansible-playbook,
  streams a condensed progress (plays, tasks, failures, the recap) to the caller, keeps
  the whole output in a log file, and raises `PlaybookFailed` naming the failing hosts
  and tasks.
* `check_drift(...)` - the whole site playbook in `--check --diff` on every host: what a
  run would change is what has drifted from the code, per host and task (what `pulumi
  refresh` reports and the next `pulumi up` repairs).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.inventory import inventory_dir, write_inventory
from infra.layers import BOOT_TAG

# What the playbook's outcome depends on, relative to the project root.
CONTENT_PATHS = ("ansible.cfg", "playbooks", "plugins", "roles", "services")
# Not part of what reaches a host: caches, the services' own tests and tooling.
IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", "tests", ".ruff_cache"})
SITE_PLAYBOOK = Path("playbooks") / "site.yml"

_TASK = re.compile(r"^(TASK|RUNNING HANDLER) \[(?P<task>.*)\] \**$")
_PLAY = re.compile(r"^PLAY \[(?P<play>.*)\] \**$")
_FAILED = re.compile(r"^(fatal|failed): \[(?P<host>[^\]]+)\]")
_UNREACHABLE = re.compile(r"^fatal: \[(?P<host>[^\]]+)\]: UNREACHABLE!")
_CHANGED = re.compile(r"^changed: \[(?P<host>[^\]]+)\]")
_RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=\d+")


class PlaybookFailed(RuntimeError):
    """ansible-playbook failed; the message names each failing host and task."""


def _content_files(root: Path) -> Iterable[Path]:
    for name in CONTENT_PATHS:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(root).parts
                if file.is_file() and not IGNORED_PARTS.intersection(relative):
                    yield file


def content_hash(root: Path) -> str:
    """sha256 over the relative path and bytes of every file the playbook uses."""
    digest = hashlib.sha256()
    for file in _content_files(root):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return f"sha256:{digest.hexdigest()}"


@dataclass
class Failure:
    host: str
    task: str
    detail: str


@dataclass
class PlaybookProgress:
    """What the output of ansible-playbook said so far."""

    task: str = ""
    failures: list[Failure] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)
    # host -> the tasks that reported a change on it, in order (what a re-run that should
    # change nothing names when it did).
    changed_tasks: dict[str, list[str]] = field(default_factory=dict)

    def read(self, line: str) -> str | None:
        """Take one output line; return it if it belongs in the condensed progress."""
        text = line.rstrip("\n")
        if match := _TASK.match(text):
            self.task = match["task"]
            return f"task: {self.task}"
        if match := _PLAY.match(text):
            return f"play: {match['play']}"
        if match := _CHANGED.match(text):
            tasks = self.changed_tasks.setdefault(match["host"], [])
            if not tasks or tasks[-1] != self.task:  # one entry per task, not per loop item
                tasks.append(self.task)
            return None
        if (match := _UNREACHABLE.match(text)) or (match := _FAILED.match(text)):
            if "...ignoring" not in text:
                self.failures.append(Failure(match["host"], self.task, text[:500]))
            return text[:500]
        if (
            self.failures
            and text.lstrip().startswith(("msg:", "stderr:", "- "))
            and (text.startswith("    "))
        ):
            # The yaml result format puts the failure's message on the lines below it.
            last = self.failures[-1]
            if len(last.detail) < 1000:
                last.detail = f"{last.detail} {text.strip()}"
            return None
        if match := _RECAP.match(text):
            self.changed[match["host"]] = int(match["changed"])
            return text
        return None

    def merge(self, other: PlaybookProgress) -> None:
        """Take in another run's results (the runs of one configuration, one host set each)."""
        self.task = other.task
        self.failures += other.failures
        self.changed.update(other.changed)
        self.changed_tasks.update(other.changed_tasks)

    def ignore_last_failure(self) -> None:
        """ansible printed `...ignoring` after a failure: an expected failure, not ours."""
        if self.failures:
            self.failures.pop()

    def describe_failures(self) -> str:
        return "; ".join(
            f"host {f.host} failed at task '{f.task}': {f.detail}" for f in self.failures
        )


def log_dir(stack: str) -> Path:
    return inventory_dir(stack).parent.parent / "logs" / stack


def ansible_environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(root / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        # Without a TTY ansible would buffer; the progress is streamed line by line.
        PYTHONUNBUFFERED="1",
    )
    return env


def run_playbook(
    stack: str,
    outputs: dict[str, Any],
    root: Path,
    emit: Callable[[str], None],
    extra_args: Iterable[str] = (),
    repair: Iterable[str] = (),
) -> PlaybookProgress:
    """Configure every host of `stack` with the site playbook; raise PlaybookFailed.

    A host booted from the image layers the checkout bakes now gets the `boot` tasks only:
    the layers hold the rest. Every other host (the bare image, or layers of older roles)
    gets every task, first, and so does every host named in `repair` (drifted: what
    drifted may be a setting the layers baked).
    """
    files = write_inventory(stack, outputs)
    booted, full = split_by_image(outputs)
    to_repair = set(repair)
    booted, full = [h for h in booted if h not in to_repair], sorted({*full, *to_repair})
    progress = PlaybookProgress()
    for hosts, tags in ((full, ()), (booted, ("--tags", BOOT_TAG))):
        if hosts:
            limit = ("--limit", ",".join(hosts))
            run = run_site(stack, files.inventory, root, emit, [*tags, *limit, *extra_args])
            progress.merge(run)
    return progress


def split_by_image(outputs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(hosts booted from the current layers, all the others), by name."""
    image = outputs.get("image_layers") or {}
    current = outputs.get("current_layers") or {}
    names = sorted(h["name"] for hosts in outputs["hosts"].values() for h in hosts)
    booted = [n for n in names if current.get(n) and image.get(n) == current[n]]
    return booted, [n for n in names if n not in booted]


# What a drift check reports for a host it could not check to the end (unreachable, or a
# task failed in check mode because what it reads has drifted away): the next `pulumi up`
# runs every task there, which either repairs the host or fails naming why.
UNCHECKED = "could not be checked"


def check_drift(
    stack: str, outputs: dict[str, Any], root: Path, emit: Callable[[str], None]
) -> dict[str, list[str]]:
    """host -> the tasks a run of the whole site playbook would change there (empty: none).

    Every task, not only `boot`'s: a baked setting edited on a live host is drift too.
    Read-only (`--check --diff`); the diffs are in the run's log.
    """
    files = write_inventory(stack, outputs)
    returncode, progress, _ = _run_site(
        stack, files.inventory, root, emit, ["--check", "--diff"], label="drift check"
    )
    drift = {host: tasks for host, tasks in progress.changed_tasks.items() if tasks}
    for failure in progress.failures if returncode != 0 else []:
        drift.setdefault(failure.host, []).append(f"{UNCHECKED}: {failure.task}")
    return {host: drift[host] for host in sorted(drift)}


def run_site(
    stack: str,
    inventory: Path,
    root: Path,
    emit: Callable[[str], None],
    extra_args: Iterable[str] = (),
) -> PlaybookProgress:
    """Run the site playbook on `inventory`, streaming the condensed progress to `emit` and
    keeping the whole output in a log of `stack`'s; raise PlaybookFailed."""
    returncode, progress, log_path = _run_site(stack, inventory, root, emit, extra_args)
    if returncode != 0:
        detail = progress.describe_failures() or f"ansible-playbook exited with {returncode}"
        raise PlaybookFailed(f"configuring {stack} failed: {detail} (full log: {log_path})")
    return progress


def _run_site(
    stack: str,
    inventory: Path,
    root: Path,
    emit: Callable[[str], None],
    extra_args: Iterable[str] = (),
    label: str = "site",
) -> tuple[int, PlaybookProgress, Path]:
    logs = log_dir(stack)
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = logs / f"{label.replace(' ', '-')}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    playbook = Path(sys.executable).parent / "ansible-playbook"
    command = [str(playbook), "-i", str(inventory), str(root / SITE_PLAYBOOK), *extra_args]
    emit(f"ansible-playbook ({label}) for {stack}; full log: {log_path}")
    progress = PlaybookProgress()
    with open(log_path, "w", encoding="utf-8") as log:
        os.chmod(log_path, 0o600)
        with subprocess.Popen(
            command,
            cwd=root,
            env=ansible_environment(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if line.startswith("...ignoring"):
                    progress.ignore_last_failure()
                    continue
                shown = progress.read(line)
                if shown is not None:
                    emit(shown)
            returncode = proc.wait()
    return returncode, progress, log_path
