"""The network's provider (modules/local/network.py): how it diffs.

Its mechanism (infra/local/network.py): tests/unit/local/test_network.py, whose inputs
(`props`) these tests diff."""

from __future__ import annotations

from typing import Any

import pytest

from modules.local.network import REPLACE_KEYS, NetworkProvider
from tests.unit.local.test_network import props


@pytest.mark.parametrize("key", REPLACE_KEYS)
def test_identity_changes_replace(key: str) -> None:
    new = {"prefix_length": 25} if key == "prefix_length" else {key: "changed"}
    result = NetworkProvider().diff("id", {**props(), "healthy": True}, props(**new))
    assert result.changes and result.replaces == [key] and result.delete_before_replace


@pytest.mark.parametrize(
    "change",
    [
        {"hosts": {"chunan-portal-1": "10.203.2.2", "chunan-portal-2": "10.203.2.3"}},
        {"dns_domain": "chunan.example"},
        {"apt_upstream": "http://mirror.example/debian"},
    ],
)
def test_service_changes_update_in_place(change: dict[str, Any]) -> None:
    result = NetworkProvider().diff("id", {**props(), "healthy": True}, props(**change))
    assert result.changes and not result.replaces


def test_unhealthy_state_is_repaired_and_healthy_is_left_alone() -> None:
    provider = NetworkProvider()
    assert provider.diff("id", {**props(), "healthy": False}, props()).changes
    assert not provider.diff("id", {**props(), "healthy": True}, props()).changes
