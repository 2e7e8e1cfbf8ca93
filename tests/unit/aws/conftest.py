"""The AWS emulator's fixtures (tests/unit/aws/emulator/) for the tests that run against it.

The aws test fleet and its evaluated stacks (`aws_fleet`, `evaluated`) are in
tests/unit/conftest.py, shared with the tests of modules/aws (tests/unit/modules/aws/)."""

from __future__ import annotations

from tests.unit.aws.emulator.fixtures import (  # noqa: F401  (fixtures for the emulator tests)
    deployed,
    emulated_fleet,
    emulated_fleet_dir,
    emulator,
    emulator_only,
)
