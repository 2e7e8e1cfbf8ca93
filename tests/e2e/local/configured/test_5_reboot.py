"""Every host of the county reboots; all services come back and the flow works again."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.local.configured.citizen import archived_ids, submit_on_portal
from tests.e2e.local.hierarchy import PLANS, Deployment, eventually

COUNTY = "chunan"


@pytest.fixture(scope="module")
def boot_ids_before(hierarchy: Deployment) -> dict[str, str]:
    before = {h.address: hierarchy.boot_id(h.address) for h in PLANS[COUNTY].hosts}
    assert all(before.values()), f"hosts that do not answer before the reboot: {before}"
    for address in before:
        # The connection may drop as the host goes down: the result is not checked here,
        # the new boot id below is.
        hierarchy.ssh(address, "sudo -n systemctl reboot", timeout=30)
    return before


@pytest.mark.parametrize("address", [h.address for h in PLANS[COUNTY].hosts])
def test_host_comes_back_running(
    hierarchy: Deployment, boot_ids_before: dict[str, str], address: str
) -> None:
    hierarchy.wait_until_rebooted(address, boot_ids_before[address])


def test_request_flow_works_after_the_reboot(
    hierarchy: Deployment, boot_ids_before: dict[str, str]
) -> None:
    ticket = submit_on_portal(hierarchy.regions[COUNTY], f"重启后 (e2e {uuid.uuid4().hex[:8]})")
    for stack in ("chunan", "hangzhou", "zhejiang"):
        region = hierarchy.regions[stack]
        eventually(
            lambda region=region: ticket in archived_ids(hierarchy, region),
            f"{ticket} at {stack} after the county's reboot",
        )
