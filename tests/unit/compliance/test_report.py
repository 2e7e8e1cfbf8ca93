"""The report: built for the sample with and without evidence, JSON complete and stable,
Markdown within a pull-request comment, the fleet summary first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.compliance import evidence
from infra.compliance.catalog import Catalog
from infra.compliance.render_md import COMMENT_LIMIT, render_markdown
from infra.compliance.report import build_report, render_json
from infra.compliance.waivers import WAIVERS_FILE, Waiver, load_waivers
from infra.config.loader import Fleet

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def waivers() -> list[Waiver]:
    return load_waivers(WAIVERS_FILE)


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """chunan's evidence: the fixture JUnit and policy results."""
    evidence.record(
        "chunan", evidence.VERIFY_JUNIT, (FIXTURES / "verify.xml").read_bytes(), tmp_path
    )
    evidence.record(
        "chunan", evidence.POLICY_RESULTS, (FIXTURES / "policies.json").read_bytes(), tmp_path
    )
    return tmp_path


def test_the_sample_renders_with_no_evidence_at_all(
    sample_fleet: Fleet, catalog: Catalog, waivers: list[Waiver], tmp_path: Path
) -> None:
    report = build_report(sample_fleet, catalog, waivers, sample_fleet.regions, tmp_path)
    data = json.loads(render_json(report))
    assert [r["region"]["stack"] for r in data["regions"]] == [
        "zhejiang",
        "hangzhou",
        "chunan",
        "tonglu",
        "ningxia",
    ]
    tonglu = data["regions"][3]
    assert tonglu["evidence"] == {"verify": None, "policies": None, "hardening": None}
    assert {item: c["status"] for item, c in tonglu["controls"].items()} == {
        "8.1.4.1a": "enforced",
        "8.1.4.3a": "waived",
        "8.1.4.8a": "not-applicable",
        "8.1.4.9a": "process",
        "8.1.3.1c": "not-applicable",
    }
    assert [w["id"] for w in tonglu["waivers"]] == ["W-2026-001"]
    assert data["summary"]["tiers"]["county"]["waived"] == 1
    markdown = render_markdown(report)
    assert "none recorded yet (`regionstack verify tonglu`)" in markdown


def test_json_is_stable_and_sorted(
    sample_fleet: Fleet, catalog: Catalog, waivers: list[Waiver], recorded: Path
) -> None:
    regions = [sample_fleet.region("chunan")]
    first = render_json(build_report(sample_fleet, catalog, waivers, regions, recorded))
    again = render_json(build_report(sample_fleet, catalog, waivers, regions, recorded))
    assert first == again
    assert (
        first
        == json.dumps(json.loads(first), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        + "\n"
    )


def test_the_catalogue_is_given_once_in_the_json(
    sample_fleet: Fleet, catalog: Catalog, tmp_path: Path
) -> None:
    report = build_report(sample_fleet, catalog, [], [sample_fleet.region("chunan")], tmp_path)
    data = json.loads(render_json(report))
    entry = data["catalog"]["controls"]["8.1.4.8a"]
    assert (entry["class"], entry["targets"]) == ("technical", ["aws"])
    assert "title_en" not in data["regions"][0]["controls"]["8.1.4.8a"]


def test_the_evidence_and_its_date_are_in_every_format(
    sample_fleet: Fleet, catalog: Catalog, recorded: Path
) -> None:
    report = build_report(sample_fleet, catalog, [], [sample_fleet.region("chunan")], recorded)
    data = json.loads(render_json(report))["regions"][0]
    ssh = data["controls"]["8.1.4.1a"]
    assert ssh["status"] == "failing"
    assert ssh["host_test_failures"] == {
        "tests/hosts/test_common.py::test_sshd_effective_setting": [
            "test_sshd_effective_setting[chunan-hotline-1-PermitRootLogin-no]: PermitRootLogin is yes"
        ]
    }
    assert data["evidence"]["verify"]["counts"] == {"failed": 2, "passed": 3, "skipped": 1}
    assert data["evidence"]["policies"]["ran_at"] == "2026-12-05T10:00:00+00:00"
    markdown = render_markdown(report)
    day = data["evidence"]["verify"]["recorded_at"][:10]
    assert f"- verify ({day}): 3 passed, 2 failed, 1 skipped" in markdown
    assert "**8.1.4.1a** 身份鉴别 — failing" in markdown
    assert "PermitRootLogin is yes" in markdown
    assert "policy `local-hosts-have-common-baseline`: failed" in markdown
    assert "no baseline: add the common role" in markdown


def test_markdown_collapses_the_passing_items(
    sample_fleet: Fleet, catalog: Catalog, tmp_path: Path
) -> None:
    report = build_report(sample_fleet, catalog, [], [sample_fleet.region("chunan")], tmp_path)
    markdown = render_markdown(report)
    assert "<details><summary>3 passing</summary>" in markdown
    assert "Fleet summary" not in markdown  # one region: no fleet summary


def test_markdown_of_many_regions_starts_with_the_fleet_summary(
    sample_fleet: Fleet, catalog: Catalog, tmp_path: Path
) -> None:
    report = build_report(sample_fleet, catalog, [], sample_fleet.regions, tmp_path)
    markdown = render_markdown(report)
    assert markdown.index("### Fleet summary") < markdown.index("### zhejiang")
    assert "| county | 0 | 0 | 4 | 0 | 2 | 4 |" in markdown


def test_markdown_fits_the_limit_by_leaving_regions_out(
    sample_fleet: Fleet, catalog: Catalog, tmp_path: Path
) -> None:
    report = build_report(sample_fleet, catalog, [], sample_fleet.regions, tmp_path)
    full = render_markdown(report)
    limit = len(full) - 500
    cut = render_markdown(report, limit)
    assert len(full) <= COMMENT_LIMIT and len(cut) <= limit
    assert "region(s) not shown in full to fit a comment" in cut
    assert "### Fleet summary" in cut


def test_regions_without_evidence_share_their_statuses_but_not_a_waived_one(
    sample_fleet: Fleet, catalog: Catalog, waivers: list[Waiver], tmp_path: Path
) -> None:
    report = build_report(sample_fleet, catalog, waivers, sample_fleet.regions, tmp_path)
    by_stack = {e.region.stack: e for e in report.regions}
    assert by_stack["chunan"].statuses is by_stack["zhejiang"].statuses
    assert by_stack["tonglu"].counts()["waived"] == 1
    assert by_stack["chunan"].counts()["waived"] == 0
