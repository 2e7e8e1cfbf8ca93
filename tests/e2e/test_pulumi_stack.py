"""`pulumi preview` / `pulumi up` of region stacks with the real CLI, engine and state."""

from __future__ import annotations

import json
import subprocess
import sys

from infra.config.stack import LOCAL_DEFAULT_PASSPHRASE
from tests.e2e.conftest import ROOT, PulumiProject

COUNTY = "chunan"
PROVINCE = "zhejiang"


def _effective_config_from_cli(region: str) -> object:
    import yaml

    shown = subprocess.run(
        [sys.executable, "-m", "infra.cli", "show", region],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return yaml.safe_load(shown)


def test_province_preview_plans_the_region_every_host_and_the_pki(
    pulumi_project: PulumiProject,
) -> None:
    pulumi_project.init(PROVINCE)
    preview = pulumi_project.run("preview", "--stack", PROVINCE, "--json")
    steps = json.loads(preview.stdout)["steps"]
    types = [step["newState"]["type"] for step in steps if step.get("op") == "create"]
    for expected in (
        "regionstack:region:Region",
        "regionstack:local:LocalRegion",
        "regionstack:pki:RegionPki",
    ):
        assert expected in types, types
    urns = " ".join(step["urn"] for step in steps)
    for host in ("zhejiang-portal-1", "zhejiang-portal-2", "zhejiang-data-exchange-1"):
        assert f"zhejiang-local-{host}" in urns, urns
        assert f"zhejiang-pki-{host}-server" in urns and f"zhejiang-pki-{host}-client" in urns
    # The province issues its city's CA for the city's stack.
    assert "zhejiang-pki-child-330100" in urns
    # ...and configures its hosts with the site playbook, unless told not to.
    assert "regionstack:region:Region$pulumi-python:dynamic/region:Playbook::zhejiang-site" in urns
    pulumi_project.run("config", "set", "--stack", PROVINCE, "regionstack:configure", "false")
    unconfigured = pulumi_project.run("preview", "--stack", PROVINCE, "--json")
    assert "zhejiang-site" not in " ".join(
        step["urn"] for step in json.loads(unconfigured.stdout)["steps"]
    )
    preview_outputs = pulumi_project.run("preview", "--stack", PROVINCE, "--diff").stdout
    assert "330000" in preview_outputs


def test_county_without_its_parent_stack_fails_naming_it(pulumi_project: PulumiProject) -> None:
    pulumi_project.init(COUNTY)
    result = pulumi_project.run("preview", "--stack", COUNTY, check=False)
    assert result.returncode != 0
    assert 'unknown stack "organization/regionstack/hangzhou"' in result.stdout + result.stderr


def test_aws_stack_exposes_the_effective_config_and_names_the_inputs_it_lacks(
    pulumi_project: PulumiProject,
) -> None:
    """The region component exposes exactly what `regionstack show` prints; the aws target
    then stops, before any AWS resource, naming the two settings no file can know (the
    real engine here: no AWS provider plugin can run on this machine)."""
    pulumi_project.env["PULUMI_CONFIG_PASSPHRASE"] = "not-the-local-default"
    pulumi_project.init("ningxia")
    result = pulumi_project.run("up", "--stack", "ningxia", "--yes", "--skip-preview", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for setting in ("regionstack:alb_certificate_arn", "regionstack:ami_id"):
        assert f"pulumi config set {setting}" in output, output
    assert "aws:" not in pulumi_project.run("stack", "--stack", "ningxia").stdout
    outputs = pulumi_project.outputs("ningxia")
    assert outputs["region"]["code"] == "640000"
    assert outputs["effective_config"] == _effective_config_from_cli("ningxia")


def test_unknown_stack_fails_listing_known_stacks(pulumi_project: PulumiProject) -> None:
    pulumi_project.init("nosuchregion")
    result = pulumi_project.run("preview", "--stack", "nosuchregion", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "stack 'nosuchregion' is not a region" in output, output
    for known in ("zhejiang (330000 浙江省)", "hangzhou", "chunan", "ningxia"):
        assert known in output, output


def test_stale_stack_file_is_refused(pulumi_project: PulumiProject) -> None:
    stack_file = pulumi_project.workdir / "stacks" / f"Pulumi.{COUNTY}.yaml"
    text = stack_file.read_text(encoding="utf-8")
    stack_file.write_text(text.replace("sha256:", "sha256:0"), encoding="utf-8")
    pulumi_project.init(COUNTY)
    result = pulumi_project.run("preview", "--stack", COUNTY, check=False)
    assert result.returncode != 0
    assert "is stale" in result.stdout + result.stderr, result.stdout


def test_aws_stack_refuses_the_local_only_passphrase(pulumi_project: PulumiProject) -> None:
    pulumi_project.env["PULUMI_CONFIG_PASSPHRASE"] = LOCAL_DEFAULT_PASSPHRASE
    pulumi_project.init("ningxia")
    result = pulumi_project.run("preview", "--stack", "ningxia", check=False)
    assert result.returncode != 0
    assert "public local-only passphrase" in result.stdout + result.stderr, result.stdout
