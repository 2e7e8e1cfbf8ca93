"""The shared pieces of the dynamic providers (modules/props.py): the drift-repair diff, the
import paths and types deployed state knows them by."""

from __future__ import annotations

import base64
import importlib
import pkgutil
import typing
from dataclasses import MISSING, fields
from typing import Any

import pulumi
import pytest
from pulumi.dynamic import Resource
from pulumi.dynamic.dynamic import serialize_provider

import modules
from modules.props import UNTYPED, DriftRepairProvider


class Thing(DriftRepairProvider):
    REPLACE_KEYS = ("name",)
    UPDATE_KEYS = ("size",)
    HEALTH_KEY = "healthy"

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        return {**props, "size": int(props["size"])}


OLDS = {"name": "a", "size": 1, "healthy": True}


def test_no_change() -> None:
    result = Thing().diff("id", OLDS, {"name": "a", "size": 1.0})
    assert (result.changes, result.replaces) == (False, [])


def test_replace_key_replaces_old_one_first() -> None:
    result = Thing().diff("id", OLDS, {"name": "b", "size": 1})
    assert (result.changes, result.replaces, result.delete_before_replace) == (True, ["name"], True)


def test_update_key_is_an_update() -> None:
    result = Thing().diff("id", OLDS, {"name": "a", "size": 2})
    assert (result.changes, result.replaces) == (True, [])


@pytest.mark.parametrize(("health", "changes"), [(False, True), (None, False), (True, False)])
def test_only_drift_found_by_refresh_is_repaired(health: bool | None, changes: bool) -> None:
    """A refresh that found the thing broken leaves the health key False: update repairs it;
    a state without the key (never refreshed) is not drift."""
    result = Thing().diff("id", {**OLDS, "healthy": health}, {"name": "a", "size": 1})
    assert (result.changes, result.replaces) == (changes, [])


@pytest.mark.parametrize(
    "path",
    [
        "modules.admin_key.AdminKeyProvider",
        "modules.local.firewall.FirewallProvider",
        "modules.local.image.ImageProvider",
        "modules.local.layers.ImageLayersProvider",
        "modules.local.machine.MachineProvider",
        "modules.local.network.NetworkProvider",
        "modules.pki.HostCertificateProvider",
        "modules.pki.RegionCaProvider",
        "modules.playbook.PlaybookProvider",
        "modules.secrets.ServiceSecretsProvider",
    ],
)
def test_deployed_providers_keep_their_import_path(path: str) -> None:
    """A stack's state names each provider by import path (pickled by reference), and
    refresh and destroy load it from there: moving one would strand deployed resources."""
    module, _, name = path.rpartition(".")
    provider = getattr(importlib.import_module(module), name)()
    assert base64.b64decode(serialize_provider(provider)).count(module.encode()) == 1, path


def dynamic_resource_classes() -> list[type[Resource]]:
    """Every dynamic resource class declared under modules/."""
    for info in pkgutil.walk_packages(modules.__path__, "modules."):
        importlib.import_module(info.name)
    found: list[type[Resource]] = []
    todo = list(Resource.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("modules."):
            found.append(cls)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


# Typed (`module=`, `name=`) since they were written: no deployed stack holds one as UNTYPED.
TYPED_FROM_THE_START = {"Machine", "ImageLayers"}


def test_every_dynamic_resource_class_is_found() -> None:
    names = {cls.__name__ for cls in dynamic_resource_classes()}
    assert names >= {"Network", "Firewall", "Playbook", *TYPED_FROM_THE_START}, names


@pytest.mark.parametrize("cls", dynamic_resource_classes(), ids=lambda c: c.__name__)
def test_every_dynamic_resource_names_its_type(cls: type[Resource]) -> None:
    """`module=` and `name=` on the class: previews and policies tell the resources apart."""
    module, _, name = cls._resource_type_name.removeprefix("dynamic").partition(":")
    assert module.startswith("/") and name == cls.__name__, (
        f"{cls.__module__}.{cls.__name__} has type pulumi-python:{cls._resource_type_name}; "
        f'declare it as class {cls.__name__}(Resource, module="<component module>", '
        f'name="{cls.__name__}")'
    )


@pytest.mark.parametrize(
    "cls",
    [c for c in dynamic_resource_classes() if c.__name__ not in TYPED_FROM_THE_START],
    ids=lambda c: c.__name__,
)
def test_a_deployed_untyped_resource_is_migrated_not_replaced(
    cls: type[Resource], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its URN changed with its type: the alias to UNTYPED lets `pulumi up` find the
    resource a deployed stack holds under the old type, whatever options the caller gave."""
    given: list[pulumi.ResourceOptions] = []

    def register(self: Resource, _provider: Any, _name: str, _props: Any, opts: Any) -> None:
        given.append(opts)

    monkeypatch.setattr(Resource, "__init__", register)
    args_type = typing.get_type_hints(cls.__init__)["args"]
    required = [f for f in fields(args_type) if f.default is MISSING]
    caller = pulumi.ResourceOptions(aliases=[pulumi.Alias(name="older-name")], protect=True)
    cls("thing", args_type(**{f.name: "x" for f in required}), caller)  # type: ignore[call-arg]
    [opts] = given
    retyped = [a for a in opts.aliases or [] if getattr(a, "type_", None) == UNTYPED]
    assert [(a.name, a.parent) for a in retyped] == [(..., ...)], (
        f"{cls.__name__} registers without one alias to {UNTYPED} (and nothing else)"
    )
    assert caller.aliases and caller.aliases[0] in opts.aliases and opts.protect, (
        f"{cls.__name__} drops the caller's options"
    )
