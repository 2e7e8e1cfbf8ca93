"""Scanning regions for drift without changing them.

One region's scan runs two reads at once, because each waits on the hosts rather than on
the controller's CPU:

* `pulumi preview --refresh --stack S --event-log F`: the providers' `read` (machines,
  bridge, firewall; the Playbook's site playbook in `--check --diff`), then the plan
  against the refreshed state; nothing is written to the state (a preview's refresh is
  not saved);
* `regionstack verify S`: the host suites, written to a JUnit file of the scan's own.

Regions are scanned `parallel` at a time (a thread each; the work is in subprocesses).
Pulumi refuses a second operation on a locked stack: that region's scan fails with
pulumi's message and the others go on.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from infra.compliance.catalog import Catalog
from infra.config.loader import Fleet
from infra.fleet.drift_preview import preview_findings
from infra.fleet.drift_report import RegionScan
from infra.fleet.drift_verify import VerifyReportError, verify_findings
from infra.inventory import inventory_dir
from infra.pulumi_events import EventLogError, preview_with_event_log, read_events
from infra.verify import SUITES, VerifyError, VerifyRequest, verify

REPO_ROOT = Path(__file__).resolve().parents[2]
# A preview --refresh of a configured county took ~2 min; a province has more hosts.
PREVIEW_TIMEOUT_S = 1800


class ScanError(RuntimeError):
    """One region could not be scanned (the reason is the message)."""


def run_preview(stack: str, event_log: Path, project_dir: Path, env: Mapping[str, str]) -> None:
    """Write the event log of a `preview --refresh` of `stack`; raise ScanError."""
    try:
        result = preview_with_event_log(
            stack, ["--refresh"], event_log, project_dir, env, PREVIEW_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as err:
        raise ScanError(f"`pulumi preview --refresh --stack {stack}` timed out") from err
    if result.returncode != 0:
        raise ScanError(
            f"`pulumi preview --refresh --stack {stack}` failed (exit {result.returncode}): "
            + (result.stderr.strip() or result.stdout.strip())[-2000:]
        )


def _timed(read: Callable[[], None], seconds: dict[str, float], name: str) -> None:
    started = time.monotonic()
    try:
        read()
    finally:
        seconds[name] = time.monotonic() - started


def run_verify(fleet: Fleet, stack: str, junit: Path) -> None:
    """Run every host suite of `stack` into `junit`; raise ScanError when it cannot run."""
    region = fleet.region(stack)
    parent = fleet.parent_of(region)
    request = VerifyRequest(
        stack=stack,
        inventory=inventory_dir(stack),
        suites=tuple(SUITES),
        parent_stack=parent.stack if parent else None,
        parent_inventory=None,
        junit=junit,
    )
    try:
        verify(request, out=lambda _line: None)  # failures are read back from the JUnit
    except VerifyError as err:
        raise ScanError(f"`regionstack verify {stack}` could not run: {err}") from err
    if not junit.is_file():
        raise ScanError(f"`regionstack verify {stack}` wrote no report")


def scan_region(
    fleet: Fleet,
    stack: str,
    catalog: Catalog,
    project_dir: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
) -> RegionScan:
    """The preview and verify of `stack`, at once; their findings."""
    run_env = dict(os.environ) if env is None else dict(env)
    with tempfile.TemporaryDirectory(prefix=f"regionstack-drift-{stack}-") as tmp:
        event_log, junit = Path(tmp) / "events.jsonl", Path(tmp) / "verify.xml"
        seconds: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=1) as pool:
            verifying = pool.submit(
                _timed, partial(run_verify, fleet, stack, junit), seconds, "verify"
            )
            errors = []
            try:
                preview = partial(run_preview, stack, event_log, project_dir, run_env)
                _timed(preview, seconds, "preview")
            except ScanError as err:
                errors.append(str(err))
            try:
                verifying.result()
            except ScanError as err:
                errors.append(str(err))
        timings = tuple(sorted(seconds.items()))
        if errors:
            return RegionScan(stack, error="; ".join(errors), seconds=timings)
        try:
            findings = preview_findings(stack, read_events(event_log), catalog)
            findings += verify_findings(stack, junit.read_bytes(), catalog)
        except (OSError, EventLogError, VerifyReportError) as err:
            return RegionScan(
                stack, error=f"the scan's results are unreadable: {err}", seconds=timings
            )
    return RegionScan(stack, tuple(findings), seconds=timings)


def scan_regions(
    stacks: Sequence[str],
    parallel: int,
    scan: Callable[[str], RegionScan],
    progress: Callable[[str], None],
) -> list[RegionScan]:
    """`scan` each stack, `parallel` at a time; a line to `progress` as each finishes."""

    def timed(stack: str) -> RegionScan:
        started = time.monotonic()
        progress(f"scanning {stack}")
        try:
            result = scan(stack)
        except Exception as err:  # one region's failure is reported, not fatal
            result = RegionScan(stack, error=f"{type(err).__name__}: {err}")
        reads = "".join(f", {name} {taken:.0f}s" for name, taken in result.seconds)
        progress(
            f"{stack}: {result.status}, {len(result.findings)} finding(s) "
            f"in {time.monotonic() - started:.0f}s{reads}"
        )
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(timed, stacks))
