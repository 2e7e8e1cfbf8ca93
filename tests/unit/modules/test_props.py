"""The shared pieces of the dynamic providers (modules/props.py): the drift-repair diff."""

from __future__ import annotations

import base64
import importlib
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from modules.props import DriftRepairProvider


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
