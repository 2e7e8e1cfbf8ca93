"""The inventory of a bake run: the build hosts, the standard and apt, and nothing of a region."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.config.loader import Fleet
from infra.inventory import InventoryFiles
from infra.layers import BASE, bake_vars
from infra.local.image import ADMIN_USER
from infra.local.layers.build_network import BASE_COMPONENT, bake_plan
from infra.local.layers.inventory import bake_group_vars, bake_inventory, write_bake_inventory

PLAN = bake_plan([(BASE, BASE_COMPONENT), ("portal", "portal")], "10.254.254.0/24")
LAYERS = {PLAN.hosts[0].name: BASE, PLAN.hosts[1].name: "portal"}


def test_bake_vars_hold_only_the_standard_and_the_apt_sources(sample_fleet: Fleet) -> None:
    standard = sample_fleet.standard_data
    found = bake_group_vars(PLAN, standard, None)
    assert set(found) == {
        *bake_vars(standard, "local", ADMIN_USER),
        "regionstack_gateway",
        "regionstack_apt_sources",
    }
    assert found["regionstack_config"] == {"standard": standard}
    assert found["regionstack_gateway"] == PLAN.gateway
    assert all(PLAN.gateway in str(source["uri"]) for source in found["regionstack_apt_sources"])


def test_no_region_key_reaches_a_bake(sample_fleet: Fleet) -> None:
    region_keys = {
        "regionstack_stack",
        "regionstack_code",
        "regionstack_tier",
        "regionstack_secrets",
    }
    found = bake_group_vars(PLAN, sample_fleet.standard_data, "http://security.example/debian")
    assert not region_keys & set(found)
    assert list(found["regionstack_config"]) == ["standard"]


def test_each_build_host_is_in_its_layers_group_and_base_in_none(tmp_path: Path) -> None:
    files = InventoryFiles(tmp_path / "i.yml", tmp_path / "key", tmp_path / "known_hosts")
    found = bake_inventory(PLAN, LAYERS, files)["all"]
    assert found["hosts"] == {h.name: {"ansible_host": h.address} for h in PLAN.hosts}
    assert found["children"] == {"portal": {"hosts": {PLAN.hosts[1].name: None}}}
    assert found["vars"]["ansible_user"] == ADMIN_USER


def test_the_written_inventory_is_private_and_reads_back(
    tmp_path: Path, sample_fleet: Fleet
) -> None:
    standard = sample_fleet.standard_data
    files = write_bake_inventory(
        tmp_path / "inventory",
        PLAN,
        LAYERS,
        standard,
        None,
        "PRIVATE",
        ["10.254.254.2 ssh-ed25519 AAAA"],
    )
    for path in (files.inventory, files.private_key, files.known_hosts, files.group_vars):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert yaml.safe_load(files.group_vars.read_text()) == bake_group_vars(PLAN, standard, None)
    assert yaml.safe_load(files.inventory.read_text()) == bake_inventory(PLAN, LAYERS, files)
