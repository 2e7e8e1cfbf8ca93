"""The host suites of `tests/hosts`: which one checks which role, and the pytest command
that runs one, in a process of its own, writing JUnit XML.

A suite is named after the role it checks, plus `flows` (the flow matrix between the
hosts): SUITES are suites, not roles (the components are `infra.config.schema.COMPONENTS`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from infra.verify.errors import VerifyError

# infra/verify/suites.py: the repository is the parent of `infra`.
REPO_ROOT = Path(__file__).resolve().parents[2]
HOST_TESTS = REPO_ROOT / "tests" / "hosts"

# One suite per role, plus the flow matrix between the hosts; `--only` takes these names.
SUITE_MODULES: dict[str, str] = {
    "common": "test_common.py",
    "data_exchange": "test_data_exchange.py",
    "hotline": "test_hotline.py",
    "portal": "test_portal.py",
    "security_monitoring": "test_security_monitoring.py",
    "flows": "test_flows.py",
}
SUITES = tuple(SUITE_MODULES)
# Every group a suite runs against; `common` and `flows` cover every host.
SUITE_GROUPS: dict[str, str] = {suite: suite for suite in SUITE_MODULES} | {
    "common": "all",
    "flows": "all",
}


def modules_for(suites: Sequence[str]) -> list[tuple[str, Path]]:
    unknown = [s for s in suites if s not in SUITE_MODULES]
    if unknown:
        raise VerifyError(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}")
    return [(suite, HOST_TESTS / SUITE_MODULES[suite]) for suite in dict.fromkeys(suites)]


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
