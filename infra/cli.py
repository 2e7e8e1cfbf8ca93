"""`regionstack`: validate, inspect and render the unified configuration.

Exit codes: 0 success; 1 the configuration is invalid, files are stale or a check
found problems; 2 usage errors (bad arguments, an unknown region, nothing to check
with). Every command reads the configuration from ``--config DIR`` (default: the
``stacks/`` directory of this checkout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from infra.aws.inventory import DEFAULT_DEBIAN_MIRROR, Connection, write_aws_inventory
from infra.aws.plan import plan_aws_region
from infra.cli_common import load_valid_fleet
from infra.compliance.commands import add_compliance_commands, waiver_problems
from infra.config.effective import diff, effective_config
from infra.config.environment import local_state_root
from infra.config.loader import Fleet, UnknownRegion, validate
from infra.config.render import render
from infra.config.schema import Region
from infra.fleet.commands import add_fleet_commands
from infra.inventory import InventoryError, inventory_dir, stack_outputs, write_inventory
from infra.local.image_cli import add_image_commands
from infra.local.status import format_status, region_status
from infra.probe import ProbeError, format_checks, probe_portals
from infra.verify import SUITES, VerifyError, VerifyRequest, verify
from infra.verify.hardening import (
    HARDENING_INDEX_TARGET,
    check_stack,
    format_hardening,
    hardening_json,
    record_hardening,
    shortfalls,
)

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "stacks"
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Dumper(yaml.SafeDumper):
    """YAML that keeps Chinese readable and never wraps long lines."""


def _to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000)


def _load(args: argparse.Namespace) -> Fleet | None:
    return load_valid_fleet(args.config)


def cmd_validate(args: argparse.Namespace) -> int:
    fleet, report = validate(args.config)
    if fleet is not None:
        # The waivers name regions and resources, so they are judged against a valid fleet.
        report.extend(waiver_problems(args.config, fleet, date.today()))
    if args.format == "json":
        print(report.to_json())
    elif report.ok and fleet is not None:
        print(f"configuration is valid: {len(fleet.regions)} region(s) in {args.config}")
    else:
        print(report.to_text(), file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_show(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    print(_to_yaml(effective_config(fleet, fleet.region(args.region))), end="")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    left, right = fleet.region(args.region_a), fleet.region(args.region_b)
    changes = diff(effective_config(fleet, left), effective_config(fleet, right))
    print(f"--- {left.stack} ({left.code} {left.name})")
    print(f"+++ {right.stack} ({right.code} {right.name})")
    for key, a, b in changes:
        print(f"{key}: {a!r} -> {b!r}")
    print(f"{len(changes)} key(s) differ")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    result = render(fleet, check=args.check)
    for path in result.orphans:
        print(
            f"warning: {path} has no region in the configuration; destroy that stack, then delete the file",
            file=sys.stderr,
        )
    if args.check:
        for path in result.stale:
            print(f"stale: {path}", file=sys.stderr)
        if result.stale:
            print("run `regionstack render` and commit the result", file=sys.stderr)
            return EXIT_INVALID
        print(f"all {len(fleet.regions)} stack file(s) are current")
        return EXIT_OK
    print(
        f"wrote {len(result.written)} stack file(s); {len(fleet.regions) - len(result.written)} already current"
    )
    return EXIT_OK


def cmd_inventory(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    region = fleet.region(args.stack)
    if region.target == "aws":
        return _aws_inventory(args, fleet, region)
    try:
        outputs = stack_outputs(region.stack, cwd=args.config.parent)
        files = write_inventory(region.stack, outputs, args.output)
    except InventoryError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(files.inventory)
    return EXIT_OK


def _aws_inventory(args: argparse.Namespace, fleet: Fleet, region: Region) -> int:
    """An aws region's hosts are found by their tags (infra/aws/inventory.py); the stack's
    outputs, when they can be read, add what the roles need beyond the configuration."""
    outputs: dict[str, Any] | None = None
    try:
        outputs = stack_outputs(region.stack, cwd=args.config.parent)
    except InventoryError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        print("regionstack: writing the inventory from the configuration alone", file=sys.stderr)
    try:
        connection = (
            Connection("bastion", bastion=args.bastion)
            if args.bastion
            else Connection("ssm", ssm_bucket=args.ssm_bucket)
        )
        files = write_aws_inventory(
            effective_config(fleet, region),
            args.output or inventory_dir(region.stack),
            connection,
            outputs,
            args.debian_mirror,
        )
    except InventoryError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_INVALID
    for missing in files.missing:
        print(f"regionstack: warning: {missing} (docs/aws.md)", file=sys.stderr)
    print(files.inventory)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    region = fleet.region(args.stack)
    if region.target != "aws":
        print(
            f"regionstack: {region.stack} targets {region.target}, not aws: `audit` reads an "
            f"AWS account; check a local region with `regionstack verify {region.stack}`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # boto3 is loaded by this command only: it costs every other command about a second.
    from infra.aws.audit import AuditError, AuditTarget, AwsClients, format_report, run_audit

    target = AuditTarget.from_plan(plan_aws_region(fleet, region), fleet.standard)
    try:
        report = run_audit(target, AwsClients(target.region, args.endpoint_url))
    except AuditError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(format_report(report))
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_probe(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    stack = fleet.region(args.stack).stack
    try:
        checks = probe_portals(stack, args.inventory)
    except ProbeError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(format_checks(stack, checks))
    return EXIT_OK if all(c.ok for c in checks) else EXIT_INVALID


def cmd_verify(args: argparse.Namespace) -> int:
    fleet = _load(args)
    if fleet is None:
        return EXIT_INVALID
    region = fleet.region(args.stack)
    parent = fleet.parent_of(region)
    request = VerifyRequest(
        stack=region.stack,
        inventory=args.inventory or inventory_dir(region.stack),
        suites=tuple(args.only or SUITES),
        parent_stack=parent.stack if parent else None,
        parent_inventory=args.parent_inventory,
        junit=args.junit,
    )
    try:
        status = verify(request)
    except VerifyError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_INVALID
    if args.hardening:
        status = max(status, _hardening(region.stack, request.inventory, args.hardening_json))
    return status


def _hardening(stack: str, inventory: Path, json_file: Path | None) -> int:
    """The external yardsticks: Lynis and OpenSCAP on every host of the region."""
    try:
        results = check_stack(stack, inventory)
    except VerifyError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(format_hardening(results))
    record_hardening(stack, results)
    if json_file is not None:
        json_file.write_text(hardening_json(results), encoding="utf-8")
    problems = shortfalls(results)
    for problem in problems:
        print(f"hardening: {problem}", file=sys.stderr)
    return EXIT_INVALID if problems else EXIT_OK


def cmd_local_status(args: argparse.Namespace) -> int:
    print(format_status(region_status(local_state_root())))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regionstack", description=__doc__.split("\n")[0] if __doc__ else None
    )
    config_help = "the unified configuration (default: %(default)s)"
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_DIR,
        metavar="DIR",
        help="the unified configuration (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_config(sub: argparse.ArgumentParser) -> None:
        # Also accepted after the command (`regionstack validate --config DIR`); SUPPRESS
        # keeps the top-level value when it is not given here.
        sub.add_argument(
            "--config",
            type=Path,
            default=argparse.SUPPRESS,
            metavar="DIR",
            help=config_help.replace("%(default)s", str(DEFAULT_CONFIG_DIR)),
        )

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        add_config(sub)
        return sub

    validate_cmd = add(
        "validate", cmd_validate, "check the whole configuration and report every problem"
    )
    validate_cmd.add_argument("--format", choices=("text", "json"), default="text")
    show = add("show", cmd_show, "print a region's effective configuration as YAML")
    show.add_argument("region", help="GB/T 2260 code or stack name")
    diff_cmd = add(
        "diff", cmd_diff, "list the effective-config keys that differ between two regions"
    )
    diff_cmd.add_argument("region_a", metavar="REGION_A")
    diff_cmd.add_argument("region_b", metavar="REGION_B")
    render_cmd = add("render", cmd_render, "write stacks/Pulumi.<stack>.yaml for every region")
    add_image_commands(commands)
    inventory = add("inventory", cmd_inventory, "write the Ansible inventory of a deployed region")
    inventory.add_argument("stack", metavar="STACK", help="stack name or GB/T 2260 code")
    inventory.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="where to write inventory.yml, the admin key and known_hosts; for an aws "
        "stack aws_ec2.yml and group_vars/ (default: $REGIONSTACK_STATE_DIR/inventory/<stack>)",
    )
    reach = inventory.add_mutually_exclusive_group()
    reach.add_argument(
        "--ssm-bucket",
        metavar="BUCKET",
        help="aws stacks: the unversioned S3 bucket the SSM connection moves module files "
        "through (the default connection is SSM)",
    )
    reach.add_argument(
        "--bastion",
        metavar="USER@HOST",
        help="aws stacks: reach the hosts over SSH through this jump host instead of SSM",
    )
    inventory.add_argument(
        "--debian-mirror",
        metavar="URL",
        default=DEFAULT_DEBIAN_MIRROR,
        help="aws stacks: the Debian mirror the hosts install from (default: %(default)s)",
    )
    audit_cmd = add(
        "audit",
        cmd_audit,
        "check a deployed aws region's account: CloudTrail, log archive, GuardDuty, flow "
        "logs, security groups open to the world, hosts' addresses and tags",
    )
    audit_cmd.add_argument("stack", metavar="STACK", help="stack name or GB/T 2260 code")
    audit_cmd.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="send every AWS API call to this endpoint (an emulator) instead of the partition's",
    )
    probe = add(
        "probe",
        cmd_probe,
        "check a deployed region's portals from outside: HTTPS, certificate, sections, redirect",
    )
    probe.add_argument("stack", metavar="STACK", help="stack name or GB/T 2260 code")
    probe.add_argument(
        "--inventory",
        type=Path,
        metavar="DIR",
        help="the inventory directory (default: $REGIONSTACK_STATE_DIR/inventory/<stack>)",
    )
    verify_cmd = add(
        "verify",
        cmd_verify,
        "run the host suites (tests/hosts) against a deployed region through its inventory",
    )
    verify_cmd.add_argument("stack", metavar="STACK", help="stack name or GB/T 2260 code")
    verify_cmd.add_argument(
        "--only",
        action="append",
        choices=SUITES,
        metavar="SUITE",
        help=f"run only this suite (repeatable; one per role, plus flows): {', '.join(SUITES)}",
    )
    verify_cmd.add_argument(
        "--junit", type=Path, metavar="FILE", help="write the results as JUnit XML to FILE"
    )
    verify_cmd.add_argument(
        "--inventory",
        type=Path,
        metavar="PATH",
        help="the inventory directory or file (default: $REGIONSTACK_STATE_DIR/inventory/<stack>)",
    )
    # --audit and --audit-json: the names before "audit" came to mean the aws account
    # audit only (`regionstack audit`); kept so that scripts written for them still work.
    verify_cmd.add_argument(
        "--hardening",
        "--audit",
        action="store_true",
        help="also run Lynis and OpenSCAP on every host and report the hardening index "
        f"(must reach {HARDENING_INDEX_TARGET}) and the OpenSCAP pass rate",
    )
    verify_cmd.add_argument(
        "--hardening-json",
        "--audit-json",
        type=Path,
        metavar="FILE",
        help="with --hardening: the figures as JSON",
    )
    verify_cmd.add_argument(
        "--parent-inventory",
        type=Path,
        metavar="PATH",
        help="the parent region's, for the flows across regions "
        "(default: $REGIONSTACK_STATE_DIR/inventory/<parent>)",
    )
    add_compliance_commands(commands, add_config)
    add_fleet_commands(commands, add_config)
    local = commands.add_parser("local", help="inspect the local target on this controller")
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    status = local_commands.add_parser(
        "status", help="list local regions and machines: state, address, memory"
    )
    status.set_defaults(handler=cmd_local_status)
    render_cmd.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 listing stale files"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.config.is_dir():
        parser.error(
            f"--config {args.config}: not a directory (it should hold standard.yaml, tiers/ and regions/)"
        )
    try:
        code: int = args.handler(args)
    except UnknownRegion as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
