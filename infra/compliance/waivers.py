"""Waivers: the one place a control, or a policy's judgement of a resource, is set aside.

`compliance/waivers.yaml` lists each waiver with its scope (a region or a whole tier, one
catalogue item, and the resources it covers by logical name or glob), who owns it, who
approved it, the ticket that records the decision, why, and its dates. A waiver is never
open-ended: it expires at most `MAX_DAYS` after approval, and an expired one fails
`regionstack validate` so it is renewed or the control is fixed.

`load_waivers` reads the file and refuses what cannot be read as waivers at all;
`check_waivers` judges them against the fleet, the catalogue and today's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from infra.compliance.catalog import Catalog
from infra.compliance.resources import resource_names
from infra.config.gbt2260 import Tier
from infra.config.loader import Fleet
from infra.config.problems import Problem
from infra.config.yamlsource import YamlSyntaxError, load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WAIVERS_FILE = REPO_ROOT / "compliance" / "waivers.yaml"
# The longest a waiver may run: one MLPS assessment cycle's half, so every waiver is
# looked at again at least twice a year.
MAX_DAYS = 180
TIERS = tuple(t.value for t in Tier)
PEOPLE = ("owner", "approver", "ticket")
KEYS = frozenset(
    ("id", "control", "region", "tier", "resources", "reason", "approved", "expires", *PEOPLE)
)


class WaiverError(Exception):
    """The waivers file cannot be read as waivers; `problems` says where and how to fix it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.to_text() for p in problems))


@dataclass(frozen=True)
class Waiver:
    id: str
    control: str
    region: str | None
    tier: str | None
    resources: tuple[str, ...]
    owner: str
    approver: str
    ticket: str
    reason: str
    approved: date
    expires: date
    # Where it was written, for the problems that point back at it.
    file: str = field(default="compliance/waivers.yaml", compare=False)
    index: int = field(default=0, compare=False)

    @property
    def key_path(self) -> str:
        return f"waivers[{self.index}]"

    def applies_to(self, region_key: str, tier: str) -> bool:
        """Whether the waiver's scope holds this region (by its key, or by its tier)."""
        return self.region == region_key if self.region is not None else self.tier == tier

    def covers(
        self, region_key: str, tier: str, control_id: str, resource_name: str | None = None
    ) -> bool:
        """Whether the waiver sets aside `control_id` for the region - for one resource
        when `resource_name` is given, else for the control as a whole (the region's part
        the waiver's resources name)."""
        if control_id != self.control or not self.applies_to(region_key, tier):
            return False
        if resource_name is None:
            return True
        return any(fnmatchcase(resource_name, pattern) for pattern in self.resources)


def _display(path: Path) -> str:
    for root in (REPO_ROOT, path.parent.parent):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


