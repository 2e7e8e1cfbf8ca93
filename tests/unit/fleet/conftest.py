"""Fixtures of the fleet tests: plans built from hand-made graphs, and a fake `pulumi`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.compliance.catalog import TECHNICAL, Catalog, Control
from infra.fleet.dag import Node
from infra.fleet.plan import Plan, build_plan

FAKE_PULUMI = Path(__file__).with_name("fake_pulumi.py")


def tree(provinces: int, cities: int, counties: int) -> list[Node]:
    """A regular fleet: each province has `cities` cities, each city `counties` counties."""
    nodes = []
    for p in range(1, provinces + 1):
        province = f"p{p}"
        nodes.append(Node(province, f"{p + 10}0000", "province", None, "regions/p.yaml"))
        for c in range(1, cities + 1):
            city = f"{province}-c{c}"
            nodes.append(Node(city, f"{p + 10}{c:02d}00", "city", province, "regions/p.yaml"))
            for k in range(1, counties + 1):
                code = f"{p + 10}{c:02d}{k + 1:02d}"
                nodes.append(Node(f"{city}-k{k}", code, "county", city, "regions/p.yaml"))
    return nodes


def plan_of(nodes: list[Node]) -> Plan:
    return build_plan(nodes, {n.stack for n in nodes}, {})


@pytest.fixture
def small_plan() -> Plan:
    """3 provinces × 3 cities × 4 counties: 51 regions."""
    return plan_of(tree(3, 3, 4))


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`pulumi` on PATH is fake_pulumi.py; returns the log of its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f"#!{sys.executable}\n" + FAKE_PULUMI.read_text(encoding="utf-8"))
    script.chmod(0o755)
    log = tmp_path / "pulumi-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


# --- the drift tests: a two-item catalogue written in code, so each test states which
# attribution it relies on
COMMON = "tests/hosts/test_common.py"
SSH = Control(
    "8.1.4.1b",
    "身份鉴别",
    "Identification and authentication",
    TECHNICAL,
    ansible_tags=("mlps-8.1.4.1",),
    host_tests=(f"{COMMON}::test_sshd_effective_setting",),
)
FIREWALL = Control(
    "8.1.3.2b",
    "访问控制",
    "Access control",
    TECHNICAL,
    ansible_tags=("mlps-8.1.3.2",),
    host_tests=(f"{COMMON}::test_firewall_admits_nothing_else",),
)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog("GB/T 22239-2019", 3, {}, {}, (SSH, FIREWALL))
