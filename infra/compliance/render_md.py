"""The compliance report as Markdown for a pull-request comment.

GitHub refuses a comment longer than 65,536 characters, so the text is built to fit:
the fleet summary first, then per region its summary, every item that is not passing
(failing and waived with their evidence, enforced ones a row each) and the passing ones
collapsed in <details>. A region whose section no longer fits is reduced to its summary
line, with the command that shows it in full.
"""

from __future__ import annotations

from collections.abc import Iterable

from infra.compliance.report import ComplianceReport, RegionReport
from infra.compliance.results import (
    HardeningResults,
    PolicyResults,
    StackResults,
    VerifyResults,
)
from infra.compliance.status import (
    ENFORCED,
    FAILING,
    PASSING,
    STATUSES,
    WAIVED,
    ControlStatus,
)

COMMENT_LIMIT = 65_536
# Kept free for the closing note, so the limit holds whatever is cut.
_RESERVE = 600
# Region rows in the summary of a large fleet (about 80 characters each).
SUMMARY_ROWS = 150


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table(header: list[str], rows: Iterable[Iterable[object]]) -> list[str]:
    return [_row(header), _row("---" for _ in header), *(_row(r) for r in rows)]


def _day(entry: VerifyResults | PolicyResults | HardeningResults) -> str:
    return entry.recorded_at.date().isoformat()


def evidence_lines(results: StackResults, stack: str) -> list[str]:
    verify, pack, hardening = results.verify, results.policies, results.hardening
    lines = []
    if verify is not None:
        counts = verify.counts()
        text = (
            f"- verify ({_day(verify)}): {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
        if verify.unreachable:
            text += f"; unreachable: {'; '.join(verify.unreachable)}"
        lines.append(text)
    else:
        lines.append(f"- verify: none recorded yet (`regionstack verify {stack}`)")
    if pack is not None:
        violated = sorted(n for n, p in pack.policies.items() if not p.clean)
        lines.append(
            f"- policies ({_day(pack)}): {len(pack.policies)} evaluated, "
            f"{len(violated)} with violations{': ' + ', '.join(violated) if violated else ''}"
        )
    else:
        lines.append(f"- policies: none recorded yet (`regionstack compliance policies {stack}`)")
    if hardening is not None:
        index, rate = hardening.hardening_index, hardening.pass_rate
        lynis = f"Lynis index {min(index)}-{max(index)}" if index else "no Lynis index"
        scap = f"OpenSCAP pass rate {min(rate):.0%}-{max(rate):.0%}" if rate else "no OpenSCAP rate"
        lines.append(f"- hardening ({_day(hardening)}): {hardening.hosts} hosts, {lynis}, {scap}")
    return lines


def _detail(status: ControlStatus, results: StackResults) -> list[str]:
    control = status.control
    lines = [f"- **{control.id}** {_cell(control.title_zh)} — {status.status}: {status.why}"]
    if status.status == WAIVED:
        lines.append(f"  - without the waiver: {status.underlying}")
    verify = results.verify
    for test, outcome in sorted(status.host_tests.items()):
        lines.append(f"  - `{test}`: {outcome}")
        if verify is not None and test in verify.tests:
            lines += [f"    - {f[:200]}" for f in verify.tests[test].failures[:5]]
    pack = results.policies
    for name, outcome in sorted(status.policies.items()):
        lines.append(f"  - policy `{name}`: {outcome}")
        if pack is not None:
            lines += [
                f"    - {v.get('resource', '')}: {v.get('message', '')[:200]}"
                for v in pack.policies[name].violations[:5]
            ]
    return lines


def region_section(entry: RegionReport) -> str:
    region, results = entry.region, entry.results
    counts = entry.counts()
    lines = [
        f"### {region.stack} {region.name} ({region.code}, {region.tier.value}, {region.target})",
        "",
        " · ".join(f"{status}: {counts[status]}" for status in STATUSES),
        "",
        *evidence_lines(results, region.stack),
        "",
    ]
    shown = [s for s in entry.statuses if s.status in (FAILING, WAIVED)]
    for status in sorted(shown, key=lambda s: (STATUSES.index(s.status), s.control.id)):
        lines += _detail(status, results)
    enforced = [s for s in entry.statuses if s.status == ENFORCED]
    if enforced:
        lines += ["", f"{len(enforced)} enforced, not yet verified:", ""]
        lines += _table(
            ["item", "title", "why"],
            ([s.control.id, s.control.title_en, s.why] for s in enforced),
        )
    lines += [""] if entry.waivers else []
    for waiver in entry.waivers:
        lines.append(
            f"- waiver **{waiver.id}** ({waiver.control}; {', '.join(waiver.resources)}): "
            f"{_cell(waiver.reason)} — owner {waiver.owner}, approved by {waiver.approver}, "
            f"{waiver.ticket}, {waiver.approved}–{waiver.expires}"
        )
    passing = [s for s in entry.statuses if s.status in PASSING]
    if passing:
        lines += [
            "",
            f"<details><summary>{len(passing)} passing</summary>",
            "",
            *_table(
                ["item", "status", "title"],
                ([s.control.id, s.status, s.control.title_en] for s in passing),
            ),
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def _worst_first(entry: RegionReport) -> tuple[int, ...]:
    counts = entry.counts()
    return tuple(-counts[s] for s in (FAILING, WAIVED, ENFORCED))


def summary_section(report: ComplianceReport) -> str:
    """Counts per tier, then per region - the worst `SUMMARY_ROWS` regions of a large fleet."""
    lines = ["### Fleet summary", ""]
    lines += _table(
        ["tier", *STATUSES],
        (
            [tier, *(counts[s] for s in STATUSES)]
            for tier, counts in report.counts_by_tier().items()
        ),
    )
    regions = list(report.regions)
    if len(regions) > SUMMARY_ROWS:
        regions = sorted(regions, key=_worst_first)[:SUMMARY_ROWS]
        lines += [
            "",
            f"The {SUMMARY_ROWS} regions with the most failing, waived and unverified items:",
        ]
    lines += [""]
    lines += _table(
        ["region", "tier", "target", *STATUSES],
        (
            [
                e.region.stack,
                e.region.tier.value,
                e.region.target,
                *(e.counts()[s] for s in STATUSES),
            ]
            for e in regions
        ),
    )
    return "\n".join(lines) + "\n"


def render_markdown(report: ComplianceReport, limit: int = COMMENT_LIMIT) -> str:
    """The report as one pull-request comment of at most `limit` characters."""
    catalog = report.catalog
    parts = [
        f"## {catalog.standard} level {catalog.level} compliance: "
        f"{len(report.regions)} region(s), {len(catalog.controls)} items\n"
    ]
    if len(report.regions) > 1:
        parts.append(summary_section(report))
    cut: list[str] = []
    used = sum(map(len, parts))
    for entry in report.regions:
        # Once one region does not fit, neither do the rest: they follow in fleet order.
        section = "" if cut else region_section(entry)
        if cut or used + len(section) + _RESERVE > limit:
            cut.append(entry.region.stack)
            continue
        parts.append(section)
        used += len(section) + 1
    if cut:
        note = (
            f"\n{len(cut)} region(s) not shown in full to fit a comment; "
            "`regionstack compliance report REGION` shows one, `--format html` all.\n"
        )
        if used + len(note) > limit:  # the summary alone is too long
            parts = parts[:1]
        parts.append(note)
    return "\n".join(parts)
