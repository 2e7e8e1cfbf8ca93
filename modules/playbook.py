"""The site playbook as a Pulumi resource: `pulumi up` provisions, then configures.

The resource's inputs are everything the playbook's outcome depends on: the region's
stack outputs that the inventory is built from (hosts and their pinned host keys, the
effective config, TLS material, credentials, the inbound lists) and the content hash of
the playbook, roles and services. It runs ansible-playbook on create and whenever one of
those changes — a new or recreated host (new host key), a changed standard, an edited
role — and not otherwise, so a second `pulumi up` changes nothing. Progress is printed
as it happens (Pulumi shows a dynamic provider's output live); a failure fails the update
with the failing hosts and tasks named.
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

from infra.playbook import run_playbook
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
    def _run(self, props: dict[str, Any]) -> dict[str, Any]:
        progress = run_playbook(
            props["stack"], dict(props["outputs"]), Path(props["project_dir"]), _emit
        )
        return {**props, "changed": progress.changed}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['stack']}-site", outs=self._run(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._run(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # The project directory differs between checkouts of the same content; it is where
        # to run from, not what to apply.
        changed = [k for k in INPUT_KEYS if k != "project_dir" and olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Drift on the hosts is what `regionstack verify` reports; refresh keeps the state.
        return ReadResult(id_=id_, outs=props, inputs={k: props[k] for k in INPUT_KEYS})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The configuration goes with the hosts; nothing to undo on its own."""


class Playbook(Resource, module="region", name="Playbook"):
    """The region's hosts configured by playbooks/site.yml."""

    changed: pulumi.Output[dict[str, int]]

    def __init__(
        self, name: str, args: PlaybookInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            PlaybookProvider(),
            name,
            {**input_props(args), "changed": None},
            untyped_alias(opts),
        )
