"""The compliance diff as a pull-request comment (md) or as complete data (json).

Both group region by region changes by control: a move by (control, from, to), an
unchanged-status change by (control, status, what changed), with the number of regions,
their tiers and, in Markdown, a few example regions, so a standard change across 3,213
regions stays a table of a few rows. JSON lists every region of every group, sorted, so
the same two revisions always give the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.compliance.design_status import control_order

if TYPE_CHECKING:
    from infra.compliance.diff import Change, Comparison
    from infra.compliance.revision import Snapshot

TIER_ORDER = ("province", "city", "county")
EXAMPLES = 3  # example regions per Markdown row
REASONS_SHOWN = 3  # reasons per Markdown row before "+N more"
TITLE_SHOWN = 48  # characters of a control's title in a Markdown row


@dataclass
class Group:
    control: str
    before: str
    after: str
    regions: set[str] = field(default_factory=set)
    tiers: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    worse: bool = False

    def add(self, change: Change) -> None:
        self.regions.add(change.region)
        self.tiers.add(change.tier)
        self.reasons.update(change.reasons)
        self.worse = self.worse or change.worse

    def to_dict(self, titles: dict[str, str]) -> dict[str, Any]:
        return {
            "control": self.control,
            "title": titles.get(self.control, ""),
            "from": self.before,
            "to": self.after,
            "worse": self.worse,
            "count": len(self.regions),
            "tiers": _tiers(self.tiers),
            "regions": sorted(self.regions),
            "reasons": sorted(self.reasons),
        }


def _tiers(tiers: set[str]) -> list[str]:
    return [t for t in TIER_ORDER if t in tiers]


def _groups(changes: tuple[Change, ...], moved: bool) -> list[Group]:
    groups: dict[tuple[str, ...], Group] = {}
    for change in changes:
        if change.moved != moved:
            continue
        key: tuple[str, ...] = (change.control, change.before, change.after)
        if not moved:  # rows of unchanged status differ by what changed
            key += change.reasons
        groups.setdefault(key, Group(change.control, change.before, change.after)).add(change)
    return sorted(
        groups.values(),
        key=lambda g: (control_order(g.control), g.before, g.after, sorted(g.reasons)),
    )


def _summary(comparison: Comparison) -> dict[str, Any]:
    changes = comparison.changes
    return {
        "controls": len({c.control for c in changes}),
        "regions": len({c.region for c in changes}),
        "tiers": _tiers({c.tier for c in changes}),
        "status_moves": sum(1 for c in changes if c.moved),
        "affected": sum(1 for c in changes if not c.moved),
        "worse": comparison.worse,
    }


def _side(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "revision": snapshot.revision.name,
        "commit": snapshot.revision.commit,
        "valid": snapshot.valid,
        "problems": [p.to_dict() for p in snapshot.problems],
    }


def to_json(comparison: Comparison) -> str:
    document = {
        "base": _side(comparison.base),
        "head": _side(comparison.head),
        "regions_filter": list(comparison.regions),
        "summary": _summary(comparison),
        "moves": [g.to_dict(comparison.titles) for g in _groups(comparison.changes, True)],
        "affected": [g.to_dict(comparison.titles) for g in _groups(comparison.changes, False)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _listed(items: list[str], shown: int) -> str:
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f", +{more} more" if more > 0 else "")


def _row(group: Group, titles: dict[str, str], middle: str) -> str:
    title = titles.get(group.control, "")
    if len(title) > TITLE_SHOWN:
        title = title[: TITLE_SHOWN - 1] + "…"
    control = f"{group.control} {title}".strip()
    cells = (
        control,
        middle,
        f"{len(group.regions):,}",
        ", ".join(_tiers(group.tiers)),
        _listed(sorted(group.regions), EXAMPLES),
        _listed(sorted(group.reasons), REASONS_SHOWN) or "—",
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _validation(snapshot: Snapshot, label: str) -> list[str]:
    if snapshot.valid:
        return []
    name = snapshot.revision.name
    lines = [f"### {label} `{name}` fails validation", "", "```"]
    lines += [p.to_text() for p in snapshot.problems]
    return [*lines, "```", ""]


def to_markdown(comparison: Comparison) -> str:
    base, head = comparison.base.revision, comparison.head.revision
    summary = _summary(comparison)
    lines = [
        f"## Compliance diff `{base.name}` ({base.commit[:8]}) → `{head.name}` ({head.commit[:8]})",
        "",
    ]
    if comparison.regions:
        lines += [f"Regions: {', '.join(comparison.regions)}", ""]
    lines += _validation(comparison.base, "BASE") + _validation(comparison.head, "HEAD")
    if not comparison.changes:
        lines += [
            "No compliance change: no status moves, nothing that enforces a control changed.",
            "",
        ]
        return "\n".join(lines)
    verdict = (
        "**Worse**: a control moves to failing or loses its enforcement."
        if summary["worse"]
        else "Nothing got worse."
    )
    lines += [
        f"{verdict} Controls: {summary['controls']}, regions: {summary['regions']:,}, "
        f"tiers: {', '.join(summary['tiers'])}; {summary['status_moves']:,} status moves, "
        f"{summary['affected']:,} affected with status unchanged (region × control).",
        "",
    ]
    moves = _groups(comparison.changes, True)
    if moves:
        lines += [
            "### Status moves",
            "",
            "| Control | Move | Regions | Tiers | Examples | Why |",
            "|---|---|---|---|---|---|",
        ]
        for g in moves:
            arrow = f"{g.before} → {'**' + g.after + '** ⚠' if g.worse else g.after}"
            lines.append(_row(g, comparison.titles, arrow))
        lines.append("")
    affected = _groups(comparison.changes, False)
    if affected:
        lines += [
            "### Affected (status unchanged)",
            "",
            "| Control | Status | Regions | Tiers | Examples | What changed |",
            "|---|---|---|---|---|---|",
        ]
        for g in affected:
            status = f"{g.after} ⚠" if g.worse else g.after
            lines.append(_row(g, comparison.titles, status))
        lines.append("")
    return "\n".join(lines)


def render(comparison: Comparison, fmt: str) -> str:
    return to_json(comparison) if fmt == "json" else to_markdown(comparison)
