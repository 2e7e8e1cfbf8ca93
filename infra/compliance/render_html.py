"""The compliance report as one offline HTML file for an auditor: inline CSS, inline SVG,
no script and nothing fetched, so it opens the same anywhere and can be archived.

Per region: its summary, its architecture drawn from the configuration
(infra/compliance/architecture.py) with the flows numbered, the evidence with its dates,
every catalogue item with its status, and the waivers. A fleet report starts with the
counts per tier and per region; past `DETAIL_REGIONS` regions each region shows only its
summary and the items that are failing or waived, so a national fleet stays one file a
browser opens.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from infra.compliance.architecture import Architecture, architecture, render_svg
from infra.compliance.render_md import evidence_lines
from infra.compliance.report import ComplianceReport, RegionReport
from infra.compliance.status import FAILING, STATUSES, WAIVED, ControlStatus
from infra.config.loader import Fleet

DETAIL_REGIONS = 50

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:0.25em 0.5em;text-align:left;vertical-align:top}
th{background:#eee}
.failing{background:#f8d0d0}.waived{background:#fbe8b8}.enforced{background:#e8eefc}
.enforced-verified{background:#d5f0d5}.process{background:#eee}.not-applicable{color:#777}
section.region{border-top:3px solid #446;margin-top:2em}
svg.architecture{border:1px solid #ccc;background:#fcfcfc}
svg .zone{fill:#eef3fa;stroke:#557}
svg .node{fill:#fff;stroke:#335}
svg .outside{fill:#fff6e0;stroke:#a80}
svg .flow{fill:none;stroke:#a33;stroke-width:1.3}
svg .arrowhead{fill:#a33}
svg text{font-size:12px}
svg .zone-label,svg .node-label{font-weight:bold}
svg .flow-label{fill:#a33;font-weight:bold}
"""


def _rows(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _counts_row(counts: dict[str, int]) -> list[object]:
    return [counts[s] for s in STATUSES]


def _status_rows(statuses: Iterable[ControlStatus]) -> str:
    rows = []
    for s in statuses:
        evidence = [f"{t}: {o}" for t, o in sorted(s.host_tests.items())]
        evidence += [f"policy {p}: {o}" for p, o in sorted(s.policies.items())]
        if s.status == WAIVED:
            evidence.append(f"without the waiver: {s.underlying}")
        cells = [s.control.id, f"{s.control.title_zh} / {s.control.title_en}", s.status, s.why]
        rows.append(
            f'<tr class="{s.status}">'
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + f"<td>{'<br>'.join(escape(e) for e in evidence)}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("item", "title", "status", "why", "evidence"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _architecture(arch: Architecture) -> str:
    legend = _rows(
        ["#", "flow", "from", "to", "ports"],
        (
            [e.number, e.flow, e.source, e.destination, ", ".join(map(str, e.ports))]
            for e in arch.edges
        ),
    )
    return f"<h3>Architecture</h3>{render_svg(arch)}{legend}"


def region_section(entry: RegionReport, fleet: Fleet, detailed: bool) -> str:
    region = entry.region
    title = f"{region.stack} {region.name} ({region.code}, {region.tier.value}, {region.target})"
    parts = [
        f'<section class="region" id="{escape(region.stack)}"><h2>{escape(title)}</h2>',
        _rows(STATUSES, [_counts_row(entry.counts())]),
        "<h3>Evidence</h3><ul>",
        *(f"<li>{escape(line[2:])}</li>" for line in evidence_lines(entry.results, region.stack)),
        "</ul>",
    ]
    if detailed:
        parts.append(_architecture(architecture(fleet, region)))
        parts.append("<h3>Items</h3>" + _status_rows(entry.statuses))
    else:
        shown = [s for s in entry.statuses if s.status in (FAILING, WAIVED)]
        if shown:
            parts.append("<h3>Failing and waived items</h3>" + _status_rows(shown))
    if entry.waivers:
        parts.append(
            "<h3>Waivers</h3>"
            + _rows(
                ["id", "item", "resources", "owner", "approver", "ticket", "dates", "reason"],
                (
                    [
                        w.id,
                        w.control,
                        ", ".join(w.resources),
                        w.owner,
                        w.approver,
                        w.ticket,
                        f"{w.approved} – {w.expires}",
                        w.reason,
                    ]
                    for w in entry.waivers
                ),
            )
        )
    parts.append("</section>")
    return "".join(parts)


def render_html(report: ComplianceReport, fleet: Fleet) -> str:
    catalog = report.catalog
    heading = f"{catalog.standard} level {catalog.level} compliance report"
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(heading)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(heading)}</h1>",
        f"<p>{len(report.regions)} region(s), {len(catalog.controls)} catalogue items.</p>",
    ]
    detailed = len(report.regions) <= DETAIL_REGIONS
    if len(report.regions) > 1:
        parts.append("<h2>Fleet summary</h2>")
        parts.append(
            _rows(
                ["tier", *STATUSES],
                ([t, *_counts_row(c)] for t, c in report.counts_by_tier().items()),
            )
        )
        parts.append(
            _rows(
                ["region", "tier", "target", *STATUSES],
                (
                    [e.region.stack, e.region.tier.value, e.region.target, *_counts_row(e.counts())]
                    for e in report.regions
                ),
            )
        )
        if not detailed:
            parts.append(
                f"<p>More than {DETAIL_REGIONS} regions: each shows its failing and waived "
                "items; `regionstack compliance report REGION --format html` shows one in "
                "full, with its architecture.</p>"
            )
    parts += [region_section(e, fleet, detailed) for e in report.regions]
    parts.append("</body></html>\n")
    return "".join(parts)
