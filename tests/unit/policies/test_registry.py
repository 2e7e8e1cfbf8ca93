from __future__ import annotations

import subprocess
import sys

import pytest

from policies.checks import CHECKS
from policies.registry import POLICY_NAMES, spec


def test_every_registered_policy_has_exactly_one_validator() -> None:
    assert tuple(CHECKS) == POLICY_NAMES
    assert all((c.resource is None) != (c.stack is None) for c in CHECKS.values())


def test_the_agreed_names_exist_with_their_enforcement() -> None:
    assert spec("aws-imdsv2-required").enforcement == "advisory"
    assert spec("local-ports-bound-to-hosts").enforcement == "advisory"
    assert spec("local-firewall-from-flow-matrix").target == "local"
    with pytest.raises(KeyError, match=r"policies/registry\.py"):
        spec("no-such-policy")


def test_the_registry_imports_without_the_policy_sdk() -> None:
    code = "import sys; sys.modules['pulumi_policy'] = None; import policies.registry"
    subprocess.run([sys.executable, "-c", code], check=True)
