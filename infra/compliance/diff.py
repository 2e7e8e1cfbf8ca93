"""`regionstack compliance diff BASE HEAD [REGION…]`: what a change does to compliance.

Each revision is evaluated at design level (infra/compliance/design_status.py) from its own
files, read from git (infra/compliance/revision.py), and the two are compared region by
region and control by control. A change shows up in two ways:

* a status move (`enforced -> failing`, `enforced -> waived`, …), with why;
* "affected (status unchanged)": what enforces or verifies the control changed (its
  catalogue entry, a policy's source, a tagged role task, a host test, one of its config
  keys in the region's effective config, a waiver touching it).

It is worse, and the command exits 1, when anything moves to `failing`, when an enforced
control stops being enforced (waived, process, not applicable, or dropped from the
catalogue), when a control loses a policy or tag that enforced it, or when HEAD no longer
validates. Usage errors and unknown revisions exit 2.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.compliance.design import value_at
from infra.compliance.design_status import (
    ABSENT,
    ENFORCED,
    FAILING,
    NOT_APPLICABLE_STATUS,
    PROCESS_STATUS,
    TECHNICAL_STATUSES,
    WAIVED,
    Evaluation,
    Status,
    control_order,
    is_standard_key,
)
from infra.compliance.diff_render import render
from infra.compliance.enforcement import Links, catalogue_links
from infra.compliance.revision import RevisionError, Snapshot, load, resolve
from infra.compliance.waivers import Waiver
from infra.config.schema import Region

FORMATS = ("md", "json")
EXIT_UNCHANGED, EXIT_WORSE, EXIT_USAGE = 0, 1, 2
NOT_ENFORCED = frozenset({WAIVED, PROCESS_STATUS, NOT_APPLICABLE_STATUS})
_ABSENT = Status(ABSENT)


@dataclass(frozen=True)
class Change:
    """One control in one region whose status moved, or whose enforcement changed."""

    control: str
    region: str  # stack name
    code: str
    tier: str
    before: str
    after: str
    reasons: tuple[str, ...]
    worse: bool

    @property
    def moved(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Comparison:
    base: Snapshot
    head: Snapshot
    regions: tuple[str, ...]  # the filter as given, empty for the whole fleet
    changes: tuple[Change, ...]
    titles: dict[str, str]  # control id -> English title, from HEAD (BASE if removed)

    @property
    def worse(self) -> bool:
        return not self.head.valid or any(c.worse for c in self.changes)


def _changed(old: dict[str, object], new: dict[str, object], prefix: str = "") -> list[str]:
    """`<prefix><key> added|removed|changed` for each key whose value differs."""
    reasons = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            reasons.append(f"{prefix}{key} removed")
        elif key not in old:
            reasons.append(f"{prefix}{key} added")
        elif old[key] != new[key]:
            reasons.append(f"{prefix}{key} changed")
    return reasons


def _link_changes(before: Links | None, after: Links | None) -> tuple[str, ...]:
    old = before.fingerprints if before else {}
    new = after.fingerprints if after else {}
    return tuple(_changed(dict(old), dict(new)))


def _lost(before: Links | None, after: Links | None) -> tuple[str, ...]:
    if before is None or after is None:
        return ()
    return tuple(
        f"no longer enforced by {link}" for link in sorted(before.enforced_by - after.enforced_by)
    )


def _waiver_changes(before: list[Waiver], after: list[Waiver]) -> tuple[str, ...]:
    return tuple(_changed({w.id: w for w in before}, {w.id: w for w in after}, "waiver "))


def _is_worse(before: str, after: str, control_dropped: bool) -> bool:
    if after == FAILING:
        return before != FAILING
    if before == ENFORCED:
        return after in NOT_ENFORCED or control_dropped
    return False


class _Comparer:
    """Compares two evaluations; the work shared by regions is done once."""

    def __init__(self, base: Evaluation, head: Evaluation) -> None:
        self.base, self.head = base, head
        self.controls = sorted(base.controls.keys() | head.controls.keys(), key=control_order)
        base_links = (
            catalogue_links(base.snapshot.root, base.snapshot.catalog)
            if base.snapshot.catalog
            else {}
        )
        head_links = (
            catalogue_links(head.snapshot.root, head.snapshot.catalog)
            if head.snapshot.catalog
            else {}
        )
        self.link_reasons: dict[str, tuple[str, ...]] = {}
        self.lost: dict[str, tuple[str, ...]] = {}
        self.standard_keys: dict[str, tuple[str, ...]] = {}
        self.regional_keys: dict[str, tuple[str, ...]] = {}
        for cid in self.controls:
            before, after = base_links.get(cid), head_links.get(cid)
            self.link_reasons[cid] = _link_changes(before, after)
            self.lost[cid] = _lost(before, after)
            keys = self._config_keys(cid)
            self.standard_keys[cid] = tuple(
                f"config {k} changed"
                for k in keys
                if is_standard_key(k)
                and value_at(base.standard_config, k) != value_at(head.standard_config, k)
            )
            self.regional_keys[cid] = tuple(k for k in keys if not is_standard_key(k))
        self.shared = frozenset(
            cid
            for cid in self.controls
            if self.link_reasons[cid]
            or self.lost[cid]
            or self.standard_keys[cid]
            or self.regional_keys[cid]
        )
        self.waived = frozenset(base.waivers_by_control) | frozenset(head.waivers_by_control)
        self._differing: dict[tuple[str | None, str | None], frozenset[str]] = {}

    def _config_keys(self, cid: str) -> tuple[str, ...]:
        keys: set[str] = set()
        for evaluation in (self.base, self.head):
            if cid in evaluation.controls:
                keys.update(evaluation.controls[cid].config_keys)
        return tuple(sorted(keys))

    def _table_differences(self, old: Region | None, new: Region | None) -> frozenset[str]:
        key = (old.target if old else None, new.target if new else None)
        if key not in self._differing:
            before = self.base.table(key[0]) if key[0] else {}
            after = self.head.table(key[1]) if key[1] else {}
            self._differing[key] = frozenset(
                cid for cid in self.controls if before.get(cid) != after.get(cid)
            )
        return self._differing[key]

    def region(self, old: Region | None, new: Region | None) -> Iterable[Change]:
        region = new or old
        assert region is not None
        before_table = self.base.table(old.target) if old else {}
        after_table = self.head.table(new.target) if new else {}
        before_overlay = self.base.overlay(old) if old else {}
        after_overlay = self.head.overlay(new) if new else {}
        candidates = (
            self._table_differences(old, new)
            | self.shared
            | before_overlay.keys()
            | after_overlay.keys()
            | self.waived
        )
        for cid in sorted(candidates, key=control_order):
            before = before_overlay.get(cid) or before_table.get(cid) or _ABSENT
            after = after_overlay.get(cid) or after_table.get(cid) or _ABSENT
            reasons = self._reasons(cid, old, new, before, after)
            if before.word == after.word and not reasons:
                continue
            dropped = new is not None and cid not in self.head.controls
            worse = _is_worse(before.word, after.word, dropped) or bool(
                self.lost[cid] and after.word in TECHNICAL_STATUSES
            )
            yield Change(
                cid,
                region.stack,
                region.code,
                region.tier.value,
                before.word,
                after.word,
                reasons,
                worse,
            )

    def _reasons(
        self, cid: str, old: Region | None, new: Region | None, before: Status, after: Status
    ) -> tuple[str, ...]:
        # A region or control that exists on one side only is the whole story.
        if old is None or new is None:
            return ("region added" if old is None else "region removed",)
        if cid not in self.base.controls or cid not in self.head.controls:
            side = "added to" if cid in self.head.controls else "removed from"
            return (f"control {side} the catalogue",)
        reasons: list[str] = []
        if before.word in TECHNICAL_STATUSES or after.word in TECHNICAL_STATUSES:
            reasons += self.link_reasons[cid] + self.lost[cid] + self.standard_keys[cid]
            if old and new:
                reasons += (
                    f"config {k} changed"
                    for k in self.regional_keys[cid]
                    if value_at(self.base.config(old), k) != value_at(self.head.config(new), k)
                )
        if cid in self.waived:
            reasons += _waiver_changes(
                self.base.waivers(old, cid) if old else [],
                self.head.waivers(new, cid) if new else [],
            )
        if before.word != after.word or before.reasons != after.reasons:
            reasons += after.reasons
        return tuple(sorted(set(reasons)))


def compare(base: Snapshot, head: Snapshot, region_filter: Iterable[str] = ()) -> Comparison:
    """Compare two loaded snapshots; a snapshot that does not validate contributes no
    changes (its problems are the finding). Unknown filter keys raise LookupError."""
    wanted = tuple(region_filter)
    changes: list[Change] = []
    base_eval, head_eval = Evaluation(base), Evaluation(head)
    if base.valid and head.valid:
        codes = _filtered_codes(base_eval, head_eval, wanted)
        comparer = _Comparer(base_eval, head_eval)
        for code in codes:
            changes += comparer.region(base_eval.regions.get(code), head_eval.regions.get(code))
    titles = {cid: c.title_en for cid, c in base_eval.controls.items()}
    titles.update({cid: c.title_en for cid, c in head_eval.controls.items()})
    return Comparison(base, head, wanted, tuple(changes), titles)


def _filtered_codes(base: Evaluation, head: Evaluation, wanted: tuple[str, ...]) -> list[str]:
    every = base.regions | head.regions
    if not wanted:
        return sorted(every)
    by_key = {r.stack: code for code, r in every.items()} | {code: code for code in every}
    unknown = [key for key in wanted if key not in by_key]
    if unknown:
        raise LookupError(
            f"no region {', '.join(unknown)} in either revision; give a region's stack name or "
            "GB/T 2260 code (stacks/regions/*.yaml)"
        )
    return sorted({by_key[key] for key in wanted})


def diff_command(base: str, head: str, regions: list[str], fmt: str, repo: Path) -> int:
    """Print the compliance diff of BASE..HEAD in `fmt` (md or json); 0 nothing got worse,
    1 something did, 2 a usage error or an unknown revision (message on stderr)."""
    if fmt not in FORMATS:
        print(f"error: --format {fmt!r} is not one of {', '.join(FORMATS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        revisions = resolve(repo, base), resolve(repo, head)
    except RevisionError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="compliance-diff-") as work:
        base_snapshot = load(repo, revisions[0], Path(work) / "base")
        head_snapshot = load(repo, revisions[1], Path(work) / "head")
        try:
            comparison = compare(base_snapshot, head_snapshot, regions)
        except LookupError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
    sys.stdout.write(render(comparison, fmt))
    return EXIT_WORSE if comparison.worse else EXIT_UNCHANGED
