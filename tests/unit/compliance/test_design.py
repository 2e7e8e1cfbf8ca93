"""The design rules on plain effective-config data: the schema keeps a loaded fleet from
breaking the retention and TLS floor, so those rules are only reachable this way."""

from __future__ import annotations

from typing import Any

import pytest

from infra.compliance.design import (
    LOG_RETENTION_MINIMUM,
    RULES,
    breaches,
    related,
    rules_for,
    value_at,
)
from infra.config.effective import ABSENT

SOUND_FLOWS = [
    {"name": "citizens-to-portal", "from": "internet", "to": "portal", "ports": [443]},
    {"name": "logs-to-monitor", "from": "all_hosts", "to": "security_monitoring", "ports": [6514]},
    {"name": "admin-ssh", "from": "admin", "to": "all_hosts", "ports": [22]},
]


def _config(**standard: Any) -> dict[str, Any]:
    sound = {
        "log_retention_days": LOG_RETENTION_MINIMUM,
        "tls": {"min_version": "1.2", "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]},
        "flows": SOUND_FLOWS,
    }
    return {"standard": sound | standard}


def test_the_sound_design_breaks_nothing() -> None:
    assert breaches(_config(), RULES) == []


@pytest.mark.parametrize(
    ("standard", "expected"),
    [
        ({"log_retention_days": 179}, "logs kept 179 days, fewer than the 180"),
        ({"tls": {"min_version": "1.1", "ciphers": []}}, "TLS 1.1 accepted"),
        ({"tls": {"min_version": "1.2", "ciphers": ["AES128-SHA"]}}, "cipher AES128-SHA is not"),
        (
            {"tls": {"min_version": "1.2", "ciphers": ["ECDHE-RSA-AES128-SHA"]}},
            "not a forward-secret AEAD",
        ),
        (
            {
                "flows": [
                    *SOUND_FLOWS,
                    {"name": "x", "from": "internet", "to": "hotline", "ports": [8443]},
                ]
            },
            "flow x opens hotline to the internet",
        ),
        (
            {
                "flows": [
                    *SOUND_FLOWS,
                    {"name": "y", "from": "portal", "to": "all_hosts", "ports": [22]},
                ]
            },
            "flow y opens SSH to portal",
        ),
        ({"flows": SOUND_FLOWS[:1] + SOUND_FLOWS[2:]}, "no flow carries every host's logs"),
    ],
)
def test_each_rule_catches_its_breach(standard: dict[str, Any], expected: str) -> None:
    found = breaches(_config(**standard), RULES)
    assert len(found) == 1 and expected in found[0].message, found


def test_a_control_gets_the_rules_under_and_over_its_keys() -> None:
    assert {r.key for r in rules_for(["standard.tls"])} == {
        "standard.tls.min_version",
        "standard.tls.ciphers",
    }
    assert len(rules_for(["standard.flows"])) == 3
    assert rules_for(["target.cidr", "standard.tlsx"]) == ()


def test_related_respects_key_boundaries() -> None:
    assert related("standard.tls", "standard.tls.ciphers")
    assert not related("standard.tls", "standard.tlsx")


def test_value_at_absent_key() -> None:
    assert value_at(_config(), "standard.nothing.here") is ABSENT
    assert breaches({"standard": {}}, RULES) == []
