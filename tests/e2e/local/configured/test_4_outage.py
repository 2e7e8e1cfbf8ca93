"""No request is lost while the parent's exchange is down.

The city's RabbitMQ stops; 200 requests are made at the county; they wait, durable, in the
county's uplink queue; the city's RabbitMQ starts again; every one of the 200 arrives at
the city's exchange — and on at the province's — exactly once (ids compared, not counts).
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from tests.e2e.local.configured.citizen import (
    UPLINK,
    archived_ids,
    queue_depth,
    set_service,
    submit_on_hotline,
)
from tests.e2e.local.hierarchy import Deployment, eventually

SUBMISSIONS = 200


@pytest.fixture(scope="module")
def made_during_the_outage(hierarchy: Deployment) -> list[str]:
    county, city = hierarchy.regions["chunan"], hierarchy.regions["hangzhou"]
    city_exchange = city.plan.hosts_of("data_exchange")[0].address
    run = uuid.uuid4().hex[:8]
    set_service(hierarchy, city_exchange, "rabbitmq-server.service", "stop")
    try:
        ids = [submit_on_hotline(county, f"outage {run} #{i}") for i in range(SUBMISSIONS)]
        eventually(
            lambda: queue_depth(hierarchy, county, UPLINK) == SUBMISSIONS,
            f"{SUBMISSIONS} work orders waiting in the county's uplink queue",
            timeout_s=60,
        )
    finally:
        set_service(hierarchy, city_exchange, "rabbitmq-server.service", "start")
    return ids


@pytest.mark.parametrize("stack", ["hangzhou", "zhejiang"])
def test_every_queued_request_arrives_once_at(
    hierarchy: Deployment, made_during_the_outage: list[str], stack: str
) -> None:
    wanted = set(made_during_the_outage)
    assert len(wanted) == SUBMISSIONS
    region = hierarchy.regions[stack]

    def arrived() -> bool:
        return wanted <= set(archived_ids(hierarchy, region))

    eventually(arrived, f"all {SUBMISSIONS} work orders at {stack}", timeout_s=300)
    counts = Counter(i for i in archived_ids(hierarchy, region) if i in wanted)
    duplicates = {i: n for i, n in counts.items() if n != 1}
    assert len(counts) == SUBMISSIONS and not duplicates, duplicates


def test_county_uplink_queue_drains(
    hierarchy: Deployment, made_during_the_outage: list[str]
) -> None:
    county = hierarchy.regions["chunan"]
    eventually(lambda: queue_depth(hierarchy, county, UPLINK) == 0, "the uplink queue empty")
