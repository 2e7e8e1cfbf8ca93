"""What one drift is, and the cause it shares with the same drift in other regions.

A `Finding` is one drift seen in one region: a Pulumi resource that a refresh changes, a
task the site playbook in check mode would change on a host, or a host test that failed.
Its `cause` leaves out where it was seen: region and host names are replaced by
placeholders (`<region>`, `<host>`), so the same slip on 40 regions' portals is one cause
(the fleet report's row) with 40 regions listed.

Attribution to MLPS controls: a task names its control in its tag (`... | mlps-8.1.4.1`),
which the catalogue's `ansible_tags` map to items; a failing host test maps to the items
whose `host_tests` name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.compliance.catalog import Catalog
from infra.config.schema import COMPONENTS
from infra.names import hostname_part

# Kinds of drift, in the order the report lists them.
RESOURCE = "resource"  # a Pulumi resource that a refresh would change
HOST_TASK = "host-task"  # a site playbook task that check mode would change on a host
UNCHECKED = "unchecked"  # a task check mode could not run on a host (what it reads is gone)
HOST_TEST = "host-test"  # a `regionstack verify` test that failed
KINDS = (RESOURCE, HOST_TASK, UNCHECKED, HOST_TEST)

REGION_PLACEHOLDER = "<region>"
HOST_PLACEHOLDER = "<host>"
_TAG = re.compile(r"\bmlps-(?P<id>[0-9][0-9.]*[0-9][a-z]?)\b")


@dataclass(frozen=True)
class Cause:
    """What went wrong, without where: the fleet report's row key."""

    kind: str
    component: str  # the host's component, or the resource's type
    item: str  # task name, host test id or resource name (placeholders for names)
    property: str = ""  # the differing property or the test's parameter (placeholders)

    def sort_key(self) -> tuple[int, str, str, str]:
        return (KINDS.index(self.kind), self.component, self.item, self.property)


@dataclass(frozen=True)
class Finding:
    """One drift in one region."""

    region: str
    cause: Cause
    resource: str  # the Pulumi resource it belongs to (URN or name)
    host: str = ""  # the host it was seen on ("" for a resource of the controller)
    controls: tuple[str, ...] = ()
    detail: str = ""  # one line as the source said it (a test's message, a diff)


def host_pattern(stack: str) -> re.Pattern[str]:
    """A host name of `stack` (infra/names.py `host_name`): `<stack>-<component>-<n>`."""
    parts = "|".join(re.escape(hostname_part(c)) for c in COMPONENTS)
    return re.compile(rf"\b{re.escape(stack)}-(?P<part>{parts})-(?P<n>\d+)\b")


def component_of(host: str, stack: str) -> str:
    """`chunan-data-exchange-1` -> `data_exchange` (the reverse of `host_name`); "" when
    `host` is not a host name of `stack`."""
    match = host_pattern(stack).fullmatch(host)
    return match["part"].replace("-", "_") if match else ""


def first_host(text: str, stack: str) -> str:
    match = host_pattern(stack).search(text)
    return match.group(0) if match else ""


def normalise(text: str, stack: str) -> str:
    """`text` with `stack`'s host names and then its own name replaced by placeholders."""
    text = host_pattern(stack).sub(HOST_PLACEHOLDER, text)
    return re.sub(rf"\b{re.escape(stack)}\b", REGION_PLACEHOLDER, text)


def task_controls(task: str, catalog: Catalog) -> tuple[str, ...]:
    """The catalogue items a task implements: its `mlps-…` tags through `ansible_tags`;
    a tag no item lists is kept as the clause it names."""
    found: set[str] = set()
    for match in _TAG.finditer(task.rpartition("|")[2]):
        tag = match.group(0)
        items = [c.id for c in catalog.controls if tag in c.ansible_tags or c.tag == tag]
        found.update(items or [match["id"]])
    return tuple(sorted(found))


def host_test_controls(test_id: str, catalog: Catalog) -> tuple[str, ...]:
    """The catalogue items a host test verifies (`tests/hosts/test_x.py::test_y`)."""
    return tuple(sorted(c.id for c in catalog.controls if test_id in c.host_tests))
