"""Read the unified configuration from a directory and validate all of it in one pass.

Order of work: parse every file (syntax errors stop only that file), check each file
against the schema, refuse locked keys set by regions, then run the rules that span
regions (codes, parents, CIDRs). Every problem found is reported together.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from infra.config import rules
from infra.config.gbt2260 import Tier
from infra.config.problems import ConfigInvalid, KeyPath, Report
from infra.config.schema import (
    OVERRIDE_KEYS,
    REGION_KEYS,
    Region,
    Standard,
    TierProfile,
)
from infra.config.schema_errors import schema_problems
from infra.config.yamlsource import YamlDocument, YamlSyntaxError, load_yaml

STANDARD_FILE = "standard.yaml"
TIERS_DIR = "tiers"
REGIONS_DIR = "regions"
STANDARD_KEYS = frozenset(f.alias or n for n, f in Standard.model_fields.items())
TIER_KEYS = frozenset(TierProfile.model_fields) - {"host_groups", "tier"}


@dataclass(frozen=True)
class SourcedRegion:
    """A validated region and where it was written, so later rules can point at it."""

    region: Region
    doc: YamlDocument
    path: KeyPath
    # Keys set aside because they failed the schema (their problems are already reported);
    # rules that need them skip the region, every other rule still runs for it.
    dropped: frozenset[str] = frozenset()

    @property
    def partial(self) -> bool:
        return bool(self.dropped)


@dataclass
class Fleet:
    """The whole validated configuration: the standard, the tiers and every region."""

    config_dir: Path
    standard: Standard
    tiers: dict[Tier, TierProfile]
    regions: list[Region] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_key = {r.code: r for r in self.regions} | {r.stack: r for r in self.regions}
        # Built once: a national fleet asks for the children of each of its 3,000 regions.
        self._children: dict[str, list[Region]] = {}
        for region in self.regions:
            region.resolve_host_groups(self.tiers[region.tier])
            if region.parent:
                self._children.setdefault(region.parent, []).append(region)

    @cached_property
    def standard_data(self) -> dict[str, Any]:
        """The standard as plain data, computed once and shared by every region's config."""
        return self.standard.model_dump(mode="json", by_alias=True)

    def region(self, key: str) -> Region:
        """Find a region by GB/T 2260 code or by stack name."""
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownRegion(key, self) from None

    def parent_of(self, region: Region) -> Region | None:
        return self._by_key.get(region.parent) if region.parent else None

    def ancestors(self, region: Region) -> list[Region]:
        chain = []
        parent = self.parent_of(region)
        while parent is not None:
            chain.append(parent)
            parent = self.parent_of(parent)
        return chain

    def children(self, region: Region) -> list[Region]:
        return list(self._children.get(region.code, []))


class UnknownRegion(LookupError):
    def __init__(self, key: str, fleet: Fleet) -> None:
        known = ", ".join(f"{r.stack} ({r.code} {r.name})" for r in fleet.regions)
        super().__init__(f"no region with code or stack name {key!r}; known regions: {known}")
        self.key = key


def _relative(path: Path, config_dir: Path) -> str:
    try:
        return str(path.relative_to(config_dir.parent))
    except ValueError:
        return str(path)


def _parse(path: Path, config_dir: Path, report: Report) -> YamlDocument | None:
    try:
        return load_yaml(path, _relative(path, config_dir))
    except YamlSyntaxError as err:
        report.add(err.problem)
        return None


M = TypeVar("M", bound=BaseModel)


