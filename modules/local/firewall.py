"""A local region's firewall: its nftables ruleset, applied on the controller.

The ruleset text comes from infra/local/firewall_rules.render_ruleset; it defines the two
tables `bridge <table>` and `inet <table>`, each with `comment "regionstack:<stack>"` as
the ownership marker, and replaces them in one `nft -f` transaction, so a re-apply never
leaves a moment without rules.

What `read` compares: nft does not print back the text it was given (it normalises sets,
priorities and spacing), so the rendered text cannot be compared with a listing. Instead
the provider stores the digest of `nft -s list table` of both tables right after applying
(`-s` leaves out counter values, which change with traffic) and `read` compares a fresh
listing with it. `applied` is True only when both tables exist, carry our marker and list
exactly as they did after the apply: a table deleted, flushed or edited by hand shows as
drift on `pulumi refresh` and is re-applied by the next `pulumi up`.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from infra.local.firewall_rules import marker
from modules.props import DriftRepairProvider, input_props

FAMILIES = ("bridge", "inet")
INPUT_KEYS = ("stack", "table", "ruleset")
# The table name and the stack's marker are the resource's identity: a new name is a new
# pair of tables, and the old pair must go first (a ruleset may reuse names).
REPLACE_KEYS = ("stack", "table")
# A new ruleset is applied over the old one in place, in one nft transaction.
UPDATE_KEYS = ("ruleset",)
NFT_TIMEOUT_S = 30
_TABLE_LINE = re.compile(r"^\s*(?:\w+\s+)?table\s+(\w+)\s+(\S+?)\s*(?:\{.*)?$", re.M)
# Top-level statements a region's script may contain; `flush ruleset` and the like may not.
_TOP_LEVEL = re.compile(r"^(?:add table|delete table|table) ")
_COMMENT_LINE = re.compile(r'^\s*comment "([^"]*)"\s*$')


@dataclass
class FirewallInputs:
    stack: pulumi.Input[str]
    table: pulumi.Input[str]  # regionstack_<code>
    ruleset: pulumi.Input[str]  # render_ruleset(plan, standard)


class FirewallError(RuntimeError):
    """The ruleset cannot be applied or removed; the message says why."""


def _nft(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nft", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=NFT_TIMEOUT_S,
        check=False,
    )


def tables_in(ruleset: str) -> set[tuple[str, str]]:
    """Every (family, name) a script adds, deletes or defines."""
    return {(m.group(1), m.group(2)) for m in _TABLE_LINE.finditer(ruleset)}


def check_ruleset(stack: str, table: str, ruleset: str) -> None:
    """Refuse a script that touches any table but ours, or defines ours without the marker."""
    for line in ruleset.splitlines():
        if line and not line[0].isspace() and line[0] not in "#}" and not _TOP_LEVEL.match(line):
            raise FirewallError(f"the ruleset of {stack} may only add and define tables: {line!r}")
    expected = {(family, table) for family in FAMILIES}
    touched = tables_in(ruleset)
    if touched != expected:
        raise FirewallError(
            f"the ruleset of {stack} must touch exactly {sorted(expected)}; it touches "
            f"{sorted(touched)}"
        )
    if ruleset.count(f'comment "{marker(stack)}"') < len(FAMILIES):
        raise FirewallError(f'each table of {stack} must carry comment "{marker(stack)}"')


def listing(family: str, table: str) -> str | None:
    """`nft -s list table` text, or None when the table does not exist."""
    result = _nft("-s", "list", "table", family, table)
    if result.returncode != 0:
        if "No such file or directory" in result.stderr:
            return None
        raise FirewallError(f"nft list table {family} {table} failed: {result.stderr.strip()}")
    return result.stdout


def table_marker(text: str) -> str | None:
    """The table's own comment (nft 1.0.6's JSON output leaves table comments out)."""
    lines = text.splitlines()
    for line in lines[1:3]:  # the comment comes right after `table <family> <name> {`
        found = _COMMENT_LINE.match(line)
        if found:
            return found.group(1)
    return None


def listings(table: str) -> dict[str, str | None]:
    return {family: listing(family, table) for family in FAMILIES}


def foreign(stack: str, table: str, current: dict[str, str | None]) -> list[str]:
    """The existing tables of that name that are not ours."""
    return [
        f"{family} {table} (comment {table_marker(text)!r})"
        for family, text in current.items()
        if text is not None and table_marker(text) != marker(stack)
    ]


def digest(current: dict[str, str | None]) -> str:
    text = "".join(current[f] or "" for f in FAMILIES)
    return hashlib.sha256(text.encode()).hexdigest()


def apply(stack: str, table: str, ruleset: str) -> dict[str, Any]:
    """Apply the ruleset in one transaction and return the outputs that prove it."""
    check_ruleset(stack, table, ruleset)
    theirs = foreign(stack, table, listings(table))
    if theirs:
        raise FirewallError(
            f"nftables table(s) {', '.join(theirs)} exist and are not ours "
            f"(expected comment {marker(stack)!r}); remove or rename them"
        )
    result = _nft("-f", "-", stdin=ruleset)
    if result.returncode != 0:
        raise FirewallError(f"nft -f refused the ruleset of {stack}:\n{result.stderr.strip()}")
    current = listings(table)
    return {
        "stack": stack,
        "table": table,
        "ruleset": ruleset,
        "ruleset_sha256": hashlib.sha256(ruleset.encode()).hexdigest(),
        "listing_sha256": digest(current),
        "applied": all(current.values()),
    }


def remove(stack: str, table: str) -> None:
    """Delete both tables, each only if it carries our marker; idempotent."""
    ours = [
        family
        for family, text in listings(table).items()
        if text is not None and table_marker(text) == marker(stack)
    ]
    if not ours:
        return
    script = "".join(f"delete table {family} {table}\n" for family in ours)
    result = _nft("-f", "-", stdin=script)
    if result.returncode != 0 and "No such file or directory" not in result.stderr:
        raise FirewallError(f"nft could not delete {table}: {result.stderr.strip()}")


class FirewallProvider(DriftRepairProvider):
    REPLACE_KEYS = REPLACE_KEYS
    UPDATE_KEYS = UPDATE_KEYS
    # A refresh that found the tables gone or edited leaves applied False: re-apply.
    HEALTH_KEY = "applied"

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = apply(props["stack"], props["table"], props["ruleset"])
        return CreateResult(id_=f"{props['stack']}:{props['table']}", outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        current = listings(props["table"])
        applied = all(
            text is not None and table_marker(text) == marker(props["stack"])
            for text in current.values()
        ) and digest(current) == props.get("listing_sha256")
        inputs = {k: props[k] for k in INPUT_KEYS}
        return ReadResult(id_=id_, outs={**props, "applied": applied}, inputs=inputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=apply(news["stack"], news["table"], news["ruleset"]))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        remove(props["stack"], props["table"])


class Firewall(Resource):
    """A region's nftables tables; `applied` is False after drift."""

    table: pulumi.Output[str]
    ruleset_sha256: pulumi.Output[str]
    listing_sha256: pulumi.Output[str]
    applied: pulumi.Output[bool]

    def __init__(
        self, name: str, args: FirewallInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        outputs = {"ruleset_sha256": None, "listing_sha256": None, "applied": None}
        super().__init__(FirewallProvider(), name, {**input_props(args), **outputs}, opts)
