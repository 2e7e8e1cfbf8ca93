"""Stand-in for the waivers module (compliance/waivers.yaml), written to the agreed
interface so the compliance diff can be built and tested before the real module lands.
The lead drops this commit when infra/compliance/waivers.py arrives in main.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from infra.config.problems import Problem
from infra.config.yamlsource import YamlSyntaxError, load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WAIVERS_FILE = REPO_ROOT / "compliance" / "waivers.yaml"


class WaiverError(Exception):
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

    def applies_to(self, region_key: str, tier: str) -> bool:
        return self.region == region_key if self.region is not None else self.tier == tier

    def covers(
        self, region_key: str, tier: str, control_id: str, resource_name: str | None = None
    ) -> bool:
        if self.control != control_id or not self.applies_to(region_key, tier):
            return False
        return resource_name is None or any(fnmatchcase(resource_name, r) for r in self.resources)


def _waiver(entry: dict[str, Any]) -> Waiver:
    return Waiver(
        id=str(entry["id"]),
        control=str(entry["control"]),
        region=entry.get("region"),
        tier=entry.get("tier"),
        resources=tuple(str(r) for r in entry.get("resources") or ()),
        owner=str(entry.get("owner", "")),
        approver=str(entry.get("approver", "")),
        ticket=str(entry.get("ticket", "")),
        reason=str(entry.get("reason", "")),
        approved=entry["approved"],
        expires=entry["expires"],
    )


def load_waivers(path: Path = WAIVERS_FILE) -> list[Waiver]:
    try:
        data = load_yaml(path, str(path)).data
    except YamlSyntaxError as err:
        raise WaiverError([err.problem]) from err
    try:
        return [_waiver(entry) for entry in (data or {}).get("waivers") or []]
    except (KeyError, TypeError, AttributeError) as err:
        problem = Problem(
            str(path),
            "waivers",
            f"is not well formed ({err})",
            "see the agreed shape",
            "waiver-shape",
        )
        raise WaiverError([problem]) from err
