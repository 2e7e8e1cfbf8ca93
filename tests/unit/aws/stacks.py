"""The aws test fleet: its regions (tests/unit/aws/fleet/) and the stacks the tests of the aws
target (tests/unit/aws/, tests/unit/modules/aws/) are parametrized over."""

from __future__ import annotations

from pathlib import Path

FLEET_DIR = Path(__file__).resolve().parent / "fleet"

# (partition, tier, stack) of the test fleet: every tier in both partitions.
STACKS = [
    ("aws-cn", "province", "ningxia"),
    ("aws-cn", "city", "yinchuan"),
    ("aws-cn", "county", "xingqing"),
    ("aws", "province", "zhejiang"),
    ("aws", "city", "hangzhou"),
    ("aws", "county", "chunan"),
]
STACK_IDS = [f"{p}-{t}" for p, t, _ in STACKS]
STACK_NAMES = [s for _, _, s in STACKS]
