"""The pack's validators over an aws region evaluated under Pulumi mocks.

No AWS provider can run here, so the aws stacks are proven by running the aws program
under the mocks (infra/aws/mocks.py) and judging every resource it registered with the
same validators the pack runs in a real preview. The mocks answer a resource's id as
`<name>-id`, which is how rules and flow logs name their groups and VPCs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from policies.evaluate import Outcome, evaluate
from policies.exemptions import NO_EXEMPTIONS, Exemptions
from policies.facts import region_facts
from policies.model import Resource

if TYPE_CHECKING:
    from infra.aws.mocks import Evaluation, Recorded
    from infra.config.loader import Fleet


def resource_of(recorded: Recorded) -> Resource:
    props: dict[str, Any] = {**recorded.inputs, **recorded.outputs, "id": f"{recorded.name}-id"}
    return Resource(recorded.urn, recorded.typ, recorded.name, props)


def resources_of(evaluation: Evaluation) -> list[Resource]:
    return [resource_of(r) for r in evaluation.resources]


def evaluate_aws_stack(
    fleet: Fleet, stack: str, exemptions: Exemptions = NO_EXEMPTIONS
) -> tuple[list[Resource], dict[str, Outcome]]:
    """Run the aws program of `stack` under mocks; its resources and every policy's outcome."""
    from infra.aws.mocks import evaluate as run_under_mocks

    resources = resources_of(run_under_mocks(fleet, stack))
    return resources, evaluate(resources, region_facts(fleet, stack), exemptions)
