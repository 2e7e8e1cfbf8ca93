"""A local region's firewall: its nftables ruleset, applied on the controller.

The resource and its provider; applying, checking and removing the two tables is the
mechanism in infra/local/firewall.py, which the bake's build network uses too.

`applied` is True only when both tables exist, carry our marker and list exactly as they
did after the apply: a table deleted, flushed or edited by hand shows as drift on `pulumi
refresh` and is re-applied by the next `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from infra.local.firewall import INPUT_KEYS, apply, intact, remove
from modules.props import DriftRepairProvider, input_props, untyped_alias

# The table name and the stack's marker are the resource's identity: a new name is a new
# pair of tables, and the old pair must go first (a ruleset may reuse names).
REPLACE_KEYS = ("stack", "table")
# A new ruleset is applied over the old one in place, in one nft transaction.
UPDATE_KEYS = ("ruleset",)


@dataclass
class FirewallInputs:
    stack: pulumi.Input[str]
    table: pulumi.Input[str]  # regionstack_<code>
    ruleset: pulumi.Input[str]  # render_ruleset(plan, standard)


class FirewallProvider(DriftRepairProvider):
    REPLACE_KEYS = REPLACE_KEYS
    UPDATE_KEYS = UPDATE_KEYS
    # A refresh that found the tables gone or edited leaves applied False: re-apply.
    HEALTH_KEY = "applied"

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = apply(props["stack"], props["table"], props["ruleset"])
        return CreateResult(id_=f"{props['stack']}:{props['table']}", outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        applied = intact(props["stack"], props["table"], props.get("listing_sha256"))
        inputs = {k: props[k] for k in INPUT_KEYS}
        return ReadResult(id_=id_, outs={**props, "applied": applied}, inputs=inputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=apply(news["stack"], news["table"], news["ruleset"]))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        remove(props["stack"], props["table"])


class Firewall(Resource, module="local", name="Firewall"):
    """A region's nftables tables; `applied` is False after drift."""

    table: pulumi.Output[str]
    ruleset_sha256: pulumi.Output[str]
    listing_sha256: pulumi.Output[str]
    applied: pulumi.Output[bool]

    def __init__(
        self, name: str, args: FirewallInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        outputs = {"ruleset_sha256": None, "listing_sha256": None, "applied": None}
        super().__init__(
            FirewallProvider(), name, {**input_props(args), **outputs}, untyped_alias(opts)
        )
