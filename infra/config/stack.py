"""Pick the region a Pulumi stack deploys, and refuse a stack that does not match it.

A stack is named after its region (`stack:` in the region file). Its stack file, written
by `regionstack render`, records the region code and the digest of the effective config
it was rendered from; if either disagrees with the configuration, the stack file is stale
and deploying it could apply something nobody reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config.effective import digest, effective_config
from infra.config.loader import Fleet, load_fleet
from infra.config.schema import Region


class StackMismatch(Exception):
    """The stack cannot be deployed as it is; the message says what to do."""


@dataclass(frozen=True)
class StackSelection:
    fleet: Fleet
    region: Region
    config: dict[str, Any]
    digest: str
    # The project the configuration belongs to: its roles and playbooks configure the hosts
    # and bake the layers, so a copy of the project deploys what it holds, not the roles of
    # the checkout the program's code was installed from.
    project_dir: Path


def select_region(
    stack: str, config_dir: Path, recorded_code: str | None, recorded_digest: str | None
) -> StackSelection:
    fleet = load_fleet(config_dir)
    matches = [r for r in fleet.regions if r.stack == stack]
    if not matches:
        known = ", ".join(f"{r.stack} ({r.code} {r.name})" for r in fleet.regions)
        raise StackMismatch(
            f"stack {stack!r} is not a region of the unified configuration. Known stacks: {known}. "
            "Select one with `pulumi stack select <stack>`, or add the region under stacks/regions/ "
            "and run `regionstack render`."
        )
    region = matches[0]
    config = effective_config(fleet, region)
    current = digest(config)
    stack_file = f"stacks/Pulumi.{stack}.yaml"
    if recorded_code != region.code:
        raise StackMismatch(
            f"{stack_file} records region code {recorded_code!r} but the region {stack!r} is "
            f"{region.code}; run `regionstack render`"
        )
    if recorded_digest != current:
        raise StackMismatch(
            f"{stack_file} is stale: it was rendered from a different effective config "
            f"({recorded_digest} != {current}); run `regionstack render`, review and commit it"
        )
    return StackSelection(fleet, region, config, current, config_dir.resolve().parent)


# The passphrase scripts/env.sh supplies when none is set. It protects nothing (it is
# written in this repo), which is acceptable only for throwaway local regions.
LOCAL_DEFAULT_PASSPHRASE = "regionstack-local-only"


def check_secrets_provider(region: Region, passphrase: str | None) -> None:
    """Refuse the documented local passphrase for stacks that deploy to a real cloud."""
    if region.target != "local" and passphrase == LOCAL_DEFAULT_PASSPHRASE:
        raise StackMismatch(
            f"stack {region.stack!r} deploys to {region.target}, and its secrets would be "
            "encrypted with the public local-only passphrase. Set PULUMI_CONFIG_PASSPHRASE to "
            "a secret of your own, or create the stack with `--secrets-provider awskms://...` "
            "(see docs/operations.md)."
        )
