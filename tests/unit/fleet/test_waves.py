from __future__ import annotations

from infra.fleet.dag import Node, check_graph
from infra.fleet.waves import cut_waves
from tests.unit.fleet.conftest import tree


def waves_of(nodes: list[Node], chosen: set[str] | None = None) -> list[tuple[str, list[str]]]:
    by_stack = check_graph(nodes)
    cut = cut_waves(by_stack, chosen if chosen is not None else set(by_stack))
    return [(name, [n.stack for n in regions]) for name, regions in cut]


def test_canary_per_tier_is_one_chain_then_waves_double() -> None:
    waves = waves_of(tree(3, 2, 3))
    assert waves[:3] == [
        ("canary-province", ["p1"]),
        ("canary-city", ["p1-c1"]),
        ("canary-county", ["p1-c1-k1"]),
    ]
    sizes = [len(stacks) for _, stacks in waves[3:]]
    assert sizes[:3] == [2, 4, 8], sizes
    assert sum(len(s) for _, s in waves) == 3 + 3 * 2 + 3 * 2 * 3


def test_every_region_once_and_after_its_parent() -> None:
    nodes = tree(4, 3, 5)
    parents = {n.stack: n.parent for n in nodes}
    seen: set[str] = set()
    for name, stacks in waves_of(nodes):
        for stack in stacks:
            assert parents[stack] is None or parents[stack] in seen, (name, stack)
        seen.update(stacks)
    assert seen == set(parents)


def test_canary_province_is_one_with_cities_when_there_is_one() -> None:
    # A municipality (counties right below the province) ranks first by code.
    nodes = [
        Node("bj", "110000", "province", None, "f"),
        Node("bj-1", "110101", "county", "bj", "f"),
        *tree(1, 1, 1),
    ]
    names = [(name, stacks) for name, stacks in waves_of(nodes)]
    assert names[:3] == [
        ("canary-province", ["p1"]),
        ("canary-city", ["p1-c1"]),
        ("canary-county", ["p1-c1-k1"]),
    ]


def test_tier_without_chosen_regions_has_no_canary() -> None:
    nodes = tree(1, 2, 2)
    waves = waves_of(nodes, {"p1-c1-k1", "p1-c2-k2", "p1-c1-k2"})
    assert waves[0] == ("canary-county", ["p1-c1-k1"])
    assert [name for name, _ in waves] == ["canary-county", "wave-2"]


def test_same_regions_in_any_order_give_the_same_waves() -> None:
    nodes = tree(3, 3, 3)
    assert waves_of(nodes) == waves_of(list(reversed(nodes)))


def test_without_canaries_waves_only_double_and_siblings_start_together() -> None:
    by_stack = check_graph(tree(1, 2, 2))
    cut = cut_waves(by_stack, set(by_stack), canaries=False)
    assert [(name, sorted(n.stack for n in regions)) for name, regions in cut] == [
        ("wave-1", ["p1"]),
        ("wave-2", ["p1-c1", "p1-c2"]),
        ("wave-3", ["p1-c1-k1", "p1-c1-k2", "p1-c2-k1", "p1-c2-k2"]),
    ]
