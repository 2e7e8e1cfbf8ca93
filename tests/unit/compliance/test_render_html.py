"""The auditor's HTML: one offline file with the architecture, items, evidence, waivers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.compliance import render_html as html_module
from infra.compliance.catalog import Catalog
from infra.compliance.render_html import render_html
from infra.compliance.report import build_report
from infra.compliance.waivers import WAIVERS_FILE, load_waivers
from infra.config.loader import Fleet


def test_one_region_in_full_with_nothing_external(
    sample_fleet: Fleet, catalog: Catalog, tmp_path: Path
) -> None:
    report = build_report(
        sample_fleet, catalog, load_waivers(WAIVERS_FILE), [sample_fleet.region("tonglu")], tmp_path
    )
    page = render_html(report, sample_fleet)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"<(script|link|img)\b|src=|url\((?!#)", page)
    assert "<svg" in page and "<h3>Architecture</h3>" in page
    assert '<tr class="waived"><td>8.1.4.3a</td>' in page
    assert "W-2026-001" in page and "SEC-2026-0412" in page
    assert "none recorded yet" in page
    assert "Fleet summary" not in page
    assert page == render_html(report, sample_fleet)


def test_a_large_fleet_shows_each_regions_summary_without_detail(
    sample_fleet: Fleet, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_module, "DETAIL_REGIONS", 2)
    report = build_report(sample_fleet, catalog, [], sample_fleet.regions, tmp_path)
    page = render_html(report, sample_fleet)
    assert page.index("Fleet summary") < page.index('id="zhejiang"')
    assert "More than 2 regions" in page
    assert "<svg" not in page and "<h3>Items</h3>" not in page
