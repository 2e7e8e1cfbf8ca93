"""`regionstack compliance report | policies | diff`: the reviewer's commands.

Registered on infra/cli.py's parser like `image` (infra/local/image_cli.py); each leaf sets
`handler` (args -> exit code). The policy run and the diff are loaded inside their
handlers: they bring in Pulumi and git work no other command pays for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from infra.cli_common import load_valid_fleet, write_output
from infra.compliance.catalog import CatalogError, load_catalog
from infra.compliance.report import FORMATS, build_report, render_json
from infra.compliance.waivers import WaiverError, check_waivers, load_waivers, waivers_beside
from infra.config.loader import Fleet
from infra.config.problems import Problem

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
# `compliance policies`: the pack found a mandatory violation / the preview could not judge
EXIT_FAILED, EXIT_NOT_JUDGED = 1, 2
Handler = Callable[[argparse.Namespace], int]


def waiver_problems(config_dir: Path, fleet: Fleet, today: date) -> list[Problem]:
    """The problems of the waivers beside `config_dir` (none when it has no waivers file),
    for `regionstack validate`."""
    path = waivers_beside(config_dir)
    if not path.is_file():
        return []
    try:
        return check_waivers(load_waivers(path), fleet, load_catalog(), today)
    except (WaiverError, CatalogError) as err:
        return err.problems


def _fail(message: str) -> int:
    print(f"regionstack: {message}", file=sys.stderr)
    return EXIT_INVALID


def cmd_report(args: argparse.Namespace) -> int:
    fleet = load_valid_fleet(args.config)
    if fleet is None:
        return EXIT_INVALID
    regions = [fleet.region(key) for key in args.regions] or fleet.regions
    path = waivers_beside(args.config)
    try:
        catalog = load_catalog()
        waivers = load_waivers(path) if path.is_file() else []
    except (WaiverError, CatalogError) as err:
        return _fail(f"{err}\n(`regionstack validate` lists every problem)")
    report = build_report(fleet, catalog, waivers, regions)
    if args.format == "json":
        text = render_json(report)
    elif args.format == "html":
        from infra.compliance.render_html import render_html

        text = render_html(report, fleet)
    else:
        from infra.compliance.render_md import render_markdown

        text = render_markdown(report)
    write_output(text, args.output)
    if args.output is not None:
        print(f"wrote {args.output}")
    return EXIT_OK


def cmd_policies(args: argparse.Namespace) -> int:
    fleet = load_valid_fleet(args.config)
    if fleet is None:
        return EXIT_INVALID
    from infra.compliance.policy_run import PolicyRunError, check_policies, format_run

    try:
        # The project the configuration belongs to: its stack files hold the stacks'
        # secrets salts, and its policies/ is the pack to run.
        run = check_policies(fleet.region(args.stack).stack, args.config.resolve().parent)
    except PolicyRunError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_NOT_JUDGED
    print(format_run(run))
    return EXIT_OK if run.passed else EXIT_FAILED


def cmd_diff(args: argparse.Namespace) -> int:
    from infra.compliance.diff import diff_command  # git and both fleets: only this command

    repo = args.config.resolve().parent
    return int(diff_command(args.base, args.head, list(args.regions), args.format, repo))


def add_compliance_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config: Callable[[argparse.ArgumentParser], None],
) -> argparse.ArgumentParser:
    """Register `compliance report|policies|diff`; `add_config` gives each leaf the
    `--config` option every command accepts after its name."""
    help_text = "MLPS 2.0 level 3 compliance: the report, the policy pack's run, the diff"
    compliance = subparsers.add_parser("compliance", help=help_text, description=help_text)
    commands = compliance.add_subparsers(dest="compliance_command", required=True, metavar="ACTION")

    def add(name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler)
        add_config(sub)
        return sub

    report = add(
        "report",
        cmd_report,
        "per region and catalogue item: status, evidence and waivers (all regions by default)",
    )
    report.add_argument("regions", nargs="*", metavar="REGION", help="stack name or code")
    report.add_argument("--format", choices=FORMATS, default="md")
    report.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")
    policies = add(
        "policies",
        cmd_policies,
        "run the policy pack on a stack's preview and record its results as evidence",
    )
    policies.add_argument("stack", metavar="STACK", help="stack name or GB/T 2260 code")
    diff = add(
        "diff",
        cmd_diff,
        "which items, regions and tiers a change between two git revisions affects, and how "
        "each status moves",
    )
    diff.add_argument("base", metavar="BASE", help="git revision before the change")
    diff.add_argument("head", metavar="HEAD", help="git revision after the change")
    diff.add_argument("regions", nargs="*", metavar="REGION", help="only these regions")
    diff.add_argument("--format", choices=("md", "json"), default="md")
    return compliance
