"""Fixtures of the fleet tests: plans built from hand-made graphs, and a fake `pulumi`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

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