def _validated(
    doc: YamlDocument, base: KeyPath, data: Any, model: type[M], report: Report
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        report.extend(schema_problems(doc, base, model, err))
        return None


def _load_standard(config_dir: Path, report: Report) -> Standard | None:
    path = config_dir / STANDARD_FILE
    if not path.is_file():
        report.add(rules.missing_file(_relative(path, config_dir), "the national standard"))
        return None
    doc = _parse(path, config_dir, report)
    if doc is None:
        return None
    standard = _validated(doc, (), doc.data, Standard, report)
    if standard is not None:
        report.extend(rules.check_standard(standard, doc))
    return standard


def _load_tiers(config_dir: Path, report: Report) -> dict[Tier, TierProfile]:
    tiers: dict[Tier, TierProfile] = {}
    for tier in Tier:
        path = config_dir / TIERS_DIR / f"{tier.value}.yaml"
        if not path.is_file():
            report.add(
                rules.missing_file(_relative(path, config_dir), f"the {tier.value} tier profile")
            )
            continue
        doc = _parse(path, config_dir, report)
        if doc is None:
            continue
        profile = _validated(doc, (), doc.data, TierProfile, report)
        if profile is not None:
            report.extend(rules.check_tier(profile, tier, doc))
            tiers[tier] = profile
    return tiers


def _split_locked(
    doc: YamlDocument, index_path: KeyPath, raw: dict[str, Any], report: Report
) -> dict[str, Any]:
    """Report and drop keys a region may not set; return what is left to validate."""
    kept = {}
    for key, value in raw.items():
        if key not in REGION_KEYS and key in STANDARD_KEYS:
            report.extend(rules.locked_keys(doc, (*index_path, key), value, "standard"))
        elif key not in REGION_KEYS and key in TIER_KEYS:
            report.extend(rules.locked_keys(doc, (*index_path, key), value, "tier"))
        else:
            kept[key] = value
    overrides = kept.get("overrides")
    if isinstance(overrides, dict):
        allowed = {}
        for key, value in overrides.items():
            path = (*index_path, "overrides", key)
            if key not in OVERRIDE_KEYS and key in STANDARD_KEYS:
                report.extend(rules.locked_keys(doc, path, value, "standard"))
            elif key not in OVERRIDE_KEYS and key in TIER_KEYS:
                report.extend(rules.locked_keys(doc, path, value, "tier"))
            else:
                allowed[key] = value
        kept["overrides"] = allowed
    return kept


_IDENTITY_KEYS = frozenset({"code", "stack", "tier", "parent", "target"})


def _salvage(data: dict[str, Any]) -> tuple[Region, frozenset[str]] | None:
    """The region with its invalid non-identity keys set aside, and which keys those were.

    The schema problems are already reported; salvaging lets the rules on codes, parents
    and networks run for the region as well, so the author sees every problem in one pass.
    Without a valid identity (code, stack, tier, parent, target) nothing can be checked.
    """
    attempt, dropped = dict(data), set[str]()
    for _ in range(len(REGION_KEYS) + 1):
        try:
            return Region.model_validate(attempt), frozenset(dropped)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            if not bad or bad & _IDENTITY_KEYS or bad <= dropped:
                return None
            for key in bad:
                dropped.add(key)
                if key in _PLACEHOLDERS:
                    attempt[key] = _PLACEHOLDERS[key]
                else:
                    attempt.pop(key, None)
    return None


_PLACEHOLDER_CONTACTS = {
    role: {"name": "placeholder", "phone": "000-0000000", "email": "x@example.invalid"}
    for role in ("operations", "security")
}
_PLACEHOLDERS: dict[str, Any] = {"name": "占位", "contacts": _PLACEHOLDER_CONTACTS, "overrides": {}}


def _load_regions(config_dir: Path, report: Report) -> tuple[list[SourcedRegion], set[str]]:
    directory = config_dir / REGIONS_DIR
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    for stray in sorted(directory.glob("*.yml")) if directory.is_dir() else []:
        report.add(rules.wrong_extension(_relative(stray, config_dir)))
    if not files:
        report.add(rules.missing_file(_relative(directory, config_dir) + "/*.yaml", "the regions"))
    sourced: list[SourcedRegion] = []
    declared: set[str] = set()
    for path in files:
        doc = _parse(path, config_dir, report)
        if doc is None:
            continue
        if (
            not isinstance(doc.data, dict)
            or set(doc.data) != {"regions"}
            or not isinstance(doc.data["regions"], list)
        ):
            report.add(rules.regions_file_shape(doc))
            continue
        for index, raw in enumerate(doc.data["regions"]):
            base: KeyPath = ("regions", index)
            if not isinstance(raw, dict):
                report.add(rules.region_not_mapping(doc, base, raw))
                continue
            if isinstance(raw.get("code"), str | int) and not isinstance(raw.get("code"), bool):
                declared.add(str(raw["code"]))
            data = _split_locked(doc, base, raw, report)
            region = _validated(doc, base, data, Region, report)
            if region is not None:
                sourced.append(SourcedRegion(region, doc, base))
            elif (salvaged := _salvage(data)) is not None:
                sourced.append(SourcedRegion(salvaged[0], doc, base, dropped=salvaged[1]))
    return sourced, declared


def validate(config_dir: Path) -> tuple[Fleet | None, Report]:
    """Validate everything under `config_dir`; return the fleet only if all of it is valid."""
    # Loading builds hundreds of thousands of small objects and no reference cycles worth
    # collecting; the cyclic GC otherwise runs thousands of times and costs a third of the
    # time of a national fleet (benchmarks/validate_fleet.py).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _validate(config_dir)
    finally:
        if enabled:
            gc.enable()


def _validate(config_dir: Path) -> tuple[Fleet | None, Report]:
    report = Report()
    standard = _load_standard(config_dir, report)
    tiers = _load_tiers(config_dir, report)
    sourced, declared = _load_regions(config_dir, report)
    # Run even with a tier profile missing or invalid: rules that need it skip its regions.
    report.extend(rules.check_regions(sourced, tiers, declared))
    if not report.ok or standard is None:
        return None, report
    return Fleet(config_dir, standard, tiers, [s.region for s in sourced]), report


def load_fleet(config_dir: Path) -> Fleet:
    """Load a valid fleet or raise `ConfigInvalid` carrying every problem."""
    fleet, report = validate(config_dir)
    if fleet is None:
        raise ConfigInvalid(report)
    return fleet
