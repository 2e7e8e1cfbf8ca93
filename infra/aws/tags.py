"""The tag contract of the `aws` target: what every resource carries, and how hosts are found.

The Pulumi program (modules/aws) writes these tags; the inventory (amazon.aws.aws_ec2) and
`regionstack audit` read them. Both sides import the names from here, so they cannot drift.

* every resource: `regionstack:code` (the six-digit GB/T 2260 code), `regionstack:stack`,
  `regionstack:tier`, `regionstack:standard-version`;
* a resource that belongs to one component also `regionstack:role` (the component name:
  portal, data_exchange, hotline, security_monitoring);
* EC2 instances (directly, or through the auto scaling group's tag propagation) also
  `Name` = `<stack>-<component with _ as ->-<n>`, the host names of both targets
  (infra/names.py), e.g. `ningxia-data-exchange-1`.

Inventory groups are `region_<code>`, `tier_<tier>` and one group per component named
exactly as the component, as in the local inventory, so roles and testinfra run unchanged.
"""

from __future__ import annotations

TAG_CODE = "regionstack:code"
TAG_STACK = "regionstack:stack"
TAG_TIER = "regionstack:tier"
TAG_STANDARD_VERSION = "regionstack:standard-version"
TAG_ROLE = "regionstack:role"
TAG_NAME = "Name"

# Every resource carries these; TAG_ROLE is added where a resource belongs to one component.
REGION_TAG_KEYS: tuple[str, ...] = (TAG_CODE, TAG_STACK, TAG_TIER, TAG_STANDARD_VERSION)

REGION_GROUP_PREFIX = "region_"
TIER_GROUP_PREFIX = "tier_"


def region_tags(code: str, stack: str, tier: str, standard_version: str) -> dict[str, str]:
    """The tags every resource of a region carries."""
    return {
        TAG_CODE: code,
        TAG_STACK: stack,
        TAG_TIER: tier,
        TAG_STANDARD_VERSION: standard_version,
    }


def role_tags(base: dict[str, str], component: str) -> dict[str, str]:
    """`base` plus the component a resource belongs to."""
    return {**base, TAG_ROLE: component}


def region_group(code: str) -> str:
    return f"{REGION_GROUP_PREFIX}{code}"


def tier_group(tier: str) -> str:
    return f"{TIER_GROUP_PREFIX}{tier}"
