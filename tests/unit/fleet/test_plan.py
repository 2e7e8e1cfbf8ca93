from __future__ import annotations

import json

from infra.fleet.changes import Changes
from infra.fleet.plan import Plan, build_plan
from tests.unit.fleet.conftest import plan_of, tree


def test_plan_json_is_sorted_and_reads_back_with_the_same_digest() -> None:
    plan = plan_of(tree(2, 2, 2))
    text = plan.to_json()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert (data["digest"], data["regions"], data["format"]) == (plan.digest, 14, 1)
    assert Plan.from_json(text) == plan
    assert Plan.from_json(text).to_json() == text


def test_digest_covers_regions_and_their_config() -> None:
    nodes = tree(1, 1, 1)
    stacks = {n.stack for n in nodes}
    assert build_plan(nodes, stacks, {}).digest == build_plan(nodes, stacks, {}).digest
    assert (
        build_plan(nodes, stacks, {"p1": "sha256:x"}).digest != build_plan(nodes, stacks, {}).digest
    )
    assert (
        build_plan(nodes, stacks - {"p1-c1-k1"}, {}).digest != build_plan(nodes, stacks, {}).digest
    )


def test_changes_narrow_the_chosen_regions() -> None:
    nodes = tree(2, 1, 1)
    changes = Changes("base", frozenset({"p2-c1", "p1-c1-k1"}), ())
    plan = build_plan(nodes, {n.stack for n in nodes}, {}, changes)
    assert [r.stack for r in plan.regions] == ["p2-c1", "p1-c1-k1"]
    assert plan.assumed_applied == ("p1-c1", "p2")
    assert plan.to_text().splitlines()[1] == (
        "changed since base: regions whose rendered digest changed"
    )


def test_text_shows_each_wave_and_cuts_long_ones() -> None:
    lines = plan_of(tree(1, 1, 30)).to_text().splitlines()
    assert lines[0].endswith(": 32 region(s) in 7 wave(s)")
    assert lines[1] == "canary-province     1  p1"
    assert lines[4] == "wave-4              2  p1-c1-k2, p1-c1-k3"
    assert lines[-2].startswith("wave-6              8  p1-c1-k8, ")
    assert lines[-1].startswith("wave-7             15  p1-c1-k16, ")
    assert lines[-1].endswith(", p1-c1-k23, … (+7)")
