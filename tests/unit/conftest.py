"""Fixtures shared by the unit tests: the sample configuration and throwaway copies of it;
the aws test fleet and its stacks evaluated under mocks (infra/aws/mocks.py, imported only
by the tests that use them)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from infra.config.loader import Fleet, load_fleet
from tests.unit.aws.stacks import FLEET_DIR as AWS_FLEET_DIR

if TYPE_CHECKING:
    from infra.aws.mocks import Evaluation

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "stacks"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The sample `stacks/` of the checkout; read it, never write it."""
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_fleet() -> Fleet:
    return load_fleet(SAMPLE_DIR)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the sample `stacks/`, named `stacks` like the original."""
    copy = tmp_path / "stacks"
    shutil.copytree(SAMPLE_DIR, copy)
    return copy


# The tests of the aws target: its mechanism's (tests/unit/aws/), its components'
# (tests/unit/modules/aws/) and its program's (tests/unit/program/test_aws.py, and
# tests/unit/test_main.py which runs the program), which share the aws test fleet and its
# evaluated stacks.
AWS_TEST_PLACES = (
    ROOT / "tests/unit/aws",
    ROOT / "tests/unit/modules/aws",
    ROOT / "tests/unit/program/test_aws.py",
    ROOT / "tests/unit/test_main.py",
)

# pulumi_aws warns about its own deprecated resource aliases (s3 ...V2) when its service
# modules load; they are not this project's resources. Keep the tests' warnings about
# this project's code (recording hundreds of those is also slow).
PULUMI_AWS_DEPRECATIONS = "ignore::DeprecationWarning:pulumi_aws"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if any(place == path or place in path.parents for place in AWS_TEST_PLACES):
            item.add_marker(pytest.mark.filterwarnings(PULUMI_AWS_DEPRECATIONS))


@pytest.fixture(scope="session")
def aws_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """The real standard.yaml and tiers/, with the aws test regions as the only regions."""
    from infra.aws.mocks import REAL_STACKS

    root = tmp_path_factory.mktemp("aws-fleet") / "stacks"
    (root / "regions").mkdir(parents=True)
    shutil.copy(REAL_STACKS / "standard.yaml", root / "standard.yaml")
    shutil.copytree(REAL_STACKS / "tiers", root / "tiers")
    for path in AWS_FLEET_DIR.glob("*.yaml"):
        shutil.copy(path, root / "regions" / path.name)
    return load_fleet(root)


@pytest.fixture(scope="session")
def evaluated(aws_fleet: Fleet) -> Callable[[str], Evaluation]:
    """`evaluated(stack)`: the aws stack's mocks evaluation, computed once per session."""
    from infra.aws.mocks import evaluate

    cache: dict[str, Evaluation] = {}

    def get(stack: str) -> Evaluation:
        if stack not in cache:
            cache[stack] = evaluate(aws_fleet, stack)
        return cache[stack]

    return get
