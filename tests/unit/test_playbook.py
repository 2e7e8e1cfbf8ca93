"""Running the site playbook: the content hash and reading ansible-playbook's output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from infra import playbook
from infra.playbook import PlaybookFailed, PlaybookProgress, content_hash

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> Path:
    for relative, text in {
        "ansible.cfg": "[defaults]\n",
        "playbooks/site.yml": "- hosts: all\n",
        "roles/common/tasks/main.yml": "---\n",
        "services/hotline/hotline/app.py": "app = 1\n",
        "services/hotline/tests/test_app.py": "def test(): pass\n",
        "infra/cli.py": "x = 1\n",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_content_hash_follows_roles_playbooks_services_and_config(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = content_hash(root)
    assert before == content_hash(root), "the hash must be deterministic"
    for relative in (
        "roles/common/tasks/main.yml",
        "playbooks/site.yml",
        "services/hotline/hotline/app.py",
        "ansible.cfg",
    ):
        path = root / relative
        original = path.read_text()
        path.write_text(original + "# edited\n")
        assert content_hash(root) != before, relative
        path.write_text(original)
    assert content_hash(root) == before


def test_content_hash_ignores_caches_tests_and_code_outside_the_playbook(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = content_hash(root)
    (root / "services/hotline/hotline/__pycache__").mkdir()
    (root / "services/hotline/hotline/__pycache__/app.cpython-311.pyc").write_bytes(b"\0")
    (root / "services/hotline/tests/test_app.py").write_text("changed\n")
    (root / "infra/cli.py").write_text("changed\n")
    assert content_hash(root) == before


def test_a_renamed_file_changes_the_hash(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = content_hash(root)
    (root / "roles/common/tasks/main.yml").rename(root / "roles/common/tasks/other.yml")
    assert content_hash(root) != before


OUTPUT = """\
PLAY [Apply the common baseline to every host] *********************************

TASK [Gathering Facts] *********************************************************
ok: [chunan-portal-1]

TASK [common : Install the audit daemon | mlps-8.1.4.3] ************************
changed: [chunan-portal-1]
fatal: [chunan-hotline-1]: FAILED! => {"changed": false, "msg": "No package matching 'auditd'"}

TASK [common : Write the SSH server hardening | mlps-8.1.4.1] *******************
fatal: [chunan-portal-1]: FAILED! =>
    changed: false
    msg: failed to validate
    stderr: |-
        line 6: Badly formatted port number.

TASK [common : Probe an optional file] *****************************************
fatal: [chunan-portal-1]: FAILED! => {"changed": false, "msg": "absent"}
...ignoring

TASK [common : Reach the host] *************************************************
fatal: [chunan-monitor-1]: UNREACHABLE! => {"changed": false, "unreachable": true}

PLAY RECAP *********************************************************************
chunan-hotline-1           : ok=1    changed=0    unreachable=0    failed=1    skipped=0
chunan-portal-1            : ok=3    changed=1    unreachable=0    failed=0    skipped=0
"""


def _read(text: str) -> tuple[PlaybookProgress, list[str]]:
    progress, shown = PlaybookProgress(), []
    for line in text.splitlines(True):
        if line.startswith("...ignoring"):
            progress.ignore_last_failure()
            continue
        if (kept := progress.read(line)) is not None:
            shown.append(kept)
    return progress, shown


def test_failures_name_the_host_and_the_task() -> None:
    progress, _ = _read(OUTPUT)
    assert [(f.host, f.task) for f in progress.failures] == [
        ("chunan-hotline-1", "common : Install the audit daemon | mlps-8.1.4.3"),
        ("chunan-portal-1", "common : Write the SSH server hardening | mlps-8.1.4.1"),
        ("chunan-monitor-1", "common : Reach the host"),
    ]
    described = progress.describe_failures()
    assert "host chunan-hotline-1 failed at task 'common : Install the audit daemon" in described
    assert "No package matching 'auditd'" in described
    assert "msg: failed to validate stderr: |-" in progress.failures[1].detail


def test_progress_shows_plays_tasks_failures_and_the_recap_only() -> None:
    progress, shown = _read(OUTPUT)
    assert shown[0] == "play: Apply the common baseline to every host"
    assert "task: common : Install the audit daemon | mlps-8.1.4.3" in shown
    assert not [line for line in shown if line.startswith(("ok:", "changed:"))]
    assert progress.changed == {"chunan-hotline-1": 0, "chunan-portal-1": 1}


def test_changed_tasks_are_named_per_host_once_per_task() -> None:
    output = OUTPUT.replace(
        "changed: [chunan-portal-1]\n",
        "changed: [chunan-portal-1] => (item=auditd)\nchanged: [chunan-portal-1] => (item=x)\n",
    )
    progress, _ = _read(output)
    assert progress.changed_tasks == {
        "chunan-portal-1": ["common : Install the audit daemon | mlps-8.1.4.3"]
    }


def _fake_ansible(tmp_path: Path, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ansible-playbook"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    (bin_dir / "python").symlink_to(os.path.realpath(sys.executable))
    return bin_dir


def _fake_clean_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ansible-playbook that changes nothing on the one host of OUTPUTS."""
    recap = "chunan-portal-1            : ok=3    changed=0    unreachable=0    failed=0"
    bin_dir = _fake_ansible(tmp_path, f"echo 'PLAY RECAP ****'\necho '{recap}'\n")
    monkeypatch.setattr(playbook.sys, "executable", str(bin_dir / "python"))


