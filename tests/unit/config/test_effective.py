"""The effective configuration: standard ⊕ tier profile ⊕ region, on the sample fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.config.effective import ABSENT, diff, digest, effective_config, flatten
from infra.config.gbt2260 import Tier
from infra.config.loader import Fleet, load_fleet
from tests.unit.config.cases import apply_patch


def test_county_host_groups_come_from_the_county_tier(sample_fleet: Fleet) -> None:
    groups = effective_config(sample_fleet, sample_fleet.region("chunan"))["host_groups"]
    tier = sample_fleet.tiers[Tier.county].host_groups
    assert {c: g["count"] for c, g in groups.items()} == {c: g.count for c, g in tier.items()}
    assert {c: g["size"] for c, g in groups.items()} == {c: g.size for c, g in tier.items()}


@pytest.mark.parametrize("component", ["portal", "data_exchange", "hotline", "security_monitoring"])
def test_host_group_carries_its_size_from_the_standard(sample_fleet: Fleet, component: str) -> None:
    group = effective_config(sample_fleet, sample_fleet.region("330127"))["host_groups"][component]
    size = sample_fleet.standard.sizes[group["size"]]
    assert (group["vcpus"], group["memory_mib"], group["aws_instance_type"]) == (
        size.vcpus,
        size.memory_mib,
        size.aws_instance_type,
    )


def test_region_override_replaces_only_its_own_count(sample_fleet: Fleet) -> None:
    groups = effective_config(sample_fleet, sample_fleet.region("ningxia"))["host_groups"]
    tier = sample_fleet.tiers[Tier.province].host_groups
    assert groups["portal"]["count"] == 3
    assert groups["portal"]["size"] == tier["portal"].size
    others = {c: g["count"] for c, g in groups.items() if c != "portal"}
    assert others == {c: g.count for c, g in tier.items() if c != "portal"}


def test_size_override_resolves_the_new_size(config_dir: Path) -> None:
    apply_patch(
        config_dir,
        {
            "file": "regions/33-zhejiang.yaml",
            "set": {"regions[2].overrides": {"host_groups": {"portal": {"size": "large"}}}},
        },
    )
    fleet = load_fleet(config_dir)
    portal = effective_config(fleet, fleet.region("chunan"))["host_groups"]["portal"]
    large = fleet.standard.sizes["large"]
    assert portal == {"count": 1, "size": "large", **large.model_dump()}


@pytest.mark.parametrize(
    ("key", "parent", "ancestors", "children"),
    [
        ("chunan", "330100", ["330100", "330000"], []),
        ("hangzhou", "330000", ["330000"], ["330122", "330127"]),
        ("zhejiang", None, [], ["330100"]),
        ("ningxia", None, [], []),
    ],
)
def test_region_knows_its_place_in_the_chain(
    sample_fleet: Fleet,
    key: str,
    parent: str | None,
    ancestors: list[str],
    children: list[str],
) -> None:
    region = effective_config(sample_fleet, sample_fleet.region(key))["region"]
    assert (region["parent"] or {}).get("code") == parent
    assert (region["ancestors"], region["children"]) == (ancestors, children)


def test_parent_is_named_by_code_name_and_stack(sample_fleet: Fleet) -> None:
    region = effective_config(sample_fleet, sample_fleet.region("chunan"))["region"]
    assert region["parent"] == {"code": "330100", "name": "杭州市", "stack": "hangzhou"}
    assert (region["code"], region["name"], region["tier"]) == ("330127", "淳安县", "county")


def test_local_target(sample_fleet: Fleet) -> None:
    target = effective_config(sample_fleet, sample_fleet.region("chunan"))["target"]
    assert target == {"kind": "local", "cidr": "10.203.2.0/24", "image": "baked"}


def test_a_local_region_may_stay_on_the_bare_image(sample_fleet: Fleet) -> None:
    target = effective_config(sample_fleet, sample_fleet.region("tonglu"))["target"]
    assert target == {"kind": "local", "cidr": "10.203.3.0/24", "image": "bare"}


def test_aws_target_takes_its_availability_zones_from_the_tier(sample_fleet: Fleet) -> None:
    target = effective_config(sample_fleet, sample_fleet.region("ningxia"))["target"]
    assert target["kind"] == "aws"
    assert (target["partition"], target["region"], target["vpc_cidr"]) == (
        "aws-cn",
        "cn-northwest-1",
        "10.64.0.0/16",
    )
    assert target["availability_zones"] == sample_fleet.tiers[Tier.province].availability_zones


def test_standard_is_embedded_with_its_file_keys(sample_fleet: Fleet) -> None:
    standard = effective_config(sample_fleet, sample_fleet.region("chunan"))["standard"]
    assert standard == sample_fleet.standard.model_dump(mode="json", by_alias=True)
    assert {"from", "to"} <= set(standard["flows"][0])


def test_effective_config_is_json_plain_data(sample_fleet: Fleet) -> None:
    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    for region in sample_fleet.regions:
        assert plain(effective_config(sample_fleet, region)), region.stack


def test_digest_ignores_key_order_and_sees_every_value() -> None:
    config = {"a": {"b": 1, "c": [1, 2]}, "d": "淳安"}
    reordered = {"d": "淳安", "a": {"c": [1, 2], "b": 1}}
    assert digest(config) == digest(reordered)
    assert digest(config) != digest({"a": {"b": 1, "c": [2, 1]}, "d": "淳安"})
    assert digest(config).startswith("sha256:")


@pytest.mark.parametrize(
    ("config", "flat"),
    [
        ({"a": {"b": 1}}, {"a.b": 1}),
        ({"flows": [{"ports": [443, 80]}]}, {"flows[0].ports[0]": 443, "flows[0].ports[1]": 80}),
        ({"a": [], "c": None}, {"a": [], "c": None}),
        ({"x": {"y": {"z": "深"}}}, {"x.y.z": "深"}),
    ],
)
def test_flatten(config: dict[str, Any], flat: dict[str, Any]) -> None:
    assert flatten(config) == flat


def test_diff_lists_changed_added_and_removed_keys_sorted() -> None:
    left = {"a": 1, "b": {"c": 2, "d": 3}, "only_left": True}
    right = {"a": 1, "b": {"c": 20, "d": 3}, "only_right": "x"}
    assert diff(left, right) == [
        ("b.c", 2, 20),
        ("only_left", True, ABSENT),
        ("only_right", ABSENT, "x"),
    ]


def test_diff_of_a_config_with_itself_is_empty(sample_fleet: Fleet) -> None:
    config = effective_config(sample_fleet, sample_fleet.region("ningxia"))
    assert diff(config, config) == []


def test_diff_between_county_and_province(sample_fleet: Fleet) -> None:
    changes = dict(
        (key, (a, b))
        for key, a, b in diff(
            effective_config(sample_fleet, sample_fleet.region("chunan")),
            effective_config(sample_fleet, sample_fleet.region("zhejiang")),
        )
    )
    assert changes["region.tier"] == ("county", "province")
    assert changes["target.cidr"] == ("10.203.2.0/24", "10.203.0.0/24")
    assert not any(key.startswith("standard.") for key in changes)


def test_diff_never_shows_the_same_value_on_both_sides(sample_fleet: Fleet) -> None:
    changes = diff(
        effective_config(sample_fleet, sample_fleet.region("chunan")),
        effective_config(sample_fleet, sample_fleet.region("ningxia")),
    )
    assert [key for key, a, b in changes if a == b] == []
