"""`regionstack validate | show | diff | render` on the unified configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.config.effective import diff, effective_config
from infra.config.loader import load_fleet
from tests.unit.config.cases import apply_patch

BROKEN = {"file": "regions/33-zhejiang.yaml", "set": {"regions[2].parent": "330000"}}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as raised:
        main(list(argv))
    assert raised.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("config_first", [True, False])
def test_validate_valid_configuration(
    config_dir: Path, capsys: pytest.CaptureFixture[str], config_first: bool
) -> None:
    argv = ["--config", str(config_dir), "validate"]
    code, out, _ = run(capsys, *(argv if config_first else argv[2:] + argv[:2]))
    assert code == 0
    assert "configuration is valid: 5 region(s)" in out


def test_validate_json_of_a_valid_configuration(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(config_dir), "validate", "--format", "json")
    assert (code, json.loads(out)) == (0, {"valid": True, "problems": []})


def test_validate_invalid_configuration(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_patch(config_dir, BROKEN)
    code, out, err = run(capsys, "--config", str(config_dir), "validate")
    assert (code, out) == (1, "")
    assert "stacks/regions/33-zhejiang.yaml:" in err and "regions[2].parent" in err
    assert "[parent-prefix]" in err and "1 problem(s) found" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        [],
        ["validate", "--format", "xml"],
        ["show"],
        ["diff", "chunan"],
        ["--config", "/nonexistent/stacks", "validate"],
    ],
    ids=[
        "unknown-command",
        "no-command",
        "bad-format",
        "show-no-region",
        "diff-one-region",
        "no-dir",
    ],
)
def test_bad_arguments_exit_2(
    sample_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    if "--config" not in argv:
        argv = ["--config", str(sample_dir), *argv]
    assert "usage:" in usage_error(capsys, *argv)


@pytest.mark.parametrize("argv", [["show", "nope"], ["diff", "chunan", "nope"], ["show", "330128"]])
def test_unknown_region_exits_2_listing_the_known_ones(
    sample_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, "--config", str(sample_dir), *argv)
    assert (code, out) == (2, "")
    assert "no region with code or stack name" in err
    assert "chunan (330127 淳安县)" in err and "ningxia (640000 宁夏回族自治区)" in err


@pytest.mark.parametrize(("code", "stack"), [("330127", "chunan"), ("640000", "ningxia")])
def test_show_by_code_and_by_stack_agree(
    sample_dir: Path, capsys: pytest.CaptureFixture[str], code: str, stack: str
) -> None:
    by_code = run(capsys, "--config", str(sample_dir), "show", code)
    by_stack = run(capsys, "--config", str(sample_dir), "show", stack)
    assert by_code == by_stack
    assert by_code[0] == 0
    fleet = load_fleet(sample_dir)
    assert yaml.safe_load(by_code[1]) == effective_config(fleet, fleet.region(stack))


def test_show_keeps_chinese_readable(sample_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--config", str(sample_dir), "show", "chunan")
    assert "name: 淳安县" in out


def test_show_refuses_an_invalid_configuration(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_patch(config_dir, BROKEN)
    code, out, err = run(capsys, "--config", str(config_dir), "show", "chunan")
    assert (code, out) == (1, "")
    assert "[parent-prefix]" in err


def test_diff_lists_every_differing_key(
    sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(sample_dir), "diff", "chunan", "640000")
    lines = out.splitlines()
    fleet = load_fleet(sample_dir)
    changes = diff(
        effective_config(fleet, fleet.region("chunan")),
        effective_config(fleet, fleet.region("ningxia")),
    )
    assert code == 0
    assert lines[0] == "--- chunan (330127 淳安县)"
    assert lines[1] == "+++ ningxia (640000 宁夏回族自治区)"
    assert lines[2:-1] == [f"{key}: {a!r} -> {b!r}" for key, a, b in changes]
    assert lines[-1] == f"{len(changes)} key(s) differ"
    assert "host_groups.portal.count: 1 -> 3" in lines
    assert "target.kind: 'local' -> 'aws'" in lines


def test_diff_of_a_region_with_itself(sample_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(sample_dir), "diff", "chunan", "330127")
    assert (code, out.splitlines()[-1]) == (0, "0 key(s) differ")


def test_render_check_passes_on_the_sample(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(config_dir), "render", "--check")
    assert (code, out.strip()) == (0, "all 5 stack file(s) are current")


def test_render_check_fails_listing_stale_files(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_patch(config_dir, {"file": "tiers/county.yaml", "set": {"host_groups.portal.count": 2}})
    code, _, err = run(capsys, "--config", str(config_dir), "render", "--check")
    assert code == 1
    assert f"stale: {config_dir / 'Pulumi.chunan.yaml'}" in err
    assert "Pulumi.hangzhou.yaml" not in err
    code, out, _ = run(capsys, "--config", str(config_dir), "render")
    assert (code, out.strip()) == (0, "wrote 2 stack file(s); 3 already current")
    assert run(capsys, "--config", str(config_dir), "render", "--check")[0] == 0


def test_render_warns_about_an_orphan(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orphan = config_dir / "Pulumi.lanxi.yaml"
    orphan.write_text("config: {}\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config_dir), "render", "--check")
    assert code == 0
    assert f"warning: {orphan} has no region" in err
    assert orphan.exists()
