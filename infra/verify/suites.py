"""The host suites of `tests/hosts`: which one checks which role, and the pytest command
that runs one, in a process of its own, writing JUnit XML."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from infra.verify.errors import VerifyError

# infra/verify/suites.py: the repository is the parent of `infra`.
REPO_ROOT = Path(__file__).resolve().parents[2]
HOST_TESTS = REPO_ROOT / "tests" / "hosts"

# One suite per role, plus the flow matrix between the hosts; `--only` takes these names.
ROLE_MODULES: dict[str, str] = {
    "common": "test_common.py",
    "data_exchange": "test_data_exchange.py",
    "hotline": "test_hotline.py",
    "portal": "test_portal.py",
    "security_monitoring": "test_security_monitoring.py",
    "flows": "test_flows.py",
}
ROLES = tuple(ROLE_MODULES)
# Every group a suite runs against; `common` and `flows` cover every host.
ROLE_GROUPS: dict[str, str] = {role: role for role in ROLE_MODULES} | {
    "common": "all",
    "flows": "all",
}


def modules_for(roles: Sequence[str]) -> list[tuple[str, Path]]:
    unknown = [r for r in roles if r not in ROLE_MODULES]
    if unknown:
        raise VerifyError(f"unknown role(s) {', '.join(unknown)}: choose from {', '.join(ROLES)}")
    return [(role, HOST_TESTS / ROLE_MODULES[role]) for role in dict.fromkeys(roles)]


def pytest_command(module: Path, context: Path, junit: Path, role: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        "-rfE",
        "--tb=short",
        f"--rootdir={REPO_ROOT}",
        "-o",
        f"junit_suite_name={role}",
        "-o",
        "junit_family=xunit2",
        f"--junit-xml={junit}",
        f"--regionstack-context={context}",
        str(module),
    ]
