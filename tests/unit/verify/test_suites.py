"""Roles and their suites: every role has one, each targets the role's group."""

from __future__ import annotations

import ast

import pytest
import yaml

from infra.verify.errors import VerifyError
from infra.verify.suites import (
    HOST_TESTS,
    REPO_ROOT,
    SUITE_GROUPS,
    SUITE_MODULES,
    SUITES,
    modules_for,
)


def _roles_of_the_site_playbook() -> set[str]:
    plays = yaml.safe_load((REPO_ROOT / "playbooks" / "site.yml").read_text(encoding="utf-8"))
    return {
        task["ansible.builtin.import_role"]["name"]
        for play in plays
        for task in play.get("tasks", [])
        if "ansible.builtin.import_role" in task
    }


def test_every_role_has_a_suite_and_every_suite_a_role() -> None:
    # A role the site playbook applies to a group has a suite; a role that only serves
    # other roles (nginx_front, the portal's and hotline's TLS front) is checked by theirs.
    roles = _roles_of_the_site_playbook()
    assert roles == {"common", "data_exchange", "hotline", "portal", "security_monitoring"}
    suites = {p.name for p in HOST_TESTS.glob("test_*.py")}
    assert set(SUITE_MODULES) == roles | {"flows"}
    assert set(SUITE_MODULES.values()) == suites


@pytest.mark.parametrize("role", [r for r in SUITES if r != "flows"])
def test_each_role_suite_targets_the_roles_group(role: str) -> None:
    tree = ast.parse((HOST_TESTS / SUITE_MODULES[role]).read_text(encoding="utf-8"))
    groups = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "GROUP" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    assert groups == [SUITE_GROUPS[role]]


def test_modules_for_keeps_order_and_drops_repeats() -> None:
    assert modules_for(["portal", "flows", "portal"]) == [
        ("portal", HOST_TESTS / "test_portal.py"),
        ("flows", HOST_TESTS / "test_flows.py"),
    ]


def test_modules_for_refuses_an_unknown_role() -> None:
    with pytest.raises(VerifyError, match=r"unknown suite\(s\) web: choose from common, "):
        modules_for(["web"])
