"""Resource counts per tier and partition, kept as readable snapshots a reviewer can diff.

`tests/unit/aws/snapshots/<partition>-<tier>.txt` lists how many resources of each type
the aws program registers for that tier. A change to the program or the tier profiles
that adds or removes resources fails here with the diff; after reviewing it, rewrite the
snapshots with `REGIONSTACK_UPDATE_SNAPSHOTS=1 pytest tests/unit/aws/test_snapshots.py`
and commit them with the change.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.aws.conftest import STACKS
from tests.unit.aws.harness import Evaluation

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("REGIONSTACK_UPDATE_SNAPSHOTS") == "1"


def render(evaluation: Evaluation) -> str:
    counts = evaluation.counts()
    width = max(len(str(n)) for n in counts.values())
    lines = [
        f"# Resources of a {evaluation.tier} region on aws ({evaluation.partition}): test region "
        f"{evaluation.stack}, {evaluation.region}.",
        "# Regenerate: REGIONSTACK_UPDATE_SNAPSHOTS=1 pytest tests/unit/aws/test_snapshots.py",
        "",
        *(f"{counts[typ]:>{width}}  {typ}" for typ in sorted(counts)),
        "",
        f"{sum(counts.values()):>{width}}  total",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("partition", "tier", "stack"), STACKS, ids=[f"{p}-{t}" for p, t, _ in STACKS]
)
def test_resource_counts_match_the_snapshot(
    evaluated: Callable[[str], Evaluation], partition: str, tier: str, stack: str
) -> None:
    path = SNAPSHOTS / f"{partition}-{tier}.txt"
    current = render(evaluated(stack))
    if UPDATE:
        path.write_text(current, encoding="utf-8")
    recorded = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            recorded.splitlines(keepends=True),
            current.splitlines(keepends=True),
            f"{path.name} (recorded)",
            f"{path.name} (now)",
        )
    )
    assert not diff, (
        f"resource counts changed; review, then REGIONSTACK_UPDATE_SNAPSHOTS=1:\n{diff}"
    )
