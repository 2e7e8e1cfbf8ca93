"""Fixtures of the compliance tests: a small catalogue of every status class, written in
code so each test states what it relies on, and a fixed `today`."""

from __future__ import annotations

from datetime import date

import pytest

from infra.compliance.catalog import NOT_APPLICABLE, PROCESS, TECHNICAL, Catalog, Control

TODAY = date(2026, 12, 6)
COMMON = "tests/hosts/test_common.py"

SSH = Control(
    "8.1.4.1a",
    "身份鉴别",
    "Identification and authentication",
    TECHNICAL,
    ansible_tags=("mlps-8.1.4.1",),
    host_tests=(f"{COMMON}::test_sshd_effective_setting", f"{COMMON}::test_login_defs"),
)
AUDIT = Control(
    "8.1.4.3a",
    "安全审计",
    "Security audit",
    TECHNICAL,
    host_tests=(f"{COMMON}::test_audit_rule",),
    policies=("local-hosts-have-common-baseline",),
)
ENCRYPTION = Control(
    "8.1.4.8a",
    "数据保密性",
    "Confidentiality at rest",
    TECHNICAL,
    policies=("aws-encryption-at-rest-region-kms",),
    targets=("aws",),
    reason="local machines keep their disks on the controller, encrypted by its operators",
)
BACKUP = Control(
    "8.1.4.9a", "数据备份恢复", "Backup", PROCESS, procedure="docs/procedures/backup.md"
)
WIRELESS = Control(
    "8.1.3.1c", "无线网络", "Wireless", NOT_APPLICABLE, reason="the platform has no wireless"
)
CONTROLS = (SSH, AUDIT, ENCRYPTION, BACKUP, WIRELESS)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog("GB/T 22239-2019", 3, {}, {}, CONTROLS)
