"""`regionstack`: validate, inspect and render the unified configuration.

Exit codes: 0 success; 1 the configuration is invalid or files are stale; 2 usage
errors (bad arguments, an unknown region). Every command reads the configuration from
``--config DIR`` (default: the ``stacks/`` directory of this checkout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from infra.config.effective import diff, effective_config
from infra.config.environment import local_state_root
from infra.config.loader import Fleet, UnknownRegion, validate
from infra.config.render import render
from infra.inventory import InventoryError, stack_outputs, write_inventory
from infra.local.image_cli import add_image_commands
from infra.local.status import format_status, region_status
from infra.probe import ProbeError, format_checks, probe_portals

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "stacks"
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Dumper(yaml.SafeDumper):
    """YAML that keeps Chinese readable and never wraps long lines."""


def _to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000)


def _load(args: argparse.Namespace) -> Fleet | None:
    fleet, report = validate(args.config)
    if fleet is None:
        print(report.to_text(), file=sys.stderr)
    return fleet


def cmd_validate(args: argparse.Namespace) -> int:
    fleet, report = validate(args.config)
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
    try:
        outputs = stack_outputs(region.stack, cwd=args.config.parent)
        files = write_inventory(region.stack, outputs, args.output)
    except InventoryError as err:
        print(f"regionstack: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(files.inventory)
    return EXIT_OK


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

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        # Also accepted after the command (`regionstack validate --config DIR`); SUPPRESS
        # keeps the top-level value when it is not given here.
        sub.add_argument(
            "--config",
            type=Path,
            default=argparse.SUPPRESS,
            metavar="DIR",
            help=config_help.replace("%(default)s", str(DEFAULT_CONFIG_DIR)),
        )
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
        help="where to write inventory.yml, the admin key and known_hosts "
        "(default: $REGIONSTACK_STATE_DIR/inventory/<stack>)",
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
