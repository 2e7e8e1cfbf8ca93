"""`regionstack verify`: the parts that need no hosts.

The role -> suite mapping, the inventory and argument errors, the ssh_config, the flow
expectations (against the flow matrix code's own answer) and the summary of JUnit files.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra import cli
from infra.config.effective import effective_config
from infra.config.loader import Fleet
from infra.local.firewall_rules import allowed_flows, standard_ports
from infra.local.plan import plan_region
from infra.verify import (
    CONTROLLER,
    GATEWAY,
    HOST_TESTS,
    REPO_ROOT,
    ROLE_GROUPS,
    ROLE_MODULES,
    ROLES,
    RegionInventory,
    VerifyContext,
    VerifyError,
    VerifyRequest,
    flow_plan,
    format_summary,
    inventory_file,
    merge_junit,
    modules_for,
    parse_listing,
    plan_from_inventory,
    resolve_inventory,
    role_of,
    ssh_config,
    standard_of,
    summarize_junit,
    verify,
)

KEY = "/state/inventory/chunan/admin_ed25519"
SSH_ARGS = "-o UserKnownHostsFile=/state/inventory/chunan/known_hosts -o StrictHostKeyChecking=yes"


def listing_for(fleet: Fleet, stack: str, target: str = "local") -> dict[str, Any]:
    """What `ansible-inventory --list` prints for a region `regionstack inventory` wrote."""
    region = fleet.region(stack)
    plan = plan_region(fleet, region)
    config = json.loads(json.dumps(effective_config(fleet, region)))
    common = {
        "ansible_user": "rsadmin",
        "ansible_become": True,
        "ansible_ssh_private_key_file": KEY,
        "ansible_ssh_common_args": SSH_ARGS,
        "regionstack_stack": stack,
        "regionstack_target": target,
        "regionstack_gateway": plan.gateway,
        "regionstack_config": config,
    }
    listing: dict[str, Any] = {
        "_meta": {"hostvars": {h.name: {**common, "ansible_host": h.address} for h in plan.hosts}},
        "all": {"children": ["ungrouped", *sorted({h.component for h in plan.hosts}), "tier"]},
        "tier": {"hosts": [h.name for h in plan.hosts]},
    }
    for host in plan.hosts:
        listing.setdefault(host.component, {"hosts": []})["hosts"].append(host.name)
    return listing


def region_of(fleet: Fleet, stack: str, target: str = "local") -> RegionInventory:
    return parse_listing(listing_for(fleet, stack, target), f"/inv/{stack}/inventory.yml")


# --- roles and their suites -----------------------------------------------------------


def test_every_role_has_a_suite_and_every_suite_a_role() -> None:
    roles = {p.name for p in (REPO_ROOT / "roles").iterdir() if (p / "tasks").is_dir()}
    suites = {p.name for p in HOST_TESTS.glob("test_*.py")}
    assert set(ROLE_MODULES) == roles | {"flows"}
    assert set(ROLE_MODULES.values()) == suites


@pytest.mark.parametrize("role", [r for r in ROLES if r != "flows"])
def test_each_role_suite_targets_the_roles_group(role: str) -> None:
    tree = ast.parse((HOST_TESTS / ROLE_MODULES[role]).read_text(encoding="utf-8"))
    groups = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "GROUP" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    assert groups == [ROLE_GROUPS[role]]


def test_modules_for_keeps_order_and_drops_repeats() -> None:
    assert modules_for(["portal", "flows", "portal"]) == [
        ("portal", HOST_TESTS / "test_portal.py"),
        ("flows", HOST_TESTS / "test_flows.py"),
    ]


def test_modules_for_refuses_an_unknown_role() -> None:
    with pytest.raises(VerifyError, match=r"unknown role\(s\) web: choose from common, "):
        modules_for(["web"])


@pytest.mark.parametrize(
    ("classname", "name", "role"),
    [
        ("tests.hosts.test_portal", "test_waf_blocks_attacks[chunan-portal-1-x]", "portal"),
        ("tests.hosts.test_data_exchange", "test_x", "data_exchange"),
        ("", "tests.hosts.test_flows", "flows"),  # a collection error
        ("tests.unit.test_x", "test_y", "other"),
    ],
)
def test_role_of_a_junit_testcase(classname: str, name: str, role: str) -> None:
    assert role_of(classname, name) == role


# --- JUnit: summary and merge ---------------------------------------------------------

PORTAL_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="portal" errors="1" failures="1" skipped="1" tests="5" time="12.5">
<testcase classname="tests.hosts.test_portal" name="test_a[chunan-portal-1]" time="1"/>
<testcase classname="tests.hosts.test_portal" name="test_b[chunan-portal-1]" time="1"/>
<testcase classname="tests.hosts.test_portal" name="test_waf[chunan-portal-1]" time="1">
  <failure message="AssertionError: 200 != 403&#10;second line">trace</failure></testcase>
<testcase classname="tests.hosts.test_portal" name="test_c[chunan-portal-1]" time="1">
  <error message="failed on setup with &quot;RuntimeError: ssh&quot;">trace</error></testcase>
<testcase classname="tests.hosts.test_portal" name="test_d[chunan-portal-1]" time="1">
  <skipped message="not here"/></testcase>
</testsuite></testsuites>
"""
FLOWS_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="flows" errors="0" failures="0" skipped="0" tests="2" time="4.0">
<testcase classname="tests.hosts.test_flows" name="test_allowed_flow_connects[x]" time="1"/>
<testcase classname="tests.hosts.test_flows" name="test_nothing_else_connects[y]" time="1"/>
</testsuite></testsuites>
"""


@pytest.fixture
def junit_parts(tmp_path: Path) -> list[tuple[str, Path]]:
    (tmp_path / "portal.xml").write_text(PORTAL_XML)
    (tmp_path / "flows.xml").write_text(FLOWS_XML)
    return [("portal", tmp_path / "portal.xml"), ("flows", tmp_path / "flows.xml")]


def test_summary_counts_per_role_from_a_junit_file(junit_parts: list[tuple[str, Path]]) -> None:
    counts, failures = summarize_junit(junit_parts[0][1])
    portal = counts["portal"]
    assert (portal.passed, portal.failed, portal.skipped, portal.seconds) == (2, 2, 1, 12.5)
    assert [(f.role, f.test, f.message) for f in failures] == [
        ("portal", "test_waf[chunan-portal-1]", "AssertionError: 200 != 403"),
        ("portal", "test_c[chunan-portal-1]", 'failed on setup with "RuntimeError: ssh"'),
    ]


def test_merged_junit_holds_every_role_suite(
    junit_parts: list[tuple[str, Path]], tmp_path: Path
) -> None:
    merged = tmp_path / "out" / "verify.xml"
    merge_junit(junit_parts, merged)
    counts, _ = summarize_junit(merged)
    assert {role: (c.passed, c.failed, c.skipped) for role, c in counts.items()} == {
        "portal": (2, 2, 1),
        "flows": (2, 0, 0),
    }
    text = merged.read_text()
    assert 'tests="7"' in text and 'failures="1"' in text and 'errors="1"' in text


def test_summary_table_is_readable(junit_parts: list[tuple[str, Path]], tmp_path: Path) -> None:
    merged = tmp_path / "verify.xml"
    merge_junit(junit_parts, merged)
    counts, failures = summarize_junit(merged)
    text = format_summary("chunan", counts, failures, ["4 hosts from /inv"])
    lines = text.splitlines()
    assert lines[0] == "verify of chunan:"
    assert lines[1] == "  4 hosts from /inv"
    assert lines[2].split() == ["ROLE", "PASSED", "FAILED", "SKIPPED", "TIME"]
    # Roles in the order of ROLES, whatever the order of the suites.
    assert lines[3].split() == ["portal", "2", "2", "1", "12.5s"]
    assert lines[4].split() == ["flows", "2", "0", "0", "4.0s"]
    assert lines[5].split() == ["total", "4", "2", "1"]
    assert "    portal: test_waf[chunan-portal-1]: AssertionError: 200 != 403" in lines
    assert lines[-1] == "4 passed, 2 failed, 1 skipped"


# --- inventories ----------------------------------------------------------------------


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


# --- reaching the hosts ---------------------------------------------------------------


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


# --- flow expectations ----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["zhejiang", "hangzhou", "chunan"])
def test_plan_from_the_inventory_is_the_deployed_plan(sample_fleet: Fleet, stack: str) -> None:
    assert plan_from_inventory(region_of(sample_fleet, stack)) == plan_region(
        sample_fleet, sample_fleet.region(stack)
    )


def test_flow_plan_admits_exactly_what_the_flow_matrix_admits(sample_fleet: Fleet) -> None:
    region = region_of(sample_fleet, "hangzhou")
    plan = plan_region(sample_fleet, sample_fleet.region("hangzhou"))
    names = {h.address: h.name for h in plan.hosts} | {plan.gateway: "gateway"}
    expected = {
        (names[s], names[d], port, flow)
        for s, d, port, flow in allowed_flows(plan, standard_of(region))
        if s in names and d in names  # federation with regions not given: not tried
    }
    tried = flow_plan(region, None)
    got = {
        (a.source.replace(CONTROLLER, "gateway"), a.destination, a.port, a.flow)
        for a in tried.allowed()
    }
    assert got == expected
    assert ("hangzhou-portal-1", "hangzhou-hotline-1", 8443, "portal-to-hotline") in got


def test_flow_plan_tries_every_standard_port_between_every_pair(sample_fleet: Fleet) -> None:
    region = region_of(sample_fleet, "chunan")
    tried = flow_plan(region, None)
    hosts = [h.name for h in region.hosts]
    expected_pairs = {(s, d) for s in hosts for d in [*hosts, GATEWAY] if s != d}
    expected_pairs |= {(CONTROLLER, d) for d in hosts}
    assert set(tried.pairs()) == expected_pairs
    ports = standard_ports(standard_of(region))
    for pair in expected_pairs:
        assert {a.port for a in tried.attempts if (a.source, a.destination) == pair} == set(ports)
    assert tried.admitted_ports("chunan-hotline-1", "chunan-portal-1") == set()
    assert tried.admitted_ports(CONTROLLER, "chunan-portal-1") == {22, 80, 443}


def test_flow_plan_across_the_link_to_the_parent(sample_fleet: Fleet) -> None:
    child, parent = region_of(sample_fleet, "chunan"), region_of(sample_fleet, "hangzhou")
    tried = flow_plan(child, parent)
    own, theirs = {h.name for h in child.hosts}, {h.name for h in parent.hosts}
    across = [
        a
        for a in tried.attempts
        if (a.source in own and a.destination in theirs)
        or (a.source in theirs and a.destination in own)
    ]
    assert across, "no attempt crosses the link"
    assert [(a.source, a.destination, a.port) for a in across if a.allowed] == [
        ("chunan-data-exchange-1", "hangzhou-data-exchange-1", 5671)
    ]
    directions = {(a.source in own, a.destination in own) for a in across}
    assert directions == {(True, False), (False, True)}
    # Inside the parent region, and the controller as the parent's outside parties, are
    # the parent's own verify.
    assert not [a for a in tried.attempts if a.source in theirs and a.destination in theirs]
    assert not [a for a in tried.attempts if a.source == CONTROLLER and a.destination in theirs]


def test_flow_plan_has_no_controller_on_aws(sample_fleet: Fleet) -> None:
    tried = flow_plan(region_of(sample_fleet, "chunan", target="aws"), None)
    assert CONTROLLER not in tried.sources
    assert GATEWAY not in tried.destinations


# --- the command ----------------------------------------------------------------------


def test_cli_says_to_write_a_missing_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIONSTACK_STATE_DIR", str(tmp_path))
    assert cli.main(["verify", "chunan"]) == cli.EXIT_INVALID
    error = capsys.readouterr().err
    assert f"no inventory for chunan at {tmp_path}/inventory/chunan" in error
    assert "run `regionstack inventory chunan`" in error


def test_cli_refuses_an_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "atlantis"]) == cli.EXIT_USAGE
    assert "no region with code or stack name 'atlantis'" in capsys.readouterr().err


def test_cli_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "chunan", "--only", "web"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "argument --only: invalid choice: 'web'" in capsys.readouterr().err


def test_verify_stops_at_a_host_it_cannot_reach(
    tmp_path: Path, sample_fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on loopback port 1: ssh fails at once, and the host is reported,
    on the terminal and in the JUnit file, before any suite runs."""
    config = json.loads(json.dumps(effective_config(sample_fleet, sample_fleet.region("chunan"))))
    inventory = tmp_path / "chunan"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(json.dumps({"regionstack_config": config}))
    (inventory / "inventory.yml").write_text(
        json.dumps(
            {
                "all": {
                    "vars": {"regionstack_stack": "chunan", "ansible_port": 1},
                    "children": {
                        "portal": {"hosts": {"chunan-portal-1": {"ansible_host": "127.0.0.1"}}}
                    },
                }
            }
        )
    )
    junit = tmp_path / "out.xml"
    request = VerifyRequest("chunan", inventory, ("portal",), None, None, junit)
    assert verify(request, out=print) == 1
    assert "regionstack: cannot reach chunan-portal-1 over ssh: " in capsys.readouterr().out
    counts, failures = summarize_junit(junit)
    assert counts["preflight"].failed == 1
    assert [(f.role, f.test, f.message.split(":")[0]) for f in failures] == [
        ("preflight", "chunan-portal-1", "cannot reach chunan-portal-1")
    ]
