"""The aws test fleet (real standard and tiers, test regions) and its evaluated stacks;
the AWS emulator's fixtures (tests/unit/aws/emulator/) for the tests that run against it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.aws.mocks import REAL_STACKS, Evaluation, evaluate
from infra.config.loader import Fleet, load_fleet
from tests.unit.aws.emulator.fixtures import (  # noqa: F401  (fixtures for the emulator tests)
    deployed,
    emulated_fleet,
    emulated_fleet_dir,
    emulator,
    emulator_only,
)

# pulumi_aws warns about its own deprecated resource aliases (s3 ...V2) when its service
# modules load; they are not this project's resources. Keep the tests' warnings about
# this project's code (recording hundreds of those is also slow).
PULUMI_AWS_DEPRECATIONS = "ignore::DeprecationWarning:pulumi_aws"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings(PULUMI_AWS_DEPRECATIONS))


FLEET_DIR = Path(__file__).resolve().parent / "fleet"

# (partition, tier, stack) of the test fleet: every tier in both partitions.
STACKS = [
    ("aws-cn", "province", "ningxia"),
    ("aws-cn", "city", "yinchuan"),
    ("aws-cn", "county", "xingqing"),
    ("aws", "province", "zhejiang"),
    ("aws", "city", "hangzhou"),
    ("aws", "county", "chunan"),
]
STACK_IDS = [f"{p}-{t}" for p, t, _ in STACKS]
STACK_NAMES = [s for _, _, s in STACKS]


@pytest.fixture(scope="session")
def aws_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """The real standard.yaml and tiers/, with the test regions as the only regions."""
    root = tmp_path_factory.mktemp("aws-fleet") / "stacks"
    (root / "regions").mkdir(parents=True)
    shutil.copy(REAL_STACKS / "standard.yaml", root / "standard.yaml")
    shutil.copytree(REAL_STACKS / "tiers", root / "tiers")
    for path in FLEET_DIR.glob("*.yaml"):
        shutil.copy(path, root / "regions" / path.name)
    return load_fleet(root)


@pytest.fixture(scope="session")
def evaluated(aws_fleet: Fleet) -> Callable[[str], Evaluation]:
    """`evaluated(stack)`: the stack's mocks evaluation, computed once per session."""
    cache: dict[str, Evaluation] = {}

    def get(stack: str) -> Evaluation:
        if stack not in cache:
            cache[stack] = evaluate(aws_fleet, stack)
        return cache[stack]

    return get
