from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.config.loader import Fleet, load_fleet
from infra.config.render import render
from infra.fleet.dag import PlanError
from infra.fleet.plan import Plan
from infra.fleet.selection import fleet_nodes, plan_fleet, region_files


def test_sample_plan_runs_parents_first_in_waves(sample_fleet: Fleet) -> None:
    plan = plan_fleet(sample_fleet, [])
    assert [(w.name, [r.stack for r in w.regions]) for w in plan.waves] == [
        ("canary-province", ["zhejiang"]),
        ("canary-city", ["hangzhou"]),
        ("canary-county", ["tonglu"]),
        ("wave-4", ["ningxia", "chunan"]),
    ]
    tonglu = plan.regions[2]
    assert (tonglu.code, tonglu.tier, tonglu.parent) == ("330122", "county", "hangzhou")
    assert tonglu.digest is not None and tonglu.digest.startswith("sha256:")


def test_same_input_gives_byte_identical_sorted_json(sample_fleet: Fleet) -> None:
    first, second = plan_fleet(sample_fleet, []).to_json(), plan_fleet(sample_fleet, []).to_json()
    assert first == second
    data = json.loads(first)
    assert list(data) == sorted(data)
    assert data["digest"] == plan_fleet(sample_fleet, []).digest
    assert data["regions"] == 5


def test_json_reads_back_to_the_same_plan(sample_fleet: Fleet) -> None:
    plan = plan_fleet(sample_fleet, ["chunan", "330100"])
    again = Plan.from_json(plan.to_json())
    assert again == plan
    assert again.digest == plan.digest


def test_chosen_regions_without_their_parent_assume_it_applied(sample_fleet: Fleet) -> None:
    plan = plan_fleet(sample_fleet, ["tonglu", "chunan"])
    assert plan.assumed_applied == ("hangzhou",)
    assert [r.stack for r in plan.regions] == ["tonglu", "chunan"]
    assert "assumed applied (parents outside the plan): hangzhou" in plan.to_text()


def test_unknown_region_is_refused(sample_fleet: Fleet) -> None:
    with pytest.raises(PlanError, match="no region with code or stack name 'nowhere'"):
        plan_fleet(sample_fleet, ["nowhere"])


def test_digest_changes_with_a_region_config(config_dir: Path) -> None:
    fleet = load_fleet(config_dir)
    render(fleet)
    before = plan_fleet(fleet, []).digest
    standard = config_dir / "standard.yaml"
    standard.write_text(standard.read_text(encoding="utf-8") + "\n# touched\n", encoding="utf-8")
    stack_file = config_dir / "Pulumi.tonglu.yaml"
    stack_file.write_text(
        stack_file.read_text(encoding="utf-8").replace("sha256:", "sha256:0"), encoding="utf-8"
    )
    assert plan_fleet(load_fleet(config_dir), []).digest != before


def test_nodes_name_the_file_that_declares_each_region(sample_fleet: Fleet) -> None:
    files = {n.stack: n.file for n in fleet_nodes(sample_fleet)}
    assert files["tonglu"] == "stacks/regions/33-zhejiang.yaml"
    assert files["ningxia"] == "stacks/regions/64-ningxia.yaml"
    assert region_files(sample_fleet.config_dir)["330122"] == "stacks/regions/33-zhejiang.yaml"


def test_subtree_takes_every_region_below_the_named_ones(sample_fleet: Fleet) -> None:
    below_city = plan_fleet(sample_fleet, ["330100"], subtree=True)
    assert sorted(r.stack for r in below_city.regions) == ["chunan", "hangzhou", "tonglu"]
    assert below_city.assumed_applied == ("zhejiang",)
    province = plan_fleet(sample_fleet, ["zhejiang"], subtree=True)
    assert sorted(r.stack for r in province.regions) == [
        "chunan",
        "hangzhou",
        "tonglu",
        "zhejiang",
    ]
    assert [r.stack for r in plan_fleet(sample_fleet, ["zhejiang"]).regions] == ["zhejiang"]
