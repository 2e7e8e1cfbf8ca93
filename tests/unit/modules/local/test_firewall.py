"""The firewall's provider (modules/local/firewall.py): how it diffs.

Its mechanism (infra/local/firewall.py): tests/unit/local/test_firewall.py."""

from __future__ import annotations

from typing import Any

import pytest

from modules.local.firewall import REPLACE_KEYS, FirewallProvider


def olds(**changes: Any) -> dict[str, Any]:
    return {
        "stack": "chunan",
        "table": "regionstack_330127",
        "ruleset": "r1",
        "listing_sha256": "x",
        "applied": True,
        **changes,
    }


def news(**changes: Any) -> dict[str, Any]:
    return {"stack": "chunan", "table": "regionstack_330127", "ruleset": "r1", **changes}


@pytest.mark.parametrize("key", REPLACE_KEYS)
def test_identity_changes_replace(key: str) -> None:
    result = FirewallProvider().diff("id", olds(), news(**{key: "other"}))
    assert result.changes and result.replaces == [key] and result.delete_before_replace


def test_ruleset_change_updates_in_place() -> None:
    result = FirewallProvider().diff("id", olds(), news(ruleset="r2"))
    assert result.changes and not result.replaces


def test_drift_is_repaired_and_no_change_is_quiet() -> None:
    provider = FirewallProvider()
    assert provider.diff("id", olds(applied=False), news()).changes
    assert not provider.diff("id", olds(), news()).changes
