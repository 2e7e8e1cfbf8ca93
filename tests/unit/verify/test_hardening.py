"""`regionstack verify --hardening`: parsing of real Lynis and OpenSCAP output, and the errors.

The fixtures are trimmed captures from hangzhou-hotline-1 (Lynis 3.0.8, OpenSCAP 1.3.7
with ssg-debian 0.1.65's standard profile).
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.cli import build_parser
from infra.compliance import evidence
from infra.compliance.results import parse_hardening
from infra.config.schema import COMPONENTS
from infra.verify import hardening
from infra.verify.errors import VerifyError
from infra.verify.hardening import (
    ROLES,
    HostHardening,
    LynisResult,
    Remote,
    Runner,
    by_role,
    check_region,
    check_stack,
    format_hardening,
    hardening_json,
    parse_lynis_report,
    parse_oscap_results,
    record_hardening,
    shortfalls,
    ssh_runner,
)
from infra.verify.inventory import RegionInventory, parse_listing

FIXTURES = Path(__file__).parent / "fixtures" / "hardening"
LYNIS_REPORT = (FIXTURES / "lynis-report.dat").read_text(encoding="utf-8")
OSCAP_RESULTS = (FIXTURES / "oscap-results-standard.xml").read_text(encoding="utf-8")


def _region(directory: Path, hosts: dict[str, dict[str, Any]], **extra: Any) -> RegionInventory:
    """A region as verify resolves the inventory `regionstack inventory` writes: a group
    per component."""
    common = {
        "ansible_user": "rsadmin",
        "ansible_ssh_private_key_file": str(directory / "admin_ed25519"),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={directory / 'known_hosts'}"
        " -o StrictHostKeyChecking=yes",
        "regionstack_stack": "hangzhou",
        "regionstack_config": {},
        **extra,
    }
    listing: dict[str, Any] = {
        "_meta": {"hostvars": {host: {**common, **values} for host, values in hosts.items()}}
    }
    for host in hosts:
        role = host.split("-", 1)[1].rsplit("-", 1)[0].replace("-", "_")
        listing.setdefault(role, {"hosts": []})["hosts"].append(host)
    listing["all"] = {"children": sorted(g for g in listing if g != "_meta")}
    return parse_listing(listing, str(directory / "inventory.yml"))


REGION = {
    "hangzhou-hotline-1": {"ansible_host": "10.203.1.8"},
    "hangzhou-portal-1": {"ansible_host": "10.203.1.2"},
}


def _fake(lynis: Remote, oscap: Remote) -> tuple[list[str], Runner]:
    calls: list[str] = []

    def run(host: str, script: str) -> Remote:
        calls.append(host)
        return lynis if "lynis audit system" in script else oscap

    return calls, run


def test_roles_are_the_components() -> None:
    assert set(ROLES) == set(COMPONENTS)


def test_lynis_report_gives_index_tests_warnings_and_suggestions() -> None:
    result = parse_lynis_report(LYNIS_REPORT)
    assert result.hardening_index == 83
    assert result.tests_done == 256
    assert [w.id for w in result.warnings] == ["PKGS-7392"]
    assert result.warnings[0].text == "Found one or more vulnerable packages."
    ssh = [s for s in result.suggestions if s.id == "SSH-7408"]
    assert [s.detail for s in ssh] == ["MaxSessions (set 10 to 2)", "Port (set 22 to )"]
    assert len(result.suggestions) == 9


def test_lynis_report_without_index_is_an_unfinished_audit() -> None:
    text = "\n".join(line for line in LYNIS_REPORT.splitlines() if "hardening_index" not in line)
    with pytest.raises(ValueError, match="no hardening_index"):
        parse_lynis_report(text)


def test_oscap_results_count_rule_results_and_pass_rate() -> None:
    result = parse_oscap_results(OSCAP_RESULTS)
    assert result.profile == "standard"
    assert result.counts == {"notselected": 2, "fail": 3, "pass": 3}
    assert result.failed == ["partition_for_home", "partition_for_var", "partition_for_var_log"]
    assert result.pass_rate == 0.5


def test_oscap_results_without_decided_rules_have_no_pass_rate() -> None:
    text = OSCAP_RESULTS.replace("<result>pass</result>", "<result>notapplicable</result>")
    text = text.replace("<result>fail</result>", "<result>notapplicable</result>")
    assert parse_oscap_results(text).pass_rate is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("oscap: command not found", "not XML"),
        ('<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2"/>', "no TestResult"),
    ],
)
def test_oscap_results_that_are_not_results_say_so(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_oscap_results(text)


def test_check_region_reports_every_host_grouped_by_role(tmp_path: Path) -> None:
    calls, run = _fake(Remote(0, LYNIS_REPORT, ""), Remote(0, OSCAP_RESULTS, ""))
    results = check_region(_region(tmp_path, REGION), run)
    assert [(r.role, r.host) for r in results] == [
        ("hotline", "hangzhou-hotline-1"),
        ("portal", "hangzhou-portal-1"),
    ]
    assert all(r.hardening_index == 83 and r.pass_rate == 0.5 and not r.errors for r in results)
    assert len(calls) == 4
    table = format_hardening(results)
    assert "hangzhou-hotline-1" in table
    assert "PKGS-7392" in table
    assert "partition_for_home" in table
    assert "hotline              hardening index 83, OpenSCAP pass rate 50%" in table
    payload = json.loads(hardening_json(results))
    assert payload["portal"][0]["hardening_index"] == 83
    assert payload["portal"][0]["oscap"]["counts"]["fail"] == 3
    assert list(by_role(results)) == ["hotline", "portal"]


def test_the_figures_are_recorded_as_the_stacks_hardening_evidence(tmp_path: Path) -> None:
    """What `verify --hardening` records is what the compliance report reads back."""
    _, run = _fake(Remote(0, LYNIS_REPORT, ""), Remote(0, OSCAP_RESULTS, ""))
    results = check_region(_region(tmp_path, REGION), run)
    record_hardening("hangzhou", results, tmp_path / "ev")
    recorded = evidence.latest("hangzhou", evidence.HARDENING, tmp_path / "ev")
    assert recorded is not None
    assert recorded.read_bytes().decode() == hardening_json(results)
    assert parse_hardening(recorded.read_bytes()) == (2, (83, 83), (0.5, 0.5))


def test_ssh_runner_runs_the_script_as_root_through_verifys_ssh_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, tuple[str, ...], str | None, str | None, str]] = []

    def run_ssh(
        config: Path,
        name: str,
        *options: str,
        command: str | None = "true",
        stdin: str | None = None,
        timeout: float = 0,
    ) -> subprocess.CompletedProcess[str]:
        seen.append((name, options, command, stdin, config.read_text(encoding="utf-8")))
        return subprocess.CompletedProcess([], 0, "out", "")

    monkeypatch.setattr(hardening, "run_ssh", run_ssh)
    monkeypatch.setattr(hardening, "close_masters", lambda config, names: None)
    with ssh_runner(_region(tmp_path, REGION)) as run:
        assert run("hangzhou-hotline-1", "echo hi") == Remote(0, "out", "")
    [(name, options, command, stdin, config)] = seen
    assert name == "hangzhou-hotline-1"
    assert options == ()
    assert command == "sudo -n sh -s"
    assert stdin == "echo hi"
    block = config.split("Host hangzhou-hotline-1\n")[1].split("\n\n")[0]
    assert "  HostName 10.203.1.8\n" in block
    assert "  User rsadmin\n" in block
    assert "  BatchMode yes\n" in block


def test_host_reached_without_ssh_is_named(tmp_path: Path) -> None:
    region = _region(
        tmp_path, {"hangzhou-portal-1": {"ansible_host": "i-0abc", "ansible_connection": "ssm"}}
    )
    with ssh_runner(region) as run:
        [result] = check_region(region, run)
    assert result.errors == [
        "lynis: cannot reach hangzhou-portal-1 (i-0abc) over SSH: the inventory reaches it "
        "by ssm, not ssh; is the region up (`regionstack local status`) and the inventory "
        "current?"
    ]


def test_unreachable_host_is_named_once_with_what_to_check(tmp_path: Path) -> None:
    # A real ssh client against a closed loopback port: refused, exit 255.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    region = _region(
        tmp_path, {"hangzhou-portal-1": {"ansible_host": "127.0.0.1"}}, ansible_port=port
    )
    with ssh_runner(region) as run:
        [result] = check_region(region, run)
    assert result.lynis is None and result.oscap is None
    [error] = result.errors
    assert "cannot reach hangzhou-portal-1 (127.0.0.1) over SSH" in error
    assert "regionstack local status" in error
    assert "ERROR lynis: cannot reach" in format_hardening([result])


@pytest.mark.parametrize(
    ("lynis", "oscap", "expected"),
    [
        (
            Remote(3, "", ""),
            Remote(0, OSCAP_RESULTS, ""),
            "lynis: lynis is not installed on hangzhou-portal-1; install it with "
            "`ansible-playbook -i {inventory} playbooks/site.yml --tags common_hardening_tools`",
        ),
        (
            Remote(0, LYNIS_REPORT, ""),
            Remote(3, "", ""),
            "openscap: openscap-scanner is not installed on hangzhou-portal-1; install it with "
            "`ansible-playbook -i {inventory} playbooks/site.yml --tags common_hardening_tools`",
        ),
        (
            Remote(0, LYNIS_REPORT, ""),
            Remote(4, "", ""),
            "openscap: /usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml is missing on "
            "hangzhou-portal-1 (package ssg-debian); install it with "
            "`ansible-playbook -i {inventory} playbooks/site.yml --tags common_hardening_tools`",
        ),
        (
            Remote(0, LYNIS_REPORT, ""),
            Remote(5, "", "OpenSCAP Error: Unable to open file\n"),
            "openscap: failed on hangzhou-portal-1 (exit 5): OpenSCAP Error: Unable to open file",
        ),
    ],
)
def test_missing_tool_names_the_fix(
    tmp_path: Path, lynis: Remote, oscap: Remote, expected: str
) -> None:
    region = _region(tmp_path, {"hangzhou-portal-1": {"ansible_host": "10.203.1.2"}})
    _, run = _fake(lynis, oscap)
    [result] = check_region(region, run)
    assert result.errors == [expected.format(inventory=tmp_path / "inventory.yml")]
    # The other tool's figure is still reported.
    assert (result.hardening_index, result.pass_rate) != (None, None)


def test_missing_inventory_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match="run `regionstack inventory chunan`"):
        check_stack("chunan", tmp_path / "chunan")


@pytest.mark.parametrize(("index", "short"), [(79, True), (80, False), (91, False)])
def test_shortfalls_hold_every_host_to_the_hardening_target(index: int, short: bool) -> None:
    result = HostHardening(
        "chunan-portal-1", "portal", "10.203.2.2", LynisResult(index, 250, [], [])
    )
    assert bool(shortfalls([result])) is short


def test_shortfalls_name_a_host_that_could_not_be_audited() -> None:
    result = HostHardening("chunan-portal-1", "portal", "10.203.2.2", errors=["lynis missing"])
    assert shortfalls([result]) == ["chunan-portal-1: lynis missing"]


@pytest.mark.parametrize(
    "flags",
    [["--hardening", "--hardening-json", "h.json"], ["--audit", "--audit-json", "h.json"]],
    ids=["hardening", "former-audit"],
)
def test_verify_takes_the_hardening_flags_and_their_former_names(flags: list[str]) -> None:
    args = build_parser().parse_args(["verify", "chunan", *flags])
    assert args.hardening is True
    assert args.hardening_json == Path("h.json")
