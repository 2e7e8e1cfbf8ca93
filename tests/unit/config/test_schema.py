"""The validated region: its tier, derived from the code once, and its host groups after
the overrides, resolved by the fleet it belongs to (what both targets' plans read)."""

from __future__ import annotations

import pytest

from infra.config.gbt2260 import Tier
from infra.config.loader import Fleet
from infra.config.schema import REGION_KEYS, Region
from tests.unit.config.test_schema_errors import REGION


@pytest.mark.parametrize(
    ("code", "tier"), [("330000", Tier.province), ("330100", Tier.city), ("330127", Tier.county)]
)
def test_tier_is_derived_from_the_code(code: str, tier: Tier) -> None:
    region = Region.model_validate({**REGION, "code": code})
    assert region.tier is tier
    assert region.declared_tier is None


def test_declared_tier_is_what_the_file_says() -> None:
    region = Region.model_validate({**REGION, "tier": "county"})
    assert (region.declared_tier, region.tier) == (Tier.county, Tier.county)
    assert "tier" in REGION_KEYS and "declared_tier" not in REGION_KEYS


def test_a_dumped_region_reads_back_with_its_tier_key() -> None:
    region = Region.model_validate({**REGION, "tier": "county"})
    data = region.model_dump(mode="json")
    assert data["tier"] == "county" and "declared_tier" not in data
    assert Region.model_validate(data) == region


def test_a_code_that_is_no_region_has_no_tier() -> None:
    region = Region.model_validate({**REGION, "code": "000000"})
    with pytest.raises(ValueError, match="code 000000 is not a GB/T 2260 code"):
        region.tier  # noqa: B018


def test_a_bare_region_says_where_its_host_groups_come_from() -> None:
    region = Region.model_validate(REGION)
    with pytest.raises(LookupError, match="resolved by the fleet it belongs to"):
        region.host_groups  # noqa: B018


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan", "tonglu", "ningxia"])
def test_host_groups_are_the_tier_profile_where_not_overridden(
    sample_fleet: Fleet, stack: str
) -> None:
    region = sample_fleet.region(stack)
    profile = sample_fleet.tiers[region.tier].host_groups
    assert region.host_groups.keys() == profile.keys()
    for component, group in region.host_groups.items():
        override = region.overrides.host_groups.get(component)  # type: ignore[call-overload]
        expected = profile[component]  # type: ignore[index]
        assert group.max_count == expected.max_count, (stack, component)
        if override is None or override.count is None:
            assert group.count == expected.count, (stack, component)
        if override is None or override.size is None:
            assert group.size == expected.size, (stack, component)


def test_an_override_sets_count_and_size(sample_fleet: Fleet) -> None:
    ningxia = sample_fleet.region("ningxia")
    assert ningxia.overrides.host_groups["portal"].count == 3  # the sample's override
    assert ningxia.host_groups["portal"].count == 3
    assert ningxia.host_groups["portal"].max_count == 8
    region = Region.model_validate(
        {**REGION, "overrides": {"host_groups": {"hotline": {"count": 2, "size": "large"}}}}
    )
    region.resolve_host_groups(sample_fleet.tiers[Tier.county])
    county = sample_fleet.tiers[Tier.county].host_groups
    hotline = region.host_groups["hotline"]
    assert (hotline.count, hotline.size, hotline.max_count) == (
        2,
        "large",
        county["hotline"].max_count,
    )
    assert region.host_groups["portal"] == county["portal"]
