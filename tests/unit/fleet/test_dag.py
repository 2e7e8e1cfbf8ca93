from __future__ import annotations

import pytest

from infra.fleet.dag import Node, PlanError, check_graph, children_of, descendants


def node(stack: str, parent: str | None, tier: str = "city", code: str = "330100") -> Node:
    return Node(stack, code, tier, parent, f"regions/{stack}.yaml")


def test_graph_is_indexed_by_stack() -> None:
    by_stack = check_graph([node("zj", None, "province"), node("hz", "zj")])
    assert sorted(by_stack) == ["hz", "zj"]


def test_missing_parent_is_refused_naming_region_parent_and_file() -> None:
    with pytest.raises(PlanError) as refused:
        check_graph([node("hz", "zj")])
    [problem] = refused.value.problems
    assert (problem.file, problem.path, problem.rule) == (
        "regions/hz.yaml",
        "hz.parent",
        "fleet-missing-parent",
    )
    assert "parent zj of hz is not a region" in problem.message


def test_cycle_is_refused_naming_its_path_once() -> None:
    with pytest.raises(PlanError) as refused:
        check_graph([node("a", "b"), node("b", "a"), node("c", "a")])
    [problem] = refused.value.problems
    assert problem.message == "the parents form a cycle: a → b → a"
    assert problem.file == "regions/a.yaml"
    assert "a → b → a" in str(refused.value)


def test_self_parent_is_a_cycle() -> None:
    with pytest.raises(PlanError, match="cycle: a → a"):
        check_graph([node("a", "a")])


def test_descendants_come_parents_first() -> None:
    by_stack = check_graph(
        [
            node("p", None, "province", "330000"),
            node("c", "p", "city", "330100"),
            node("k", "c", "county", "330102"),
            node("d", "p", "city", "330200"),
        ]
    )
    children = children_of(by_stack)
    assert descendants(children, "p") == ["c", "d", "k"]
    assert descendants(children, "k") == []
