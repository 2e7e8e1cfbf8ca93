"""The resource names a waiver may scope: computed from the configuration as the programs
name their resources, held against the local program's URN snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.compliance.resources import host_names, resource_names
from infra.config.loader import Fleet

SNAPSHOTS = Path(__file__).resolve().parents[1] / "program" / "snapshots"


def _snapshot_names(stack: str) -> set[str]:
    lines = (SNAPSHOTS / f"{stack}.txt").read_text().splitlines()
    return {line.rsplit("::", 1)[1] for line in lines if line.startswith("urn:")}


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan", "tonglu"])
def test_every_resource_of_the_local_program_is_named(sample_fleet: Fleet, stack: str) -> None:
    own = {name for name in _snapshot_names(stack) if name.startswith(stack)}
    missing = own - resource_names(sample_fleet, sample_fleet.region(stack))
    assert not missing, f"{stack}: names the program declares but waivers cannot scope"


def test_hosts_follow_the_tier_and_the_overrides(sample_fleet: Fleet) -> None:
    hosts = host_names(sample_fleet.region("ningxia"))
    assert [h for h in hosts if "-portal-" in h] == [f"ningxia-portal-{n}" for n in (1, 2, 3)]


def test_an_aws_region_names_its_components_not_local_machines(sample_fleet: Fleet) -> None:
    names = resource_names(sample_fleet, sample_fleet.region("ningxia"))
    assert {"ningxia-aws-region-kms", "ningxia-aws-region-data-exchange"} <= names
    assert not any(n.startswith("ningxia-local") for n in names)
