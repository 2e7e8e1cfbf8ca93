"""The context the suites read: how each host is reached."""

from __future__ import annotations

from pathlib import Path

from infra.config.loader import Fleet
from infra.verify.context import VerifyContext
from infra.verify.ssh import ssh_config
from tests.unit.verify.listings import region_of


def test_hosts_not_on_ssh_go_through_ansible(sample_fleet: Fleet, tmp_path: Path) -> None:
    region = region_of(sample_fleet, "chunan")
    region.hostvars["chunan-portal-1"]["ansible_connection"] = "amazon.aws.aws_ssm"
    context = VerifyContext(region, None, "", str(tmp_path / "ssh_config"))
    assert "chunan-portal-1" not in ssh_config([region], tmp_path)
    assert context.host_spec("chunan-portal-1") == (
        "ansible://chunan-portal-1",
        {"ansible_inventory": region.source, "force_ansible": True},
    )
    assert context.host_spec("chunan-hotline-1") == (
        "ssh://chunan-hotline-1",
        {"sudo": True, "ssh_config": str(tmp_path / "ssh_config")},
    )
