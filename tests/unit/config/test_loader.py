"""Loading the whole configuration: the fleet and its lookups, and the report of a bad one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.config.loader import Fleet, UnknownRegion, load_fleet, validate
from infra.config.problems import ConfigInvalid
from tests.unit.config.cases import apply_patch


def test_sample_is_valid(sample_dir: Path) -> None:
    fleet, report = validate(sample_dir)
    assert report.ok, report.to_text()
    assert fleet is not None
    assert sorted(r.stack for r in fleet.regions) == [
        "chunan",
        "hangzhou",
        "ningxia",
        "tonglu",
        "zhejiang",
    ]


@pytest.mark.parametrize(("code", "stack"), [("330127", "chunan"), ("640000", "ningxia")])
def test_region_found_by_code_or_stack(sample_fleet: Fleet, code: str, stack: str) -> None:
    assert sample_fleet.region(code) is sample_fleet.region(stack)


def test_unknown_region_lists_the_known_ones(sample_fleet: Fleet) -> None:
    with pytest.raises(UnknownRegion) as raised:
        sample_fleet.region("330128")
    assert raised.value.key == "330128"
    assert "hangzhou (330100 杭州市)" in str(raised.value)


def test_invalid_configuration_gives_no_fleet(config_dir: Path) -> None:
    apply_patch(
        config_dir, {"file": "regions/33-zhejiang.yaml", "set": {"regions[1].parent": "330200"}}
    )
    fleet, report = validate(config_dir)
    assert fleet is None
    assert [p.rule for p in report.problems] == ["parent-prefix"]
    with pytest.raises(ConfigInvalid) as raised:
        load_fleet(config_dir)
    assert raised.value.report.problems == report.problems
    assert "[parent-prefix]" in str(raised.value)


def test_each_locked_key_is_reported_once(config_dir: Path) -> None:
    apply_patch(
        config_dir,
        {
            "file": "regions/33-zhejiang.yaml",
            "set": {"regions[2].tls": {"min_version": "1.3", "ciphers": ["NULL"]}},
        },
    )
    _, report = validate(config_dir)
    assert sorted((p.rule, p.path) for p in report.problems) == [
        ("locked-standard-key", "regions[2].tls.ciphers"),
        ("locked-standard-key", "regions[2].tls.min_version"),
    ]


def test_files_are_named_relative_to_the_parent_of_the_config_dir(
    sample_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(sample_dir, copy)
    apply_patch(copy, {"file": "regions/64-ningxia.yaml", "set": {"regions[0].stack": "NX"}})
    _, report = validate(copy)
    assert [p.file for p in report.problems] == ["elsewhere/regions/64-ningxia.yaml"]


def test_report_order_is_by_file_then_position(config_dir: Path) -> None:
    apply_patch(config_dir, {"file": "regions/64-ningxia.yaml", "set": {"regions[0].stack": "NX"}})
    apply_patch(
        config_dir,
        {
            "file": "regions/33-zhejiang.yaml",
            "set": {"regions[2].tier": "city", "regions[0].name": "zj"},
        },
    )
    _, report = validate(config_dir)
    ordered = [(p.file, p.line) for p in report.sorted()]
    assert ordered == sorted(ordered, key=lambda t: (t[0], t[1] or 0))
    assert len(ordered) == 3
