"""Cut a checked graph into waves: a canary per tier, then waves that double.

A wave holds only regions whose parents are in earlier waves (or outside the plan,
assumed applied), so the scheduler can run a wave's regions in any order and in
parallel. The canaries come first, one region of each tier, each a wave of its own:
a bad change shows on one province, one city and one county before it reaches more.
Each canary is, when it can be, a child of the canary before it, so the first three
waves exercise one real chain of parent outputs. Every choice goes by `Node.rank`, so
the same regions always give the same waves.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from infra.fleet.dag import TIER_ORDER, Node, children_of

FIRST_WAVE = 2
GROWTH = 2


def cut_waves(
    by_stack: dict[str, Node],
    chosen: Iterable[str],
    first_wave: int = FIRST_WAVE,
    growth: int = GROWTH,
    *,
    canaries: bool = True,
) -> list[tuple[str, list[Node]]]:
    """(wave name, regions) in order; `by_stack` is the whole checked graph."""
    chosen_set = set(chosen)
    children = children_of({s: by_stack[s] for s in chosen_set})
    ready: list[tuple[tuple[int, str], str]] = [
        (by_stack[s].rank, s) for s in chosen_set if by_stack[s].parent not in chosen_set
    ]
    heapq.heapify(ready)
    waves: list[tuple[str, list[Node]]] = []
    previous: str | None = None
    heights = _heights(by_stack, children, chosen_set)
    for tier in TIER_ORDER if canaries else ():
        canary = _canary(ready, by_stack, heights, tier, previous)
        if canary is None:
            continue
        waves.append((f"canary-{tier}", [by_stack[canary]]))
        _release(ready, by_stack, children, [canary])
        previous = canary
    size = first_wave
    while ready:
        wave = [heapq.heappop(ready)[1] for _ in range(min(size, len(ready)))]
        waves.append((f"wave-{len(waves) + 1}", [by_stack[s] for s in wave]))
        _release(ready, by_stack, children, wave)
        size *= growth
    return waves


def _canary(
    ready: list[tuple[tuple[int, str], str]],
    by_stack: dict[str, Node],
    heights: dict[str, int],
    tier: str,
    previous: str | None,
) -> str | None:
    candidates = [entry for entry in ready if by_stack[entry[1]].tier == tier]
    if not candidates:
        return None
    # Below the previous canary first, then the deepest subtree (a province with cities,
    # not a municipality, so a city canary follows), then by rank.
    entry = min(
        candidates,
        key=lambda e: (by_stack[e[1]].parent != previous, -heights[e[1]], e[0]),
    )
    ready.remove(entry)
    heapq.heapify(ready)
    return entry[1]


def _heights(
    by_stack: dict[str, Node], children: dict[str, list[str]], chosen: set[str]
) -> dict[str, int]:
    """Levels of chosen regions at and below each chosen region."""
    heights: dict[str, int] = {}
    # Children rank after their parents, so in reverse rank order they come first.
    for stack in sorted(chosen, key=lambda s: by_stack[s].rank, reverse=True):
        heights[stack] = 1 + max((heights[c] for c in children.get(stack, [])), default=0)
    return heights


def _release(
    ready: list[tuple[tuple[int, str], str]],
    by_stack: dict[str, Node],
    children: dict[str, list[str]],
    wave: list[str],
) -> None:
    """The children of a closed wave become ready."""
    for stack in wave:
        for child in children.get(stack, []):
            heapq.heappush(ready, (by_stack[child].rank, child))
