"""Reaching the hosts: the ssh_config generated from the inventory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.config.loader import Fleet
from infra.verify.errors import VerifyError
from infra.verify.ssh import run_ssh, ssh_config
from tests.unit.verify.listings import KEY, region_of


def test_ssh_config_keeps_ansibles_options_and_multiplexes(
    sample_fleet: Fleet, tmp_path: Path
) -> None:
    text = ssh_config([region_of(sample_fleet, "chunan")], tmp_path)
    block = text.split("\n\n")[0].splitlines()
    assert block[0] == "Host chunan-data-exchange-1"
    settings = dict(line.strip().split(" ", 1) for line in block[1:])
    assert settings["UserKnownHostsFile"] == "/state/inventory/chunan/known_hosts"
    assert settings["StrictHostKeyChecking"] == "yes"
    assert settings["HostName"] == "10.203.2.4"
    assert settings["User"] == "rsadmin"
    assert settings["IdentityFile"] == KEY
    assert settings["ControlMaster"] == "auto"
    assert settings["ControlPath"] == f"{tmp_path}/%C"
    assert settings["BatchMode"] == "yes"
    assert text.count("\nHost ") + 1 == 4


def test_ssh_config_translates_flags_and_refuses_the_rest(
    sample_fleet: Fleet, tmp_path: Path
) -> None:
    region = region_of(sample_fleet, "chunan")
    for values in region.hostvars.values():
        values["ansible_ssh_common_args"] = "-J bastion -o ProxyCommand='nc %h %p'"
    text = ssh_config([region], tmp_path)
    assert "  ProxyJump bastion\n  ProxyCommand nc %h %p\n" in text
    for values in region.hostvars.values():
        values["ansible_ssh_common_args"] = "-v"
    with pytest.raises(VerifyError, match=r"cannot carry ssh argument '-v'"):
        ssh_config([region], tmp_path)


@pytest.mark.parametrize(
    ("options", "command", "argv"),
    [
        ((), "true", ["h", "true"]),
        ((), "sudo -n sh -s", ["h", "sudo -n sh -s"]),
        (("-O", "exit"), None, ["-O", "exit", "h"]),
    ],
    ids=["connect", "command", "control"],
)
def test_run_ssh_puts_options_before_the_host_and_the_command_after(
    monkeypatch: pytest.MonkeyPatch,
    options: tuple[str, ...],
    command: str | None,
    argv: list[str],
) -> None:
    calls: list[list[str]] = []

    def run(arguments: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(arguments)
        return subprocess.CompletedProcess(arguments, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    run_ssh(Path("/cfg"), "h", *options, command=command)
    assert calls == [["ssh", "-F", "/cfg", *argv]]
