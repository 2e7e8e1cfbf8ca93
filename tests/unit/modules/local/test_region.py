"""The LocalRegion component under Pulumi mocks: what it creates, and in which order."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from infra.config.loader import Fleet
from infra.local.firewall_rules import render_ruleset
from infra.local.plan import plan_region


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        outputs.setdefault("rootfs", "/cache/rootfs")
        outputs.setdefault("public_key", "ssh-ed25519 AAAA test")
        outputs.setdefault("private_key", "PRIVATE")
        outputs.setdefault("ssh_host_ed25519_public_key", "ssh-ed25519 BBBB host")
        outputs.setdefault("bridge", args.inputs.get("bridge", ""))
        return f"{args.name}-id", outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture
def mocks() -> RecordingMocks:
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(recording, project="regionstack", stack="chunan", preview=False)
    return recording


def _build(fleet: Fleet) -> Any:
    from modules.local.region import LocalRegion, LocalRegionArgs

    plan = plan_region(fleet, fleet.region("chunan"))
    return LocalRegion(
        "chunan-local",
        LocalRegionArgs(
            plan=plan,
            image_digest="abc",
            ruleset=render_ruleset(plan, fleet.standard),
            apt_upstream="http://mirror.invalid/debian",
            admin_user="rsadmin",
            state_root="/var/lib/regionstack/local",
        ),
    )


@pulumi.runtime.test
def test_one_machine_per_planned_host(mocks: RecordingMocks, sample_fleet: Fleet) -> Any:
    region = _build(sample_fleet)

    def check(_: Any) -> None:
        names = [r.inputs.get("name") for r in mocks.resources if "rootfs" in r.inputs]
        planned = [h.name for h in plan_region(sample_fleet, sample_fleet.region("chunan")).hosts]
        # Registration order is the engine's (asynchronous); the set of machines is the contract.
        assert sorted(names) == sorted(planned), [r.name for r in mocks.resources]

    return region.known_hosts.apply(check)


@pulumi.runtime.test
def test_children_are_named_after_the_component(mocks: RecordingMocks, sample_fleet: Fleet) -> Any:
    region = _build(sample_fleet)

    def check(_: Any) -> None:
        children = [r.name for r in mocks.resources if r.typ != "regionstack:local:LocalRegion"]
        assert children and all(name.startswith("chunan-local-") for name in children), children

    return region.known_hosts.apply(check)


@pulumi.runtime.test
def test_known_hosts_pin_each_address_to_its_host_key(
    mocks: RecordingMocks, sample_fleet: Fleet
) -> Any:
    region = _build(sample_fleet)

    def check(known_hosts: list[str]) -> None:
        assert known_hosts[0] == "10.203.2.2 ssh-ed25519 BBBB host"
        assert len(known_hosts) == 4

    return region.known_hosts.apply(check)
