"""`python -m infra.fleet.pulumi_up --work-dir DIR --stack NAME`: one region's `up`.

Run by `PulumiEngine`, one process per region. The stack is never *selected*: selecting
writes the workspace's current-stack file that parallel updates share (pulumi/pulumi
#8186), so a missing stack is created with `stack init --no-select`, an existing one is
checked with `pulumi stack --stack NAME`, and every command the Automation API runs
carries `--stack`. A created stack gets the backend's default secrets provider (the
passphrase); the program refuses the public local passphrase for aws stacks, so create
those first with `--secrets-provider awskms://…` (docs/operations.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pulumi import automation as auto


class StackWorkspace(auto.LocalWorkspace):
    """A `LocalWorkspace` that creates and checks stacks without selecting them."""

    def select_stack(self, stack_name: str) -> None:
        self._run_pulumi_cmd_sync(["stack", "--stack", stack_name])

    def create_stack(self, stack_name: str) -> None:
        args = ["stack", "init", stack_name, "--no-select"]
        if self.secrets_provider:
            args += ["--secrets-provider", self.secrets_provider]
        self._run_pulumi_cmd_sync(args)


def up(work_dir: Path, stack_name: str) -> str:
    workspace = StackWorkspace(work_dir=str(work_dir))
    stack = auto.Stack.create_or_select(stack_name, workspace)
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
