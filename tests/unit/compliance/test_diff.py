"""The compliance diff between two commits of a tiny repository: the sample stacks, a
catalogue of a few controls, one role, one policy file and one host test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.compliance.diff import EXIT_UNCHANGED, EXIT_USAGE, EXIT_WORSE, diff_command

SAMPLE_STACKS = Path(__file__).resolve().parents[3] / "stacks"

CATALOG = """\
standard: GB/T 22239-2019
level: 3
sections:
  "8.1.3": {zh: 安全区域边界, en: Secure area boundary}
  "8.1.4": {zh: 安全计算环境, en: Secure computing environment}
clauses:
  "8.1.3.1": {zh: 边界防护, en: Boundary protection}
  "8.1.4.1": {zh: 身份鉴别, en: Identification and authentication}
  "8.1.4.8": {zh: 数据保密性, en: Data confidentiality}
  "8.1.9.1": {zh: 系统建设, en: Construction}
controls:
  - id: 8.1.3.1a
    zh: 边界防护
    en: Boundary protection
    status: technical
    enforced_by: {policies: [local-firewall-from-flow-matrix]}
    config_keys: [standard.flows]
  - id: 8.1.4.1a
    zh: 身份鉴别
    en: Identification and authentication
    status: technical
    enforced_by: {ansible_tags: [mlps-8.1.4.1]}
    verified_by: {host_tests: ["tests/hosts/test_common.py::test_sshd"]}
  - id: 8.1.4.8a
    zh: 传输保密性
    en: Confidentiality in transit
    status: technical
    config_keys: [standard.tls, target.cidr]
  - id: 8.1.4.8b
    zh: 云上加密
    en: Encryption at rest in the cloud
    status: technical
    targets: [aws]
    reason: the local target has no KMS
  - id: 8.1.9.1a
    zh: 建设管理
    en: Construction management
    status: process
    procedure: docs/procedures/construction.md
"""

TASKS = """\
- name: Harden the SSH server | mlps-8.1.4.1
  ansible.builtin.copy: {src: sshd.conf, dest: /etc/ssh/sshd_config.d/hardening.conf}
  tags: [bake, mlps-8.1.4.1]
- name: Install the firewall
  ansible.builtin.apt: {name: nftables}
  tags: [bake]
