"""Shared pieces of the dynamic providers: inputs as properties, the alias to the type every
dynamic resource was deployed with before it had its own, state-only resources and
resources repaired on drift."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pulumi
from pulumi.dynamic import DiffResult, ReadResult, ResourceProvider

# The type of a dynamic resource that names none (`module=`, `name=` on its class); deployed
# stacks hold resources of it from before each named its own.
UNTYPED = "pulumi-python:dynamic:Resource"


def input_props(args: Any) -> dict[str, Any]:
    """The dataclass's fields, shallow.

    Not `dataclasses.asdict`: it deep-copies every value, and a `pulumi.Output` refuses to
    be copied, so any input wired from another resource's output would crash.
    """
    return {f.name: getattr(args, f.name) for f in fields(args)}


def untyped_alias(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The caller's options and an alias to UNTYPED: a resource deployed with that type is
    the same resource under its own type, so `pulumi up` migrates it instead of replacing
    it (a new type is a new URN)."""
    alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=UNTYPED)])
    return pulumi.ResourceOptions.merge(opts, alias)


class StateOnlyProvider(ResourceProvider):
    """A provider whose resource exists only in the stack's state (keys, certificates).

    Nothing outside can drift, so `read` returns the state as it is, with the inputs
    (so `pulumi refresh` shows no false diff); `diff` compares `INPUT_KEYS`, and those in
    `REPLACE_KEYS` force a new resource; `delete` has nothing to remove.
    """

    INPUT_KEYS: tuple[str, ...] = ()
    REPLACE_KEYS: tuple[str, ...] = ()

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(
            id_=id_, outs=props, inputs={k: props[k] for k in self.INPUT_KEYS if k in props}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in self.INPUT_KEYS if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in self.REPLACE_KEYS]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to remove outside the state."""


class DriftRepairProvider(ResourceProvider):
    """A provider of something on the controller that can drift (a machine, a bridge, a
    firewall) and is repaired in place.

    `read` reports in `HEALTH_KEY` whether the thing is still as deployed, so `pulumi
    refresh` shows it as drift; `diff` then asks for an update, which repairs it. Besides
    that, keys in `REPLACE_KEYS` force a new resource, deleted first because the new one
    reuses the old one's names, and keys in `UPDATE_KEYS` are changed in place.
    """

    REPLACE_KEYS: tuple[str, ...] = ()
    UPDATE_KEYS: tuple[str, ...] = ()
    HEALTH_KEY: str = ""

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        """The properties as the provider compares them (Pulumi carries ints as floats)."""
        return props

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        olds, news = self.normalize(olds), self.normalize(news)
        replaces = [k for k in self.REPLACE_KEYS if olds.get(k) != news.get(k)]
        updates = [k for k in self.UPDATE_KEYS if olds.get(k) != news.get(k)]
        repair = olds.get(self.HEALTH_KEY) is False
        return DiffResult(
            changes=bool(replaces or updates or repair),
            replaces=replaces,
            delete_before_replace=True,
        )
