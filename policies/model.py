"""What a validator sees: resources as plain values, and the facts of the region.

The pack (policies/__main__.py) and the mocks harness (policies/harness.py) turn what
they hold - the engine's property maps, the mocks' recorded resources - into `Resource`s,
so every validator is a plain function of plain data. A value the engine does not know
yet (an output of a resource a preview would create) is `UNKNOWN`: validators skip what
they cannot judge instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Unknown:
    """A property a preview cannot know yet."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


def known(value: Any) -> bool:
    return value is not UNKNOWN


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str  # the logical (Pulumi) name
    props: dict[str, Any]  # inputs and, where known, outputs; camelCase as the engine has them

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)

    @property
    def tags(self) -> dict[str, Any]:
        tags = self.props.get("tags")
        return dict(tags) if isinstance(tags, dict) else {}

    @property
    def host_name(self) -> str | None:
        """The host a resource is, where it is one: a local machine's `name`, an
        instance's `Name` tag. Waivers may name resources by host name."""
        if self.type == LOCAL_MACHINE:
            name = self.props.get("name")
            return name if isinstance(name, str) else None
        name = self.tags.get("Name")
        return name if isinstance(name, str) and self.type == AWS_INSTANCE else None


@dataclass(frozen=True)
class Finding:
    """One violation: the resource it is about and what to fix."""

    urn: str
    message: str


@dataclass(frozen=True)
class AwsFacts:
    partition: str  # aws or aws-cn
    region: str  # the AWS region, e.g. cn-northwest-1
    tags: dict[str, str]  # the tags every resource of the region carries
    # every (group, direction, peer kind, peer, port) the flow matrix allows
    rule_keys: frozenset[tuple[str, str, str, str, int]]
    group_names: dict[str, str]  # a security group's Name tag -> its group


@dataclass(frozen=True)
class LocalHost:
    name: str
    address: str


@dataclass(frozen=True)
class LocalFacts:
    table: str
    bridge: str
    ruleset: str  # render_ruleset(plan, standard): the only ruleset allowed
    hosts: tuple[LocalHost, ...]
    # per host name, the firewall lines binding its bridge port to it
    bindings: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RegionFacts:
    """What the policies compare a stack against, derived from the unified configuration."""

    stack: str
    tier: str
    target: str
    log_retention_days: int  # the standard's (the schema keeps it >= 180)
    aws: AwsFacts | None = None
    local: LocalFacts | None = None


# The resource types the policies judge.
AWS_INSTANCE = "aws:ec2/instance:Instance"
AWS_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LOCAL_MACHINE = "pulumi-python:dynamic/local:Machine"
LOCAL_FIREWALL = "pulumi-python:dynamic/local:Firewall"
LOCAL_PLAYBOOK = "pulumi-python:dynamic/region:Playbook"