"""

TASK_FILE = "roles/common/tasks/sshd.yml"
POLICY = 'NAME = "local-firewall-from-flow-matrix"\n'
HOST_TEST = "def test_sshd(host):\n    assert host.file('/etc/ssh').is_directory\n"

WAIVER = """\
waivers:
  - id: W-2026-001
    control: 8.1.4.1a
    tier: county
    resources: ["*"]
    owner: 张三 <zhang.san@example.gov.cn>
    approver: 李四 <li.si@example.gov.cn>
    ticket: SEC-1234
    reason: the county's jump host is replaced next quarter
    approved: 2026-12-01
    expires: 2027-05-30
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _write(repo: Path, files: dict[str, str | None]) -> None:
    for relative, text in files.items():
        path = repo / relative
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose commit tagged `base` holds the sample region fleet."""
    _git(tmp_path, "init", "-q")
    shutil.copytree(SAMPLE_STACKS, tmp_path / "stacks", ignore=shutil.ignore_patterns("Pulumi.*"))
    _write(
        tmp_path,
        {
            "compliance/controls.yaml": CATALOG,
            TASK_FILE: TASKS,
            "roles/common/files/sshd.conf": "PermitRootLogin no\n",
            "policies/local.py": POLICY,
            "tests/hosts/test_common.py": HOST_TEST,
        },
    )
    _commit(tmp_path, "base")
    _git(tmp_path, "tag", "base")
    return tmp_path


def _diff(
    repo: Path, capsys: pytest.CaptureFixture[str], *regions: str, fmt: str = "json"
) -> tuple[int, Any]:
    code = diff_command("base", "HEAD", list(regions), fmt, repo)
    out = capsys.readouterr().out
    return code, json.loads(out) if fmt == "json" else out


def _change(repo: Path, files: dict[str, str | None]) -> None:
    _write(repo, files)
    _commit(repo, "head")


def _replace(repo: Path, relative: str, old: str, new: str) -> dict[str, str | None]:
    text = (repo / relative).read_text(encoding="utf-8")
    assert old in text, f"{relative} has no {old!r}"
    return {relative: text.replace(old, new)}


def _rows(document: dict[str, Any], kind: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(g["control"], g["from"], g["to"]): g for g in document[kind]}


def test_no_change_is_silent_and_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "nothing",
    )
    code, out = _diff(repo, capsys, fmt="md")
    assert code == EXIT_UNCHANGED
    assert "No compliance change" in out


def test_waiver_added_moves_county_regions_to_waived(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, {"compliance/waivers.yaml": WAIVER})
    code, document = _diff(repo, capsys)
    assert code == EXIT_WORSE, "an enforced control that becomes waived is no longer enforced"
    row = _rows(document, "moves")[("8.1.4.1a", "enforced", "waived")]
    assert row["regions"] == ["chunan", "tonglu"]
    assert row["tiers"] == ["county"]
    assert "waiver W-2026-001 added" in row["reasons"]
    assert document["summary"]["tiers"] == ["county"]


def test_waiver_removed_moves_back_to_enforced(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, {"compliance/waivers.yaml": WAIVER})
    _git(repo, "tag", "-f", "base")
    _change(repo, {"compliance/waivers.yaml": None})
    code, document = _diff(repo, capsys)
    assert code == EXIT_UNCHANGED
    row = _rows(document, "moves")[("8.1.4.1a", "waived", "enforced")]
    assert row["regions"] == ["chunan", "tonglu"]
    assert row["reasons"] == ["waiver W-2026-001 removed"]


def test_config_key_breaking_a_design_rule_is_failing_everywhere(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(
        repo,
        _replace(
            repo,
            "stacks/standard.yaml",
            "    - ECDHE-RSA-CHACHA20-POLY1305\n",
            "    - ECDHE-RSA-CHACHA20-POLY1305\n    - AES128-SHA\n",
        ),
    )
    code, document = _diff(repo, capsys)
    assert code == EXIT_WORSE
    row = _rows(document, "moves")[("8.1.4.8a", "enforced", "failing")]
    assert row["count"] == 5
    assert any("AES128-SHA is not a forward-secret AEAD suite" in r for r in row["reasons"])
    assert "config standard.tls changed" in row["reasons"]


def test_flow_opening_a_component_to_the_internet_fails_boundary_protection(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = "  - name: admin-ssh\n"
    opened = (
        "  - name: public-exchange\n    from: internet\n    to: data_exchange\n    ports: [8443]\n    reason: a shortcut\n"
        + flow
    )
    _change(repo, _replace(repo, "stacks/standard.yaml", flow, opened))
    code, document = _diff(repo, capsys)
    assert code == EXIT_WORSE
    row = _rows(document, "moves")[("8.1.3.1a", "enforced", "failing")]
    assert row["count"] == 5
    assert any("public-exchange opens data_exchange" in r for r in row["reasons"])


def test_config_rejected_by_validation_names_file_and_problem(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(
        repo,
        _replace(repo, "stacks/standard.yaml", "log_retention_days: 180", "log_retention_days: 90"),
    )
    code, document = _diff(repo, capsys)
    assert code == EXIT_WORSE
    assert document["head"]["valid"] is False
    problem = document["head"]["problems"][0]
    assert problem["file"] == "HEAD:stacks/standard.yaml"
    assert problem["path"] == "log_retention_days"
    assert document["moves"] == []


def test_regional_config_key_affects_only_that_region(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(
        repo, _replace(repo, "stacks/regions/33-zhejiang.yaml", "10.203.3.0/24", "10.203.9.0/24")
    )
    code, document = _diff(repo, capsys)
    assert code == EXIT_UNCHANGED
    affected = [g for g in document["affected"] if g["control"] == "8.1.4.8a"]
    assert [g["regions"] for g in affected] == [["tonglu"]]
    assert "config target.cidr changed" in affected[0]["reasons"]


def test_untagged_task_edited_affects_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, _replace(repo, TASK_FILE, "name: nftables", "name: [nftables]"))
    code, document = _diff(repo, capsys)
    assert (code, document["affected"], document["moves"]) == (EXIT_UNCHANGED, [], [])


SSH_TASK = f"task {TASK_FILE}: Harden the SSH server | mlps-8.1.4.1"


@pytest.mark.parametrize(
    ("files", "control", "reason"),
    [
        pytest.param(
            {TASK_FILE: TASKS.replace("hardening.conf", "10-hardening.conf")},
            "8.1.4.1a",
            f"{SSH_TASK} changed",
            id="tagged-task-edited",
        ),
        pytest.param(
            {"roles/common/files/sshd.conf": "PermitRootLogin no\nMaxAuthTries 3\n"},
            "8.1.4.1a",
            f"{SSH_TASK} changed",
            id="file-a-tagged-task-installs-edited",
        ),
        pytest.param(
            {"policies/local.py": POLICY + "ENFORCEMENT = 'mandatory'\n"},
            "8.1.3.1a",
            "policy policies/local.py changed",
            id="policy-file-edited",
        ),
        pytest.param(
            {"tests/hosts/test_common.py": HOST_TEST + "\n"},
            "8.1.4.1a",
            "host test tests/hosts/test_common.py changed",
            id="host-test-edited",
        ),
    ],
)
def test_enforcement_edited_affects_its_control_in_every_region(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str | None],
    control: str,
    reason: str,
) -> None:
    _change(repo, files)
    code, document = _diff(repo, capsys)
    assert code == EXIT_UNCHANGED
    (row,) = document["affected"]
    assert (row["control"], row["count"], row["reasons"]) == (control, 5, [reason])


def test_tag_dropped_from_every_task_loses_enforcement(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, _replace(repo, TASK_FILE, "[bake, mlps-8.1.4.1]", "[bake]"))
    code, document = _diff(repo, capsys)
    assert code == EXIT_WORSE
    (row,) = document["affected"]
    assert "no longer enforced by tag mlps-8.1.4.1" in row["reasons"]


def test_catalogue_status_change_moves_the_control(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(
        repo,
        _replace(
            repo, "compliance/controls.yaml", "    status: process\n", "    status: technical\n"
        ),
    )
    code, document = _diff(repo, capsys)
    assert code == EXIT_UNCHANGED
    row = _rows(document, "moves")[("8.1.9.1a", "process", "enforced")]
    assert row["count"] == 5
    assert "catalogue entry changed" in row["reasons"]


def test_target_outside_a_controls_targets_is_not_applicable(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(
        repo,
        _replace(
            repo, "compliance/controls.yaml", "    targets: [aws]\n", "    targets: [local]\n"
        ),
    )
    _, document = _diff(repo, capsys)
    moves = _rows(document, "moves")
    assert moves[("8.1.4.8b", "not-applicable", "enforced")]["count"] == 4
    assert moves[("8.1.4.8b", "enforced", "not-applicable")]["regions"] == ["ningxia"]


def test_region_filter_keeps_only_the_named_regions(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, {"compliance/waivers.yaml": WAIVER})
    _, document = _diff(repo, capsys, "tonglu", "330000")
    row = _rows(document, "moves")[("8.1.4.1a", "enforced", "waived")]
    assert row["regions"] == ["tonglu"]
    assert document["regions_filter"] == ["tonglu", "330000"]


def test_unknown_region_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff_command("base", "HEAD", ["atlantis"], "md", repo) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "no region atlantis in either revision" in captured.err
    assert captured.out == ""


def test_bad_revision_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff_command("base", "no-such-branch", [], "md", repo) == EXIT_USAGE
    assert "'no-such-branch' is not a commit" in capsys.readouterr().err


def test_outside_a_repository_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diff_command("HEAD~1", "HEAD", [], "md", tmp_path) == EXIT_USAGE
    assert "is not a git repository" in capsys.readouterr().err


def test_unknown_format_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff_command("base", "HEAD", [], "html", repo) == EXIT_USAGE
    assert "--format 'html' is not one of md, json" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_two_runs_are_byte_identical(
    repo: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    _change(repo, {"compliance/waivers.yaml": WAIVER, "policies/local.py": POLICY + "\n"})
    first = (diff_command("base", "HEAD", [], fmt, repo), capsys.readouterr().out)
    second = (diff_command("base", "HEAD", [], fmt, repo), capsys.readouterr().out)
    assert first == second
    assert "W-2026-001" in first[1]


def test_markdown_groups_moves_with_examples(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, {"compliance/waivers.yaml": WAIVER})
    _, out = _diff(repo, capsys, fmt="md")
    assert (
        "| 8.1.4.1a Identification and authentication | enforced → **waived** ⚠ | 2 | county | chunan, tonglu | waived by W-2026-001, waiver W-2026-001 added |"
        in out
    )


def test_base_failing_validation_reports_it_and_head_fixing_it_is_not_worse(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, _replace(repo, "stacks/standard.yaml", "mlps_level: 3", "mlps_level: 2"))
    _git(repo, "tag", "-f", "base")
    _change(repo, _replace(repo, "stacks/standard.yaml", "mlps_level: 2", "mlps_level: 3"))
    code, out = _diff(repo, capsys, fmt="md")
    assert code == EXIT_UNCHANGED
    assert "### BASE `base` fails validation" in out
    assert "base:stacks/standard.yaml" in out
