"""Host names: the one rule both targets, the certificates and the inventory name hosts by."""

from __future__ import annotations

import pytest

from infra.names import (
    FEDERATED_COMPONENT,
    exchange_host,
    host_name,
    hostname_part,
    internal_name,
    region_domain,
)


def test_hostname_part_replaces_underscores() -> None:
    assert hostname_part("security_monitoring") == "security-monitoring"


@pytest.mark.parametrize(
    ("stack", "component", "index", "expected"),
    [
        ("ningxia", "data_exchange", 1, "ningxia-data-exchange-1"),
        ("chunan", "portal", 2, "chunan-portal-2"),
        ("hangzhou", "security_monitoring", 12, "hangzhou-security-monitoring-12"),
    ],
)
def test_host_name_is_stack_component_and_index(
    stack: str, component: str, index: int, expected: str
) -> None:
    assert host_name(stack, component, index) == expected


def test_exchange_host_is_the_first_host_of_the_federated_component() -> None:
    assert FEDERATED_COMPONENT == "data_exchange"
    assert exchange_host("hangzhou") == "hangzhou-data-exchange-1"


def test_internal_name_is_the_host_in_the_region_domain() -> None:
    assert region_domain("chunan") == "chunan.internal"
    assert internal_name("chunan-portal-1", "chunan") == "chunan-portal-1.chunan.internal"
