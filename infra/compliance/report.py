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
from functools import cached_property
from pathlib import Path
from typing import Any

from infra.compliance.catalog import Catalog
from infra.compliance.results import NO_EVIDENCE, StackResults, load_results
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

    @cached_property
    def _counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for status in self.statuses:
            counts[status.status] += 1
        return counts

    def counts(self) -> dict[str, int]:
        return dict(self._counts)


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
    region: Region,
    catalog: Catalog,
    waivers: Sequence[Waiver],
    results: StackResults,
    unproven: dict[str, tuple[ControlStatus, ...]] | None = None,
) -> RegionReport:
    """`unproven`, when given, holds the statuses of a region without evidence or waivers
    per target: they depend on nothing else, and most of a national fleet is such regions."""
    tier = region.tier.value
    own = tuple(
        w for w in waivers if w.applies_to(region.stack, tier) or w.applies_to(region.code, tier)
    )
    shared = unproven if not own and results == NO_EVIDENCE else None
    if shared is not None and region.target in shared:
        return RegionReport(region, results, own, shared[region.target])
    statuses = tuple(control_status(c, region, results, own) for c in catalog.controls)
    if shared is not None:
        shared[region.target] = statuses
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
    unproven: dict[str, tuple[ControlStatus, ...]] = {}
    return ComplianceReport(
        catalog,
        tuple(
            region_report(r, catalog, waivers, load_results(r.stack, evidence_root), unproven)
            for r in chosen
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
    """An item's status in a region; what is empty is left out (the titles, class and
    tags are the catalogue's, given once at the top)."""
    verify = results.verify
    failures = {
        test: verify.tests[test].failures
        for test in status.host_tests
        if verify and test in verify.tests and verify.tests[test].failures
    }
    data: dict[str, Any] = {"status": status.status, "why": status.why}
    optional = {
        "underlying": status.underlying if status.underlying != status.status else None,
        "host_tests": status.host_tests,
        "host_test_failures": failures,
        "policies": status.policies,
        "waivers": list(status.waivers),
    }
    data.update({key: value for key, value in optional.items() if value})
    return data


def catalog_data(catalog: Catalog) -> dict[str, Any]:
    return {
        "standard": catalog.standard,
        "level": catalog.level,
        "controls": {
            c.id: {
                "title_zh": c.title_zh,
                "title_en": c.title_en,
                "class": c.status,
                "policies": list(c.policies),
                "ansible_tags": list(c.ansible_tags),
                "host_tests": list(c.host_tests),
                "targets": list(c.targets),
            }
            for c in catalog.controls
        },
    }


def _controls_data(entry: RegionReport, shared: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The items' data; regions sharing their statuses (no evidence, no waiver) share it."""
    if entry.results != NO_EVIDENCE:
        return {s.control.id: status_data(s, entry.results) for s in entry.statuses}
    key = id(entry.statuses)
    if key not in shared:
        shared[key] = {s.control.id: status_data(s, entry.results) for s in entry.statuses}
    return shared[key]


def region_data(
    entry: RegionReport, shared: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
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
        "controls": _controls_data(entry, {} if shared is None else shared),
    }


def report_data(report: ComplianceReport) -> dict[str, Any]:
    shared: dict[int, dict[str, Any]] = {}
    return {
        "catalog": catalog_data(report.catalog),
        "statuses": list(STATUSES),
        "summary": {
            "regions": {e.region.stack: e.counts() for e in report.regions},
            "tiers": report.counts_by_tier(),
        },
        "regions": [region_data(e, shared) for e in report.regions],
    }


def render_json(report: ComplianceReport) -> str:
    """Everything, with sorted keys: stable for review tools and diffs. Compact, because
    only then does the json module use its C encoder: a national fleet's report takes
    seconds instead of a minute (`jq .` indents it for reading)."""
    text = json.dumps(
        report_data(report), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return text + "\n"
