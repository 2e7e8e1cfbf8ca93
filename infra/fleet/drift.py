"""`regionstack fleet drift [REGION…] [--format md|json] [--output FILE] [--parallel N]`.

Non-mutating: for every chosen region (default: every stack of the backend that has
resources) a `pulumi preview --refresh` and a `regionstack verify` at once
(infra/fleet/drift_scan.py), then one report of the fleet grouped by cause
(infra/fleet/drift_report.py). Exit codes: 0 no drift, 1 drift found (or a region could
not be scanned: it is not known to be clean), 2 usage errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from infra.cli_common import write_output
from infra.compliance.catalog import load_catalog
from infra.config.loader import Fleet, UnknownRegion, validate
from infra.fleet.drift_report import CLEAN, report_json, report_md
from infra.fleet.drift_scan import REPO_ROOT, scan_region, scan_regions

EXIT_CLEAN, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2
FORMATS = ("md", "json")
DESCRIPTION = (
    "Scan regions for drift without changing anything: for each region (default: every "
    "deployed stack of the backend) a `pulumi preview --refresh` (resources a refresh would "
    "change, and the site playbook's tasks that --check --diff would change on each host) and "
    "a `regionstack verify` (failing host tests), run at once; then one report of the fleet "
    "grouped by cause, the same drift in many regions being one row listing them, each "
    "attributed to region, resource or host and MLPS item. Exit 0 no drift, 1 drift found or "
    "a region could not be scanned, 2 usage error."
)


class UsageError(ValueError):
    """Bad arguments: the message says which and how to fix them."""


def deployed_stacks(project_dir: Path = REPO_ROOT) -> list[str]:
    """The backend's stacks that hold resources (a stack only `init`ed has none)."""
    result = subprocess.run(
        ["pulumi", "--non-interactive", "stack", "ls", "--json"],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise UsageError(f"`pulumi stack ls` failed: {result.stderr.strip()}")
    return sorted(s["name"] for s in json.loads(result.stdout) if s.get("resourceCount"))


def choose_stacks(
    regions: Sequence[str], fleet: Fleet, deployed: Callable[[], list[str]]
) -> list[str]:
    """The stack names to scan: `regions` (stack names or codes), else every deployed
    stack the configuration knows (one it does not know is not a region of this fleet)."""
    if regions:
        try:
            return sorted({fleet.region(key).stack for key in regions})
        except UnknownRegion as err:
            raise UsageError(str(err)) from None
    known = {r.stack for r in fleet.regions}
    stacks = [s for s in deployed() if s in known]
    if not stacks:
        raise UsageError("no deployed region to scan: name one, or deploy one first")
    return stacks


def drift_command(
    regions: list[str], fmt: str, config_dir: Path, output: Path | None, parallel: int
) -> int:
    """The command: scan, print or write the report, return the exit code."""
    try:
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        if parallel < 1:
            raise UsageError(f"--parallel {parallel}: give 1 or more regions at a time")
        fleet, report = validate(config_dir)
        if fleet is None:
            raise UsageError(report.to_text())
        # The project the configuration belongs to: the stacks' files and the program.
        project_dir = config_dir.resolve().parent
        stacks = choose_stacks(regions, fleet, partial(deployed_stacks, project_dir))
        catalog = load_catalog()
    except UsageError as err:
        print(f"regionstack fleet drift: {err}", file=sys.stderr)
        return EXIT_USAGE
    scans = scan_regions(
        stacks,
        parallel,
        partial(scan_region, fleet, catalog=catalog, project_dir=project_dir),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    text = report_json(scans) if fmt == "json" else report_md(scans)
    write_output(text, output)
    return EXIT_CLEAN if all(s.status == CLEAN for s in scans) else EXIT_DRIFT
