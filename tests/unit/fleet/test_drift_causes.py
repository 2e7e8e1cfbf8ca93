from __future__ import annotations

import pytest

from infra.compliance.catalog import Catalog
from infra.fleet.drift_causes import (
    HOST_TASK,
    RESOURCE,
    Cause,
    component_of,
    first_host,
    host_test_controls,
    normalise,
    task_controls,
)


@pytest.mark.parametrize(
    ("host", "component"),
    [
        ("chunan-portal-1", "portal"),
        ("chunan-data-exchange-1", "data_exchange"),
        ("chunan-security-monitoring-12", "security_monitoring"),
        ("hangzhou-portal-1", ""),  # another region's host
        ("chunan-portal", ""),  # no index: not a host name
    ],
)
def test_component_of_reverses_the_host_name(host: str, component: str) -> None:
    assert component_of(host, "chunan") == component


def test_first_host_is_the_first_host_name_in_a_test_parameter() -> None:
    parameter = "citizens-to-portal:controller->chunan-portal-1:443"
    assert first_host(parameter, "chunan") == "chunan-portal-1"
    assert first_host("no host here", "chunan") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chunan-data-exchange-1-aide", "<host>-aide"),
        ("chunan-local-chunan-portal-1", "<region>-local-<host>"),
        ("chunan-local-firewall", "<region>-local-firewall"),
        ("Write /etc/chunan.conf", "Write /etc/<region>.conf"),
        ("chunanx-portal-1", "chunanx-portal-1"),  # another region whose name starts alike
    ],
)
def test_normalise_leaves_no_region_or_host_name(text: str, expected: str) -> None:
    assert normalise(text, "chunan") == expected


def test_a_region_and_the_same_drift_elsewhere_share_a_cause() -> None:
    def cause(stack: str) -> Cause:
        return Cause(HOST_TASK, "portal", normalise(f"{stack}-local-{stack}-portal-1", stack))

    assert cause("chunan") == cause("tonglu")


def test_task_controls_map_the_tag_through_the_catalogue(catalog: Catalog) -> None:
    assert task_controls("common : Harden sshd | mlps-8.1.4.1", catalog) == ("8.1.4.1b",)


def test_a_tag_no_item_lists_is_kept_as_its_clause(catalog: Catalog) -> None:
    assert task_controls("common : Keep logs | mlps-8.1.3.5", catalog) == ("8.1.3.5",)


def test_a_task_without_a_tag_touches_no_control(catalog: Catalog) -> None:
    assert task_controls("common : Refresh the apt cache", catalog) == ()
    # A tag-like word before the separator is the task's text, not its tag.
    assert task_controls("common : Explain mlps-8.1.4.1 | other", catalog) == ()


def test_host_test_controls_from_the_catalogue(catalog: Catalog) -> None:
    test_id = "tests/hosts/test_common.py::test_sshd_effective_setting"
    assert host_test_controls(test_id, catalog) == ("8.1.4.1b",)
    assert host_test_controls("tests/hosts/test_common.py::test_unlisted", catalog) == ()


def test_causes_sort_by_kind_first() -> None:
    causes = [Cause(HOST_TASK, "a", "x"), Cause(RESOURCE, "z", "y")]
    assert sorted(causes, key=Cause.sort_key)[0].kind == RESOURCE
