"""The region: the root component every region stack builds, whatever its target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass
class RegionArgs:
    code: pulumi.Input[str]
    name: pulumi.Input[str]
    tier: pulumi.Input[str]
    target: pulumi.Input[str]
    effective_config: pulumi.Input[dict[str, Any]]
    config_digest: pulumi.Input[str]


class Region(pulumi.ComponentResource):
    """One region of the standard design; targets attach their components beneath it."""

    def __init__(
        self, name: str, args: RegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("regionstack:region:Region", name, None, opts)
        self.code = pulumi.Output.from_input(args.code)
        self.region_name = pulumi.Output.from_input(args.name)
        self.tier = pulumi.Output.from_input(args.tier)
        self.target = pulumi.Output.from_input(args.target)
        self.effective_config = pulumi.Output.from_input(args.effective_config)
        self.config_digest = pulumi.Output.from_input(args.config_digest)
        self.register_outputs(
            {
                "code": self.code,
                "name": self.region_name,
                "tier": self.tier,
                "target": self.target,
                "effective_config": self.effective_config,
                "config_digest": self.config_digest,
            }
        )
