"""The regions as a dependency graph: each region depends on its parent only.

A region's CA and federation parent come from its parent's stack outputs, so the parent
is applied first. The configuration's rules already refuse a missing or wrong parent;
the graph checks again because a plan may be built from other sources (a saved plan, a
test), and a cycle there would make a rollout wait forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.config.problems import Problem

TIER_ORDER = {"province": 0, "city": 1, "county": 2}


@dataclass(frozen=True)
class Node:
    """One region in the graph: its stack, code, tier, parent's stack and source file."""

    stack: str
    code: str
    tier: str
    parent: str | None
    file: str

    @property
    def rank(self) -> tuple[int, str]:
        """Parents first, then by code: the order every deterministic choice follows."""
        return (TIER_ORDER.get(self.tier, len(TIER_ORDER)), self.code)


class PlanError(Exception):
    """The regions cannot be planned; carries one `Problem` per reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(p.to_text() for p in problems))
        self.problems = problems


def check_graph(nodes: Iterable[Node]) -> dict[str, Node]:
    """Index `nodes` by stack; refuse a missing parent or a cycle, naming its path."""
    by_stack = {n.stack: n for n in nodes}
    problems: list[Problem] = []
    for node in sorted(by_stack.values(), key=lambda n: n.rank):
        if node.parent is not None and node.parent not in by_stack:
            problems.append(
                Problem(
                    node.file,
                    f"{node.stack}.parent",
                    f"parent {node.parent} of {node.stack} is not a region of this fleet",
                    f"add the region {node.parent}, or fix the parent of {node.stack}",
                    "fleet-missing-parent",
                    node.parent,
                )
            )
    problems += _cycles(by_stack)
    if problems:
        raise PlanError(problems)
    return by_stack


def _cycles(by_stack: dict[str, Node]) -> list[Problem]:
    # One parent per node: following parents from any node either ends at a root or loops.
    settled: set[str] = set()
    problems = []
    for start in sorted(by_stack):
        path: list[str] = []
        on_path: set[str] = set()
        stack: str | None = start
        while stack is not None and stack in by_stack and stack not in settled:
            if stack in on_path:
                loop = [*path[path.index(stack) :], stack]
                node = by_stack[stack]
                problems.append(
                    Problem(
                        node.file,
                        f"{node.stack}.parent",
                        f"the parents form a cycle: {' → '.join(loop)}",
                        "give each region the parent GB/T 2260 derives from its code",
                        "fleet-cycle",
                    )
                )
                break
            path.append(stack)
            on_path.add(stack)
            stack = by_stack[stack].parent
        settled.update(path)
    return problems


def children_of(by_stack: dict[str, Node]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for node in sorted(by_stack.values(), key=lambda n: n.rank):
        if node.parent is not None:
            children.setdefault(node.parent, []).append(node.stack)
    return children


def descendants(children: dict[str, list[str]], stack: str) -> list[str]:
    """Every region below `stack`, parents before their children."""
    found, frontier = [], list(children.get(stack, []))
    while frontier:
        current = frontier.pop(0)
        found.append(current)
        frontier.extend(children.get(current, []))
    return found
