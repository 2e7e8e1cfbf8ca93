"""Stack files: `render` writes one per region, `render --check` finds stale ones, lines
Pulumi owns are kept, and orphans are reported but never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.config.effective import digest, effective_config
from infra.config.loader import load_fleet
from infra.config.render import render, stack_file
from tests.unit.config.cases import apply_patch

SAMPLE_STACKS = ("chunan", "hangzhou", "ningxia", "tonglu", "zhejiang")
SALT = "encryptionsalt: v1:Zm9vYmFyYmF6:v1:cXV4cXV4cXV4:c2FsdHNhbHQ=\n"


def stack_files(config_dir: Path) -> list[str]:
    return sorted(p.name for p in config_dir.glob("Pulumi.*.yaml"))


def test_sample_stack_files_are_current(sample_dir: Path) -> None:
    result = render(load_fleet(sample_dir), check=True)
    assert (result.stale, result.orphans) == ([], [])


def test_render_writes_one_file_per_region(config_dir: Path) -> None:
    for path in config_dir.glob("Pulumi.*.yaml"):
        path.unlink()
    result = render(load_fleet(config_dir))
    assert sorted(p.name for p in result.written) == [f"Pulumi.{s}.yaml" for s in SAMPLE_STACKS]
    assert stack_files(config_dir) == [f"Pulumi.{s}.yaml" for s in SAMPLE_STACKS]


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_stack_file_records_code_and_digest(config_dir: Path, stack: str) -> None:
    fleet = load_fleet(config_dir)
    region = fleet.region(stack)
    stack_file(config_dir, stack).unlink()
    render(fleet)
    config = yaml.safe_load(stack_file(config_dir, stack).read_text(encoding="utf-8"))["config"]
    assert config["regionstack:code"] == region.code
    assert config["regionstack:digest"] == digest(effective_config(fleet, region))
    assert config.get("aws:region") == (region.aws.region if region.aws else None)


def test_check_passes_after_render(config_dir: Path) -> None:
    apply_patch(config_dir, {"file": "standard.yaml", "set": {"log_retention_days": 365}})
    fleet = load_fleet(config_dir)
    assert len(render(fleet).written) == len(SAMPLE_STACKS)
    result = render(fleet, check=True)
    assert (result.written, result.stale) == ([], [])


@pytest.mark.parametrize(
    ("patch", "stale"),
    [
        ({"file": "standard.yaml", "set": {"log_retention_days": 365}}, SAMPLE_STACKS),
        (
            {"file": "tiers/county.yaml", "set": {"host_groups.portal.count": 2}},
            ("chunan", "tonglu"),
        ),
        # availability zones matter only to aws regions
        ({"file": "tiers/province.yaml", "set": {"availability_zones": 3}}, ("ningxia",)),
        (
            {"file": "regions/33-zhejiang.yaml", "set": {"regions[1].name": "杭州"}},
            ("chunan", "hangzhou", "tonglu"),
        ),
        pytest.param(
            {"file": "regions/33-zhejiang.yaml", "set": {"regions[1].local.cidr": "10.203.9.0/24"}},
            ("chunan", "hangzhou", "tonglu", "zhejiang"),
            id="parent-network-renumbered",
        ),
    ],
)
def test_check_lists_stale_files_and_writes_nothing(
    config_dir: Path, patch: dict[str, object], stale: tuple[str, ...]
) -> None:
    before = {p.name: p.read_bytes() for p in config_dir.glob("Pulumi.*.yaml")}
    apply_patch(config_dir, patch)
    result = render(load_fleet(config_dir), check=True)
    assert sorted(p.name for p in result.stale) == [f"Pulumi.{s}.yaml" for s in sorted(stale)]
    assert result.written == []
    assert {p.name: p.read_bytes() for p in config_dir.glob("Pulumi.*.yaml")} == before


def test_pulumi_owned_lines_do_not_make_the_check_fail(config_dir: Path) -> None:
    path = stack_file(config_dir, "chunan")
    path.write_text(path.read_text(encoding="utf-8") + SALT, encoding="utf-8")
    result = render(load_fleet(config_dir), check=True)
    assert result.stale == []


@pytest.mark.parametrize("where", ["end", "start"])
def test_render_keeps_pulumi_owned_lines(config_dir: Path, where: str) -> None:
    path = stack_file(config_dir, "ningxia")
    lines = SALT + "secretsprovider: passphrase\n"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + lines if where == "end" else lines + text, encoding="utf-8")
    apply_patch(config_dir, {"file": "standard.yaml", "set": {"log_retention_days": 365}})
    fleet = load_fleet(config_dir)
    render(fleet)
    rendered = path.read_text(encoding="utf-8")
    assert SALT in rendered and "secretsprovider: passphrase\n" in rendered
    assert yaml.safe_load(rendered)["encryptionsalt"].startswith("v1:")
    assert render(fleet, check=True).stale == []


def test_orphan_stack_file_is_reported_and_kept(config_dir: Path) -> None:
    orphan = config_dir / "Pulumi.lanxi.yaml"
    orphan.write_text("config:\n  regionstack:code: '330781'\n", encoding="utf-8")
    fleet = load_fleet(config_dir)
    for check in (True, False):
        assert render(fleet, check=check).orphans == [orphan]
    assert orphan.read_text(encoding="utf-8") == "config:\n  regionstack:code: '330781'\n"


def test_region_removed_leaves_its_stack_file_as_an_orphan(config_dir: Path) -> None:
    apply_patch(config_dir, {"file": "regions/64-ningxia.yaml", "content": "regions: []\n"})
    result = render(load_fleet(config_dir))
    assert result.orphans == [stack_file(config_dir, "ningxia")]
    assert stack_file(config_dir, "ningxia").exists()
