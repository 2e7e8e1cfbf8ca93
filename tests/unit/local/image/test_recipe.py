"""The recipe digest: stable, order-free, and changed by anything that changes the image."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from infra.local.image import recipe
from infra.local.image.recipe import DEFAULT_RECIPE, ImageRecipe, recipe_digest
from tests.unit.local.image.fakes import CURRENT


def test_digest_is_a_stable_sha256() -> None:
    assert recipe_digest(ImageRecipe()) == recipe_digest(ImageRecipe()) == CURRENT
    assert len(CURRENT) == 64 and int(CURRENT, 16) >= 0


def test_digest_ignores_the_order_of_packages() -> None:
    shuffled = dataclasses.replace(
        DEFAULT_RECIPE, packages=tuple(reversed(DEFAULT_RECIPE.packages))
    )
    assert recipe_digest(shuffled) == CURRENT


@pytest.mark.parametrize(
    "change",
    [
        {"packages": (*DEFAULT_RECIPE.packages, "curl")},
        {"packages": DEFAULT_RECIPE.packages[:-1]},
        {"suite": "trixie"},
        {"variant": "buildd"},
        {"architecture": "arm64"},
        {"masked_units": ()},
        {"enabled_units": ("ssh.service",)},
        {"scrubbed_paths": ()},
        {"admin_user": "operator"},
        {"admin_uid": 1001},
        {"sshd_settings": (("PasswordAuthentication", "yes"),)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_digest_changes_with_what_is_in_the_image(change: dict[str, Any]) -> None:
    assert recipe_digest(dataclasses.replace(DEFAULT_RECIPE, **change)) != CURRENT


def test_digest_changes_with_recipe_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recipe, "RECIPE_VERSION", recipe.RECIPE_VERSION + 1)
    assert recipe_digest(DEFAULT_RECIPE) != CURRENT


def test_the_mirror_is_no_part_of_the_recipe() -> None:
    assert "mirror" not in json.dumps(DEFAULT_RECIPE.canonical())


def test_recipe_keeps_the_admin_user_and_the_sshd_policy() -> None:
    assert recipe.ADMIN_USER == "rsadmin" == DEFAULT_RECIPE.admin_user
    assert dict(DEFAULT_RECIPE.sshd_settings) == {
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PermitRootLogin": "no",
        "PubkeyAuthentication": "yes",
    }
