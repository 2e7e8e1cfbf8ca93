"""`pulumi destroy` of the configured hierarchy leaves nothing on the controller."""

from __future__ import annotations

from tests.e2e.local.hierarchy import Deployment, destroy, leftovers


def test_destroy_leaves_nothing(hierarchy: Deployment) -> None:
    destroy(hierarchy.project, check=True)
    remaining = leftovers(hierarchy.state_root)
    assert not remaining, "\n".join(remaining)