OUTPUTS = {
    "region": {"code": "330127", "name": "淳安县", "tier": "county", "stack": "chunan"},
    "target": "local",
    "admin_user": "rsadmin",
    "admin_private_key": "KEY",
    "known_hosts": [],
    "effective_config": {"region": {"stack": "chunan"}},
    "hosts": {"portal": [{"name": "chunan-portal-1", "address": "10.203.2.2"}]},
    "gateway": "10.203.2.1",
    "apt_sources": [],
    "service_secrets": {},
    "tls": {"chunan-portal-1": {"ca_pem": "CA"}},
    "inbound": {"chunan-portal-1": []},
}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_a_failed_run_raises_naming_host_task_and_log(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "".join(f"echo '{line}'\n" for line in OUTPUT.replace("'", "").splitlines()) + "exit 2\n"
    bin_dir = _fake_ansible(tmp_path, body)
    monkeypatch.setattr(playbook.sys, "executable", str(bin_dir / "python"))
    emitted: list[str] = []
    with pytest.raises(PlaybookFailed) as err:
        playbook.run_playbook("chunan", OUTPUTS, _tree(tmp_path / "project"), emitted.append)
    message = str(err.value)
    assert "host chunan-hotline-1 failed at task 'common : Install the audit daemon" in message
    assert "full log: " in message
    log = Path(message.rsplit("full log: ", 1)[1].rstrip(")"))
    assert log.is_file() and log.is_relative_to(state)
    assert "PLAY RECAP" in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert emitted[0].startswith("ansible-playbook (site) for chunan")
    assert (state / "inventory" / "chunan" / "host_vars" / "chunan-portal-1.yml").is_file()


def test_a_successful_run_reports_changes_per_host(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_clean_ansible(tmp_path, monkeypatch)
    progress = playbook.run_playbook("chunan", OUTPUTS, _tree(tmp_path / "project"), print)
    assert progress.changed == {"chunan-portal-1": 0}
    assert not progress.failures


def test_the_repository_content_hash_covers_the_site_playbook() -> None:
    files = {str(p.relative_to(ROOT)) for p in playbook._content_files(ROOT)}
    assert "playbooks/site.yml" in files and "ansible.cfg" in files
    assert not [f for f in files if "/tests/" in f or "__pycache__" in f]


def test_drift_check_runs_the_whole_playbook_in_check_mode_and_names_drifted_tasks(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = 'echo "$@" > "$(dirname "$0")/args"\n' + "".join(
        f"echo '{line}'\n" for line in OUTPUT.replace("'", "").splitlines()
    )
    bin_dir = _fake_ansible(tmp_path, body + "exit 2\n")
    monkeypatch.setattr(playbook.sys, "executable", str(bin_dir / "python"))
    drift = playbook.check_drift("chunan", OUTPUTS, _tree(tmp_path / "project"), print)
    args = (bin_dir / "args").read_text().split()
    assert "--check" in args and "--diff" in args
    assert "--tags" not in args and "--limit" not in args, "every task on every host"
    assert drift == {
        "chunan-hotline-1": [
            f"{playbook.UNCHECKED}: common : Install the audit daemon | mlps-8.1.4.3"
        ],
        "chunan-monitor-1": [f"{playbook.UNCHECKED}: common : Reach the host"],
        "chunan-portal-1": [
            "common : Install the audit daemon | mlps-8.1.4.3",
            f"{playbook.UNCHECKED}: common : Write the SSH server hardening | mlps-8.1.4.1",
        ],
    }


def test_a_clean_drift_check_reports_no_host(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_clean_ansible(tmp_path, monkeypatch)
    assert playbook.check_drift("chunan", OUTPUTS, _tree(tmp_path / "project"), print) == {}


def test_hosts_to_repair_get_every_task_even_when_booted_from_current_layers(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = {
        **OUTPUTS,
        "hosts": {
            "portal": [
                {"name": "chunan-portal-1", "address": "10.203.2.2"},
                {"name": "chunan-portal-2", "address": "10.203.2.3"},
            ]
        },
        "image_layers": {"chunan-portal-1": "L1", "chunan-portal-2": "L1"},
        "current_layers": {"chunan-portal-1": "L1", "chunan-portal-2": "L1"},
        "tls": {"chunan-portal-1": {"ca_pem": "CA"}, "chunan-portal-2": {"ca_pem": "CA"}},
        "inbound": {"chunan-portal-1": [], "chunan-portal-2": []},
    }
    bin_dir = _fake_ansible(tmp_path, 'echo "$@" >> "$(dirname "$0")/args"\n')
    monkeypatch.setattr(playbook.sys, "executable", str(bin_dir / "python"))
    playbook.run_playbook(
        "chunan", outputs, _tree(tmp_path / "project"), print, repair=["chunan-portal-2"]
    )
    runs = (bin_dir / "args").read_text().splitlines()
    assert len(runs) == 2
    assert "--tags" not in runs[0] and runs[0].endswith("--limit chunan-portal-2")
    assert runs[1].endswith("--tags boot --limit chunan-portal-1")
