"""Selecting the region a Pulumi stack deploys, and refusing stacks that do not match."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.config.effective import digest, effective_config
from infra.config.loader import Fleet
from infra.config.problems import ConfigInvalid
from infra.config.render import stack_file
from infra.config.stack import (
    LOCAL_DEFAULT_PASSPHRASE,
    StackMismatch,
    check_secrets_provider,
    select_region,
)
from tests.unit.config.cases import apply_patch


def recorded(config_dir: Path, stack: str) -> tuple[str, str]:
    config = yaml.safe_load(stack_file(config_dir, stack).read_text(encoding="utf-8"))["config"]
    return config["regionstack:code"], config["regionstack:digest"]


@pytest.mark.parametrize("stack", ["chunan", "hangzhou", "ningxia", "zhejiang"])
def test_current_stack_file_selects_its_region(sample_dir: Path, stack: str) -> None:
    selection = select_region(stack, sample_dir, *recorded(sample_dir, stack))
    assert selection.region.stack == stack
    assert selection.config == effective_config(selection.fleet, selection.region)
    assert selection.digest == digest(selection.config)


def test_unknown_stack_lists_the_known_ones(sample_dir: Path, sample_fleet: Fleet) -> None:
    with pytest.raises(StackMismatch) as raised:
        select_region("chun-an", sample_dir, "330127", None)
    message = str(raised.value)
    assert "'chun-an' is not a region" in message
    for region in sample_fleet.regions:
        assert f"{region.stack} ({region.code} {region.name})" in message


def test_wrong_code_is_refused(sample_dir: Path) -> None:
    _, current = recorded(sample_dir, "chunan")
    with pytest.raises(StackMismatch) as raised:
        select_region("chunan", sample_dir, "330100", current)
    message = str(raised.value)
    assert "records region code '330100'" in message and "330127" in message
    assert "regionstack render" in message


def test_missing_code_is_refused(sample_dir: Path) -> None:
    with pytest.raises(StackMismatch, match="records region code None"):
        select_region("chunan", sample_dir, None, None)


def test_stale_digest_is_refused(config_dir: Path) -> None:
    code, old = recorded(config_dir, "chunan")
    apply_patch(config_dir, {"file": "tiers/county.yaml", "set": {"host_groups.portal.count": 2}})
    with pytest.raises(StackMismatch) as raised:
        select_region("chunan", config_dir, code, old)
    message = str(raised.value)
    assert "stacks/Pulumi.chunan.yaml is stale" in message and old in message


def test_other_stacks_stay_deployable_after_a_county_tier_change(config_dir: Path) -> None:
    apply_patch(config_dir, {"file": "tiers/county.yaml", "set": {"host_groups.portal.count": 2}})
    assert select_region("zhejiang", config_dir, *recorded(config_dir, "zhejiang")).region.code == (
        "330000"
    )


def test_invalid_configuration_is_refused_with_every_problem(config_dir: Path) -> None:
    apply_patch(
        config_dir,
        {
            "file": "regions/33-zhejiang.yaml",
            "set": {"regions[2].parent": "330000", "regions[1].name": "x"},
        },
    )
    with pytest.raises(ConfigInvalid) as raised:
        select_region("chunan", config_dir, *recorded(config_dir, "chunan"))
    assert {p.rule for p in raised.value.report.problems} == {
        "parent-prefix",
        "schema-string-pattern-mismatch",
    }


@pytest.mark.parametrize(
    ("stack", "passphrase", "refused"),
    [
        ("ningxia", LOCAL_DEFAULT_PASSPHRASE, True),
        ("ningxia", "a secret of our own", False),
        ("ningxia", None, False),
        ("chunan", LOCAL_DEFAULT_PASSPHRASE, False),
    ],
)
def test_local_passphrase_is_refused_for_cloud_stacks(
    sample_fleet: Fleet, stack: str, passphrase: str | None, refused: bool
) -> None:
    region = sample_fleet.region(stack)
    if refused:
        with pytest.raises(StackMismatch, match="PULUMI_CONFIG_PASSPHRASE"):
            check_secrets_provider(region, passphrase)
    else:
        assert check_secrets_provider(region, passphrase) is None
