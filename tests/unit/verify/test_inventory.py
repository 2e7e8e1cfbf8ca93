"""Inventories: finding the file, reading the listing, resolving through Ansible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.config.loader import Fleet
from infra.verify.errors import VerifyError
from infra.verify.inventory import (
    RegionInventory,
    inventory_file,
    parse_listing,
    resolve_inventory,
)
from tests.unit.verify.listings import listing_for, region_of


def test_a_missing_inventory_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match=r"run `regionstack inventory chunan`"):
        inventory_file(tmp_path / "chunan", "chunan")


def test_inventory_file_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "inventory.yml").write_text("all: {}\n")
    (tmp_path / "other.yml").write_text("all: {}\n")
    assert inventory_file(tmp_path, "chunan") == tmp_path / "inventory.yml"


def test_inventory_file_is_the_only_one_of_a_tag_inventory(tmp_path: Path) -> None:
    (tmp_path / "chunan.aws_ec2.yml").write_text("plugin: amazon.aws.aws_ec2\n")
    (tmp_path / "group_vars").mkdir()
    assert inventory_file(tmp_path, "chunan") == tmp_path / "chunan.aws_ec2.yml"


def test_inventory_file_refuses_to_guess(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("all: {}\n")
    (tmp_path / "b.yml").write_text("all: {}\n")
    with pytest.raises(VerifyError, match=r"no single inventory file \(found: a.yml, b.yml\)"):
        inventory_file(tmp_path, "chunan")


def test_listing_gives_hosts_groups_and_variables(sample_fleet: Fleet) -> None:
    region = region_of(sample_fleet, "chunan")
    assert region.stack == "chunan"
    assert [h.name for h in region.hosts_of("portal")] == ["chunan-portal-1"]
    assert set(region.groups["all"]) == set(region.groups["tier"]) == set(region.hostvars)
    variables = region.variables("chunan-portal-1")
    assert variables["inventory_hostname"] == "chunan-portal-1"
    assert "portal" in variables["group_names"] and "all" not in variables["group_names"]
    assert variables["groups"]["hotline"] == ["chunan-hotline-1"]
    assert RegionInventory.from_json(json.loads(json.dumps(region.to_json()))) == region


def test_listing_of_two_regions_is_refused(sample_fleet: Fleet) -> None:
    listing = listing_for(sample_fleet, "chunan")
    listing["_meta"]["hostvars"]["chunan-portal-1"]["regionstack_stack"] = "hangzhou"
    with pytest.raises(VerifyError, match=r"not one region's"):
        parse_listing(listing, "inv.yml")


def test_listing_without_the_config_is_refused(sample_fleet: Fleet) -> None:
    listing = listing_for(sample_fleet, "chunan")
    del listing["_meta"]["hostvars"]["chunan-hotline-1"]["regionstack_config"]
    with pytest.raises(VerifyError, match=r"no regionstack_config to chunan-hotline-1"):
        parse_listing(listing, "inv.yml")


def _fake_ansible_inventory(stdout: str, returncode: int = 0) -> Any:
    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        assert command[0].endswith("ansible-inventory") and command[1] == "-i"
        assert command[-1] == "--list"
        return subprocess.CompletedProcess(command, returncode, stdout, "boom: bad yaml")

    return run


def test_resolve_reports_ansible_inventory_errors(tmp_path: Path) -> None:
    (tmp_path / "inventory.yml").write_text(":")
    with pytest.raises(VerifyError, match=r"ansible-inventory cannot read .*: boom: bad yaml"):
        resolve_inventory(tmp_path, "chunan", run=_fake_ansible_inventory("", 1))


def test_resolve_refuses_another_regions_inventory(tmp_path: Path, sample_fleet: Fleet) -> None:
    (tmp_path / "inventory.yml").write_text("all: {}\n")
    listing = json.dumps(listing_for(sample_fleet, "hangzhou"))
    with pytest.raises(VerifyError, match=r"is hangzhou's, not chunan's"):
        resolve_inventory(tmp_path, "chunan", run=_fake_ansible_inventory(listing))


def test_resolve_reads_what_regionstack_inventory_writes(tmp_path: Path) -> None:
    """Through the real ansible-inventory: host_vars and group_vars beside the file."""
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "inventory.yml").write_text(
        "all:\n  vars: {regionstack_stack: chunan}\n  children:\n"
        "    portal:\n      hosts:\n        chunan-portal-1: {ansible_host: 10.0.0.2}\n"
    )
    (tmp_path / "group_vars" / "all.yml").write_text("regionstack_config: {region: {}}\n")
    (tmp_path / "host_vars" / "chunan-portal-1.yml").write_text("regionstack_inbound: []\n")
    region = resolve_inventory(tmp_path, "chunan")
    assert region.hosts[0].address == "10.0.0.2"
    assert region.hostvars["chunan-portal-1"]["regionstack_inbound"] == []
    assert region.groups["portal"] == ("chunan-portal-1",)
