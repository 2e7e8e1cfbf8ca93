"""The program's entry point (infra/__main__.py) deploys a real aws stack of stacks/."""

from __future__ import annotations

import runpy
from collections import Counter
from typing import Any

import pulumi
import pytest
import yaml

from infra.aws.mocks import REAL_STACKS, RecordingMocks

CERTIFICATE = "arn:aws-cn:acm:cn-northwest-1:123456789012:certificate/0a1b2c3d"


def test_the_aws_branch_builds_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # An aws stack refuses the public local passphrase (infra/config/stack.py).
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "a-secret-of-the-operators")
    stack_file = yaml.safe_load((REAL_STACKS / "Pulumi.ningxia.yaml").read_text("utf-8"))
    mocks = RecordingMocks("aws-cn", "cn-northwest-1")
    pulumi.runtime.set_mocks(mocks, project="regionstack", stack="ningxia", preview=False)
    pulumi.runtime.set_all_config(
        {
            **{key: str(value) for key, value in stack_file["config"].items()},
            "regionstack:alb_certificate_arn": CERTIFICATE,
            "regionstack:ami_id": "ami-0123456789abcdef0",
        }
    )

    @pulumi.runtime.test
    def run() -> Any:
        runpy.run_path(str(REAL_STACKS.parent / "infra" / "__main__.py"), run_name="__main__")

    try:
        run()
    finally:
        pulumi.runtime.set_all_config({})
    counts = Counter(r.typ for r in mocks.resources)
    assert counts["regionstack:aws:AwsRegion"] == 1
    portal_hosts = [
        r
        for r in mocks.resources
        if r.typ == "aws:autoscaling/group:Group"
        and {"key": "regionstack:role", "value": "portal", "propagateAtLaunch": True}
        in r.inputs["tags"]
    ]
    assert len(portal_hosts) == 3  # ningxia's override of the province's portal count
