"""The catalogue's links resolve (infra/compliance/links.py): the real catalogue has none
broken, and each kind of broken link is caught and named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.ansible_tasks import walk
from infra.compliance.catalog import (
    NOT_APPLICABLE,
    PROCESS,
    REPO_ROOT,
    Catalog,
    Clause,
    Control,
    Section,
    load_catalog,
)
from infra.compliance.links import check_links, defined_test_ids, heading_anchors

ROOT = Path(__file__).resolve().parents[3]
CONFIGS: list[dict[str, Any]] = [
    {"standard": {"log_retention_days": 180, "tls": {"min_version": "1.2"}}}
]

GOOD = Control(
    id="8.1.4.3c",
    title_zh="审计记录保护",
    title_en="Audit records are protected",
    status="technical",
    policies=("aws-log-retention-180-days",),
    ansible_tags=("mlps-8.1.4.3",),
    host_tests=("tests/hosts/test_common.py::test_journal_is_persistent",),
    unit_tests=("tests/unit/compliance/test_links.py::TestFixtures::test_a_method_is_a_test_id",),
    config_keys=("standard.log_retention_days",),
)
PROCEDURE = "docs/procedures/operations-management.md#backup-and-recovery"


def problems_of(*controls: Control) -> list[tuple[str, str, Any]]:
    catalog = Catalog(
        standard="GB/T 22239-2019",
        level=3,
        sections={"8.1.4": Section("8.1.4", "安全计算环境", "Secure computing environment")},
        clauses={"8.1.4.3": Clause("8.1.4.3", "安全审计", "Security audit")},
        controls=controls,
    )
    return [(p.path, p.message, p.value) for p in check_links(catalog, ROOT, configs=CONFIGS)]


def test_the_real_catalogue_has_no_broken_link() -> None:
    problems = check_links(load_catalog(), REPO_ROOT)
    assert problems == [], "\n".join(p.to_text() for p in problems)


def test_a_well_linked_item_passes() -> None:
    assert problems_of(GOOD) == []


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"policies": (), "ansible_tags": ()}, "enforced_by", "without enforcement"),
        ({"host_tests": (), "unit_tests": ()}, "verified_by", "without verification"),
        ({"policies": ("aws-no-such-policy",)}, "enforced_by.policies", "unknown policy"),
        ({"ansible_tags": ("mlps-8.1.4.99",)}, "enforced_by.ansible_tags", "unknown Ansible tag"),
        (
            {"host_tests": ("tests/hosts/test_common.py::test_no_such_check",)},
            "verified_by.host_tests",
            "unknown host test",
        ),
        (
            {"unit_tests": ("tests/unit/no_such_file.py::test_x",)},
            "verified_by.unit_tests",
            "unknown unit test",
        ),
        ({"unit_tests": ("tests/unit/test_names.py",)}, "verified_by.unit_tests", "unknown unit"),
        ({"config_keys": ("standard.no_such_key",)}, "config_keys", "unknown configuration key"),
        ({"targets": ("aws",)}, "reason", "some targets only"),
        ({"targets": ("azure",), "reason": "x"}, "targets", "unknown target"),
        ({"id": "8.1.5.4a"}, "id", "clause without titles"),
    ],
)
def test_a_broken_technical_link_is_caught(change: dict[str, Any], path: str, message: str) -> None:
    control = replace(GOOD, **change)
    found = problems_of(control)
    assert any(p == f"controls[{control.id}].{path}" and message in m for p, m, _ in found), found


@pytest.mark.parametrize(
    ("procedure", "message"),
    [
        (None, "is missing"),
        ("docs/procedures/no-such-file.md#x", "document that does not exist"),
        ("docs/procedures/operations-management.md#no-such-heading", "heading the document"),
        ("docs/procedures/operations-management.md", "heading the document"),
    ],
)
def test_a_process_item_without_its_procedure_is_caught(
    procedure: str | None, message: str
) -> None:
    control = Control("8.1.4.3a", "审计", "Audit", PROCESS, procedure=procedure)
    found = problems_of(control)
    assert [(p, message in m) for p, m, _ in found] == [("controls[8.1.4.3a].procedure", True)]


def test_a_process_item_with_its_procedure_passes() -> None:
    assert problems_of(Control("8.1.4.3a", "审计", "Audit", PROCESS, procedure=PROCEDURE)) == []


@pytest.mark.parametrize("reason", [None, "  "])
def test_not_applicable_without_a_reason_is_caught(reason: str | None) -> None:
    control = Control("8.1.4.3a", "审计", "Audit", NOT_APPLICABLE, reason=reason)
    assert [p for p, _, _ in problems_of(control)] == ["controls[8.1.4.3a].reason"]


def test_every_mlps_tag_of_the_roles_names_a_clause_or_item_of_the_catalogue() -> None:
    catalog = load_catalog()
    known = set(catalog.clauses) | {c.id for c in catalog.controls}
    roles = [p.name for p in (ROOT / "roles").iterdir() if (p / "tasks/main.yml").is_file()]
    used = {
        tag.removeprefix("mlps-")
        for role in roles
        for task in walk(ROOT, role).tasks
        for tag in task.tags
        if tag.startswith("mlps-")
    }
    assert used, "no mlps- tag found: the walk is broken"
    assert sorted(used - known) == []


def test_heading_anchors_follow_github() -> None:
    markdown = "# Backup & recovery\n```\n# not a heading\n```\n## Backup & recovery\n### 8.1.4.3 安全审计\n"
    assert heading_anchors(markdown) == {"backup--recovery", "backup--recovery-1", "8143-安全审计"}


class TestFixtures:
    def test_a_method_is_a_test_id(self) -> None:
        ids = defined_test_ids(Path(__file__))
        assert "TestFixtures::test_a_method_is_a_test_id" in ids
        assert "test_the_real_catalogue_has_no_broken_link" in ids
        assert "problems_of" not in ids
