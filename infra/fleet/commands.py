"""`regionstack fleet plan | up | simulate`: roll the fleet out in dependency order.

Registered on infra/cli.py's parser like `compliance`. `add_fleet_commands` returns the
`fleet` group's subparsers, and every leaf is added by `add_fleet_command`, so another
command of the group (`fleet drift`) registers with one call beside these.

Exit codes of `fleet up`: 0 every region applied; 1 some region failed or is blocked
below a failed one; 2 usage or plan error (bad arguments, invalid configuration, a
cycle or missing parent, a journal of another plan); 3 a wave's failures exceeded the
failure budget, so the rollout stopped starting regions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from infra.cli_common import load_valid_fleet
from infra.config.environment import state_dir
from infra.fleet.dag import PlanError
from infra.fleet.plan import Plan
from infra.fleet.scheduler import EXIT_APPLIED, EXIT_FAILED, EXIT_USAGE, Budget, Outcome
from infra.fleet.selection import plan_fleet

Handler = Callable[[argparse.Namespace], int]
AddConfig = Callable[[argparse.ArgumentParser], None]


def default_journal() -> Path:
    return state_dir() / "fleet" / "journal.jsonl"


def _plan(args: argparse.Namespace) -> Plan | None:
    """The plan of the arguments, or None after printing why there is none."""
    fleet = load_valid_fleet(args.config)
    if fleet is None:
        return None
    try:
        return plan_fleet(
            fleet, args.regions, args.changed_since, canaries=args.canaries, subtree=args.subtree
        )
    except PlanError as err:
        print(f"regionstack fleet: cannot plan:\n{err}", file=sys.stderr)
        return None


def cmd_plan(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if plan is None:
        return EXIT_USAGE
    print(plan.to_json() if args.format == "json" else plan.to_text(), end="")
    return EXIT_APPLIED


def cmd_up(args: argparse.Namespace) -> int:
    from infra.fleet.engine import PulumiEngine
    from infra.fleet.journal import Journal, JournalMismatch
    from infra.fleet.progress import Progress
    from infra.fleet.scheduler import Limits, Scheduler

    try:
        budget = Budget.parse(args.failure_budget)
    except ValueError as err:
        print(f"regionstack fleet up: {err}", file=sys.stderr)
        return EXIT_USAGE
    plan = _plan(args)
    if plan is None:
        return EXIT_USAGE
    journal_path = args.journal or default_journal()
    try:
        journal = Journal.open(journal_path, plan.digest, new=args.new_journal)
    except JournalMismatch as err:
        print(f"regionstack fleet up: {err}", file=sys.stderr)
        return EXIT_USAGE
    limits = Limits(args.max_concurrency, args.max_per_parent, budget)
    engine = PulumiEngine(args.config.resolve().parent, journal_path.parent / "logs")
    progress = Progress(len(plan.regions), args.max_concurrency)
    start = time.monotonic()
    try:
        outcome = Scheduler(plan, engine, journal, limits, progress, args.retry_failed).run()
    finally:
        journal.close()
    summary = {
        "plan": plan.digest,
        "journal": str(journal_path),
        "regions": outcome.regions,
        "applied": len(outcome.applied),
        "failed": outcome.failed,
        "blocked": outcome.blocked,
        "not_started": outcome.not_started,
        "rerun": outcome.rerun,
        "retried": outcome.retried,
        "resumed": outcome.resumed,
        "budget_exceeded": outcome.budget_exceeded,
        "failure_budget": str(budget),
        "seconds": round(time.monotonic() - start, 1),
        "exit": outcome.exit_code,
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True, ensure_ascii=False, indent=1))
    else:
        print(_outcome_text(outcome, budget, journal_path))
    return outcome.exit_code


def _outcome_text(outcome: Outcome, budget: Budget, journal: Path) -> str:
    lines = [
        f"{len(outcome.applied)}/{outcome.regions} applied, {len(outcome.failed)} failed, "
        f"{len(outcome.blocked)} blocked, {len(outcome.not_started)} not started "
        f"(journal {journal})"
    ]
    lines += [f"failed: {stack}: {error}" for stack, error in outcome.failed.items()]
    if outcome.budget_exceeded:
        lines.append(
            f"stopped: wave {outcome.budget_exceeded} exceeded the failure budget {budget}; "
            "fix the failures, then run the same command with --retry-failed"
        )
    return "\n".join(lines)


def cmd_simulate(args: argparse.Namespace) -> int:
    import tempfile

    from infra.fleet.simulate import sample_plan, simulate

    plan = sample_plan(args.regions)
    results = []
    for seed in range(args.seed, args.seed + args.seeds):
        with tempfile.TemporaryDirectory(prefix="regionstack-simulate-") as tmp:
            result = simulate(plan, Path(tmp), seed, args.failure_rate, args.kills, args.delay)
        results.append(result)
        if not args.json:
            events = result.events
            print(
                f"seed {seed}: {result.regions} regions, {events.get('applied', 0)} applied, "
                f"{events.get('failed', 0)} failed, {events.get('blocked', 0)} blocked, "
                f"{result.killed} kills ({events.get('rerun', 0)} re-run), {result.seconds:.1f} s: "
                + ("ok" if result.ok else "; ".join(result.violations[:5]))
            )
    if args.json:
        print(json.dumps([r.summary() for r in results], sort_keys=True, indent=1))
    return EXIT_APPLIED if all(r.ok for r in results) else EXIT_FAILED


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_fleet_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config: AddConfig,
    name: str,
    handler: Handler,
    text: str,
) -> argparse.ArgumentParser:
    """One `fleet <name>` command; `fleet drift` registers itself through this too."""
    sub: argparse.ArgumentParser = commands.add_parser(name, help=text, description=text)
    sub.set_defaults(handler=handler)
    add_config(sub)
    return sub


def _add_selection(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("regions", nargs="*", metavar="REGION", help="stack name or code (all)")
    sub.add_argument(
        "--changed-since",
        metavar="REV",
        help="only regions whose rendered digest changed since git REV (all of them when "
        "shared code changed: docs/fleet.md)",
    )
    sub.add_argument(
        "--subtree",
        action="store_true",
        help="the named regions and every region below them (a province: its cities and counties)",
    )
    sub.add_argument(
        "--no-canaries",
        dest="canaries",
        action="store_false",
        help="no canary wave per tier: waves only double, siblings start together (a few "
        "regions, a rehearsal; a national rollout keeps its canaries)",
    )


def add_fleet_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], add_config: AddConfig
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Register `fleet plan|up|simulate`; returns the group for more (`fleet drift`)."""
    text = "roll the regions out in dependency order, resumably"
    fleet = subparsers.add_parser("fleet", help=text, description=text)
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = fleet.add_subparsers(
        dest="fleet_command", required=True, metavar="ACTION"
    )
    plan = add_fleet_command(
        commands, add_config, "plan", cmd_plan, "the regions in dependency order, in waves"
    )
    _add_selection(plan)
    plan.add_argument("--format", choices=("text", "json"), default="text")
    up = add_fleet_command(
        commands, add_config, "up", cmd_up, "apply the plan: pulumi up of each region"
    )
    up.epilog = (
        "exit codes: 0 every region applied; 1 some failed or blocked; 2 usage or plan "
        "error; 3 a wave exceeded the failure budget (docs/fleet.md)"
    )
    _add_selection(up)
    up.add_argument(
        "--max-concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="regions applied at once (default: %(default)s)",
    )
    up.add_argument(
        "--max-per-parent",
        type=_positive,
        metavar="N",
        help="at most N children of one parent at once (default: no cap)",
    )
    up.add_argument(
        "--failure-budget",
        default="10%",
        metavar="PCT|N",
        help="failures a wave may have before no new region starts (default: %(default)s)",
    )
    up.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help="default: $REGIONSTACK_STATE_DIR/fleet/journal.jsonl",
    )
    up.add_argument(
        "--new-journal",
        action="store_true",
        help="set a journal of another plan aside and start over",
    )
    up.add_argument(
        "--retry-failed",
        action="store_true",
        help="resuming: attempt the failed regions again, and the regions they blocked",
    )
    up.add_argument("--json", action="store_true", help="print the summary as JSON")
    simulate = add_fleet_command(
        commands,
        add_config,
        "simulate",
        cmd_simulate,
        "the real scheduler and journal against a fake engine, the orchestrator killed",
    )
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--seeds", type=_positive, default=1, help="seeds from --seed on")
    simulate.add_argument("--failure-rate", type=float, default=0.01)
    simulate.add_argument("--kills", type=int, default=3)
    simulate.add_argument("--delay", type=float, default=0.0, help="seconds per fake apply")
    simulate.add_argument("--regions", choices=("national", "sample"), default="national")
    simulate.add_argument("--json", action="store_true")
    _add_drift(commands, add_config)
    return commands


def cmd_drift(args: argparse.Namespace) -> int:
    from infra.fleet.drift import drift_command  # its Pulumi and verify calls: not at start-up

    return drift_command(list(args.regions), args.format, args.config, args.output, args.parallel)


def _add_drift(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], add_config: AddConfig
) -> None:
    drift = add_fleet_command(
        commands,
        add_config,
        "drift",
        cmd_drift,
        "scan regions for drift without changing anything, grouped by cause",
    )
    drift.epilog = (
        "each region: pulumi preview --refresh (resources, and the site playbook in --check "
        "--diff on every host) and regionstack verify, at once; exit 0 no drift, 1 drift "
        "found or a region could not be scanned, 2 usage error (docs/operations.md)"
    )
    drift.add_argument(
        "regions", nargs="*", metavar="REGION", help="stack name or code (all deployed)"
    )
    drift.add_argument("--format", choices=("md", "json"), default="md")
    drift.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE")
    drift.add_argument(
        "--parallel",
        type=_positive,
        default=2,
        metavar="N",
        help="regions scanned at once (default: %(default)s)",
    )
