"""Resource counts per tier and partition, kept as readable snapshots a reviewer can diff.

`tests/unit/aws/snapshots/<partition>-<tier>.txt` lists how many resources of each type
the aws program registers for that tier. A change to the program or the tier profiles
that adds or removes resources fails here with the diff; after reviewing it, rewrite the
snapshots with `REGIONSTACK_UPDATE_SNAPSHOTS=1 pytest tests/unit/aws/test_snapshots.py`
and commit them with the change.

A dynamic resource is listed by its own type (`pulumi-python:dynamic/pki:RegionCa`); the
previous type they all shared, `pulumi-python:dynamic:Resource`, is aliased on each
(modules/props.py `untyped_alias`), so a deployed stack migrates them instead of
replacing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.aws.mocks import Evaluation
from tests.unit.aws.stacks import STACKS
from tests.unit.snapshots import snapshot_diff

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


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
    diff = snapshot_diff(path, current)
    assert not diff, (
        f"resource counts changed; review, then REGIONSTACK_UPDATE_SNAPSHOTS=1:\n{diff}"
    )
