"""The site playbook's own settings, beyond what its roles do."""

from pathlib import Path

import pytest
import yaml

SITE = Path(__file__).resolve().parents[3] / "playbooks" / "site.yml"
PLAYS = yaml.safe_load(SITE.read_text())
# Long enough for a first unattended upgrade on a fresh cloud image.
MIN_APT_LOCK_WAIT_SECONDS = 300


@pytest.mark.parametrize("play", PLAYS, ids=[play["name"] for play in PLAYS])
def test_every_apt_task_waits_for_the_dpkg_lock(play: dict) -> None:
    """The hosts' apt timers may hold dpkg's lock mid-run; apt's own 60 s would fail it."""
    apt_defaults = play.get("module_defaults", {}).get("ansible.builtin.apt", {})
    assert apt_defaults.get("lock_timeout", 0) >= MIN_APT_LOCK_WAIT_SECONDS, play["name"]


def test_python3_apt_is_installed_waiting_for_the_dpkg_lock() -> None:
    """The one apt-get the roles run themselves waits like the apt module."""
    tasks = yaml.safe_load((SITE.parents[1] / "roles/common/tasks/apt.yml").read_text())
    (install,) = [t for t in tasks if "python3-apt" in str(t.get("ansible.builtin.command"))]
    argv = install["ansible.builtin.command"]["argv"]
    (option,) = [a for a in argv if str(a).startswith("DPkg::Lock::Timeout=")]
    assert int(option.split("=")[1]) >= MIN_APT_LOCK_WAIT_SECONDS