def _shape_problems(data: Any, file: str) -> list[Problem]:
    """What keeps the document from being read as waivers (meaning is check_waivers')."""
    problems: list[Problem] = []

    def problem(path: str, message: str, hint: str, value: Any = None) -> None:
        problems.append(Problem(file, path, message, hint, "waiver-shape", value))

    if not isinstance(data, dict) or set(data) != {"waivers"}:
        problem("<document>", "is not a mapping with the one key `waivers`", "write `waivers: []`")
        return problems
    if not isinstance(data["waivers"], list):
        problem("waivers", "is not a list", "write each waiver as a `- id: ...` entry")
        return problems
    seen: set[str] = set()
    for index, entry in enumerate(data["waivers"]):
        path = f"waivers[{index}]"
        if not isinstance(entry, dict):
            problem(path, "is not a mapping", "write the waiver's keys: id, control, region, ...")
            continue
        for key in sorted(set(entry) - KEYS):
            problem(f"{path}.{key}", "is not a waiver key", f"use only {', '.join(sorted(KEYS))}")
        for key in ("id", "control"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                problem(f"{path}.{key}", "is missing", f"give the waiver its `{key}`")
        if entry.get("id") in seen:
            problem(f"{path}.id", "is used twice", "give every waiver its own id", entry["id"])
        seen.add(str(entry.get("id")))
        if ("region" in entry) == ("tier" in entry):
            problem(
                path,
                "needs exactly one of `region` and `tier`",
                "scope the waiver to one region (its stack or code) or one tier",
            )
        resources = entry.get("resources")
        if (
            not isinstance(resources, list)
            or not resources
            or not all(isinstance(r, str) and r for r in resources)
        ):
            problem(
                f"{path}.resources",
                "is not a list of resource names",
                "list the logical names or globs it covers, e.g. [tonglu-portal-1]; "
                "['*'] for every resource of the scope",
                resources,
            )
        for key in ("approved", "expires"):
            if not isinstance(entry.get(key), date):
                problem(
                    f"{path}.{key}",
                    "is not a date",
                    "write it as YYYY-MM-DD, unquoted",
                    entry.get(key),
                )
    return problems


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def load_waivers(path: Path = WAIVERS_FILE) -> list[Waiver]:
    """Every waiver of `path`, in file order; WaiverError if it cannot be read as waivers."""
    file = _display(path)
    try:
        document = load_yaml(path, file)
    except YamlSyntaxError as err:
        raise WaiverError([err.problem]) from err
    problems = _shape_problems(document.data, file)
    if problems:
        raise WaiverError(problems)
    return [
        Waiver(
            id=str(entry["id"]),
            control=str(entry["control"]),
            region=_text(entry["region"]) if "region" in entry else None,
            tier=_text(entry["tier"]) if "tier" in entry else None,
            resources=tuple(entry["resources"]),
            owner=_text(entry.get("owner")),
            approver=_text(entry.get("approver")),
            ticket=_text(entry.get("ticket")),
            reason=_text(entry.get("reason")),
            approved=entry["approved"],
            expires=entry["expires"],
            file=file,
            index=index,
        )
        for index, entry in enumerate(document.data["waivers"])
    ]


def _scope_problems(waiver: Waiver, fleet: Fleet) -> list[Problem]:
    """An unknown region or tier; a resource pattern that names nothing in the scope."""

    def problem(key: str, message: str, hint: str, value: Any) -> Problem:
        return Problem(
            waiver.file, f"{waiver.key_path}.{key}", message, hint, "waiver-scope", value
        )

    if waiver.region is not None:
        regions = [r for r in fleet.regions if waiver.region in (r.stack, r.code)]
        if not regions:
            return [
                problem(
                    "region",
                    "is not a region of the configuration",
                    "name a region by its stack or GB/T 2260 code (`regionstack show REGION`)",
                    waiver.region,
                )
            ]
    else:
        regions = [r for r in fleet.regions if r.tier.value == waiver.tier]
        if waiver.tier not in TIERS:
            return [problem("tier", "is not a tier", f"one of {', '.join(TIERS)}", waiver.tier)]
    names: set[str] = set()
    for region in regions:
        names.update(resource_names(fleet, region))
    return [
        problem(
            f"resources[{index}]",
            "names no resource the scope's programs declare",
            "use a logical name such as <stack>-portal-1 (`pulumi stack --show-urns`), "
            "or a glob of such names",
            pattern,
        )
        for index, pattern in enumerate(waiver.resources)
        if not any(fnmatchcase(name, pattern) for name in names)
    ]


def _waiver_problems(waiver: Waiver, fleet: Fleet, catalog: Catalog, today: date) -> list[Problem]:
    problems: list[Problem] = []

    def problem(key: str, message: str, hint: str, rule: str, value: Any = None) -> None:
        path = f"{waiver.key_path}.{key}"
        problems.append(Problem(waiver.file, path, message, hint, rule, value))

    if not catalog.has(waiver.control):
        problem(
            "control",
            "is not an item of the catalogue",
            "name an item id of compliance/controls.yaml, e.g. 8.1.4.3a",
            "waiver-control",
            waiver.control,
        )
    for key in PEOPLE:
        if not getattr(waiver, key):
            problem(
                key,
                "is missing",
                "every waiver names its owner and approver (name <email>) and the ticket "
                "that records the decision",
                "waiver-accountable",
            )
    if waiver.expires < today:
        problem(
            "expires",
            f"has passed (today is {today.isoformat()})",
            "fix the control and delete the waiver, or have it approved again with new dates",
            "waiver-expired",
            waiver.expires.isoformat(),
        )
    latest = waiver.approved + timedelta(days=MAX_DAYS)
    if waiver.expires > latest:
        problem(
            "expires",
            f"is more than {MAX_DAYS} days after approval",
            f"expire it by {latest.isoformat()}, and renew it then if still needed",
            "waiver-too-long",
            waiver.expires.isoformat(),
        )
    if waiver.expires < waiver.approved:
        problem(
            "expires",
            "is before the approval date",
            "swap the dates or correct the typo",
            "waiver-dates",
            waiver.expires.isoformat(),
        )
    problems.extend(_scope_problems(waiver, fleet))
    return problems


def check_waivers(
    waivers: Iterable[Waiver], fleet: Fleet, catalog: Catalog, today: date
) -> list[Problem]:
    """Every problem of every waiver against the fleet, the catalogue and `today`."""
    return [p for w in waivers for p in _waiver_problems(w, fleet, catalog, today)]


def waivers_beside(config_dir: Path) -> Path:
    """The waivers of a configuration: `compliance/waivers.yaml` beside its `stacks/`."""
    return config_dir.resolve().parent / "compliance" / "waivers.yaml"
