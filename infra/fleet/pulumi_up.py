"""`python -m infra.fleet.pulumi_up --work-dir DIR --stack NAME`: one region's `up`.

Run by `PulumiEngine`, one process per region. The stack is never *selected*: selecting
writes the workspace's current-stack file that parallel updates share (pulumi/pulumi
#8186), so the stack's existence is checked with `pulumi stack --stack NAME` and every
command the Automation API runs carries `--stack`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pulumi import automation as auto


class StackWorkspace(auto.LocalWorkspace):
    """A `LocalWorkspace` whose `select_stack` checks the stack instead of selecting it."""

    def select_stack(self, stack_name: str) -> None:
        self._run_pulumi_cmd_sync(["stack", "--stack", stack_name])


def up(work_dir: Path, stack_name: str) -> str:
    workspace = StackWorkspace(work_dir=str(work_dir))
    stack = auto.Stack.select(stack_name, workspace)
    result = stack.up(on_output=print, color="never")
    return result.summary.result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        outcome = up(args.work_dir, args.stack)
    except auto.errors.CommandError as err:
        print(f"pulumi_up: {args.stack}: {err}", file=sys.stderr)
        return 1
    print(f"pulumi_up: {args.stack}: {outcome}")
    return 0 if outcome == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
