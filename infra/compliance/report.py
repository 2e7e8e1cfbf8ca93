"""`regionstack compliance report`: per region and catalogue item, the status, the evidence
behind it and the waivers, for reviewers (Markdown, infra/compliance/render_md.py), review
tools (JSON, here) and auditors (one offline HTML file, infra/compliance/render_html.py).

The report is a pure function of the configuration, the catalogue, the waivers and the
recorded evidence: the same inputs give the same bytes (nothing in it is "now").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.compliance.catalog import Catalog
from infra.compliance.results import StackResults, load_results
from infra.compliance.status import STATUSES, ControlStatus, control_status
from infra.compliance.waivers import Waiver
from infra.config.loader import Fleet
from infra.config.schema import Region

FORMATS = ("md", "json", "html")


@dataclass(frozen=True)
class RegionReport:
    region: Region
    results: StackResults
    waivers: tuple[Waiver, ...]  # those whose scope holds the region
    statuses: tuple[ControlStatus, ...]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for status in self.statuses:
            counts[status.status] += 1
        return counts


@dataclass(frozen=True)
class ComplianceReport:
    catalog: Catalog
    regions: tuple[RegionReport, ...]

    def counts_by_tier(self) -> dict[str, dict[str, int]]:
        tiers: dict[str, dict[str, int]] = {}
        for entry in self.regions:
            totals = tiers.setdefault(entry.region.tier.value, dict.fromkeys(STATUSES, 0))
            for status, count in entry.counts().items():
                totals[status] += count
        return dict(sorted(tiers.items()))


def region_report(
    region: Region, catalog: Catalog, waivers: Sequence[Waiver], results: StackResults
) -> RegionReport:
    tier = region.tier.value
    own = tuple(
        w for w in waivers if w.applies_to(region.stack, tier) or w.applies_to(region.code, tier)
    )
    statuses = tuple(control_status(c, region, results, own) for c in catalog.controls)
    return RegionReport(region, results, own, statuses)


def build_report(
    fleet: Fleet,
    catalog: Catalog,
    waivers: Sequence[Waiver],
    regions: Sequence[Region],
    evidence_root: Path | None = None,
) -> ComplianceReport:
    """The report of `regions` (in fleet order), with each one's latest evidence."""
    order = {r.code: i for i, r in enumerate(fleet.regions)}
    chosen = sorted({r.code: r for r in regions}.values(), key=lambda r: order[r.code])
    return ComplianceReport(
        catalog,
        tuple(
            region_report(r, catalog, waivers, load_results(r.stack, evidence_root)) for r in chosen
        ),
    )


# --- JSON ------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.isoformat()


def evidence_data(results: StackResults) -> dict[str, Any]:
    """The evidence of a stack as plain data (None for a kind not recorded yet)."""
    verify, pack, hardening = results.verify, results.policies, results.hardening
    return {
        "verify": verify
        and {
            "recorded_at": _when(verify.recorded_at),
            "revision": verify.revision,
            "counts": verify.counts(),
            "unreachable": list(verify.unreachable),
        },
        "policies": pack
        and {
            "recorded_at": _when(pack.recorded_at),
            "ran_at": pack.ran_at,
            "policies": {
                name: {
                    "enforcement": p.enforcement,
                    "violations": list(p.violations),
                    "waived": list(p.waived),
                }
                for name, p in pack.policies.items()
            },
        },
        "hardening": hardening
        and {
            "recorded_at": _when(hardening.recorded_at),
            "hosts": hardening.hosts,
            "lynis_hardening_index": list(hardening.hardening_index),
            "openscap_pass_rate": list(hardening.pass_rate),
        },
    }


def waiver_data(waiver: Waiver) -> dict[str, Any]:
    return {
        "id": waiver.id,
        "control": waiver.control,
        "region": waiver.region,
        "tier": waiver.tier,
        "resources": list(waiver.resources),
        "owner": waiver.owner,
        "approver": waiver.approver,
        "ticket": waiver.ticket,
        "reason": waiver.reason,
        "approved": waiver.approved.isoformat(),
        "expires": waiver.expires.isoformat(),
    }


def status_data(status: ControlStatus, results: StackResults) -> dict[str, Any]:
    verify = results.verify
    failures = {
        test: verify.tests[test].failures
        for test in status.host_tests
        if verify and test in verify.tests and verify.tests[test].failures
    }
    return {
        "id": status.control.id,
        "title_zh": status.control.title_zh,
        "title_en": status.control.title_en,
        "class": status.control.status,
        "status": status.status,
        "underlying": status.underlying,
        "why": status.why,
        "host_tests": status.host_tests,
        "host_test_failures": failures,
        "policies": status.policies,
        "ansible_tags": list(status.control.ansible_tags),
        "waivers": list(status.waivers),
    }


def region_data(entry: RegionReport) -> dict[str, Any]:
    region = entry.region
    return {
        "region": {
            "code": region.code,
            "name": region.name,
            "stack": region.stack,
            "tier": region.tier.value,
            "target": region.target,
            "parent": region.parent,
        },
        "counts": entry.counts(),
        "evidence": evidence_data(entry.results),
        "waivers": [waiver_data(w) for w in entry.waivers],
        "controls": [status_data(s, entry.results) for s in entry.statuses],
    }


def report_data(report: ComplianceReport) -> dict[str, Any]:
    return {
        "catalog": {"standard": report.catalog.standard, "level": report.catalog.level},
        "statuses": list(STATUSES),
        "summary": {
            "regions": {e.region.stack: e.counts() for e in report.regions},
            "tiers": report.counts_by_tier(),
        },
        "regions": [region_data(e) for e in report.regions],
    }


def render_json(report: ComplianceReport) -> str:
    """Everything, with sorted keys: stable for review tools and diffs."""
    return json.dumps(report_data(report), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
