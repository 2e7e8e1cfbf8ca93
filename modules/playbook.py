"""The site playbook as a Pulumi resource: `pulumi up` provisions, then configures.

The resource's inputs are everything the playbook's outcome depends on: the region's
stack outputs that the inventory is built from (hosts and their pinned host keys, the
effective config, TLS material, credentials, the inbound lists) and the content hash of
the playbook, roles and services. It runs ansible-playbook on create and whenever one of
those changes — a new or recreated host (new host key), a changed standard, an edited
role — and not otherwise, so a second `pulumi up` changes nothing. Progress is printed
as it happens (Pulumi shows a dynamic provider's output live); a failure fails the update
with the failing hosts and tasks named.

Drift on the hosts (a setting edited, a rule removed, a service stopped) is found by
`pulumi refresh` (or `up --refresh`, `preview --refresh`): `read` runs the whole playbook
in check mode and keeps what it would change as `drift`; `diff` then asks for an update,
which runs every task on the drifted hosts and leaves `drift` empty. A plain `pulumi up`
does not look (a no-change run stays seconds, not a check of every host).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from infra.playbook import check_drift, run_playbook
from modules.props import input_props, untyped_alias

INPUT_KEYS = ("stack", "project_dir", "content_hash", "outputs")


@dataclass
class PlaybookInputs:
    stack: pulumi.Input[str]
    # The project checkout holding playbooks/, roles/ and services/.
    project_dir: pulumi.Input[str]
    content_hash: pulumi.Input[str]
    # The stack outputs infra.inventory builds the inventory from (secrets included).
    outputs: pulumi.Input[dict[str, Any]]


def _emit(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PlaybookProvider(ResourceProvider):
    def _run(self, props: dict[str, Any], repair: list[str]) -> dict[str, Any]:
        progress = run_playbook(
            props["stack"], dict(props["outputs"]), Path(props["project_dir"]), _emit, repair=repair
        )
        return {**props, "changed": progress.changed, "drift": {}}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['stack']}-site", outs=self._run(props, []))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._run(news, sorted(olds.get("drift") or {})))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # The project directory differs between checkouts of the same content; it is where
        # to run from, not what to apply.
        changed = [k for k in INPUT_KEYS if k != "project_dir" and olds.get(k) != news.get(k)]
        if olds.get("drift"):
            changed.append("drift")
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        drift = check_drift(
            props["stack"], dict(props["outputs"]), Path(props["project_dir"]), _emit
        )
        for host, tasks in drift.items():
            _emit(f"drift on {host}: {'; '.join(tasks)}")
        return ReadResult(
            id_=id_, outs={**props, "drift": drift}, inputs={k: props[k] for k in INPUT_KEYS}
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The configuration goes with the hosts; nothing to undo on its own."""


class Playbook(Resource, module="region", name="Playbook"):
    """The region's hosts configured by playbooks/site.yml."""

    changed: pulumi.Output[dict[str, int]]
    # host -> the tasks a run would change there, as the last refresh found (empty: none)
    drift: pulumi.Output[dict[str, list[str]]]

    def __init__(
        self, name: str, args: PlaybookInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            PlaybookProvider(),
            name,
            {**input_props(args), "changed": None, "drift": None},
            untyped_alias(opts),
        )
