"""The verify command itself: resolve the inventories, connect to every host, run every
role's suite at once, and report."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.compliance import evidence
from infra.inventory import inventory_dir
from infra.verify.context import VerifyContext, build_context
from infra.verify.errors import VerifyError
from infra.verify.inventory import RegionInventory, resolve_inventory
from infra.verify.report import format_summary, merge_junit, preflight_junit, summarize_junit
from infra.verify.ssh import close_connections, open_connections
from infra.verify.suites import REPO_ROOT, modules_for, pytest_command

EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class VerifyRequest:
    stack: str
    inventory: Path
    suites: tuple[str, ...]
    parent_stack: str | None
    parent_inventory: Path | None
    junit: Path | None
    # Where the run is kept as the stack's evidence (None: the state directory's).
    evidence_root: Path | None = None


def record_junit(stack: str, junit: Path, root: Path | None = None) -> evidence.Evidence:
    """Keep a run's JUnit as the stack's latest verify evidence, for the compliance report:
    a run that could not reach the hosts too, so the report never shows an older success."""
    return evidence.record(stack, evidence.VERIFY_JUNIT, junit.read_bytes(), root)


def _load_parent(request: VerifyRequest) -> tuple[RegionInventory | None, str]:
    if request.parent_stack is None:
        return None, f"{request.stack} has no parent region: no link to check"
    path = request.parent_inventory or inventory_dir(request.parent_stack)
    try:
        return resolve_inventory(path, request.parent_stack), ""
    except VerifyError as err:
        return None, (f"the link to the parent region {request.parent_stack} is NOT checked: {err}")


def _run_suites(
    modules: Sequence[tuple[str, Path]], context_file: Path, workdir: Path
) -> tuple[list[tuple[str, Path]], list[str]]:
    """One pytest process per role, all at once: (role, JUnit file) of each that reported,
    and what went wrong with those that could not (pytest's own output)."""
    running = []
    for role, module in modules:
        junit, log_file = workdir / f"{role}.xml", workdir / f"{role}.log"
        with log_file.open("w") as log:
            process = subprocess.Popen(
                pytest_command(module, context_file, junit, role),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running.append((role, junit, log_file, process))
    reports: list[tuple[str, Path]] = []
    broken: list[str] = []
    for role, junit, log_file, process in running:
        code = process.wait()
        if junit.is_file():
            reports.append((role, junit))
        # 0: all passed, 1: some failed; anything else: pytest itself could not run them.
        if code not in (0, 1) or not junit.is_file():
            text = log_file.read_text(errors="replace")
            broken.append(f"the {role} suite did not run (pytest exited {code}):\n{text[-3000:]}")
    return reports, broken


def verify(request: VerifyRequest, out: Callable[[str], None] = print) -> int:
    """Run the suites of `request.suites` against the region; print the summary table.

    Exit code 1 when a check failed, a suite could not run or a host of the region cannot
    be reached (reported as JUnit errors too). The parent's hosts being out of reach only
    leaves the link to the parent unchecked, and says so."""
    started = time.monotonic()
    modules = modules_for(request.suites)
    region = resolve_inventory(request.inventory, request.stack)
    parent, parent_note = (None, "")
    if "flows" in request.suites:
        parent, parent_note = _load_parent(request)
    workdir = Path(tempfile.mkdtemp(prefix=f"regionstack-verify-{request.stack}-"))
    context: VerifyContext | None = None
    try:
        context_file = build_context(region, parent, parent_note, workdir)
        context = VerifyContext.load(context_file)
        unreachable = open_connections(context)
        own = {name: error for name, error in unreachable.items() if name in region.hostvars}
        if own:
            for name, error in sorted(own.items()):
                out(f"regionstack: cannot reach {name} over ssh: {error}")
            preflight = request.junit or workdir / "verify.xml"
            preflight_junit(request.stack, own, preflight)
            record_junit(request.stack, preflight, request.evidence_root)
            return EXIT_FAILED
        if parent is not None and unreachable:
            parent_note = (
                f"the link to the parent region {parent.stack} is NOT checked: cannot reach "
                f"{', '.join(sorted(unreachable))}"
            )
            parent = None
            context_file = build_context(region, parent, parent_note, workdir)
        connected = time.monotonic()
        reports, broken = _run_suites(modules, context_file, workdir)
        merged = request.junit or workdir / "verify.xml"
        merge_junit(reports, merged)
        record_junit(request.stack, merged, request.evidence_root)
        counts, failures = summarize_junit(merged)
        notes = [f"{len(region.hosts)} hosts from {region.source}"]
        if parent is not None:
            notes.append(f"parent {parent.stack}: {len(parent.hosts)} hosts from {parent.source}")
        notes += [parent_note] if parent_note else []
        notes.append(
            f"{time.monotonic() - started:.0f}s in all ({connected - started:.1f}s to resolve "
            f"the inventories and connect); JUnit XML: {request.junit or 'not kept (--junit FILE)'}"
        )
        out(format_summary(request.stack, counts, failures, notes))
        for problem in broken:
            out(f"regionstack: {problem}")
        if broken or not any(c.total for c in counts.values()):
            return EXIT_FAILED
        return EXIT_FAILED if any(c.failed for c in counts.values()) else EXIT_OK
    finally:
        if context is not None:
            close_connections(context)
        shutil.rmtree(workdir, ignore_errors=True)
