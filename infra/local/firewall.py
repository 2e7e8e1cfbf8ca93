"""A local region's firewall mechanism: its nftables ruleset, applied on the controller.
The Firewall resource (modules/local/firewall.py) and the bake's build network
(infra/local/layers/machines.py) both apply their rulesets with it.

The ruleset text comes from infra/local/firewall_rules.render_ruleset; it defines the two
tables `bridge <table>` and `inet <table>`, each with `comment "regionstack:<stack>"` as
the ownership marker, and replaces them in one `nft -f` transaction, so a re-apply never
leaves a moment without rules.

How drift is found: nft does not print back the text it was given (it normalises sets,
priorities and spacing), so the rendered text cannot be compared with a listing. Instead
`apply` returns the digest of `nft -s list table` of both tables right after applying
(`-s` leaves out counter values, which change with traffic), and `intact` compares a fresh
listing with it: a table deleted, flushed or edited by hand is not intact.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from typing import Any

from infra.local.firewall_rules import marker

FAMILIES = ("bridge", "inet")
INPUT_KEYS = ("stack", "table", "ruleset")
NFT_TIMEOUT_S = 30
_TABLE_LINE = re.compile(r"^\s*(?:\w+\s+)?table\s+(\w+)\s+(\S+?)\s*(?:\{.*)?$", re.M)
# Top-level statements a region's script may contain; `flush ruleset` and the like may not.
_TOP_LEVEL = re.compile(r"^(?:add table|delete table|table) ")
_COMMENT_LINE = re.compile(r'^\s*comment "([^"]*)"\s*$')


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


def intact(stack: str, table: str, listing_sha256: str | None) -> bool:
    """Both tables exist, carry our marker and list exactly as they did after the apply."""
    current = listings(table)
    return (
        all(text is not None and table_marker(text) == marker(stack) for text in current.values())
        and digest(current) == listing_sha256
    )
