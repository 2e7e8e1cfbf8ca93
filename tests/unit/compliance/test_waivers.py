"""Waivers: what `load_waivers` refuses to read, what `check_waivers` rejects (each rule
once), what a waiver covers, and `regionstack validate` failing on a bad one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main
from infra.compliance.catalog import Catalog
from infra.compliance.waivers import (
    WAIVERS_FILE,
    Waiver,
    WaiverError,
    check_waivers,
    load_waivers,
)
from infra.config.loader import Fleet
from tests.unit.compliance.conftest import TODAY

GOOD: dict[str, Any] = {
    "id": "W-2026-001",
    "control": "8.1.4.3a",
    "region": "tonglu",
    "resources": ["tonglu-portal-1"],
    "owner": "张三 <zhang.san@example.gov.cn>",
    "approver": "李四 <li.si@example.gov.cn>",
    "ticket": "SEC-1234",
    "reason": "auditd cannot run in a container",
    "approved": date(2026, 12, 1),
    "expires": date(2027, 5, 30),
}

WriteWaivers = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> WriteWaivers:
    def write_waivers(*entries: dict[str, Any], **changes: Any) -> Path:
        path = tmp_path / "compliance" / "waivers.yaml"
        path.parent.mkdir(exist_ok=True)
        waivers = [*entries] or [{k: v for k, v in (GOOD | changes).items() if v is not None}]
        path.write_text(yaml.safe_dump({"waivers": waivers}, allow_unicode=True))
        return path

    return write_waivers


def problems_of(path: Path, fleet: Fleet, catalog: Catalog, today: date = TODAY) -> list[str]:
    return [
        f"{p.path} [{p.rule}]" for p in check_waivers(load_waivers(path), fleet, catalog, today)
    ]


def test_a_good_waiver_loads_with_its_fields(write: WriteWaivers) -> None:
    (waiver,) = load_waivers(write())
    assert waiver == Waiver(
        "W-2026-001",
        "8.1.4.3a",
        "tonglu",
        None,
        ("tonglu-portal-1",),
        GOOD["owner"],
        GOOD["approver"],
        "SEC-1234",
        GOOD["reason"],
        date(2026, 12, 1),
        date(2027, 5, 30),
    )


def test_a_good_waiver_has_no_problem(
    write: WriteWaivers, sample_fleet: Fleet, catalog: Catalog
) -> None:
    assert problems_of(write(), sample_fleet, catalog) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"expires": date(2026, 12, 5)}, "waivers[0].expires [waiver-expired]"),
        ({"expires": date(2027, 5, 31)}, "waivers[0].expires [waiver-too-long]"),
        (
            {"approved": date(2027, 1, 1), "expires": date(2026, 12, 31)},
            "waivers[0].expires [waiver-dates]",
        ),
        ({"control": "8.1.4.99a"}, "waivers[0].control [waiver-control]"),
        ({"region": "atlantis"}, "waivers[0].region [waiver-scope]"),
        ({"region": None, "tier": "village"}, "waivers[0].tier [waiver-scope]"),
        ({"resources": ["tonglu-web-*"]}, "waivers[0].resources[0] [waiver-scope]"),
        ({"resources": ["chunan-portal-1"]}, "waivers[0].resources[0] [waiver-scope]"),
        ({"owner": None}, "waivers[0].owner [waiver-accountable]"),
        ({"approver": " "}, "waivers[0].approver [waiver-accountable]"),
        ({"ticket": None}, "waivers[0].ticket [waiver-accountable]"),
    ],
)
def test_each_rule_rejects_its_waiver(
    write: WriteWaivers,
    sample_fleet: Fleet,
    catalog: Catalog,
    changes: dict[str, Any],
    expected: str,
) -> None:
    assert problems_of(write(**changes), sample_fleet, catalog) == [expected]


def test_a_tier_waiver_scopes_the_resources_of_every_region_of_the_tier(
    write: WriteWaivers, sample_fleet: Fleet, catalog: Catalog
) -> None:
    path = write(region=None, tier="county", resources=["chunan-portal-1", "*-hotline-1"])
    assert problems_of(path, sample_fleet, catalog) == []


def test_a_region_may_be_named_by_its_code(
    write: WriteWaivers, sample_fleet: Fleet, catalog: Catalog
) -> None:
    assert problems_of(write(region="330122"), sample_fleet, catalog) == []


def test_the_problem_names_file_key_and_fix(
    write: WriteWaivers, sample_fleet: Fleet, catalog: Catalog
) -> None:
    (problem,) = check_waivers(
        load_waivers(write(expires=date(2026, 12, 1))), sample_fleet, catalog, TODAY
    )
    assert problem.file.endswith("compliance/waivers.yaml")
    assert problem.path == "waivers[0].expires"
    assert "has passed (today is 2026-12-06)" in problem.message
    assert "delete the waiver" in problem.hint


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("[]", "<document>"),
        ("waivers: {}", "waivers"),
        ("waivers: [3]", "waivers[0]"),
    ],
)
def test_a_document_that_is_not_waivers_is_refused(
    tmp_path: Path, document: str, path: str
) -> None:
    file = tmp_path / "waivers.yaml"
    file.write_text(document)
    with pytest.raises(WaiverError) as raised:
        load_waivers(file)
    assert [p.path for p in raised.value.problems] == [path]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"tier": "county"}, "waivers[0]"),
        ({"region": None}, "waivers[0]"),
        ({"resources": []}, "waivers[0].resources"),
        ({"resources": "tonglu-portal-1"}, "waivers[0].resources"),
        ({"expires": "next year"}, "waivers[0].expires"),
        ({"approved": None}, "waivers[0].approved"),
        ({"control": None}, "waivers[0].control"),
        ({"approver_email": "x"}, "waivers[0].approver_email"),
    ],
)
def test_a_waiver_that_cannot_be_read_is_refused(
    write: WriteWaivers, changes: dict[str, Any], path: str
) -> None:
    with pytest.raises(WaiverError) as raised:
        load_waivers(write(**changes))
    assert [p.path for p in raised.value.problems] == [path]


def test_an_id_used_twice_is_refused(write: WriteWaivers) -> None:
    with pytest.raises(WaiverError) as raised:
        load_waivers(write(GOOD, GOOD))
    assert [p.path for p in raised.value.problems] == ["waivers[1].id"]


def test_a_yaml_syntax_error_is_a_waiver_error(tmp_path: Path) -> None:
    file = tmp_path / "waivers.yaml"
    file.write_text("waivers: [\n")
    with pytest.raises(WaiverError) as raised:
        load_waivers(file)
    assert raised.value.problems[0].rule == "yaml-syntax"


def _waiver(**changes: Any) -> Waiver:
    fields = GOOD | {"resources": ("tonglu-portal-*",), "tier": None} | changes
    return Waiver(**fields)


@pytest.mark.parametrize(
    ("waiver", "args", "covered"),
    [
        (_waiver(), ("tonglu", "county", "8.1.4.3a"), True),
        (_waiver(), ("tonglu", "county", "8.1.4.3a", "tonglu-portal-2"), True),
        (_waiver(), ("tonglu", "county", "8.1.4.3a", "tonglu-hotline-1"), False),
        (_waiver(), ("tonglu", "county", "8.1.4.1a"), False),
        (_waiver(), ("chunan", "county", "8.1.4.3a"), False),
        (_waiver(region=None, tier="county"), ("chunan", "county", "8.1.4.3a"), True),
        (_waiver(region=None, tier="county"), ("hangzhou", "city", "8.1.4.3a"), False),
    ],
)
def test_covers(waiver: Waiver, args: tuple[str, ...], covered: bool) -> None:
    assert waiver.covers(*args) is covered


def test_the_sample_waivers_hold_for_180_days_from_today(
    sample_fleet: Fleet, catalog: Catalog
) -> None:
    waivers = load_waivers(WAIVERS_FILE)
    assert waivers, "the sample shows at least one real waiver"
    last_day = TODAY + timedelta(days=180)
    for today in (TODAY, last_day):
        assert check_waivers(waivers, sample_fleet, catalog, today) == []
    assert check_waivers(waivers, sample_fleet, catalog, last_day + timedelta(days=1))


def test_validate_fails_on_an_expired_waiver_beside_the_configuration(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_dir.parent / "compliance" / "waivers.yaml"
    path.parent.mkdir()
    document = {"waivers": [GOOD | {"approved": date(2025, 1, 1), "expires": date(2025, 6, 1)}]}
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    assert main(["--config", str(config_dir), "validate"]) == 1
    err = capsys.readouterr().err
    assert "compliance/waivers.yaml: waivers[0].expires: has passed" in err
    assert "[waiver-expired]" in err


def test_validate_reports_a_waivers_file_it_cannot_read(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_dir.parent / "compliance" / "waivers.yaml"
    path.parent.mkdir()
    path.write_text("waivers: {}\n")
    assert main(["--config", str(config_dir), "validate", "--format", "json"]) == 1
    assert '"rule": "waiver-shape"' in capsys.readouterr().out
