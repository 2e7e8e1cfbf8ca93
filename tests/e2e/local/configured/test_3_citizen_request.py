"""A citizen's request crosses all three levels and its status comes back.

County portal over HTTPS → an Open311 work order at the county hotline → a durable message
in the county exchange → shovelled up to the city's exchange and on to the province's →
a status update at the county hotline shows on the county portal's status lookup.
"""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.local.configured.citizen import (
    archived_ids,
    hotline_request,
    status_on_portal,
    submit_on_portal,
    update_status,
)
from tests.e2e.local.hierarchy import BARE_COUNTY, FLEET, Deployment, eventually

COUNTY = "chunan"
# The county and the regions above it, bottom up: where its work orders go.
CHAIN = (COUNTY, *(region.stack for region in FLEET.ancestors(FLEET.region(COUNTY))))


@pytest.fixture(scope="module")
def request_on_the_county_portal(hierarchy: Deployment) -> tuple[str, str]:
    description = f"路灯不亮 (e2e {uuid.uuid4().hex[:8]})"
    return submit_on_portal(hierarchy.regions[COUNTY], description), description


def test_ticket_names_the_county(request_on_the_county_portal: tuple[str, str]) -> None:
    ticket, _ = request_on_the_county_portal
    assert ticket.startswith(FLEET.region(COUNTY).code + "-"), ticket


def test_request_is_an_open_work_order_at_the_county_hotline(
    hierarchy: Deployment, request_on_the_county_portal: tuple[str, str]
) -> None:
    ticket, description = request_on_the_county_portal
    order = hotline_request(hierarchy.regions[COUNTY], ticket)
    assert (order["description"], order["status"]) == (description, "open"), order


@pytest.mark.parametrize("stack", CHAIN)
def test_work_order_is_archived_by_the_exchange_of(
    hierarchy: Deployment, request_on_the_county_portal: tuple[str, str], stack: str
) -> None:
    ticket, _ = request_on_the_county_portal
    region = hierarchy.regions[stack]
    eventually(
        lambda: ticket in archived_ids(hierarchy, region),
        f"work order {ticket} in the {stack} exchange's archive",
    )
    assert archived_ids(hierarchy, region).count(ticket) == 1


def test_work_order_stays_out_of_the_sibling_county(
    hierarchy: Deployment, request_on_the_county_portal: tuple[str, str]
) -> None:
    # After the top of the chain archived it (the tests above), the city had it long before.
    ticket, _ = request_on_the_county_portal
    assert ticket not in archived_ids(hierarchy, hierarchy.regions[BARE_COUNTY])


def test_status_update_at_the_hotline_shows_on_the_portal(
    hierarchy: Deployment, request_on_the_county_portal: tuple[str, str]
) -> None:
    ticket, _ = request_on_the_county_portal
    county = hierarchy.regions[COUNTY]
    assert status_on_portal(county, ticket) == "已受理"
    update_status(county, ticket, "in_progress", "已派单至县城管局")
    assert status_on_portal(county, ticket) == "办理中"
