"""The fleet drift report: findings grouped by cause, one row per cause with the regions,
hosts and resources where it was seen and the MLPS items it touches.

Both renderings are deterministic (same scan results, byte-identical output): rows sorted
by kind, component, item and property; every list sorted; no timings or dates (the scan
prints those as it goes). A region whose scan failed is listed with its error: it is not
known to be clean.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.fleet.drift_causes import Cause, Finding

CLEAN, DRIFTED, FAILED = "clean", "drifted", "failed"


@dataclass(frozen=True)
class RegionScan:
    """What the scan of one region found, or why it could not finish."""

    region: str
    findings: tuple[Finding, ...] = ()
    error: str = ""
    # Seconds each read took ("preview", "verify"): printed as the scan goes, never in
    # the report (which must not change from one scan of the same state to the next).
    seconds: tuple[tuple[str, float], ...] = ()

    @property
    def status(self) -> str:
        if self.error:
            return FAILED
        return DRIFTED if self.findings else CLEAN


@dataclass
class CauseRow:
    cause: Cause
    findings: list[Finding] = field(default_factory=list)

    def _sorted(self, values: Iterable[str]) -> list[str]:
        return sorted({v for v in values if v})

    @property
    def regions(self) -> list[str]:
        return self._sorted(f.region for f in self.findings)

    @property
    def hosts(self) -> list[str]:
        return self._sorted(f.host for f in self.findings)

    @property
    def resources(self) -> list[str]:
        return self._sorted(f.resource for f in self.findings)

    @property
    def controls(self) -> list[str]:
        return self._sorted(c for f in self.findings for c in f.controls)


def group_by_cause(scans: Iterable[RegionScan]) -> list[CauseRow]:
    rows: dict[Cause, CauseRow] = {}
    for scan in scans:
        for finding in scan.findings:
            rows.setdefault(finding.cause, CauseRow(finding.cause)).findings.append(finding)
    return [rows[cause] for cause in sorted(rows, key=Cause.sort_key)]


def _summary(scans: Sequence[RegionScan], rows: Sequence[CauseRow]) -> dict[str, int]:
    return {
        "regions": len(scans),
        CLEAN: sum(s.status == CLEAN for s in scans),
        DRIFTED: sum(s.status == DRIFTED for s in scans),
        FAILED: sum(s.status == FAILED for s in scans),
        "causes": len(rows),
        "findings": sum(len(s.findings) for s in scans),
    }


def report_json(scans: Sequence[RegionScan]) -> str:
    scans = sorted(scans, key=lambda s: s.region)
    rows = group_by_cause(scans)
    document: dict[str, Any] = {
        "summary": _summary(scans, rows),
        "regions": [
            {"region": s.region, "status": s.status, "findings": len(s.findings), "error": s.error}
            for s in scans
        ],
        "causes": [
            {
                "kind": row.cause.kind,
                "component": row.cause.component,
                "item": row.cause.item,
                "property": row.cause.property,
                "controls": row.controls,
                "regions": row.regions,
                "hosts": row.hosts,
                "resources": row.resources,
                "findings": sorted(
                    (
                        {"region": f.region, "host": f.host, "detail": f.detail}
                        for f in row.findings
                    ),
                    key=lambda f: (f["region"], f["host"], f["detail"]),
                ),
            }
            for row in rows
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _cell(values: Sequence[str], limit: int = 6) -> str:
    """A table cell of a list: the first few and how many more (a national row lists
    hundreds of regions; the JSON has them all)."""
    if not values:
        return "—"
    shown = ", ".join(values[:limit])
    more = f" (+{len(values) - limit} more)" if len(values) > limit else ""
    return (shown + more).replace("|", "\\|")


def _escape(text: str) -> str:
    return text.replace("|", "\\|") if text else "—"


def report_md(scans: Sequence[RegionScan]) -> str:
    scans = sorted(scans, key=lambda s: s.region)
    rows = group_by_cause(scans)
    summary = _summary(scans, rows)
    lines = [
        "# Fleet drift",
        "",
        f"{summary['regions']} region(s) scanned: {summary[CLEAN]} clean, "
        f"{summary[DRIFTED]} drifted, {summary[FAILED]} could not be scanned; "
        f"{summary['findings']} finding(s) in {summary['causes']} cause(s).",
        "",
    ]
    if rows:
        lines += [
            "| # | kind | component | what drifted | property | MLPS items | regions | hosts |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for number, row in enumerate(rows, 1):
            cause = row.cause
            lines.append(
                f"| {number} | {cause.kind} | {_escape(cause.component)} | {_escape(cause.item)} "
                f"| {_escape(cause.property)} | {_cell(row.controls)} "
                f"| {len(row.regions)}: {_cell(row.regions)} | {_cell(row.hosts)} |"
            )
        lines.append("")
    failed = [s for s in scans if s.status == FAILED]
    if failed:
        lines += ["## Regions that could not be scanned", ""]
        lines += [f"- {s.region}: {s.error.splitlines()[0] if s.error else ''}" for s in failed]
        lines.append("")
    return "\n".join(lines)
